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
