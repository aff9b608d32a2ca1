//! The fast version of the step-for-step replay (docs/replication.md): runner-trace
//! records 60 steps of the smoke experiment at both depths, and an implementation that
//! shares no code with runner (`scripts/reference/replay.py`, numpy) replays them from the
//! same initial parameters and inputs.
//!
//! Tolerances, from measurement (Intel Xeon, AVX-512 kernels; `replay.py` prints the
//! table): the numpy float32 replay with runner's Adam formula stays within 2.5e-6 of
//! runner's per-step cost over these 60 steps at both depths; the float64 replay within
//! 2.2e-4, a gap that float32 rounding alone opens (numpy float32 against float64 parts by
//! the same 2.2e-4 at the same step). The checks allow 2e-5 and 1e-3. The other Adam
//! formula parts from runner by 9e-3 within ten steps, so a wrong update cannot pass.

mod common;

use std::path::Path;
use std::process::Command;

use common::{data_dir, ok, python, repo, text};

fn trace(hidden: &str, dir: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_runner-trace"))
        .arg(repo().join("experiments/smoke.toml"))
        .args(["--set", &format!("sweep.hidden=[{hidden}]")])
        .args(["--set", "sweep.seed=[1]", "--steps", "60", "--out"])
        .arg(dir)
        .arg("--data-dir")
        .arg(data_dir())
        .output()
        .expect("runner-trace starts");
    ok(&out);
}

fn replay(dir: &Path, checks: &[&str]) -> std::process::Output {
    let mut cmd = python("numpy");
    cmd.arg(repo().join("scripts/reference/replay.py"))
        .arg(dir)
        .args(["--impl", "numpy32", "--impl", "numpy64"]);
    for c in checks {
        cmd.args(["--check", c]);
    }
    cmd.output().expect("python starts")
}

#[test]
fn numpy_replays_runner_step_for_step_at_both_depths() {
    let tmp = tempfile::tempdir().unwrap();
    for hidden in ["[256]", "[256, 128]"] {
        let dir = tmp.path().join(hidden.replace([',', ' ', '[', ']'], ""));
        trace(hidden, &dir);
        let out = replay(
            &dir,
            &[
                "numpy32/own<=2e-5",
                "numpy64/own<=1e-3",
                "numpy32/other>=1e-3",
            ],
        );
        let report = text(&out.stdout);
        println!("{report}");
        assert!(
            out.status.success(),
            "{hidden}: the replay parts from runner:\n{report}\n{}",
            text(&out.stderr)
        );
        assert!(report.contains("| numpy32/tf1 |"), "{report}");
    }
}

/// The check can fail: replayed with the other Adam formula, the same trace is refused.
#[test]
fn a_replay_of_another_formula_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    trace("[256]", tmp.path());
    let out = replay(tmp.path(), &["numpy32/other<=2e-5"]);
    assert!(!out.status.success(), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("parts from runner"));
}
