//! A whole run on small synthetic data: files, determinism, cancel, divergence.

mod common;

use std::path::Path;
use std::sync::atomic::AtomicBool;

use runner::config::{Activation, RunConfig};
use runner::data::{Dataset, DatasetName, Images};
use runner::model::Params;
use runner::report::reconstruction;
use runner::train::{self, Cancelled, Hooks};

fn images(count: usize, seed: u64) -> Images {
    common::rectangles(count, seed)
}

fn dataset() -> Dataset {
    Dataset {
        name: DatasetName::Mnist,
        train: images(400, 1),
        test: images(120, 2),
    }
}

fn small_config(seed: u64) -> RunConfig {
    let mut c = RunConfig::default();
    c.train.epochs = 2;
    c.train.batch_size = 32; // 400 / 32: 12 batches, the partial 13th dropped
    c.train.hidden = vec![32];
    c.train.seed = seed;
    c
}

fn run_in(
    dir: &Path,
    config: &RunConfig,
    cancel: bool,
) -> anyhow::Result<Vec<runner::report::metrics::EpochMetrics>> {
    let flag = AtomicBool::new(cancel);
    let hooks = Hooks {
        cancel: &flag,
        on_progress: &|_| {},
        on_epoch: &|_| {},
        threads: &|| 1,
    };
    train::run(config, &dataset(), dir, &hooks)
}

/// The `train_cost,test_cost` columns of a metrics.csv.
fn cost_columns(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    text.lines()
        .map(|l| l.split(',').skip(1).take(2).collect::<Vec<_>>().join(","))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_run_writes_its_results_and_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = run_in(dir.path(), &small_config(1), false).unwrap();
    assert_eq!(metrics.len(), 2);
    assert_eq!(metrics[1].epoch, 2);

    let csv = std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "epoch,train_cost,test_cost,test_cost_clean,seconds"
    );
    assert_eq!(lines.len(), 3);
    let fields: Vec<&str> = lines[2].split(',').collect();
    assert_eq!(fields[1].parse::<f32>().unwrap(), metrics[1].train_cost);
    assert_eq!(fields[2].parse::<f32>().unwrap(), metrics[1].test_cost);

    let bytes = std::fs::read(dir.path().join("model.safetensors")).unwrap();
    let model = Params::from_safetensors(&bytes).unwrap();
    assert_eq!(model.layers.len(), 2);
    assert_eq!((model.layers[0].inputs, model.layers[0].outputs), (784, 32));

    let png = std::fs::read(dir.path().join("reconstruction.png")).unwrap();
    let mut reader = png::Decoder::new(png.as_slice()).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let (w, h) = reconstruction::size(3, 10, 28);
    assert_eq!((info.width as usize, info.height as usize), (w, h));
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    let row_height = (h - reconstruction::GAP) / 3;
    let row = |r: usize| &buf[r * row_height * w..(r + 1) * row_height * w];
    assert_ne!(
        row(2),
        row(0),
        "the reconstruction row must not repeat the clean row"
    );
    assert_ne!(
        row(1),
        row(0),
        "the noisy row must not repeat the clean row"
    );

    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    // The results and the last epoch's checkpoint; no temporary file left.
    assert_eq!(
        names,
        [
            "checkpoint.safetensors",
            "metrics.csv",
            "model.safetensors",
            "reconstruction.png"
        ]
    );
}

#[test]
fn same_seed_same_costs_other_seed_other_costs() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    run_in(a.path(), &small_config(5), false).unwrap();
    run_in(b.path(), &small_config(5), false).unwrap();
    run_in(c.path(), &small_config(6), false).unwrap();
    assert_eq!(cost_columns(a.path()), cost_columns(b.path()));
    assert_ne!(cost_columns(a.path()), cost_columns(c.path()));
    assert_eq!(
        std::fs::read(a.path().join("model.safetensors")).unwrap(),
        std::fs::read(b.path().join("model.safetensors")).unwrap()
    );
}

