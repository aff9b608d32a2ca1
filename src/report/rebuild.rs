//! Rebuilds every file of an experiment's report from its run folders (or from rows
//! read from them), so that the files agree with each other and with the folders.

use std::collections::HashSet;
use std::path::Path;

use anyhow::Context;

use super::atomic::write_atomic;
use super::summary::{self, Row};
use super::{compare, curves, epochs, groups, html, stats, stats_md};
use crate::config::Experiment;
use crate::layout;

/// Rebuilds the experiment's report from its run folders: `summary.csv`, `epochs.csv`,
/// `stats.csv`, `stats.md`, `comparisons.csv`, `curves.svg` and `report.html`.
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
    write_files(out, experiment, rows, true)?;
    super::tensorboard::sweep::write_experiment(out, experiment)
}

/// Writes the report files but report.html, for the rewrites while a sweep runs: the
/// page of a 10,000-run sweep takes about 0.2 s to render (`cargo bench --bench
/// report`), against milliseconds for the rest, and the sweep's last rebuild writes it.
pub fn write_rows_during_sweep(
    out: &Path,
    experiment: &Experiment,
    rows: &[Row],
) -> anyhow::Result<()> {
    write_files(out, experiment, rows, false)
}

fn write_files(
    out: &Path,
    experiment: &Experiment,
    rows: &[Row],
    page: bool,
) -> anyhow::Result<()> {
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
    for (name, bytes) in &files {
        let path = dir.join(name);
        write_atomic(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    curves::write(&dir.join(layout::CURVES), &groups, rows)?;
    if !page {
        return Ok(());
    }
    let [summary, _, stats, _, comparisons] = &files;
    let csvs = html::Csvs {
        summary: &summary.1,
        stats: &stats.1,
        comparisons: &comparisons.1,
    };
    html::write(&dir, experiment, rows, &groups, &csvs)?;
    Ok(())
}
