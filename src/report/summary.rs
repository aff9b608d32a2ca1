//! `summary.csv`, one row per run, read from the run folders so that it is right whoever
//! wrote them (this process, an earlier one, another shard).

use std::collections::HashSet;
use std::path::Path;

use anyhow::Context;

use super::rungs::{self, TrialStatus};
use super::{cells, columns};
use crate::config::{Experiment, Run, RunConfig};
use crate::layout::{self, RunState};
use crate::report::metrics::{self, EpochMetrics};

/// The configuration a run belongs to: its id without the seed, so that runs differing
/// only in their seed are grouped (one colour in the curves, one line in the stats).
pub fn configuration(id: &str) -> String {
    let parts: Vec<&str> = id
        .split('_')
        .filter(|p| {
            !(p.starts_with("seed") && p.len() > 4 && p[4..].chars().all(|c| c.is_ascii_digit()))
        })
        .collect();
    if parts.is_empty() {
        "all seeds".to_string()
    } else {
        parts.join("_")
    }
}

/// Where a run stands, as its folder says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Done,
    Failed,
    Running,
    /// Not started, or started and killed: the next invocation runs it.
    Pending,
    /// Its folder holds another config's results.
    Conflict,
    /// Its results cannot be complete (a NaN cost, a missing picture): trained again.
    Damaged,
    /// A halving search ranked its trial below a rung's cut: it trains no further.
    Pruned,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Done => "done",
            Status::Failed => "failed",
            Status::Running => "running",
            Status::Pending => "pending",
            Status::Conflict => "conflict",
            Status::Damaged => "damaged",
            Status::Pruned => "pruned",
        }
    }
}

/// One run's line in the summary.
#[derive(Debug)]
pub struct Row {
    pub id: String,
    pub configuration: String,
    pub config: RunConfig,
    pub status: Status,
    /// Where it computed; empty when its folder does not say (not started, or another
    /// config's folder).
    pub device: String,
    /// Which engine computed it (`kernels`, `pack`); empty where `device` is.
    pub engine: String,
    /// Every epoch's costs of a finished run; empty otherwise.
    pub metrics: Vec<EpochMetrics>,
    pub error: String,
    /// The search trial it belongs to.
    pub trial: Option<usize>,
    /// In a halving search, the last rung its trial was scored at (0 the first).
    pub rung: Option<usize>,
}

impl Row {
    /// The costs of a finished run in [`super::groups::COSTS`] order: each per-epoch
    /// cost's last value, then each one's lowest (NaN for a cost its files lack).
    pub fn costs(&self) -> Option<[f32; 6]> {
        let last = self.metrics.last()?;
        let mut out = [f32::NAN; 6];
        for (i, c) in metrics::COSTS.iter().enumerate() {
            out[i] = (c.get)(last);
            out[metrics::COSTS.len() + i] = self.metrics.iter().map(c.get).fold(f32::NAN, f32::min);
        }
        Some(out)
    }
}

/// Reads every run folder of `experiment` under `out`; `running` marks runs in progress.
pub fn collect(out: &Path, experiment: &Experiment, running: &HashSet<String>) -> Vec<Row> {
    let mut rows: Vec<Row> = experiment
        .runs
        .iter()
        .map(|run| row(out, experiment, run, running.contains(&run.id)))
        .collect();
    if let Some(standing) = rungs::read(out, experiment) {
        for (i, row) in rows.iter_mut().enumerate() {
            place_in_search(row, &standing, i);
        }
    }
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    rows
}

/// A halving search's run is done when its trial reached its last rung, pruned when its
/// trial was cut; its costs are those of the epochs it trained.
fn place_in_search(row: &mut Row, standing: &rungs::Standing, i: usize) {
    let Some(trial) = row.trial.and_then(|t| standing.trial(t)) else {
        return;
    };
    if matches!(row.status, Status::Conflict | Status::Damaged) {
        return;
    }
    let reached = &standing.runs[i];
    row.metrics = reached.metrics.clone();
    row.rung = trial.rung;
    row.status = match trial.status {
        TrialStatus::Done => Status::Done,
        TrialStatus::Pruned => Status::Pruned,
        // A trial fails with any of its runs; the others stop with it.
        TrialStatus::Failed if reached.failed => Status::Failed,
        TrialStatus::Failed => Status::Pruned,
        // Failed for good while a sibling seed still trains: it is not trained again.
        TrialStatus::Open if reached.failed => Status::Failed,
        TrialStatus::Open if row.status == Status::Running => Status::Running,
        TrialStatus::Open => Status::Pending,
    };
}

/// Reads one run's folder into its line; the scheduler calls it as each run ends, so a
/// sweep reads each folder once instead of every folder after every run.
pub fn row(out: &Path, experiment: &Experiment, run: &Run, running: bool) -> Row {
    let dir = layout::run_dir(out, &experiment.name, &run.id);
    // A halving search's run is judged at the epochs its folder was last asked for.
    let asked = match experiment.halving() {
        Some(_) => layout::read_same_run(&dir, &run.config),
        None => None,
    };
    let full = experiment
        .halving()
        .map_or(run.config.train.epochs, |h| h.epochs);
    let (status, metrics, error) =
        match layout::read_state(&dir, asked.as_ref().unwrap_or(&run.config)) {
            _ if running => (Status::Running, Vec::new(), String::new()),
            // Short of the last rung, a run waits for its rung's cut ([`collect`] knows).
            RunState::Complete(m) if m.len() < full => (Status::Pending, m, String::new()),
            RunState::Complete(m) => (Status::Done, m, String::new()),
            RunState::Failed(e) => (Status::Failed, Vec::new(), e),
            RunState::OtherConfig(why) => (Status::Conflict, Vec::new(), why),
            RunState::Damaged(why) => (Status::Damaged, Vec::new(), why),
            // Another process trains it (and holds its lock), or no one does yet.
            RunState::Incomplete if layout::is_locked(&dir) => {
                (Status::Running, Vec::new(), String::new())
            }
            RunState::Missing | RunState::Incomplete => {
                (Status::Pending, Vec::new(), String::new())
            }
        };
    // device.txt and engine.txt are written before a run starts; a folder without them
    // (from before they existed) computed on the CPU with the kernels.
    let recorded =
        matches!(status, Status::Done | Status::Failed | Status::Running) || !metrics.is_empty();
    Row {
        device: if recorded {
            layout::read_device(&dir)
        } else {
            String::new()
        },
        engine: if recorded {
            layout::read_engine(&dir).kind().to_string()
        } else {
            String::new()
        },
        id: run.id.clone(),
        configuration: configuration(&run.id),
        config: run.config.clone(),
        status,
        metrics,
        error,
        trial: run.trial,
        rung: None,
    }
}

