//! The TensorBoard files as the real `tensorboard` package reads them: an experiment
//! folder written with `runner::report::tensorboard` (three runs with a number, a string
//! and a bool hyperparameter; one failed; one failed, was killed mid-write and resumed
//! to success in a second open), checked by `tests/python/tensorboard_check.py` against
//! each run's metrics.csv and config.toml, in the files and through a real server.
//!
//! Needs Python 3 with tensorboard (`pip install tensorboard`); `RUNNER_PYTHON` names
//! another interpreter. `.ci/run` installs it where it is missing.

mod common;

use std::fs;
use std::io::Write;
use std::path::Path;

use common::{python, repo, text};
use runner::report::metrics::{to_csv, EpochMetrics};
use runner::report::tensorboard::{
    write_experiment, Domain, HParamInfo, HValue, MetricInfo, RunLog, SessionStatus, EVENT_FILE,
};

/// One run of the sweep: its hyperparameters and what its epochs gave.
struct Run {
    id: &'static str,
    learning_rate: f64,
    activation: &'static str,
    shuffle: bool,
    epochs: usize,
}

const RUNS: [Run; 3] = [
    Run {
        id: "resumed",
        learning_rate: 0.01,
        activation: "sigmoid",
        shuffle: true,
        epochs: 3,
    },
    Run {
        id: "failed",
        learning_rate: 0.1,
        activation: "relu",
        shuffle: false,
        epochs: 2,
    },
    Run {
        id: "finished",
        learning_rate: 0.03,
        activation: "relu",
        shuffle: true,
        epochs: 3,
    },
];

impl Run {
    fn hparams(&self) -> Vec<(String, HValue)> {
        vec![
            (
                "train.learning_rate".into(),
                HValue::Number(self.learning_rate),
            ),
            (
                "train.activation".into(),
                HValue::Text(self.activation.into()),
            ),
            ("train.shuffle".into(), HValue::Bool(self.shuffle)),
        ]
    }

    fn config_toml(&self) -> String {
        format!(
            "[data]\ndataset = \"mnist\"\n\n[train]\nepochs = {}\nactivation = \"{}\"\nlearning_rate = {}\nshuffle = {}\nseed = 1\n",
            self.epochs, self.activation, self.learning_rate, self.shuffle
        )
    }

    /// Costs that differ per run and epoch; seconds with two decimals, as metrics.csv
    /// writes them.
    fn metrics(&self) -> Vec<EpochMetrics> {
        (1..=self.epochs)
            .map(|epoch| EpochMetrics {
                epoch,
                train_cost: (0.3 * self.learning_rate as f32 + 0.1) / epoch as f32,
                test_cost: 0.09 / epoch as f32 + 0.001,
                test_cost_clean: 0.07 / epoch as f32 + 0.001,
                seconds: 0.2 + epoch as f64 * 0.01,
            })
            .collect()
    }
}

/// Sends epochs `1..=upto` of `rows`, as the trainer would after each epoch (a resumed
/// run sends them all again).
fn send_epochs(log: &mut RunLog, rows: &[EpochMetrics], upto: usize) {
    for r in &rows[..upto] {
        let values = [
            ("train_cost", f64::from(r.train_cost)),
            ("test_cost", f64::from(r.test_cost)),
            ("test_cost_clean", f64::from(r.test_cost_clean)),
            ("seconds", r.seconds),
        ];
        log.scalars(r.epoch as i64, 1000.0 + r.epoch as f64, &values);
        log.flush().unwrap();
    }
}

fn gray_png(seed: u8) -> Vec<u8> {
    let (width, height) = (28, 56);
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Grayscale);
    let mut writer = encoder.write_header().unwrap();
    let pixels: Vec<u8> = (0..width * height)
        .map(|i| (i as u8).wrapping_mul(seed))
        .collect();
    writer.write_image_data(&pixels).unwrap();
    writer.finish().unwrap();
    out
}

