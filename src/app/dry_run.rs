//! `--dry-run`: the expanded runs as a table per experiment file, their training budget
//! and a time estimate from a step measured here. Writes nothing but stdout.

use std::io::Write;
use std::path::Path;

use crate::cli::Args;
use crate::config::{Experiment, Run};
use crate::schedule::budget;

use super::{default_jobs, plural_runs, Selection};

/// Prints each experiment's table, then the budget of everything selected; a reader
/// that goes away (`| head`) ends the listing quietly. An empty selection is an error
/// (exit 3) after the tables.
pub(super) fn dry_run(
    args: &Args,
    experiments: &[Experiment],
    selected: &Selection,
) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut all: Vec<&Run> = Vec::new();
    let mut planned: Vec<Vec<Run>> = Vec::new();
    for (path, experiment) in args.experiments.iter().zip(experiments) {
        let runs = selected.runs(experiment);
        let written =
            write_dry_run_table(&mut out, path, experiment, &runs).and_then(|()| out.flush());
        if !written_or_gone(written)? {
            return Ok(());
        }
        let written = write_halving_plan(&mut out, experiment).and_then(|()| out.flush());
        if !written_or_gone(written)? {
            return Ok(());
        }
        match experiment.halving() {
            Some(_) => planned.push(as_planned(experiment, &runs)),
            None => all.extend(runs),
        }
    }
    all.extend(planned.iter().flatten());
    selected.require_some(experiments)?;
    let workers = args.jobs.unwrap_or_else(default_jobs);
    let written = write_budget(&mut out, &all, workers).and_then(|()| out.flush());
    written_or_gone(written)?;
    Ok(())
}

/// A halving search's plan: per bracket, the trials and epochs at each rung, and the
/// epochs of the whole search (every selection of it) against training every trial to
/// the end. Failed trials only lower the counts.
fn write_halving_plan(out: &mut impl Write, experiment: &Experiment) -> std::io::Result<()> {
    let (Some(search), Some(halving)) = (&experiment.search, experiment.halving()) else {
        return Ok(());
    };
    let per_trial = (experiment.runs.len() / search.trials.max(1)).max(1);
    let plans = halving.plans(search.trials);
    let kind = if plans.len() == 1 {
        "successive halving".to_string()
    } else {
        format!("Hyperband, {} brackets", plans.len())
    };
    writeln!(
        out,
        "{kind}: eta {}, ranked by {} at each rung",
        halving.eta, search.metric
    )?;
    let mut spent = 0;
    for (bracket, plan) in &plans {
        let rungs: Vec<String> = plan
            .iter()
            .enumerate()
            .map(|(i, r)| {
                format!(
                    "rung {}: {} to epoch {}",
                    bracket.index + i,
                    plural_trials(r.trials),
                    r.epochs
                )
            })
            .collect();
        writeln!(out, "  bracket {}: {}", bracket.index, rungs.join(", "))?;
        spent += crate::search::halving::epochs_spent(plan) * per_trial;
    }
    let full = search.trials * per_trial * halving.epochs;
    writeln!(
        out,
        "  at most {} epochs in all ({} a trial), against {} to train every trial to epoch {} ({:.0}%)",
        budget::grouped(spent as u64),
        plural_runs(per_trial),
        budget::grouped(full as u64),
        halving.epochs,
        100.0 * spent as f64 / full.max(1) as f64
    )
}

/// A halving search's `runs` with the epochs its plan trains them, for the budget and
/// the estimate. Which trials reach a later rung is known only once the rung is cut, so
/// the first trials of each bracket stand in for them: the epochs are the plan's, the
/// steps those of the stand-ins' batch sizes.
fn as_planned(experiment: &Experiment, runs: &[&Run]) -> Vec<Run> {
    let (Some(search), Some(halving)) = (&experiment.search, experiment.halving()) else {
        return runs.iter().map(|&r| r.clone()).collect();
    };
    let plans = halving.plans(search.trials);
    let place = halving.places(search.trials);
    runs.iter()
        .map(|&run| {
            let mut run = run.clone();
            if let Some(&(b, at)) = run.trial.and_then(|t| place.get(t)) {
                let reached = plans[b].1.iter().take_while(|r| at < r.trials).last();
                run.config.train.epochs = reached.map_or(0, |r| r.epochs);
            }
            run
        })
        .collect()
}

fn plural_trials(n: usize) -> String {
    format!("{n} trial{}", if n == 1 { "" } else { "s" })
}

/// `true` to go on; `false` when the reader went away.
fn written_or_gone(written: std::io::Result<()>) -> anyhow::Result<bool> {
    match written {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => anyhow::bail!("cannot write to standard output: {e}"),
    }
}

/// `budget: 4 runs, 8 epochs, 4,000 examples (40 steps); estimated ...`.
fn write_budget(out: &mut impl Write, runs: &[&Run], workers: usize) -> std::io::Result<()> {
    let b = budget::of(runs);
    write!(
        out,
        "budget: {}, {} epochs, {} examples ({} steps)",
        plural_runs(b.runs),
        budget::grouped(b.epochs),
        budget::grouped(b.examples),
        budget::grouped(b.steps)
    )?;
    match budget::measure(runs) {
        Some(m) => writeln!(
            out,
            "; estimated {} with {} at a time on this machine's CPU (a step of {}, batch {}, measured here: {:.2} ms)",
            budget::show(budget::estimate(runs, &m, workers)),
            workers.min(runs.len().max(1)),
            m.shape,
            m.batch,
            m.step.as_secs_f64() * 1e3
        ),
        None => writeln!(out),
    }
}

/// The expanded runs as an aligned table: id, then one column per swept key.
pub fn dry_run_table(path: &Path, experiment: &Experiment) -> String {
    let mut out = Vec::new();
    let runs: Vec<&Run> = experiment.runs.iter().collect();
    write_dry_run_table(&mut out, path, experiment, &runs).expect("writing to memory");
    String::from_utf8_lossy(&out).into_owned()
}

/// [`dry_run_table`] of some of the runs, written line by line.
fn write_dry_run_table(
    out: &mut impl Write,
    path: &Path,
    experiment: &Experiment,
    runs: &[&Run],
) -> std::io::Result<()> {
    let header: Vec<&str> = std::iter::once("id")
        .chain(experiment.axes.iter().map(String::as_str))
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for run in runs {
        widths[0] = widths[0].max(run.id.len());
        for (w, (_, v)) in widths[1..].iter_mut().zip(&run.values) {
            *w = (*w).max(v.len());
        }
    }
    writeln!(out, "{} ({})", experiment.name, path.display())?;
    let mut line = String::new();
    let mut row = |out: &mut dyn Write, cells: &mut dyn Iterator<Item = &str>| {
        line.clear();
        for (cell, &w) in cells.zip(&widths) {
            line.push_str(cell);
            line.extend(std::iter::repeat_n(' ', w.saturating_sub(cell.len()) + 2));
        }
        writeln!(out, "{}", line.trim_end())
    };
    row(out, &mut header.iter().copied())?;
    for run in runs {
        let mut cells =
            std::iter::once(run.id.as_str()).chain(run.values.iter().map(|(_, v)| v.as_str()));
        row(out, &mut cells)?;
    }
    writeln!(out, "{}", plural_runs(runs.len()))
}
