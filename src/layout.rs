//! The results layout, fixed so every part of the runner reads and writes the same places:
//! `OUT/<experiment>/{summary.csv, epochs.csv, stats.csv, stats.md, comparisons.csv, curves.svg, report.html}`
//! and `OUT/<experiment>/<run_id>/{config.toml, device.txt, engine.txt, metrics.csv, reconstruction.png, model.safetensors, checkpoint.safetensors, error.txt, .lock}`.
//!
//! Nothing under `--out` is reached through a symbolic link: a link planted there (at a
//! run folder, a lock file, a result file) could make runner truncate or replace a file
//! anywhere the user can write. Folders are made one level at a time with checks
//! ([`create_dir_under`]), files are replaced by renaming ([`crate::report::atomic`],
//! which refuses a link at the target) or opened with `O_NOFOLLOW`, and [`check_links`]
//! finds planted links before anything trains. `--out` itself may be a link: the user
//! named it.

use std::path::{Path, PathBuf};

use crate::error::input_error;
pub use crate::report::atomic::link_error;

use crate::config::RunConfig;
use crate::report::metrics::EpochMetrics;

pub const CONFIG: &str = "config.toml";
pub const METRICS: &str = "metrics.csv";
pub const RECONSTRUCTION: &str = "reconstruction.png";
pub const MODEL: &str = "model.safetensors";
pub const ERROR: &str = "error.txt";
/// The device the run computed on (`cpu`, `cuda:0`): results differ across devices
/// within float tolerance, so the summary says where each came from.
pub const DEVICE: &str = "device.txt";
pub const SUMMARY: &str = "summary.csv";
pub const EPOCHS: &str = "epochs.csv";
pub const CURVES: &str = "curves.svg";
pub const STATS: &str = "stats.md";
pub const STATS_CSV: &str = "stats.csv";
pub const COMPARISONS: &str = "comparisons.csv";
/// How the run's arithmetic was done ([`Engine`]): engines differ in the last bits.
pub const ENGINE: &str = "engine.txt";
/// The run's state after its last epoch, to resume or continue it
/// (see [`crate::train::checkpoint`]).
pub const CHECKPOINT: &str = "checkpoint.safetensors";
/// TensorBoard's event file, in the experiment folder and in each run folder (see
/// [`crate::report::tensorboard`]).
pub const EVENT_FILE: &str = "events.out.tfevents.runner";
/// The run folder's lock file (see [`crate::schedule::lock`]).
pub const LOCK: &str = ".lock";

/// Every file runner writes in a run folder.
pub const RUN_FILES: &[&str] = &[
    CONFIG,
    DEVICE,
    ENGINE,
    METRICS,
    RECONSTRUCTION,
    MODEL,
    ERROR,
    LOCK,
    EVENT_FILE,
    CHECKPOINT,
];

/// Every file runner writes in an experiment folder.
pub const EXPERIMENT_FILES: &[&str] = &[
    SUMMARY,
    EPOCHS,
    CURVES,
    STATS,
    STATS_CSV,
    COMPARISONS,
    REPORT_HTML,
    EVENT_FILE,
];

/// Which arithmetic computed a run. Runner's own CPU kernels and dfdx's batched engine
/// (`--pack`, and every GPU run) follow the same formulas but round differently, so
/// their costs differ in the last bits; `--verify` recomputes a run with its engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// Runner's CPU kernels, one run at a time.
    Kernels,
    /// dfdx's tensors, runs stacked in packs of up to this many.
    Pack(usize),
}

impl Engine {
    /// The engine of runs trained with `--pack pack` on the CPU or a GPU.
    pub fn for_pack(pack: usize, gpu: bool) -> Engine {
        if pack > 1 || gpu {
            Engine::Pack(pack.max(1))
        } else {
            Engine::Kernels
        }
    }

    /// As written to `engine.txt`: `kernels` or `pack N`.
    pub fn label(self) -> String {
        match self {
            Engine::Kernels => "kernels".into(),
            Engine::Pack(n) => format!("pack {n}"),
        }
    }

    /// The summary's `engine` column: `kernels` or `pack` (the bits depend on the
    /// engine, not on the pack's size).
    pub fn kind(self) -> &'static str {
        match self {
            Engine::Kernels => "kernels",
            Engine::Pack(_) => "pack",
        }
    }

    fn parse(text: &str) -> Option<Engine> {
        match text.split_whitespace().collect::<Vec<_>>()[..] {
            ["kernels"] => Some(Engine::Kernels),
            ["pack", n] => n.parse().ok().map(Engine::Pack),
            _ => None,
        }
    }
}

