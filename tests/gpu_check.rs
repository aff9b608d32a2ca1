//! `scripts/gpu-check.sh` without a GPU: the bundle it packs, and the check it runs there,
//! with every step on the CPU and small experiments (`GPU_CHECK_DEVICE=cpu
//! GPU_CHECK_QUICK=1`). What a GPU changes is only the `--device` the steps pass.

mod common;

use std::process::Command;

use common::{data_dir, ok, repo, runner, text};

fn bash(script: &std::path::Path, args: &[&str], cwd: &std::path::Path) -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg(script).args(args).current_dir(cwd);
    cmd.env("RUNNER_DATA_DIR", data_dir());
    cmd.env_remove("OUT");
    cmd
}

fn dir_size(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                dir_size(&e.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

#[test]
fn the_bundle_runs_the_whole_check_where_it_is_copied() {
    let dir = tempfile::tempdir().unwrap();
    // MNIST must be here to be packed: one tiny run fetches it where it is missing.
    ok(&runner(
        &[
            repo().join("experiments/smoke.toml").to_str().unwrap(),
            "--set",
            "data.train_examples=100",
            "--set",
            "train.epochs=1",
            "--filter",
            "h256_noise0.6_lr0.01_seed1",
            "--out",
            "fetch",
            "-q",
        ],
        dir.path(),
    ));
    let bundle = dir.path().join("bundle");
    let out = bash(
        &repo().join("scripts/gpu-check.sh"),
        &["--bundle", bundle.to_str().unwrap()],
        dir.path(),
    )
    .env("RUNNER_BIN", env!("CARGO_BIN_EXE_runner"))
    .output()
    .unwrap();
    ok(&out);
    for file in [
        "runner",
        "gpu-check.sh",
        "README.txt",
        "experiments/smoke.toml",
        "experiments/depth_sweep.toml",
        "data/mnist/train-images-idx3-ubyte.gz",
        "data/mnist/t10k-labels-idx1-ubyte.gz",
        "results/smoke/h256_noise0.6_lr0.01_seed1/metrics.csv",
    ] {
        assert!(
            bundle.join(file).is_file(),
            "{file} missing from the bundle"
        );
    }
    // Small enough to carry (a GPU session takes 64 MiB with it).
    let size = dir_size(&bundle);
    assert!(size < 64 << 20, "bundle is {size} bytes");

    // The copied bundle alone: moved away from the repository, run from elsewhere.
    let moved = dir.path().join("elsewhere/gpu-bundle");
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    std::fs::rename(&bundle, &moved).unwrap();
    let report_dir = dir.path().join("report");
    let out = bash(
        &moved.join("gpu-check.sh"),
        &["--out", report_dir.to_str().unwrap()],
        dir.path(),
    )
    .env_remove("RUNNER_DATA_DIR")
    .env("GPU_CHECK_DEVICE", "cpu")
    .env("GPU_CHECK_QUICK", "1")
    .output()
    .unwrap();
    let stderr = ok(&out);
    let report = std::fs::read_to_string(report_dir.join("report.md")).unwrap();
    println!("{report}");
    for heading in [
        "## Costs: smoke experiment (GPU against CPU, same seeds)",
        "## Depth sweep",
        "## Steps:",
        "## Reproducibility on the GPU",
    ] {
        assert!(report.contains(heading), "{heading}\n{report}");
    }
    // Every step ran and exited 0: rows end with "| 0 |".
    let rows: Vec<&str> = report
        .lines()
        .filter(|l| {
            l.starts_with("| GPU |")
                || l.starts_with("| CPU |")
                || l.contains("(vectorised)")
                || l.contains("(concurrent)")
        })
        .collect();
    assert_eq!(rows.len(), 3 + 3, "{report}");
    assert!(
        rows.iter().all(|r| r.ends_with("| 0 |")),
        "{report}\n{stderr}"
    );
    // On the CPU every comparison is exact: four runs each, none missing.
    for label in [
        "vs CPU (",
        "second launch vs first",
        "alone (--pack 1) vs packed",
    ] {
        let line = report.lines().find(|l| l.contains(label)).unwrap();
        assert!(
            line.ends_with("| 4 | 0.000e+00 | 0.000e+00 | 0 |"),
            "{line}"
        );
    }
    let steps = report
        .lines()
        .find(|l| l.starts_with("| 2 | --pack 2"))
        .unwrap();
    let rate: f64 = steps.split('|').nth(3).unwrap().trim().parse().unwrap();
    assert!(rate > 0.0, "{steps}");
    assert!(report_dir.join("runs/gpu/smoke/summary.csv").is_file());
    assert!(!text(&out.stdout).contains("error"));
}
