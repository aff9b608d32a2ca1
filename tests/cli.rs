//! The built binary on small inputs: dry runs, overrides, and bad files.

mod common;

use common::{repo, runner, text};

#[test]
fn dry_run_lists_the_depth_sweep() {
    let out = runner(&["--dry-run", "experiments/depth_sweep.toml"], repo());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("h256_noise0.6_lr0.01_seed1"), "{stdout}");
    assert!(
        stdout.contains("h256-128_noise0.6_lr0.01_seed5"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\n40 runs\nbudget: 40 runs, 800 epochs, 44,000,000 examples"),
        "{stdout}"
    );
}

#[test]
fn set_changes_the_runs_and_dry_run_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let exp = repo().join("experiments/depth_sweep.toml");
    let out = runner(
        &[
            "--dry-run",
            "--set",
            "sweep.seed=[7]",
            "--set",
            "train.epochs=2",
            "--out",
            "res",
            exp.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("h256_noise0.6_lr0.01_seed7"), "{stdout}");
    assert!(
        stdout.contains("\n2 runs\nbudget: 2 runs, 4 epochs"),
        "{stdout}"
    );
    assert!(!dir.path().join("res").exists(), "dry run wrote results");
}

#[test]
fn invalid_file_exits_2_names_the_place_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "[train]\nepochs = 2\nlearning_rat = 0.1\n",
    )
    .unwrap();
    let out = runner(&["bad.toml", "--out", "res"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("bad.toml:3:1"), "{stderr}");
    assert!(stderr.contains("`train.learning_rat`"), "{stderr}");
    assert!(stderr.contains("did you mean `learning_rate`"), "{stderr}");
    assert!(!dir.path().join("res").exists());
}

#[test]
fn a_bad_second_file_stops_before_the_first_runs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.toml"), "[train]\nepochs = 1\n").unwrap();
    std::fs::write(dir.path().join("bad.toml"), "[sweep]\nseed = []\n").unwrap();
    let out = runner(&["good.toml", "bad.toml", "--out", "res"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("empty list"));
    assert!(!dir.path().join("res").exists());
}

#[test]
fn missing_file_and_bad_flags_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = runner(&["nope.toml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read experiment file nope.toml"));
    let out = runner(&["--jobs", "many", "x.toml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_and_version() {
    let out = runner(&["--help"], repo());
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("--dry-run"));
    let out = runner(&["--version"], repo());
    assert!(text(&out.stdout).starts_with("runner "));
}