/// The engine a run folder records; runs from before the record were computed by the
/// kernels.
pub fn read_engine(dir: &Path) -> Engine {
    std::fs::read_to_string(dir.join(ENGINE))
        .ok()
        .and_then(|s| Engine::parse(&s))
        .unwrap_or(Engine::Kernels)
}

/// Creates `dir` and every missing folder between `out` and it, one level at a time,
/// refusing any link below `out` (an input error naming it: exit 2).
pub fn create_dir_under(out: &Path, dir: &Path) -> anyhow::Result<()> {
    let below = dir.strip_prefix(out).unwrap_or(dir);
    let mut path = out.to_path_buf();
    if !out.as_os_str().is_empty() {
        create_level(&path, true)?;
    }
    for part in below.components() {
        path.push(part);
        create_level(&path, false)?;
    }
    Ok(())
}

/// Makes one folder unless it is there; `named` is `--out` itself, which may be a link.
fn create_level(path: &Path, named: bool) -> anyhow::Result<()> {
    let cannot = |e: &dyn std::fmt::Display| {
        input_error(format!(
            "cannot create the results folder {}: {e}; --out must name a folder you can write to",
            path.display()
        ))
    };
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() && !named => Err(link_error(path)),
        Ok(_) if path.is_dir() => Ok(()),
        Ok(_) => Err(cannot(&"it is a file, not a folder")),
        // `--out` with the folders above it, as the user named it.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && named => {
            std::fs::create_dir_all(path).map_err(|e| cannot(&e))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match std::fs::create_dir(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => create_level(path, named),
            Err(e) => Err(cannot(&e)),
        },
        Err(e) => Err(cannot(&e)),
    }
}

/// The first link at `dir` (under `out`), at a folder between them, or at one of
/// `files` in `dir`: each a place runner would write through.
pub fn check_links(out: &Path, dir: &Path, files: &[&str]) -> Option<PathBuf> {
    let is_link = |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink());
    let below = dir.strip_prefix(out).unwrap_or(dir);
    let mut path = out.to_path_buf();
    for part in below.components() {
        path.push(part);
        if is_link(&path) {
            return Some(path);
        }
    }
    if !dir.is_dir() {
        return None;
    }
    files.iter().map(|f| dir.join(f)).find(|p| is_link(p))
}

/// When and as which file a run's `metrics.csv` was written: results are replaced by a
/// rename, so a new write is a new inode (and time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    inode: u64,
    modified: Option<std::time::SystemTime>,
}

/// The [`Stamp`] of the run folder's results, `None` when it has none.
pub fn stamp(dir: &Path) -> Option<Stamp> {
    let meta = std::fs::symlink_metadata(dir.join(METRICS)).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = meta.len();
    Some(Stamp {
        inode,
        modified: meta.modified().ok(),
    })
}

/// Opens `path` with `options`, never through a link planted there (`O_NOFOLLOW`):
/// how every file under `--out` that is not replaced by a rename is opened.
pub fn open_no_follow(
    options: &mut std::fs::OpenOptions,
    path: &Path,
) -> std::io::Result<std::fs::File> {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(options, libc::O_NOFOLLOW);
    options.open(path)
}

