//! The scheduler through the built binary, on real MNIST slices: parallel runs agree with
//! serial ones, failures stay in their run, a killed sweep resumes to the same results,
//! and shards add up to the whole sweep.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{command, costs, ok, runner, summary_without_seconds, text};

/// Four quick runs: two depths, two seeds, 500 training images, 3 epochs.
const TINY: &str = r#"
name = "tiny"
[data]
train_examples = 500
[train]
epochs = 3
[sweep]
hidden = [[32], [32, 16]]
seed = [1, 2]
"#;

const TINY_IDS: [&str; 4] = ["h32-16_seed1", "h32-16_seed2", "h32_seed1", "h32_seed2"];

fn experiment(dir: &Path, text: &str) -> String {
    let path = dir.join("tiny.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn assert_same_costs(a: &Path, b: &Path) {
    for id in TINY_IDS {
        let (x, y) = (a.join("tiny").join(id), b.join("tiny").join(id));
        assert_eq!(
            costs(&x.join("metrics.csv")),
            costs(&y.join("metrics.csv")),
            "{id}"
        );
        assert_eq!(
            std::fs::read(x.join("config.toml")).unwrap(),
            std::fs::read(y.join("config.toml")).unwrap()
        );
    }
    assert_eq!(
        summary_without_seconds(&a.join("tiny/summary.csv")),
        summary_without_seconds(&b.join("tiny/summary.csv"))
    );
}

#[test]
fn one_job_and_two_jobs_give_the_same_bits_and_complete_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), TINY);
    ok(&runner(
        &[&exp, "--jobs", "1", "--out", "j1", "-q"],
        dir.path(),
    ));
    ok(&runner(
        &[&exp, "--jobs", "2", "--out", "j2", "-q"],
        dir.path(),
    ));
    assert_same_costs(&dir.path().join("j1"), &dir.path().join("j2"));

    let root = dir.path().join("j2/tiny");
    for id in TINY_IDS {
        for file in [
            "config.toml",
            "metrics.csv",
            "reconstruction.png",
            "model.safetensors",
        ] {
            assert!(root.join(id).join(file).is_file(), "{id}/{file}");
        }
    }
    let summary = summary_without_seconds(&root.join("summary.csv"));
    let lines: Vec<&str> = summary.lines().collect();
    assert_eq!(
        lines[0],
        "experiment,run_id,configuration,dataset,train_examples,hidden,depth,activation,init,init_scale,noise_level,eval_noise_level,learning_rate,adam,batch_size,epochs,seed,status,device,engine,epochs_done,final_train_cost,final_test_cost,final_test_cost_clean,best_train_cost,best_train_epoch,best_test_cost,best_test_epoch,best_test_cost_clean,best_test_clean_epoch,failed_epoch,failed_batch,error"
    );
    assert_eq!(lines.len(), 5);
    let ids: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(ids, TINY_IDS, "sorted by run id");
    assert!(
        lines[1..]
            .iter()
            .all(|l| l.contains(",done,cpu,kernels,3,")),
        "{summary}"
    );

    let svg = std::fs::read_to_string(root.join("curves.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(
        svg.contains("h32-16") && svg.contains("epoch"),
        "legend and axis labels"
    );
}

#[test]
fn a_failing_run_is_isolated_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    // A learning rate of 1e38 diverges at its first batch; the others go on. (A batch
    // larger than the training set, which failed here once, is now refused up front.)
    let exp = experiment(
        dir.path(),
        &TINY.replace("seed = [1, 2]", "seed = [1]\nlearning_rate = [0.01, 1e38]"),
    );
    let out = runner(&[&exp, "--jobs", "2", "--out", "res"], dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("2 runs failed"), "{stderr}");
    assert!(stderr.contains("tiny/h32_lr1e38_seed1"), "{stderr}");
    let root = dir.path().join("res/tiny");
    let error = std::fs::read_to_string(root.join("h32_lr1e38_seed1/error.txt")).unwrap();
    assert!(error.contains("diverged"), "{error}");
    assert!(!root.join("h32_lr1e38_seed1/metrics.csv").exists());
    assert!(root.join("h32_lr0.01_seed1/metrics.csv").is_file());
    let summary = std::fs::read_to_string(root.join("summary.csv")).unwrap();
    let failed = summary
        .lines()
        .find(|l| l.starts_with("tiny,h32_lr1e38_seed1,"))
        .unwrap();
    assert!(failed.contains(",failed,"), "{failed}");
    assert!(failed.contains("diverged"), "{failed}");
}

