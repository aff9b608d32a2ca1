//! The scheduler's scale targets: `cargo bench --bench scale`.
//!
//! - `dry-run`: `runner --dry-run` of a 1,000,000-run sweep (100 widths x 100 learning
//!   rates x 100 seeds), the table written to a file, through the real binary. Target:
//!   under 10 s wall.
//! - `sweep`: a sweep of trivial runs (one training image, batch 1, one epoch, one hidden
//!   unit; each run still evaluates the 10,000 test images, about 0.1 s of CPU), run as
//!   the binary runs it (plan, then execute, with the summary, curves and stats kept
//!   current). Scheduling and reporting per run = (wall x workers - time inside runs) / N,
//!   where the time inside a run covers preparing its folder, training and writing its
//!   files; the rest is deciding, locking, rereading folders, the report files and
//!   progress. Target: under 5 ms per run for 10,000 runs. A sweep a tenth as big runs
//!   first, to show the cost per run does not grow with the sweep.
//!
//! `cargo bench --bench scale -- dry-run` or `-- sweep [--runs N] [--jobs J]` runs one
//! part; the defaults are 10,000 runs on 2 workers, about 10 minutes on 2 idle cores.
//! MNIST comes from $RUNNER_DATA_DIR or data/ (fetched there if missing). Exits 1 when a
//! target is missed.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use runner::config;
use runner::data::{self, DataOptions, DatasetName};
use runner::device::Slot;
use runner::report::progress::{Mode, Reporter};
use runner::schedule::{self, Options};

const DRY_RUN_RUNS: usize = 1_000_000;
const DRY_RUN_TARGET: Duration = Duration::from_secs(10);
const PER_RUN_TARGET_MS: f64 = 5.0;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let value = |flag: &str, default: usize| -> usize {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .map_or(default, |v| v.parse().expect("a whole number"))
    };
    let only = args.first().filter(|a| !a.starts_with("--")).cloned();
    let mut met = true;
    println!("CPU: {}", cpu_name());
    if only.as_deref().is_none_or(|p| p == "dry-run") {
        met &= dry_run();
    }
    if only.as_deref().is_none_or(|p| p == "sweep") {
        let (runs, jobs) = (value("--runs", 10_000), value("--jobs", 2));
        sweep(runs / 10, jobs);
        met &= sweep(runs, jobs);
    }
    if !met {
        std::process::exit(1);
    }
}

fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// User and system CPU seconds of finished child processes so far.
fn children_cpu_seconds() -> f64 {
    // SAFETY: an all-zero rusage is valid, and getrusage only writes into it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid `who` and a valid pointer.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(rc, 0, "getrusage failed");
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn list(values: impl Iterator<Item = String>) -> String {
    format!("[{}]", values.collect::<Vec<_>>().join(", "))
}

fn dry_run() -> bool {
    let dir = tempfile::tempdir().expect("temporary folder");
    let exp = dir.path().join("million.toml");
    let side = 100;
    assert_eq!(side * side * side, DRY_RUN_RUNS);
    std::fs::write(
        &exp,
        format!(
            "name = \"million\"\n[sweep]\nhidden = {}\nlearning_rate = {}\nseed = {}\n",
            list((1..=side).map(|w| w.to_string())),
            list((1..=side).map(|i| format!("{}", i as f64 / 1000.0))),
            list((1..=side).map(|s| s.to_string())),
        ),
    )
    .expect("write the experiment");
    let table = dir.path().join("table.txt");
    let cpu_before = children_cpu_seconds();
    let started = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(["--dry-run", exp.to_str().expect("UTF-8 path")])
        .stdout(std::fs::File::create(&table).expect("table file"))
        .stderr(Stdio::inherit())
        .status()
        .expect("runner starts");
    let wall = started.elapsed();
    let cpu = children_cpu_seconds() - cpu_before;
    assert!(status.success(), "runner --dry-run failed: {status}");
    let text = std::fs::read_to_string(&table).expect("table");
    let last = text.lines().last().unwrap_or_default();
    assert_eq!(
        last,
        format!("{DRY_RUN_RUNS} runs"),
        "the table's last line"
    );
    let met = wall < DRY_RUN_TARGET;
    println!(
        "dry-run of {DRY_RUN_RUNS} runs: {:.2} s wall, {cpu:.2} s CPU, {} lines; target < {} s: {}",
        wall.as_secs_f64(),
        text.lines().count(),
        DRY_RUN_TARGET.as_secs(),
        if met { "met" } else { "MISSED" }
    );
    met
}

fn sweep(runs: usize, jobs: usize) -> bool {
    let dir = tempfile::tempdir().expect("temporary folder");
    let exp_path = dir.path().join("trivial.toml");
    std::fs::write(
        &exp_path,
        format!(
            "name = \"trivial\"\n[data]\ntrain_examples = 1\n[train]\nbatch_size = 1\nepochs = 1\nhidden = [1]\n[sweep]\nseed = {}\n",
            list((1..=runs).map(|s| s.to_string()))
        ),
    )
    .expect("write the experiment");
    let experiment = config::load(&exp_path, &[]).expect("experiment loads");
    let data_opts = DataOptions {
        progress: false,
        ..DataOptions::from_env(data_dir())
    };
    let mnist = data::load(DatasetName::Mnist, &data_opts).expect("MNIST loads");
    let data = HashMap::from([(DatasetName::Mnist, mnist)]);
    let opts = Options {
        out: dir.path().join("out"),
        jobs,
        slots: vec![Slot::Cpu],
        force: false,
        pack: 1,
        checkpoints: runner::schedule::Checkpoints::Auto,
    };
    let reporter = Reporter::new(Mode::Quiet, &experiment.name, runs, runs as u64);
    let cancel = AtomicBool::new(false);
    let started = Instant::now();
    let plan = schedule::plan(&experiment, experiment.runs.iter().collect(), &opts).expect("plan");
    let outcome = schedule::execute(&plan, &data, &opts, &reporter, &cancel).expect("sweep");
    let wall = started.elapsed();
    assert_eq!(outcome.completed, runs, "{:?}", outcome.failed.first());
    let summary = std::fs::read_to_string(opts.out.join("trivial/summary.csv")).expect("summary");
    assert_eq!(
        summary.matches(",done,").count(),
        runs,
        "every run done in the summary"
    );
    let workers = outcome.workers as f64;
    let overhead = (wall.as_secs_f64() * workers - outcome.in_runs.as_secs_f64()).max(0.0);
    let per_run_ms = overhead / runs as f64 * 1e3;
    let met = per_run_ms < PER_RUN_TARGET_MS;
    println!(
        "sweep of {runs} trivial runs on {} workers: {:.1} s wall, {:.1} s inside runs ({:.1} ms a run); scheduling and reporting {per_run_ms:.2} ms a run; target < {PER_RUN_TARGET_MS} ms: {}",
        outcome.workers,
        wall.as_secs_f64(),
        outcome.in_runs.as_secs_f64(),
        outcome.in_runs.as_secs_f64() / runs as f64 * 1e3,
        if met { "met" } else { "MISSED" }
    );
    met
}

/// Where tests and benches share MNIST: $RUNNER_DATA_DIR, else the repository's data/.
fn data_dir() -> Option<std::path::PathBuf> {
    match std::env::var_os(data::DATA_DIR_ENV) {
        Some(d) if !d.is_empty() => None,
        _ => Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("data")),
    }
}