/// The epoch and batch a failed run stopped at, as its error names them ("diverged at
/// epoch 3, batch 120: ..."); 0 for what the error does not name (a failure before
/// training began, or one that does not say where). Batch 0 with an epoch means the
/// epoch's test pass.
pub fn failed_at(error: &str) -> (usize, usize) {
    let first = error.lines().next().unwrap_or_default();
    let words: Vec<&str> = first
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let after = |label: &str| {
        words
            .windows(2)
            .find_map(|w| (w[0] == label).then(|| w[1].parse().ok()).flatten())
            .unwrap_or(0)
    };
    let epoch = after("epoch");
    (epoch, if epoch == 0 { 0 } else { after("batch") })
}

/// The column of a per-epoch cost's first epoch with its lowest value:
/// `best_train_epoch`, `best_test_epoch`, `best_test_clean_epoch`.
fn best_epoch_column(cost: &metrics::Cost) -> String {
    format!("best_{}_epoch", cost.name.replace("_cost", ""))
}

/// The summary's header: experiment, run id, configuration (and a search's trial), every
/// setting, results (with a halving search's rung before the epochs done).
pub fn header(experiment: &Experiment) -> Vec<String> {
    let mut h: Vec<String> = ["experiment", "run_id", "configuration"]
        .map(String::from)
        .to_vec();
    if experiment.search.is_some() {
        h.push("trial".into());
    }
    h.extend(columns::settings().map(String::from));
    h.extend(["status", "device", "engine"].map(String::from));
    if experiment.halving().is_some() {
        h.push("rung".into());
    }
    h.push("epochs_done".into());
    h.extend(metrics::COSTS.iter().map(|c| format!("final_{}", c.name)));
    for c in &metrics::COSTS {
        h.extend([format!("best_{}", c.name), best_epoch_column(c)]);
    }
    h.extend(["seconds", "failed_epoch", "failed_batch", "error"].map(String::from));
    h
}

/// Renders the rows as CSV, one per run.
pub fn render(experiment: &Experiment, rows: &[Row]) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header(experiment))?;
    let (search, halving) = (experiment.search.is_some(), experiment.halving().is_some());
    let count = |n: Option<usize>| n.map_or(String::new(), |n| n.to_string());
    for row in rows {
        let m = &row.metrics;
        let costs = row.costs();
        let cost = |i: usize| costs.map_or(String::new(), |c| cells::cost(c[i]));
        let n = metrics::COSTS.len();
        // The first epoch with the lowest cost, 0 when there is none.
        let best_epoch = |i: usize| {
            costs
                .and_then(|c| m.iter().find(|e| (metrics::COSTS[i].get)(e) == c[n + i]))
                .map_or(0, |e| e.epoch)
        };
        let (failed_epoch, failed_batch) = match row.status {
            Status::Failed => failed_at(&row.error),
            _ => (0, 0),
        };
        let mut record = vec![
            experiment.name.clone(),
            row.id.clone(),
            row.configuration.clone(),
        ];
        if search {
            record.push(count(row.trial));
        }
        record.extend(columns::settings().map(|k| columns::setting(&row.config, k)));
        record.extend([
            row.status.as_str().to_string(),
            row.device.clone(),
            row.engine.clone(),
        ]);
        if halving {
            record.push(count(row.rung));
        }
        record.push(m.len().to_string());
        record.extend((0..n).map(cost));
        for i in 0..n {
            record.extend([cost(n + i), best_epoch(i).to_string()]);
        }
        record.extend([
            if m.is_empty() {
                String::new()
            } else {
                cells::seconds(m.iter().map(|e| e.seconds).sum::<f64>())
            },
            failed_epoch.to_string(),
            failed_batch.to_string(),
            row.error.lines().next().unwrap_or_default().to_string(),
        ]);
        w.write_record(&record)?;
    }
    w.into_inner().context("cannot render summary.csv")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_drops_the_seed() {
        assert_eq!(configuration("h256_noise0.6_seed12"), "h256_noise0.6");
        assert_eq!(configuration("seed1"), "all seeds");
        assert_eq!(configuration("h256_seedling"), "h256_seedling");
    }

    #[test]
    fn failures_say_where_training_stopped() {
        assert_eq!(
            failed_at("diverged at epoch 3, batch 120: cost is NaN; try a lower learning_rate"),
            (3, 120)
        );
        assert_eq!(
            failed_at("diverged at epoch 2: test cost is inf; try a lower learning_rate"),
            (2, 0)
        );
        assert_eq!(
            failed_at("batch_size 1000 is larger than the 500 training examples"),
            (0, 0)
        );
        assert_eq!(failed_at("panicked: index out of bounds"), (0, 0));
    }
}
