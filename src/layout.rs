//! The results layout, fixed so every part of the runner reads and writes the same places:
//! `OUT/<experiment>/{summary.csv, epochs.csv, stats.csv, stats.md, comparisons.csv, curves.svg}`
//! and `OUT/<experiment>/<run_id>/{config.toml, device.txt, metrics.csv, reconstruction.png, model.safetensors, error.txt}`.

use std::path::{Path, PathBuf};

use crate::config::RunConfig;
use crate::train::EpochMetrics;

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
    /// Complete results of this very config: `metrics.csv` has every epoch.
    Complete(Vec<EpochMetrics>),
    /// The run failed; the error as recorded.
    Failed(String),
    /// Started (or killed) but not finished: to be run again.
    Incomplete,
    /// Results of a different config under the same id.
    OtherConfig(String),
}

/// Reads a run folder and says what it holds, compared with `config`.
pub fn read_state(dir: &Path, config: &RunConfig) -> RunState {
    let Ok(text) = std::fs::read_to_string(dir.join(CONFIG)) else {
        return if dir.exists() && has_results(dir) {
            RunState::OtherConfig("results without a config.toml".into())
        } else {
            RunState::Missing
        };
    };
    match toml::from_str::<RunConfig>(&text) {
        Ok(found) if found == *config => {}
        Ok(found) => return RunState::OtherConfig(describe_difference(&found, config)),
        Err(_) => return RunState::OtherConfig("a config.toml that does not parse".into()),
    }
    if let Ok(error) = std::fs::read_to_string(dir.join(ERROR)) {
        return RunState::Failed(error.trim().to_string());
    }
    match crate::report::metrics::read(&dir.join(METRICS)) {
        Ok(m) if is_complete(&m, config.train.epochs) => RunState::Complete(m),
        _ => RunState::Incomplete,
    }
}

fn has_results(dir: &Path) -> bool {
    [METRICS, RECONSTRUCTION, MODEL]
        .iter()
        .any(|f| dir.join(f).exists())
}

fn is_complete(metrics: &[EpochMetrics], epochs: usize) -> bool {
    metrics.len() == epochs && metrics.iter().enumerate().all(|(i, m)| m.epoch == i + 1)
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
