//! What each command-line mode does, kept out of `main.rs` so tests can call it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::cli::Args;
use crate::config::{self, Experiment};
use crate::data::{self, DataOptions, Dataset, DatasetName};
use crate::error::Interrupted;
use crate::report::progress::{Mode, Reporter};
use crate::schedule::{self, Options, Outcome};

/// Runs the command line; the error decides the exit code (see [`crate::error::exit_code`]).
pub fn run(args: Args) -> anyhow::Result<()> {
    init_logging(args.quiet, args.verbose);
    // Check every file before running any, so a typo in the last file does not surface
    // after hours of training on the first.
    let experiments = args
        .experiments
        .iter()
        .map(|path| config::load(path, &args.set))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if args.dry_run {
        for (path, experiment) in args.experiments.iter().zip(&experiments) {
            print!("{}", dry_run_table(path, experiment));
        }
        return Ok(());
    }
    let cancel = cancel_on_ctrl_c();
    let opts = Options {
        out: args.out.clone(),
        jobs: args.jobs.unwrap_or_else(default_jobs),
        force: args.force,
    };
    let data_opts = DataOptions {
        progress: !args.quiet,
        ..DataOptions::from_env(args.data_dir.clone())
    };
    let mode = Mode::detect(args.quiet);
    let mut data = HashMap::new();
    let mut failed = Vec::new();
    for experiment in &experiments {
        let outcome = run_experiment(experiment, &opts, &data_opts, &mut data, mode, &cancel)?;
        failed.extend(
            outcome
                .failed
                .iter()
                .map(|(id, e)| format!("  {}/{id}: {e}", experiment.name)),
        );
        if outcome.cancelled {
            return Err(Interrupted.into());
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "{} run{} failed (see error.txt in each run folder):\n{}",
            failed.len(),
            if failed.len() == 1 { "" } else { "s" },
            failed.join("\n")
        )
    }
}

fn run_experiment(
    experiment: &Experiment,
    opts: &Options,
    data_opts: &DataOptions,
    data: &mut HashMap<DatasetName, Dataset>,
    mode: Mode,
    cancel: &AtomicBool,
) -> anyhow::Result<Outcome> {
    let plan = schedule::plan(experiment, opts)?;
    tracing::info!(
        "{}: {} runs, {} to do, {} already complete, {} at a time",
        experiment.name,
        experiment.runs.len(),
        plan.todo.len(),
        plan.skipped.len(),
        opts.jobs
    );
    for name in schedule::datasets_needed(&plan) {
        if let std::collections::hash_map::Entry::Vacant(slot) = data.entry(name) {
            slot.insert(data::load(name, data_opts)?);
        }
    }
    let steps = plan
        .todo
        .iter()
        .map(|r| {
            let available = data
                .get(&r.config.data.dataset)
                .map_or(0, |d| d.train.len());
            let n = r
                .config
                .data
                .train_examples
                .map_or(available, |c| c.min(available));
            (r.config.train.epochs * (n / r.config.train.batch_size)) as u64
        })
        .sum();
    let reporter = Reporter::new(mode, &experiment.name, plan.todo.len(), steps);
    let outcome = schedule::execute(&plan, data, opts, &reporter, cancel)?;
    tracing::info!(
        "{}: {} completed, {} skipped, {} failed; results in {}",
        experiment.name,
        outcome.completed,
        outcome.skipped,
        outcome.failed.len(),
        crate::layout::experiment_dir(&opts.out, &experiment.name).display()
    );
    Ok(outcome)
}

fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Log lines go to stderr so that stdout holds only what was asked for (tables).
fn init_logging(quiet: bool, verbose: u8) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUNNER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("runner={level},warn")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .without_time()
        .try_init();
}

/// The first Ctrl-C asks runs to stop at their next batch (finished runs are kept);
/// a second one exits at once.
fn cancel_on_ctrl_c() -> Arc<AtomicBool> {
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!(
            "\nstopping: runs in progress end at their next batch (Ctrl-C again to quit now)"
        );
    });
    cancel
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