/// Whether another process (or another open file of this one) holds the run's lock:
/// the run is being trained. The lock file is opened without following a link and
/// never created here.
pub fn is_locked(dir: &Path) -> bool {
    let Ok(file) = open_no_follow(std::fs::OpenOptions::new().read(true), &dir.join(LOCK)) else {
        return false;
    };
    let lock = fd_lock::RwLock::new(file);
    let held = matches!(lock.try_read(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
    held
}
/// Everything above in one page that opens from disk (src/report/html/).
pub const REPORT_HTML: &str = "report.html";

pub fn experiment_dir(out: &Path, experiment: &str) -> PathBuf {
    out.join(experiment)
}

pub fn run_dir(out: &Path, experiment: &str, run_id: &str) -> PathBuf {
    out.join(experiment).join(run_id)
}

/// What a run's folder holds.
#[derive(Debug)]
pub enum RunState {
    /// Nothing of this run yet.
    Missing,
    /// Complete results of this very config: `metrics.csv` has every epoch, every cost a
    /// number, and `reconstruction.png` is there.
    Complete(Vec<EpochMetrics>),
    /// The run failed; the error as recorded.
    Failed(String),
    /// Started (or killed) but not finished, or an attempt of another config that left no
    /// results (it failed or was killed): to be run again, nothing is lost.
    Incomplete,
    /// Results of this config that cannot be complete (a cost that is not a number, a
    /// missing `reconstruction.png`): run again; the reason says what was found.
    Damaged(String),
    /// Results of a different config under the same id.
    OtherConfig(String),
}

/// Reads a run folder and says what it holds, compared with `config`.
pub fn read_state(dir: &Path, config: &RunConfig) -> RunState {
    let path = dir.join(CONFIG);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return if has_results(dir) {
                RunState::OtherConfig("results without a config.toml".into())
            } else {
                RunState::Missing
            };
        }
        Err(e) if has_results(dir) => {
            return RunState::OtherConfig(format!(
                "results with a config.toml that cannot be read ({e})"
            ))
        }
        Err(_) => return RunState::Incomplete,
    };
    match toml::from_str::<RunConfig>(&text).map(RunConfig::normalized) {
        Ok(found) if found == *config => {}
        // Asked for more epochs: the run goes on from its checkpoint.
        Ok(found) if found.continues_to(config) => return RunState::Incomplete,
        // A failed or killed attempt of another config holds nothing worth keeping.
        _ if !has_results(dir) => return RunState::Incomplete,
        Ok(found) => return RunState::OtherConfig(describe_difference(&found, config)),
        Err(e) => {
            return RunState::OtherConfig(format!(
                "results with a config.toml that does not parse as a run's settings ({}): it was edited or damaged",
                first_line(&e.to_string())
            ))
        }
    }
    if let Ok(error) = std::fs::read_to_string(dir.join(ERROR)) {
        return RunState::Failed(error.trim().to_string());
    }
    let metrics = match crate::report::metrics::read(&dir.join(METRICS)) {
        Ok(m) if m.len() == config.train.epochs => m,
        Ok(m) if m.len() > config.train.epochs => {
            return RunState::Damaged(format!(
                "{METRICS} has {} epochs, the config {}",
                m.len(),
                config.train.epochs
            ))
        }
        Ok(_) => return RunState::Incomplete,
        Err(e) if dir.join(METRICS).exists() => return RunState::Damaged(format!("{e:#}")),
        Err(_) => return RunState::Incomplete,
    };
    match check_complete(dir, &metrics) {
        Ok(()) => RunState::Complete(metrics),
        Err(why) => RunState::Damaged(why),
    }
}

/// Like [`read_state`] for a rung of a halving search, where a run trained further than
/// `config` asks (promoted to a later rung, finished or under way) has passed this rung:
/// complete when its `metrics.csv` reached `config`'s epochs (a continuing run keeps the
/// rows of its last rung, see [`keeps_metrics`]), failed when it failed before them.
pub fn read_rung_state(dir: &Path, config: &RunConfig) -> RunState {
    let state = read_state(dir, config);
    let RunState::OtherConfig(_) = state else {
        return state;
    };
    let asked = config.train.epochs;
    match read_same_run(dir, config) {
        Some(found) if found.train.epochs > asked => {}
        _ => return state,
    }
    match crate::report::metrics::read(&dir.join(METRICS)) {
        Ok(m) if m.len() >= asked && crate::report::metrics::numbered(&m) => {
            RunState::Complete(m[..asked].to_vec())
        }
        _ => match std::fs::read_to_string(dir.join(ERROR)) {
            Ok(error) => RunState::Failed(error.trim().to_string()),
            Err(_) => RunState::Incomplete,
        },
    }
}

/// The config a run folder records when it is `config`'s run, for as many epochs as it
/// was last asked (a halving search's rung, a continuation); `None` for another run's
/// folder, or one without a config that parses.
pub fn read_same_run(dir: &Path, config: &RunConfig) -> Option<RunConfig> {
    let text = std::fs::read_to_string(dir.join(CONFIG)).ok()?;
    toml::from_str::<RunConfig>(&text)
        .ok()
        .map(RunConfig::normalized)
        .filter(|found| found.same_run_as(config))
}

