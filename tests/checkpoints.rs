//! Epoch checkpoints through the built binary: a run killed mid-training resumes from
//! its last epoch, and a finished run asked for more epochs continues, both bit for bit
//! as a run that was never stopped.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{command, costs, ok, runner};

/// One run long enough to be killed in the middle: 6 epochs of 2000 images.
const ONE: &str = r#"
name = "one"
[data]
train_examples = 2000
[train]
epochs = 6
hidden = [64]
"#;

fn experiment(dir: &Path, text: &str) -> String {
    let path = dir.join("one.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn run_dir(dir: &Path, out: &str) -> std::path::PathBuf {
    dir.join(out).join("one/run")
}

fn assert_same_run(a: &Path, b: &Path) {
    assert_eq!(costs(&a.join("metrics.csv")), costs(&b.join("metrics.csv")));
    assert_eq!(
        std::fs::read(a.join("model.safetensors")).unwrap(),
        std::fs::read(b.join("model.safetensors")).unwrap(),
        "final weights"
    );
    assert_eq!(
        std::fs::read(a.join("config.toml")).unwrap(),
        std::fs::read(b.join("config.toml")).unwrap()
    );
}

/// Whether the run has written a checkpoint: an epoch has ended.
fn checkpoint_written(run: &Path) -> bool {
    run.join("checkpoint.safetensors").is_file()
}

#[test]
fn a_run_killed_mid_training_resumes_from_its_last_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), ONE);
    ok(&runner(&[&exp, "--out", "whole", "-q"], dir.path()));

    let mut child = command(&[&exp, "--out", "killed", "-q"], dir.path())
        .spawn()
        .unwrap();
    let run = run_dir(dir.path(), "killed");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !checkpoint_written(&run) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    // SIGKILL, mid-epoch: no chance to clean up.
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(checkpoint_written(&run), "an epoch ended before the kill");
    assert!(
        !run.join("metrics.csv").exists(),
        "killed before the run finished"
    );

    let out = runner(&[&exp, "--out", "killed", "-v"], dir.path());
    let stderr = ok(&out);
    assert!(
        stderr.contains("resuming from its checkpoint after epoch"),
        "{stderr}"
    );
    assert_same_run(&run_dir(dir.path(), "whole"), &run);
}

#[test]
fn more_epochs_continue_a_finished_run_instead_of_training_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), ONE);
    ok(&runner(&[&exp, "--out", "whole", "-q"], dir.path()));
    ok(&runner(
        &[&exp, "--out", "grown", "-q", "--set", "train.epochs=4"],
        dir.path(),
    ));
    let grown = run_dir(dir.path(), "grown");
    assert_eq!(costs(&grown.join("metrics.csv")).lines().count(), 5);

    let out = runner(&[&exp, "--out", "grown", "-v"], dir.path());
    let stderr = ok(&out);
    assert!(
        stderr.contains("resuming from its checkpoint after epoch 4 of 6"),
        "{stderr}"
    );
    assert_same_run(&run_dir(dir.path(), "whole"), &grown);

    // Fewer epochs than trained is another config, refused as before.
    let out = runner(
        &[&exp, "--out", "grown", "-q", "--set", "train.epochs=2"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn dropped_checkpoints_leave_a_finished_run_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), &ONE.replace("epochs = 6", "epochs = 1"));
    ok(&runner(&[&exp, "--out", "kept", "-q"], dir.path()));
    assert!(checkpoint_written(&run_dir(dir.path(), "kept")));
    ok(&runner(
        &[&exp, "--out", "dropped", "-q", "--checkpoints", "drop"],
        dir.path(),
    ));
    let dropped = run_dir(dir.path(), "dropped");
    assert!(dropped.join("metrics.csv").is_file());
    assert!(!checkpoint_written(&dropped));
}
