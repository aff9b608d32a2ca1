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