/// Whether a run about to train with `config` keeps the folder's `metrics.csv` meanwhile:
/// when the folder holds the same run, asked for no more epochs (a continuation, or a
/// continuation killed and taken up again), its rows are the run's earlier rungs, which
/// a halving search ranks by. Only fewer rows than `config`'s epochs are kept: they never
/// read as complete, so a killed continuation cannot pass for a finished run.
pub fn keeps_metrics(dir: &Path, config: &RunConfig) -> bool {
    let same = read_same_run(dir, config).is_some_and(|f| f.train.epochs <= config.train.epochs);
    same && crate::report::metrics::read(&dir.join(METRICS))
        .is_ok_and(|m| m.len() < config.train.epochs)
}

fn has_results(dir: &Path) -> bool {
    [METRICS, RECONSTRUCTION, MODEL]
        .iter()
        .any(|f| dir.join(f).exists())
}

/// Training records only finite costs, epochs in order, and writes the picture before
/// `metrics.csv`; anything else was edited or lost after the run.
fn check_complete(dir: &Path, metrics: &[EpochMetrics]) -> Result<(), String> {
    for (i, m) in metrics.iter().enumerate() {
        if m.epoch != i + 1 {
            return Err(format!(
                "{METRICS} row {} is epoch {}, not {}",
                i + 2,
                m.epoch,
                i + 1
            ));
        }
        // The clean cost may be missing (NaN: a file from before it), never infinite.
        if !(m.train_cost.is_finite() && m.test_cost.is_finite()) || m.test_cost_clean.is_infinite()
        {
            return Err(format!(
                "{METRICS} row {} holds a cost that is not a finite number ({}, {})",
                i + 2,
                m.train_cost,
                m.test_cost
            ));
        }
    }
    if !dir.join(RECONSTRUCTION).is_file() {
        return Err(format!("{RECONSTRUCTION} is missing"));
    }
    Ok(())
}

fn first_line(text: &str) -> &str {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
}

/// What differs when the folder's `config.toml` is of another config than `config`, read
/// whatever else the folder holds: a process writing another config into a run folder
/// writes its `config.toml` first.
///
/// In a halving search (`rungs`), the same run with any number of epochs is no conflict:
/// it is at an earlier or a later rung.
pub fn other_config(dir: &Path, config: &RunConfig, rungs: bool) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(CONFIG)).ok()?;
    match toml::from_str::<RunConfig>(&text).map(RunConfig::normalized) {
        Ok(found) if found == *config || found.continues_to(config) => None,
        Ok(found) if rungs && found.same_run_as(config) => None,
        Ok(found) => Some(describe_difference(&found, config)),
        Err(_) => Some("a config.toml that does not parse".into()),
    }
}

/// Names the settings that differ, so the user sees why the folder was refused.
fn describe_difference(found: &RunConfig, wanted: &RunConfig) -> String {
    let (Ok(a), Ok(b)) = (toml::Value::try_from(found), toml::Value::try_from(wanted)) else {
        return "a different config".into();
    };
    let mut diffs = Vec::new();
    for section in ["data", "train"] {
        let (Some(ta), Some(tb)) = (
            a.get(section).and_then(|v| v.as_table()),
            b.get(section).and_then(|v| v.as_table()),
        ) else {
            continue;
        };
        let keys: std::collections::BTreeSet<&String> = ta.keys().chain(tb.keys()).collect();
        for k in keys {
            if ta.get(k) != tb.get(k) {
                let show =
                    |v: Option<&toml::Value>| v.map_or("(unset)".to_string(), |v| v.to_string());
                diffs.push(format!(
                    "{section}.{k} = {} there, {} now",
                    show(ta.get(k)),
                    show(tb.get(k))
                ));
            }
        }
    }
    format!("a different config ({})", diffs.join("; "))
}

