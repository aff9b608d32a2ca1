//! Configurations: the runs of a sweep that differ only in their seed, and the costs
//! each of them ended with, the unit that statistics, comparisons and curves are over.

use std::collections::HashMap;

use super::summary::{Row, Status};
use crate::config::{Experiment, RunConfig};

/// Indices into [`COSTS`] (and into [`Group::costs`]).
pub const FINAL_TRAIN: usize = 0;
pub const FINAL_TEST: usize = 1;
pub const FINAL_TEST_CLEAN: usize = 2;
pub const BEST_TRAIN: usize = 3;

/// The costs a run ends with, as the summary reports them: each per-epoch cost's last
/// value, then each one's lowest.
pub const COSTS: [&str; 6] = [
    "final_train_cost",
    "final_test_cost",
    "final_test_cost_clean",
    "best_train_cost",
    "best_test_cost",
    "best_test_cost_clean",
];

/// The runs of one configuration: runs whose settings differ only in their seed.
#[derive(Clone, Debug)]
pub struct Group {
    pub name: String,
    /// `(axis, value)` of every swept setting but the seed, as in the run ids.
    pub values: Vec<(String, String)>,
    /// The config of its first run, for the settings columns (the seed aside, all of
    /// its runs share it).
    pub config: RunConfig,
    pub planned: usize,
    pub failed: usize,
    /// Per cost of [`COSTS`], the value of each finished run.
    pub costs: [Vec<f64>; 6],
}

impl Group {
    pub fn done(&self) -> usize {
        self.costs[FINAL_TRAIN].len()
    }
}

/// The configurations of the sweep in sweep order, every one of them, finished or not.
pub fn groups(experiment: &Experiment, rows: &[Row]) -> Vec<Group> {
    let by_id: HashMap<&str, &Row> = rows.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut groups: Vec<Group> = Vec::new();
    for run in &experiment.runs {
        let Some(row) = by_id.get(run.id.as_str()) else {
            continue;
        };
        let index = match groups.iter().position(|g| g.name == row.configuration) {
            Some(i) => i,
            None => {
                groups.push(Group {
                    name: row.configuration.clone(),
                    values: run
                        .values
                        .iter()
                        .filter(|(k, _)| k != "seed")
                        .cloned()
                        .collect(),
                    config: run.config.clone(),
                    planned: 0,
                    failed: 0,
                    costs: Default::default(),
                });
                groups.len() - 1
            }
        };
        let g = &mut groups[index];
        g.planned += 1;
        g.failed += usize::from(row.status == Status::Failed);
        // Only finished runs: a pruned run's costs are at fewer epochs than its config's.
        if let Some(c) = row.costs().filter(|_| row.status == Status::Done) {
            // A cost its files lack (a run from before it was measured) counts nowhere.
            for (values, cost) in g.costs.iter_mut().zip(c).filter(|(_, c)| c.is_finite()) {
                values.push(decimal(cost));
            }
        }
    }
    groups
}

/// A cost as the f64 nearest to the decimal the summary writes (0.03146631, not the f32's
/// exact binary value 0.031466308981...), so that a spreadsheet's AVERAGE over
/// summary.csv gives the mean stats.csv states.
pub fn decimal(cost: f32) -> f64 {
    cost.to_string().parse().unwrap_or(cost as f64)
}
