//! `summary.csv` (with `curves.svg` and `stats.md`): one row per run, rebuilt from the run
//! folders, so that it is right whoever wrote the folders (this process, an earlier one,
//! another shard).

use std::collections::HashSet;
use std::path::Path;

use anyhow::Context;

use super::atomic::write_atomic;
use crate::config::{Experiment, Run};
use crate::layout::{self, RunState};
use crate::train::EpochMetrics;

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

/// One run's line in the summary.
#[derive(Debug)]
pub struct Row {
    pub id: String,
    pub values: Vec<String>,
    pub status: &'static str,
    pub device: String,
    pub metrics: Vec<EpochMetrics>,
    pub error: String,
}

/// Reads every run folder of `experiment` under `out`; `running` marks runs in progress.
pub fn collect(out: &Path, experiment: &Experiment, running: &HashSet<String>) -> Vec<Row> {
    let mut rows: Vec<Row> = experiment
        .runs
        .iter()
        .map(|run| row(out, experiment, run, running.contains(&run.id)))
        .collect();
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    rows
}

/// Reads one run's folder into its line; the scheduler calls it as each run ends, so a
/// sweep reads each folder once instead of every folder after every run.
pub fn row(out: &Path, experiment: &Experiment, run: &Run, running: bool) -> Row {
    let dir = layout::run_dir(out, &experiment.name, &run.id);
    let (status, metrics, error) = match layout::read_state(&dir, &run.config) {
        _ if running => ("running", Vec::new(), String::new()),
        RunState::Complete(m) => ("done", m, String::new()),
        RunState::Failed(e) => ("failed", Vec::new(), e),
        RunState::OtherConfig(why) => ("conflict", Vec::new(), why),
        RunState::Damaged(why) => ("damaged", Vec::new(), why),
        RunState::Missing | RunState::Incomplete => ("pending", Vec::new(), String::new()),
    };
    Row {
        device: layout::read_device(&dir),
        id: run.id.clone(),
        values: run.values.iter().map(|(_, v)| v.clone()).collect(),
        status,
        metrics,
        error,
    }
}

/// Renders the rows as CSV: id, every swept value, status, final and best costs.
pub fn render(experiment: &Experiment, rows: &[Row]) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["run_id".to_string()];
    header.extend(experiment.axes.iter().cloned());
    header.extend(
        [
            "status",
            "device",
            "epochs",
            "final_train_cost",
            "final_test_cost",
            "best_train_cost",
            "best_test_cost",
            "seconds",
            "error",
        ]
        .map(String::from),
    );
    w.write_record(&header)?;
    for row in rows {
        let m = &row.metrics;
        let cost = |v: Option<f32>| v.map_or(String::new(), |c| c.to_string());
        let best = |f: fn(&EpochMetrics) -> f32| m.iter().map(f).reduce(f32::min);
        let mut record = vec![row.id.clone()];
        record.extend(row.values.iter().cloned());
        record.extend([
            row.status.to_string(),
            if m.is_empty() {
                String::new()
            } else {
                row.device.clone()
            },
            if m.is_empty() {
                String::new()
            } else {
                m.len().to_string()
            },
            cost(m.last().map(|e| e.train_cost)),
            cost(m.last().map(|e| e.test_cost)),
            cost(best(|e| e.train_cost)),
            cost(best(|e| e.test_cost)),
            if m.is_empty() {
                String::new()
            } else {
                format!("{:.1}", m.iter().map(|e| e.seconds).sum::<f64>())
            },
            row.error.lines().next().unwrap_or_default().to_string(),
        ]);
        w.write_record(&record)?;
    }
    w.into_inner().context("cannot render summary.csv")
}

/// Rebuilds `summary.csv` and `curves.svg` of `experiment` from its run folders.
pub fn write(
    out: &Path,
    experiment: &Experiment,
    running: &HashSet<String>,
) -> anyhow::Result<Vec<Row>> {
    let rows = collect(out, experiment, running);
    write_rows(out, experiment, &rows)?;
    Ok(rows)
}

/// Writes `summary.csv`, `curves.svg` and `stats.md` of `experiment` from `rows`.
pub fn write_rows(out: &Path, experiment: &Experiment, rows: &[Row]) -> anyhow::Result<()> {
    let dir = layout::experiment_dir(out, &experiment.name);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(layout::SUMMARY);
    write_atomic(&path, &render(experiment, rows)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    super::curves::write(&dir.join(layout::CURVES), rows)?;
    super::stats::write(&dir.join(layout::STATS), rows)?;
    Ok(())
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
}
