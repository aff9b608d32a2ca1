//! What each command-line mode does, kept out of `main.rs` so tests can call it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use std::collections::HashSet;

use crate::cli::Args;
use crate::config::{self, Experiment, Run};
use crate::data::{self, DataOptions, Dataset, DatasetName};
use crate::device::{self, Slot};
use crate::error::{input_error, Interrupted};
use crate::layout;
use crate::report::progress::{Mode, Reporter};
use crate::report::summary;
use crate::schedule::{self, select, Options, Outcome};
use crate::verify::{self, Verdict};

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
    let shard = match &args.shard {
        Some(arg) => Some(select::parse_shard(arg, args.shard_count, &|k| {
            std::env::var(k).ok()
        })?),
        None => None,
    };
    let selected = |e: &'_ Experiment| -> Vec<Run> {
        select::select(&e.runs, args.filter.as_deref(), shard)
            .into_iter()
            .cloned()
            .collect()
    };
    if args.dry_run {
        for (path, experiment) in args.experiments.iter().zip(&experiments) {
            let shown = Experiment {
                runs: selected(experiment),
                ..experiment.clone()
            };
            print!("{}", dry_run_table(path, &shown));
        }
        return Ok(());
    }
    if args.summarize {
        for experiment in &experiments {
            summary::write(&args.out, experiment, &HashSet::new())?;
            eprintln!(
                "{}: summary rebuilt in {}",
                experiment.name,
                layout::experiment_dir(&args.out, &experiment.name).display()
            );
        }
        return Ok(());
    }
    let slots = device::slots(&device::parse(&args.device)?)?;
    schedule::init_compute_pool();
    let jobs = match slots[..] {
        [Slot::Cpu] => args.jobs.unwrap_or_else(default_jobs),
        _ => args.jobs.unwrap_or(slots.len()),
    };
    let pack = match (args.pack, &slots[..]) {
        (Some(0), _) => {
            return Err(input_error(
                "--pack 0: a pack holds at least one run (1 trains each run alone)",
            ))
        }
        (Some(n), _) => n,
        (None, [Slot::Cpu]) => 1,
        (None, _) => DEFAULT_GPU_PACK,
    };
    let mut session = Session {
        opts: Options {
            out: args.out.clone(),
            jobs,
            slots,
            force: args.force,
            pack,
        },
        data_opts: DataOptions {
            progress: !args.quiet,
            ..DataOptions::from_env(args.data_dir.clone())
        },
        data: HashMap::new(),
        mode: Mode::detect(args.quiet),
        cancel: cancel_on_ctrl_c(),
    };
    if args.verify {
        return verify_all(&mut session, &experiments, &selected, args.tolerance);
    }
    let mut failed = Vec::new();
    for experiment in &experiments {
        let runs = selected(experiment);
        let outcome = session.run(experiment, &runs)?;
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
            "{} failed (see error.txt in each run folder):\n{}",
            plural_runs(failed.len()),
            failed.join("\n")
        )
    }
}

/// What every experiment of one invocation shares: options, loaded data, Ctrl-C.
struct Session {
    opts: Options,
    data_opts: DataOptions,
    data: HashMap<DatasetName, Dataset>,
    mode: Mode,
    cancel: Arc<AtomicBool>,
}

impl Session {
    fn run(&mut self, experiment: &Experiment, runs: &[Run]) -> anyhow::Result<Outcome> {
        let plan = schedule::plan(experiment, runs.iter().collect(), &self.opts)?;
        tracing::info!(
            "{}: {} runs selected, {} to do, {} already complete, {} at a time",
            experiment.name,
            runs.len(),
            plan.todo.len(),
            plan.skipped.len(),
            self.opts.jobs
        );
        for name in schedule::datasets_needed(&plan) {
            if let std::collections::hash_map::Entry::Vacant(slot) = self.data.entry(name) {
                slot.insert(data::load(name, &self.data_opts)?);
            }
        }
        let steps = plan
            .todo
            .iter()
            .map(|r| {
                let available = self
                    .data
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
        let reporter = Reporter::new(self.mode, &experiment.name, plan.todo.len(), steps);
        let outcome = schedule::execute(&plan, &self.data, &self.opts, &reporter, &self.cancel)?;
        tracing::info!(
            "{}: {} completed, {} skipped, {} failed; results in {}",
            experiment.name,
            outcome.completed,
            outcome.skipped,
            outcome.failed.len(),
            layout::experiment_dir(&self.opts.out, &experiment.name).display()
        );
        Ok(outcome)
    }
}

/// Reruns the selected runs into a temporary folder and compares their costs with the
/// results under `--out`.
fn verify_all(
    session: &mut Session,
    experiments: &[Experiment],
    selected: &dyn Fn(&Experiment) -> Vec<Run>,
    tolerance: f64,
) -> anyhow::Result<()> {
    let committed = session.opts.out.clone();
    let scratch = tempfile::Builder::new()
        .prefix("runner-verify-")
        .tempdir()
        .map_err(|e| anyhow::anyhow!("cannot create a temporary folder: {e}"))?;
    session.opts.out = scratch.path().to_path_buf();
    session.opts.force = false;
    let mut drifting = Vec::new();
    for experiment in experiments {
        let runs = selected(experiment);
        let outcome = session.run(experiment, &runs)?;
        if outcome.cancelled {
            return Err(Interrupted.into());
        }
        let rows: Vec<(String, Verdict)> = runs
            .iter()
            .map(|r| {
                (
                    r.id.clone(),
                    verify::verdict(&committed, scratch.path(), experiment, r),
                )
            })
            .collect();
        println!(
            "{} ({} runs, tolerance {tolerance})",
            experiment.name,
            rows.len()
        );
        print!("{}", verify::table(&rows, tolerance));
        drifting.extend(
            rows.into_iter()
                .filter(|(_, v)| !v.passes(tolerance))
                .map(|(id, v)| (format!("{}/{id}", experiment.name), v)),
        );
    }
    if drifting.is_empty() {
        println!("all runs reproduce");
        Ok(())
    } else {
        anyhow::bail!(
            "{} did not reproduce within tolerance {tolerance}:\n{}",
            plural_runs(drifting.len()),
            verify::table(&drifting, tolerance)
        )
    }
}

/// Runs a GPU trains together by default: enough to keep it busy where one small run
/// leaves it mostly idle, few enough that a pack's memory (about 45 MB a run for MNIST
/// and the depth sweep's models) stays small beside a GPU's.
const DEFAULT_GPU_PACK: usize = 32;

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
    out.push_str(&plural_runs(experiment.runs.len()));
    out.push('\n');
    out
}

/// "1 run", "2 runs".
fn plural_runs(n: usize) -> String {
    format!("{n} run{}", if n == 1 { "" } else { "s" })
}
