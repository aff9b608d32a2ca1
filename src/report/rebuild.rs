//! Rebuilds every file of an experiment's report from its run folders (or from rows
//! read from them), so that the files agree with each other and with the folders.

use std::collections::HashSet;
use std::path::Path;

use anyhow::Context;

use super::atomic::write_atomic;
use super::summary::{self, Row};
use super::{compare, curves, epochs, groups, stats, stats_md};
use crate::config::Experiment;
use crate::layout;

/// Rebuilds the experiment's report from its run folders: `summary.csv`, `epochs.csv`,
/// `stats.csv`, `stats.md`, `comparisons.csv` and `curves.svg`.
pub fn write(
    out: &Path,
    experiment: &Experiment,
    running: &HashSet<String>,
) -> anyhow::Result<Vec<Row>> {
    let rows = summary::collect(out, experiment, running);
    write_rows(out, experiment, &rows)?;
    Ok(rows)
}

/// Writes every report file of `experiment` from `rows`.
pub fn write_rows(out: &Path, experiment: &Experiment, rows: &[Row]) -> anyhow::Result<()> {
    let dir = layout::experiment_dir(out, &experiment.name);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let groups = groups::groups(experiment, rows);
    let files: [(&str, Vec<u8>); 5] = [
        (layout::SUMMARY, summary::render(experiment, rows)?),
        (layout::EPOCHS, epochs::render(experiment, rows)?),
        (layout::STATS_CSV, stats::csv(experiment, &groups)?),
        (
            layout::STATS,
            stats_md::markdown(experiment, rows, &groups).into_bytes(),
        ),
        (layout::COMPARISONS, compare::csv(experiment, &groups)?),
    ];
    for (name, bytes) in files {
        let path = dir.join(name);
        write_atomic(&path, &bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    curves::write(&dir.join(layout::CURVES), &groups, rows)?;
    Ok(())
}