#[test]
fn a_killed_sweep_resumes_to_the_same_results() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), &TINY.replace("epochs = 3", "epochs = 6"));
    ok(&runner(
        &[&exp, "--jobs", "1", "--out", "whole", "-q"],
        dir.path(),
    ));

    let mut child = command(&[&exp, "--jobs", "1", "--out", "killed", "-q"], dir.path())
        .spawn()
        .unwrap();
    let first = dir
        .path()
        .join("killed/tiny")
        .join(TINY_IDS[0])
        .join("metrics.csv");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !first.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    // SIGKILL: no chance to clean up, the second run is mid-training.
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(first.exists(), "the first run finished before the kill");
    let summary = std::fs::read_to_string(dir.path().join("killed/tiny/summary.csv")).unwrap();
    let done = summary.lines().filter(|l| l.contains(",done,")).count();
    assert!(done < 4, "killed before the end:\n{summary}");

    let out = runner(&[&exp, "--jobs", "1", "--out", "killed"], dir.path());
    let stderr = ok(&out);
    assert!(stderr.contains("skipped"), "{stderr}");
    assert_same_costs(&dir.path().join("whole"), &dir.path().join("killed"));
}

#[test]
fn a_different_config_under_the_same_id_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), TINY);
    ok(&runner(
        &[&exp, "--out", "res", "-q", "--set", "sweep.seed=[1]"],
        dir.path(),
    ));
    let before = std::fs::read(dir.path().join("res/tiny/h32_seed1/metrics.csv")).unwrap();
    let out = runner(
        &[
            &exp,
            "--out",
            "res",
            "-q",
            "--set",
            "sweep.seed=[1]",
            "--set",
            "train.epochs=2",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("different config"), "{stderr}");
    assert!(stderr.contains("train.epochs = 3 there, 2 now"), "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    let after = std::fs::read(dir.path().join("res/tiny/h32_seed1/metrics.csv")).unwrap();
    assert_eq!(before, after, "nothing was overwritten");
}

#[test]
fn shards_run_one_after_another_equal_the_whole_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), TINY);
    ok(&runner(&[&exp, "--out", "whole", "-q"], dir.path()));
    for shard in ["0/3", "1/3", "2/3"] {
        ok(&runner(
            &[&exp, "--out", "sharded", "-q", "--shard", shard],
            dir.path(),
        ));
    }
    assert_same_costs(&dir.path().join("whole"), &dir.path().join("sharded"));

    // --summarize rebuilds the same summary from the folders alone.
    std::fs::remove_file(dir.path().join("sharded/tiny/summary.csv")).unwrap();
    ok(&runner(
        &[&exp, "--out", "sharded", "--summarize"],
        dir.path(),
    ));
    assert_same_costs(&dir.path().join("whole"), &dir.path().join("sharded"));
}

#[test]
fn dry_run_shows_a_shard() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), TINY);
    let out = runner(&[&exp, "--dry-run", "--shard", "1/2"], dir.path());
    ok(&out);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("h32-16_seed2") && stdout.contains("h32_seed2"),
        "{stdout}"
    );
    assert!(!stdout.contains("seed1"), "{stdout}");
    let out = runner(&[&exp, "--dry-run", "--shard", "3/2"], dir.path());
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn ctrl_c_stops_promptly_and_leaves_nothing_that_looks_complete() {
    let dir = tempfile::tempdir().unwrap();
    // Long runs: Ctrl-C must not wait for them to end.
    let exp = experiment(
        dir.path(),
        &TINY
            .replace("train_examples = 500", "train_examples = 20000")
            .replace("epochs = 3", "epochs = 50"),
    );
    let child = command(&[&exp, "--jobs", "2", "--out", "res"], dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The first run in sweep order (h32, seed 1) has started once its config is written.
    let config = dir.path().join("res/tiny/h32_seed1/config.toml");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !config.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "stopped in {:?}",
        sent.elapsed()
    );
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("interrupted"));
    for id in ["h32_seed1", "h32_seed2"] {
        let run = dir.path().join("res/tiny").join(id);
        assert!(run.join("config.toml").exists(), "{id} had started");
        assert!(!run.join("metrics.csv").exists(), "{id} looks complete");
        assert!(!run.join("error.txt").exists(), "{id} is not a failure");
    }
    let summary = std::fs::read_to_string(dir.path().join("res/tiny/summary.csv")).unwrap();
    assert!(
        !summary.contains(",done,") && !summary.contains(",running,"),
        "{summary}"
    );
    assert_eq!(summary.matches(",pending,").count(), 4, "{summary}");
}
