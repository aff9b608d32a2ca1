//! What a sweep shows in TensorBoard: each run's hyperparameters (the swept settings, as
//! `config.toml` names and holds them), its per-epoch costs and seconds, its
//! reconstruction and its status; and the experiment's hyperparameters with their
//! domains and its metrics. The format is in the parent module; this says what goes in.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use super::{Domain, HParamInfo, HValue, MetricInfo, RunLog, SessionStatus};
use crate::config::{settings, Experiment, Run, RunConfig};
use crate::layout;
use crate::report::metrics::{EpochMetrics, COSTS};
use crate::report::{cells, columns};

/// The scalar tag of an epoch's wall time, beside the costs of [`COSTS`].
pub const SECONDS: &str = "seconds";

/// Settings that are numbers in `config.toml`.
const NUMBERS: &[&str] = &[
    "train_examples",
    "init_scale",
    "noise_level",
    "eval_noise_level",
    "learning_rate",
    "batch_size",
    "epochs",
    "seed",
];

/// The settings TensorBoard shows: the swept ones (every one when none is swept), less
/// `depth`, which `hidden` shows.
fn keys(experiment: &Experiment) -> Vec<&'static str> {
    let swept = columns::swept(experiment);
    let keys: Vec<&'static str> = if swept.is_empty() {
        columns::settings().collect()
    } else {
        swept
    };
    keys.into_iter().filter(|k| *k != "depth").collect()
}

/// A setting's `config.toml` name (`train.learning_rate`) and its value there, `None`
/// where the config leaves it unset. `hidden`, a list there, is shown as its column text
/// (`h256x128`).
fn hparam(config: &RunConfig, key: &str) -> Option<(String, HValue)> {
    let cell = columns::setting(config, key);
    let unset = match key {
        "train_examples" => config.data.train_examples.is_none(),
        "eval_noise_level" => config.train.eval_noise_level.is_none(),
        _ => false,
    };
    if unset {
        return None;
    }
    let value = if NUMBERS.contains(&key) {
        HValue::Number(cell.parse().ok()?)
    } else {
        HValue::Text(cell)
    };
    Some((format!("{}.{key}", settings::section(key)), value))
}

/// A run's hyperparameters, as its session start records them.
pub fn hparams(experiment: &Experiment, config: &RunConfig) -> Vec<(String, HValue)> {
    keys(experiment)
        .into_iter()
        .filter_map(|k| hparam(config, k))
        .collect()
}

/// Writes the experiment's HParams record: each shown setting with the values its runs
/// take (a range for numbers), and the costs as metrics.
pub fn write_experiment(out: &Path, experiment: &Experiment) -> anyhow::Result<()> {
    let dir = layout::experiment_dir(out, &experiment.name);
    let infos: Vec<HParamInfo> = keys(experiment)
        .into_iter()
        .filter_map(|key| {
            let values: Vec<HValue> = experiment
                .runs
                .iter()
                .filter_map(|r| hparam(&r.config, key))
                .map(|(_, v)| v)
                .collect();
            let name = format!("{}.{key}", settings::section(key));
            Some(HParamInfo {
                name,
                domain: domain(values)?,
            })
        })
        .collect();
    let metrics: Vec<MetricInfo> = COSTS
        .iter()
        .map(|c| MetricInfo {
            tag: c.name.to_string(),
            display_name: String::new(),
        })
        .collect();
    super::write_experiment(&dir, &infos, &metrics)
}

/// The range of numbers, or the distinct texts; `None` when no run sets it.
fn domain(values: Vec<HValue>) -> Option<Domain> {
    let numbers: Vec<f64> = values
        .iter()
        .filter_map(|v| match v {
            HValue::Number(x) => Some(*x),
            _ => None,
        })
        .collect();
    if values.is_empty() {
        None
    } else if numbers.len() == values.len() {
        let min = numbers.iter().copied().fold(f64::INFINITY, f64::min);
        let max = numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some(Domain::Interval { min, max })
    } else {
        let mut distinct: Vec<HValue> = Vec::new();
        for v in values {
            if !distinct.contains(&v) {
                distinct.push(v);
            }
        }
        Some(Domain::Discrete(distinct))
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Opens a run's log as it starts and records its session (its hyperparameters, grouped
/// by configuration).
pub fn start(dir: &Path, experiment: &Experiment, run: &Run) -> anyhow::Result<RunLog> {
    let mut log = RunLog::open(dir)?;
    let group = crate::report::summary::configuration(&run.id);
    log.session_start(&hparams(experiment, &run.config), &group, now());
    log.flush()?;
    Ok(log)
}

/// An epoch's costs and seconds, as `metrics.csv` writes them (seconds to two
/// decimals), so that the two never disagree.
pub fn epoch(log: &mut RunLog, m: &EpochMetrics) -> anyhow::Result<()> {
    let seconds: f64 = cells::seconds(m.seconds).parse().unwrap_or(m.seconds);
    let mut values: Vec<(&str, f64)> = COSTS
        .iter()
        .map(|c| (c.name, (c.get)(m) as f64))
        .filter(|(_, v)| v.is_finite())
        .collect();
    values.push((SECONDS, seconds));
    log.scalars(m.epoch as i64, now(), &values);
    log.flush()
}

/// A run that ended: its reconstruction (when it finished) and its status.
pub fn end(
    log: &mut RunLog,
    dir: &Path,
    status: SessionStatus,
    epochs: usize,
) -> anyhow::Result<()> {
    if status == SessionStatus::Success {
        if let Ok(png) = std::fs::read(dir.join(layout::RECONSTRUCTION)) {
            log.image("reconstruction", epochs as i64, now(), &png)?;
        }
    }
    log.session_end(status, now());
    log.flush()
}