#[test]
fn other_activations_and_xavier_train() {
    for activation in [Activation::Relu, Activation::Tanh] {
        let mut c = small_config(2);
        c.train.activation = activation;
        c.train.init = runner::config::Init::Xavier;
        c.train.learning_rate = 0.001;
        let flag = AtomicBool::new(false);
        let hooks = Hooks {
            cancel: &flag,
            on_progress: &|_| {},
            on_epoch: &|_| {},
            threads: &|| 1,
        };
        let t = train::train(&c, &dataset(), &hooks).unwrap();
        assert!(t
            .metrics
            .iter()
            .all(|m| m.train_cost.is_finite() && m.test_cost.is_finite()));
        assert!(
            t.metrics[1].test_cost < t.metrics[0].test_cost,
            "{activation:?}: {:?}",
            t.metrics
        );
    }
}

#[test]
fn cancel_stops_the_run_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let err = run_in(dir.path(), &small_config(1), true).unwrap_err();
    assert!(err.is::<Cancelled>(), "{err:#}");
    assert_eq!(err.to_string(), "cancelled");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn divergence_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = small_config(1);
    c.train.activation = Activation::Relu;
    c.train.learning_rate = 1e38;
    let err = run_in(dir.path(), &c, false).unwrap_err().to_string();
    assert!(err.starts_with("diverged at epoch 1, batch "), "{err}");
    assert!(err.ends_with("; try a lower learning_rate"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn progress_and_epoch_hooks_are_called() {
    use std::sync::Mutex;
    let epochs = Mutex::new(Vec::new());
    let progress = Mutex::new(0usize);
    let flag = AtomicBool::new(false);
    let hooks = Hooks {
        cancel: &flag,
        on_progress: &|p| {
            assert!(p.batch <= p.batches && p.batches == 12);
            *progress.lock().unwrap() += 1;
        },
        on_epoch: &|m| epochs.lock().unwrap().push(m.epoch),
        threads: &|| 1,
    };
    train::train(&small_config(1), &dataset(), &hooks).unwrap();
    assert_eq!(*epochs.lock().unwrap(), vec![1, 2]);
    assert!(*progress.lock().unwrap() >= 2);
}

#[test]
fn a_batch_larger_than_the_training_set_is_an_input_error() {
    let mut c = small_config(1);
    c.train.batch_size = 401;
    let dir = tempfile::tempdir().unwrap();
    let err = run_in(dir.path(), &c, false).unwrap_err();
    assert_eq!(runner::error::exit_code(&err), 2, "{err:#}");
}

/// Idle cores may join a run at any step (the scheduler's share changes as runs end):
/// the costs must not change with the thread count, fixed or changing from step to step.
#[test]
fn thread_counts_do_not_change_the_bits() {
    let flag = AtomicBool::new(false);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .unwrap();
    let costs = |threads: &(dyn Fn() -> usize + Sync)| {
        let hooks = Hooks {
            threads,
            ..Hooks::quiet(&flag)
        };
        let t = pool
            .install(|| train::train(&small_config(3), &dataset(), &hooks))
            .unwrap();
        t.metrics
            .iter()
            .map(|m| (m.train_cost.to_bits(), m.test_cost.to_bits()))
            .collect::<Vec<_>>()
    };
    let one = costs(&|| 1);
    assert_eq!(one, costs(&|| 2));
    assert_eq!(one, costs(&|| 4));
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let changing = || 1 + calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 4;
    assert_eq!(one, costs(&changing));
}

#[cfg(not(feature = "cuda"))]
#[test]
fn a_gpu_slot_without_the_cuda_feature_says_how_to_build_it() {
    let flag = AtomicBool::new(false);
    let hooks = Hooks {
        cancel: &flag,
        on_progress: &|_| {},
        on_epoch: &|_| {},
        threads: &|| 1,
    };
    let dir = tempfile::tempdir().unwrap();
    let err = train::run_on(
        runner::device::Slot::Cuda(0),
        &small_config(1),
        &dataset(),
        dir.path(),
        &hooks,
    )
    .unwrap_err();
    assert_eq!(runner::error::exit_code(&err), 2, "{err:#}");
    assert!(format!("{err:#}").contains("--features cuda"), "{err:#}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