/// The device recorded in a run folder, `cpu` when none was recorded.
pub fn read_device(dir: &Path) -> String {
    std::fs::read_to_string(dir.join(DEVICE))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "cpu".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(lr: f64) -> RunConfig {
        let mut c = RunConfig::default();
        c.train.epochs = 2;
        c.train.learning_rate = lr;
        c
    }

    fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    const METRICS_2: &str = "epoch,train_cost,test_cost,seconds\n1,0.5,0.4,1.0\n2,0.3,0.2,1.0\n";

    #[test]
    fn a_continuation_keeps_its_earlier_rows_even_when_killed_and_taken_up_again() {
        let two = config(0.01);
        let mut six = two.clone();
        six.train.epochs = 6;
        // Trained to 2, now asked for 6: the 2 rows stay while it goes on.
        let dir = folder(&[("config.toml", &two.to_toml()), ("metrics.csv", METRICS_2)]);
        assert!(keeps_metrics(dir.path(), &six));
        // Killed once on the way: config.toml already says 6; the rows still stay.
        std::fs::write(dir.path().join("config.toml"), six.to_toml()).unwrap();
        assert!(keeps_metrics(dir.path(), &six));
        // Rows as many as asked (a complete or damaged result) are never kept, nor another
        // run's, nor rows of a run asked for fewer epochs.
        assert!(!keeps_metrics(dir.path(), &two));
        assert!(!keeps_metrics(dir.path(), &config(0.02)));
        let mut one = two.clone();
        one.train.epochs = 1;
        assert!(!keeps_metrics(dir.path(), &one));
    }

    #[test]
    fn a_rung_passed_by_a_run_trained_further_is_complete() {
        let two = config(0.01);
        let mut six = two.clone();
        six.train.epochs = 6;
        let dir = folder(&[("config.toml", &six.to_toml()), ("metrics.csv", METRICS_2)]);
        assert!(matches!(read_rung_state(dir.path(), &two), RunState::Complete(m) if m.len() == 2));
        // For a grid the same folder is another config's.
        assert!(matches!(
            read_state(dir.path(), &two),
            RunState::OtherConfig(_)
        ));
        assert!(other_config(dir.path(), &two, true).is_none());
        assert!(other_config(dir.path(), &two, false).is_some());
    }

    #[test]
    fn complete_needs_every_epoch_finite_and_the_picture() {
        let c = config(0.01);
        let toml = c.to_toml();
        let dir = folder(&[
            (CONFIG, &toml),
            (METRICS, METRICS_2),
            (RECONSTRUCTION, "png"),
        ]);
        assert!(matches!(read_state(dir.path(), &c), RunState::Complete(m) if m.len() == 2));

        // Issue 15, case 13: a deleted picture or a hand-edited NaN is not done.
        std::fs::remove_file(dir.path().join(RECONSTRUCTION)).unwrap();
        let state = read_state(dir.path(), &c);
        assert!(
            matches!(&state, RunState::Damaged(why) if why.contains("reconstruction.png")),
            "{state:?}"
        );
        std::fs::write(dir.path().join(RECONSTRUCTION), "png").unwrap();
        std::fs::write(dir.path().join(METRICS), METRICS_2.replace("0.2,", "NaN,")).unwrap();
        let state = read_state(dir.path(), &c);
        assert!(
            matches!(&state, RunState::Damaged(why) if why.contains("not a finite number")),
            "{state:?}"
        );
    }

    // Issue 15, case 6: a failed attempt of another config blocks nothing.
    #[test]
    fn a_failed_run_of_another_config_is_no_conflict() {
        let failed = config(1e39);
        let toml = failed.to_toml();
        let dir = folder(&[(CONFIG, &toml), (ERROR, "diverged"), (DEVICE, "cpu")]);
        assert!(matches!(
            read_state(dir.path(), &config(0.01)),
            RunState::Incomplete
        ));
        assert!(matches!(
            read_state(dir.path(), &failed),
            RunState::Failed(_)
        ));
        // ... but another config's results are one.
        let dir = folder(&[
            (CONFIG, &toml),
            (METRICS, METRICS_2),
            (RECONSTRUCTION, "png"),
        ]);
        let state = read_state(dir.path(), &config(0.01));
        assert!(
            matches!(&state, RunState::OtherConfig(why) if why.contains("learning_rate")),
            "{state:?}"
        );
        assert!(other_config(dir.path(), &config(0.01), false).is_some());
        assert!(other_config(dir.path(), &failed, false).is_none());
    }

    // Issue 15, case 8: a damaged config.toml is named as such.
    #[test]
    fn a_config_that_does_not_parse_is_named() {
        let dir = folder(&[(CONFIG, "garbage [[["), (METRICS, METRICS_2)]);
        let state = read_state(dir.path(), &config(0.01));
        let RunState::OtherConfig(why) = state else {
            panic!("{state:?}")
        };
        assert!(why.contains("config.toml that does not parse"), "{why}");
        assert!(why.contains("line 1"), "{why}");
        // Without results there is nothing to protect: run it again.
        let dir = folder(&[(CONFIG, "garbage [[[")]);
        assert!(matches!(
            read_state(dir.path(), &config(0.01)),
            RunState::Incomplete
        ));
    }
}
