//! What each command-line mode does, kept out of `main.rs` so tests can call it.

use std::path::Path;

use crate::cli::Args;
use crate::config::{self, Experiment};

/// Runs the command line; the error decides the exit code (see [`crate::error::exit_code`]).
pub fn run(args: Args) -> anyhow::Result<()> {
    // Check every file before running any, so a typo in the last file does not surface
    // after hours of training on the first.
    let experiments = args
        .experiments
        .iter()
        .map(|path| config::load(path, &args.set))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for (path, experiment) in args.experiments.iter().zip(&experiments) {
        if args.dry_run {
            print!("{}", dry_run_table(path, experiment));
        }
    }
    Ok(())
}

/// The expanded runs as an aligned table: id, then one column per swept key.
pub fn dry_run_table(path: &Path, experiment: &Experiment) -> String {
    let mut rows: Vec<Vec<String>> = vec![std::iter::once("id".to_string())
        .chain(experiment.axes.iter().cloned())
        .collect()];
    for run in &experiment.runs {
        rows.push(
            std::iter::once(run.id.clone())
                .chain(run.values.iter().map(|(_, v)| v.clone()))
                .collect(),
        );
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = format!("{} ({})\n", experiment.name, path.display());
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    let n = experiment.runs.len();
    out.push_str(&format!("{n} run{}\n", if n == 1 { "" } else { "s" }));
    out
}
