//! `stats.md`: the figures of `stats.csv` and `comparisons.csv` for reading.

use super::compare;
use super::groups::{Group, BEST_TRAIN, FINAL_TRAIN};
use super::stats::{table, Line, BEST_HEADING, COMPARISONS_HEADING, FINAL_HEADING, UNDEFINED};
use super::summary::{Row, Status};
use crate::config::Experiment;

/// `stats.md`: the same figures as stats.csv for reading, and the comparisons.
pub fn markdown(experiment: &Experiment, rows: &[Row], groups: &[Group]) -> String {
    let count = |s: Status| rows.iter().filter(|r| r.status == s).count();
    let (done, failed, pruned) = (
        count(Status::Done),
        count(Status::Failed),
        count(Status::Pruned),
    );
    // Only a halving search prunes: a grid's sentence stays as it was.
    let pruned_part = if pruned > 0 {
        format!("{pruned} pruned (their trial was cut at a rung), ")
    } else {
        String::new()
    };
    let lines = |first: usize| -> Vec<Line> {
        groups
            .iter()
            .map(|g| Line {
                name: &g.name,
                planned: g.planned,
                failed: g.failed,
                train: &g.costs[first],
                test: &g.costs[first + 1],
                clean: &g.costs[first + 2],
            })
            .collect()
    };
    let mut out = format!(
        "# {}: costs per configuration\n\n{} run{} planned: {done} done, {pruned_part}{failed} failed, {} not finished. \
A configuration is the runs that differ only in their seed. Figures are over its finished \
runs: sd is the sample standard deviation, se = sd/√n, 95% CI the t interval of the mean \
(n − 1 degrees of freedom); \"{UNDEFINED}\" marks a figure that needs more runs. stats.csv has \
these figures at full precision, comparisons.csv the comparisons.\n\n",
        experiment.name,
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        rows.len() - done - failed - pruned
    );
    if experiment.test_cost_follows_noise() {
        out.push_str(&format!(
            "**Warning:** {}.\n\n",
            crate::config::NOISE_FOLLOWS_RUNS
        ));
    }
    out.push_str(&format!(
        "{FINAL_HEADING}\n\n{}\n",
        table("configuration", &lines(FINAL_TRAIN))
    ));
    out.push_str(&format!(
        "{BEST_HEADING}\n\n{}\n",
        table("configuration", &lines(BEST_TRAIN))
    ));
    out.push_str(&format!(
        "{COMPARISONS_HEADING}\n\n{}\n\n{}",
        compare::EXPLANATION,
        compare::markdown(&compare::pairs(groups))
    ));
    out
}
