//! Helpers for the tests that run the built binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn runner(args: &[&str], cwd: &Path) -> Output {
    command(args, cwd).output().expect("runner starts")
}

/// The binary with `--data-dir` pointing at the repository's data folder (or
/// `$RUNNER_DATA_DIR`), so tests share one verified copy of MNIST, fetched once if missing.
pub fn command(args: &[&str], cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_runner"));
    cmd.arg("--data-dir")
        .arg(data_dir())
        .args(args)
        .current_dir(cwd);
    cmd
}

/// The binary without the shared `--data-dir`, for tests that give their own.
pub fn command_without_data_dir(args: &[&str], cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_runner"));
    cmd.args(args).current_dir(cwd);
    cmd
}

pub fn data_dir() -> PathBuf {
    match std::env::var_os("RUNNER_DATA_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => repo().join("data"),
    }
}

/// Python 3 (`$RUNNER_PYTHON`, else `python3`), checked to import `module`; `.ci/run`
/// installs pandas (and with it numpy) where python3 lacks it.
pub fn python(module: &str) -> Command {
    let exe = std::env::var("RUNNER_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let check = Command::new(&exe)
        .args(["-c", &format!("import {module}")])
        .output();
    match check {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "{exe} cannot import {module} ({}); install it with `pip install {module}` or set RUNNER_PYTHON (.ci/run installs it)",
            text(&out.stderr).trim().lines().last().unwrap_or_default()
        ),
        Err(e) => panic!("cannot start {exe} ({e}); these tests need Python 3 with {module}"),
    }
    Command::new(exe)
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Asserts success and returns stderr, for the failure message.
pub fn ok(out: &Output) -> String {
    let stderr = text(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\n{stderr}",
        out.status.code()
    );
    stderr
}

/// The cost columns (epoch, train, test) of a metrics.csv, as text: what must reproduce.
pub fn costs(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|l| {
            l.rsplit_once(',')
                .map_or(l, |(costs, _seconds)| costs)
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A summary.csv without its `seconds` column, which differs between runs.
pub fn summary_without_seconds(path: &Path) -> String {
    let mut reader = csv::Reader::from_path(path).expect("summary.csv reads");
    let headers = reader.headers().expect("header").clone();
    let seconds = headers
        .iter()
        .position(|h| h == "seconds")
        .expect("seconds column");
    let mut records = vec![headers];
    records.extend(reader.records().map(|r| r.expect("row")));
    let mut out = Vec::new();
    for record in records {
        let cells: Vec<&str> = record
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != seconds)
            .map(|(_, c)| c)
            .collect();
        out.push(cells.join(","));
    }
    out.join("\n")
}

/// A small sweep with failed runs: two depths and two seeds for each of three settings,
/// one that trains and two whose learning rate diverges within the first epoch.
/// `scripts/spreadsheet-check.sh` imports its report into LibreOffice.
pub const FAILING_SWEEP: &str = include_str!("../fixtures/failing.toml");

/// Runs [`FAILING_SWEEP`] under `dir` (it exits 1 for its failed runs) and returns the
/// experiment's results folder, `dir/res/failing`.
pub fn run_failing_sweep(dir: &Path) -> PathBuf {
    let exp = dir.join("failing.toml");
    std::fs::write(&exp, FAILING_SWEEP).unwrap();
    let out = runner(
        &[exp.to_str().unwrap(), "--out", "res", "-q", "--jobs", "2"],
        dir,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    dir.join("res/failing")
}

/// Copies a folder tree (committed results, for tests that must not touch them).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Images of one bright rectangle each, at a random place and size: structure a small
/// autoencoder can learn in a few steps, for tests that train on synthetic data.
pub fn rectangles(count: usize, seed: u64) -> runner::data::Images {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut bytes = vec![0u8; count * 784];
    for img in bytes.chunks_exact_mut(784) {
        let (x0, y0) = (rng.gen_range(0..20), rng.gen_range(0..20));
        let (w, h) = (rng.gen_range(3..9), rng.gen_range(3..9));
        let v = rng.gen_range(128..=255u8);
        for y in y0..y0 + h {
            for x in x0..x0 + w {
                img[y * 28 + x] = v;
            }
        }
    }
    runner::data::Images::new(std::sync::Arc::<[u8]>::from(bytes), 784)
}