/// Writes a run's folder; the `resumed` run fails first, is killed in the middle of a
/// record, and finishes in a second open.
fn write_run(experiment: &Path, run: &Run, seed: u8) -> &'static str {
    let dir = experiment.join(run.id);
    fs::create_dir_all(&dir).unwrap();
    let rows = run.metrics();
    fs::write(dir.join("config.toml"), run.config_toml()).unwrap();
    fs::write(dir.join("metrics.csv"), to_csv(&rows)).unwrap();
    let png = gray_png(seed);
    fs::write(dir.join("reconstruction.png"), &png).unwrap();
    let mut log = RunLog::open(&dir).unwrap();
    log.session_start(&run.hparams(), "", 1000.0);
    if run.id == "resumed" {
        send_epochs(&mut log, &rows, 2);
        log.session_end(SessionStatus::Failure, 1002.5);
        log.flush().unwrap();
        drop(log);
        kill_mid_record(&dir.join(EVENT_FILE));
        log = RunLog::open(&dir).unwrap();
        log.session_start(&run.hparams(), "", 2000.0);
    }
    send_epochs(&mut log, &rows, rows.len());
    log.image("reconstruction", rows.len() as i64, 2010.0, &png)
        .unwrap();
    let status = if run.id == "failed" {
        SessionStatus::Failure
    } else {
        SessionStatus::Success
    };
    log.session_end(status, 2020.0);
    log.flush().unwrap();
    match status {
        SessionStatus::Failure => "STATUS_FAILURE",
        _ => "STATUS_SUCCESS",
    }
}

/// Appends the first bytes of a record, as a process killed while writing leaves them.
fn kill_mid_record(path: &Path) {
    let mut file = fs::OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(&[40, 0, 0, 0, 0, 0, 0, 0, 1, 2]).unwrap();
}

fn write_experiment_folder(experiment: &Path) -> Vec<String> {
    fs::create_dir_all(experiment).unwrap();
    let discrete = |values: &[HValue]| Domain::Discrete(values.to_vec());
    let hparams = [
        HParamInfo {
            name: "train.learning_rate".into(),
            domain: Domain::Interval {
                min: 0.01,
                max: 0.1,
            },
        },
        HParamInfo {
            name: "train.activation".into(),
            domain: discrete(&[HValue::Text("relu".into()), HValue::Text("sigmoid".into())]),
        },
        HParamInfo {
            name: "train.shuffle".into(),
            domain: discrete(&[HValue::Bool(false), HValue::Bool(true)]),
        },
    ];
    let metrics = ["train_cost", "test_cost", "test_cost_clean"].map(|tag| MetricInfo {
        tag: tag.into(),
        display_name: String::new(),
    });
    write_experiment(experiment, &hparams, &metrics).unwrap();
    RUNS.iter()
        .zip(1u8..)
        .map(|(run, seed)| format!("{}={}", run.id, write_run(experiment, run, seed)))
        .collect()
}

#[test]
fn tensorboard_reads_scalars_image_and_hparams_as_metrics_csv_and_config_toml_say() {
    let dir = tempfile::tempdir().unwrap();
    let experiment = dir.path().join("sweep");
    let statuses = write_experiment_folder(&experiment);
    let started = std::time::Instant::now();
    let out = python("tensorboard")
        .arg(repo().join("tests/python/tensorboard_check.py"))
        .arg(&experiment)
        .args(&statuses)
        .output()
        .expect("python starts");
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "tensorboard_check.py failed:\n{}\n{stdout}",
        text(&out.stderr)
    );
    eprintln!("{stdout}tensorboard_check.py took {:?}", started.elapsed());
}

/// The same checks on what the binary writes: a real sweep (two configurations, two
/// seeds, one run trained in two invocations), read back run by run.
#[test]
fn a_sweep_trained_by_the_binary_reads_back_in_tensorboard() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("board.toml");
    fs::write(
        &exp,
        "name = \"board\"\n[data]\ntrain_examples = 200\n[train]\nepochs = 2\nbatch_size = 50\n[sweep]\nhidden = [[8], [8, 4]]\nlearning_rate = [0.01, 0.02]\nseed = [1, 2]\n",
    )
    .unwrap();
    let exp = exp.to_str().unwrap();
    common::ok(&common::runner(
        &[exp, "--out", "res", "-q", "--filter", "seed1"],
        dir.path(),
    ));
    common::ok(&common::runner(&[exp, "--out", "res", "-q"], dir.path()));
    let experiment = dir.path().join("res/board");
    let statuses: Vec<String> = fs::read_dir(&experiment)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| format!("{}=STATUS_SUCCESS", e.file_name().to_string_lossy()))
        .collect();
    assert_eq!(statuses.len(), 8);
    let out = python("tensorboard")
        .arg(repo().join("tests/python/tensorboard_check.py"))
        .arg(&experiment)
        .args(&statuses)
        .output()
        .expect("python starts");
    assert!(
        out.status.success(),
        "tensorboard_check.py failed:\n{}\n{}",
        text(&out.stderr),
        text(&out.stdout)
    );
}
