//! What each command-line mode does, kept out of `main.rs` so tests can call it: train
//! (here), `--dry-run` (`app::dry_run`), `--verify` (`app::verify`) and `--summarize`.
//!
//! Every mode checks everything the command line names before it starts any work:
//! every experiment file, the selection, every run folder (conflicting results, planted
//! links), the memory each run needs and the data sets, so that a problem in the last
//! file does not surface after hours of training on the first.

mod dry_run;
mod halving;
mod verify;

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::cli::Args;
use crate::config::{self, Experiment, Run};
use crate::data::{self, DataOptions, Dataset, DatasetName};
use crate::device::{self, Slot};
use crate::error::{input_error, nothing_selected, Interrupted, Stopped};
use crate::layout;
use crate::report;
use crate::report::progress::{Mode, Reporter};
use crate::schedule::{self, select, Options, Outcome, Plan};
use crate::signals;

pub use dry_run::dry_run_table;

/// Runs the command line; the error decides the exit code (see [`crate::error::exit_code`]).
pub fn run(args: Args) -> anyhow::Result<()> {
    init_logging(args.quiet, args.verbose);
    check_flags(&args)?;
    let experiments = load_all(&args)?;
    let shard = match &args.shard {
        Some(arg) => Some(select::parse_shard(arg, args.shard_count, &|k| {
            std::env::var(k).ok()
        })?),
        None => None,
    };
    let selected = Selection {
        filter: args.filter.clone(),
        shard,
    };
    let device = device::parse(&args.device)?;
    if args.dry_run {
        device::check_build(&device)?;
        return dry_run::dry_run(&args, &experiments, &selected);
    }
    check_out(&args.out)?;
    if args.summarize {
        return summarize(&args.out, &experiments);
    }
    selected.require_some(&experiments)?;
    let slots = device::slots(&device)?;
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
            checkpoints: schedule::Checkpoints::parse(&args.checkpoints)
                .unwrap_or(schedule::Checkpoints::Auto),
        },
        data_opts: DataOptions {
            progress: !args.quiet,
            ..DataOptions::from_env(args.data_dir.clone())
        },
        data: HashMap::new(),
        mode: Mode::detect(args.quiet),
        cancel: signals::cancel_on_stop_signals(say),
    };
    if args.verify {
        let pack = args.pack.filter(|_| !session.on_gpu());
        return verify::verify_all(&mut session, &experiments, &selected, args.tolerance, pack);
    }
    train_all(&mut session, &experiments, &selected)
}

/// Flags that only mean something together.
fn check_flags(args: &Args) -> anyhow::Result<()> {
    if args.shard_count.is_some() && args.shard.as_deref() != Some("auto") {
        return Err(input_error(
            "--shard-count applies to --shard auto only (with --shard INDEX/COUNT the count is COUNT); remove it or use --shard auto",
        ));
    }
    Ok(())
}

/// Reads every experiment file before any is run, and refuses two that would write into
/// one folder.
fn load_all(args: &Args) -> anyhow::Result<Vec<Experiment>> {
    let experiments = args
        .experiments
        .iter()
        .map(|path| config::load(path, &args.set))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut seen: HashMap<&str, &Path> = HashMap::new();
    for (experiment, path) in experiments.iter().zip(&args.experiments) {
        if let Some(first) = seen.insert(&experiment.name, path) {
            return Err(input_error(format!(
                "{} and {} both name their experiment \"{}\": their runs would share the folder {} and its summary would keep one file's runs only; give one of them another `name`",
                first.display(),
                path.display(),
                experiment.name,
                layout::experiment_dir(&args.out, &experiment.name).display()
            )));
        }
    }
    Ok(experiments)
}

/// Trains the selected runs of every experiment; the error lists the runs that failed,
/// or that were left to another process writing a different config into `--out`.
fn train_all(
    session: &mut Session,
    experiments: &[Experiment],
    selected: &Selection,
) -> anyhow::Result<()> {
    halving::check_force(session.opts.force, selected, experiments)?;
    let plans = experiments
        .iter()
        .map(|e| (selected.runs(e), e))
        .map(|(runs, e)| session.prepare(e, runs))
        .collect::<anyhow::Result<Vec<_>>>()?;
    session.make_folders(&plans)?;
    session.load_data(&plans)?;
    let mut failed = Vec::new();
    let mut conflicts = Vec::new();
    for plan in &plans {
        let outcome = match plan.experiment.halving() {
            Some(_) => halving::train(session, plan.experiment, selected)?,
            None => session.execute(plan)?,
        };
        let name = &plan.experiment.name;
        let line = |(id, e): &(String, String)| format!("  {name}/{id}: {e}");
        failed.extend(outcome.failed.iter().map(line));
        conflicts.extend(outcome.conflicts.iter().map(line));
        if outcome.cancelled {
            return Err(interrupted(Stopped::Sweep));
        }
        if !outcome.conflicts.is_empty() {
            break;
        }
    }
    if !conflicts.is_empty() {
        return Err(input_error(format!(
            "another process writes a different config into {}; these runs were left to it and no new run was started, so nothing is mixed:\n{}\nGive each config its own --out (a setting that is not swept is not part of the run ids), or wait for the other process and pass --force to overwrite its results.{}",
            session.opts.out.display(),
            conflicts.join("\n"),
            failed_note(&failed)
        )));
    }
    if failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "{} failed (each run folder's error.txt says why, unless noted):\n{}",
            plural_runs(failed.len()),
            failed.join("\n")
        )
    }
}

fn failed_note(failed: &[String]) -> String {
    if failed.is_empty() {
        String::new()
    } else {
        format!(
            "\nAlso, {} failed:\n{}",
            plural_runs(failed.len()),
            failed.join("\n")
        )
    }
}

/// `--summarize`: rebuilds each experiment's report from the run folders it finds. An
/// experiment with no run folder under `--out` (a mistyped `--out`, the wrong file) is
/// an empty selection, and nothing is created for it.
fn summarize(out: &Path, experiments: &[Experiment]) -> anyhow::Result<()> {
    for experiment in experiments {
        let dir = layout::experiment_dir(out, &experiment.name);
        let found = experiment
            .runs
            .iter()
            .any(|r| layout::run_dir(out, &experiment.name, &r.id).is_dir());
        if !found {
            return Err(nothing_selected(format!(
                "--summarize: no run of experiment \"{}\" has a folder in {}, so there is no report to rebuild; check --out (the folder that holds {}/) and the experiment file",
                experiment.name,
                dir.display(),
                experiment.name
            )));
        }
        if let Some(link) = layout::check_links(out, &dir, layout::EXPERIMENT_FILES) {
            return Err(layout::link_error(&link));
        }
    }
    for experiment in experiments {
        report::rebuild::write(out, experiment, &HashSet::new())?;
        say(&format!(
            "{}: summary rebuilt in {}",
            experiment.name,
            layout::experiment_dir(out, &experiment.name).display()
        ));
    }
    Ok(())
}

/// Writes `text` to stdout; output errors (a closed pipe) never end the program.
fn show(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// Writes a line to stderr, ignoring a closed stderr.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// `--out` must be a folder or not exist yet; found before any data is loaded.
fn check_out(out: &Path) -> anyhow::Result<()> {
    match std::fs::metadata(out) {
        Ok(m) if !m.is_dir() => Err(input_error(format!(
            "--out {}: is a file, not a folder; give a folder for the results (it is created if missing)",
            out.display()
        ))),
        _ => Ok(()),
    }
}

/// `--filter` and `--shard`: which runs of an experiment this invocation takes.
struct Selection {
    filter: Option<String>,
    shard: Option<select::Shard>,
}

impl Selection {
    fn runs<'e>(&self, experiment: &'e Experiment) -> Vec<&'e Run> {
        self.runs_of(&experiment.runs)
    }

    /// This invocation's share of `runs` (a halving search's rung).
    fn runs_of<'r>(&self, runs: &'r [Run]) -> Vec<&'r Run> {
        select::select(runs, self.filter.as_deref(), self.shard)
    }

    /// An error (exit 3) when no experiment has a selected run: a check or a sweep over
    /// nothing must not pass for one that did its work.
    fn require_some(&self, experiments: &[Experiment]) -> anyhow::Result<()> {
        if experiments.iter().any(|e| !self.runs(e).is_empty()) {
            return Ok(());
        }
        let total: usize = experiments.iter().map(|e| e.runs.len()).sum();
        let mut by = Vec::new();
        if let Some(f) = &self.filter {
            by.push(format!("--filter {f:?} (no run id contains it)"));
        }
        if let Some(s) = self.shard {
            by.push(format!(
                "--shard {}/{} (a shard of {total} runs dealt to {} shards)",
                s.index, s.count, s.count
            ));
        }
        let names: Vec<&str> = experiments.iter().map(|e| e.name.as_str()).collect();
        Err(nothing_selected(format!(
            "no run selected: {} of the {total} runs of {}; `--dry-run` without it lists the run ids",
            if by.is_empty() {
                "the experiments have none".to_string()
            } else {
                by.join(" and ")
            },
            names.join(", ")
        )))
    }
}

/// What every experiment of one invocation shares: options, loaded data, the stop flag.
struct Session {
    opts: Options,
    data_opts: DataOptions,
    data: HashMap<DatasetName, Dataset>,
    mode: Mode,
    cancel: Arc<AtomicBool>,
}

impl Session {
    fn on_gpu(&self) -> bool {
        self.opts.slots.iter().any(|s| *s != Slot::Cpu)
    }

    /// Everything about an experiment's runs that can be checked before any trains,
    /// writing nothing: their folders and their memory.
    fn prepare<'e>(
        &self,
        experiment: &'e Experiment,
        runs: Vec<&'e Run>,
    ) -> anyhow::Result<Plan<'e>> {
        let selected = runs.len();
        let plan = schedule::plan(experiment, runs, &self.opts)?;
        schedule::check_memory(&plan, schedule::memory::available())?;
        let dir = layout::experiment_dir(&self.opts.out, &experiment.name);
        if experiment.test_cost_follows_noise() && !plan.todo.is_empty() {
            tracing::warn!("{}: {}", experiment.name, config::NOISE_FOLLOWS_RUNS);
        }
        if experiment.halving().is_some() {
            tracing::info!(
                "{}: {selected} runs selected of a halving search, trained rung by rung as far as its cuts let them, {} at a time",
                experiment.name,
                self.opts.jobs
            );
            return Ok(plan);
        }
        tracing::info!(
            "{}: {} runs selected, {} to do, {} already complete, {} at a time",
            experiment.name,
            selected,
            plan.todo.len(),
            plan.skipped.len(),
            self.opts.jobs.min(plan.todo.len())
        );
        if plan.todo.is_empty() && !plan.skipped.is_empty() && self.mode != Mode::Quiet {
            tracing::info!(
                "{}: nothing to train: every selected run ({}) has complete results in {} (in a fresh clone of runner, the committed reference results). To train them again, pass --force (overwrites them) or --out DIR (a fresh folder); to check that they still reproduce, pass --verify.",
                experiment.name,
                plan.skipped.len(),
                dir.display()
            );
        }
        Ok(plan)
    }

    /// The results folder of every plan with selected runs, once every plan is checked:
    /// one that cannot be made is bad input (exit 2), found before anything trains.
    fn make_folders(&self, plans: &[Plan]) -> anyhow::Result<()> {
        for plan in plans {
            if !(plan.todo.is_empty() && plan.skipped.is_empty()) {
                let dir = layout::experiment_dir(&self.opts.out, &plan.experiment.name);
                layout::create_dir_under(&self.opts.out, &dir)?;
            }
        }
        Ok(())
    }

    /// Loads every data set the plans' runs need, before any of them trains.
    fn load_data(&mut self, plans: &[Plan]) -> anyhow::Result<()> {
        for plan in plans {
            for name in schedule::datasets_needed(plan) {
                if let std::collections::hash_map::Entry::Vacant(slot) = self.data.entry(name) {
                    slot.insert(data::load(name, &self.data_opts)?);
                }
            }
        }
        Ok(())
    }

    /// Trains a prepared plan's runs.
    fn execute(&self, plan: &Plan) -> anyhow::Result<Outcome> {
        let experiment = plan.experiment;
        if plan.todo.is_empty() && plan.skipped.is_empty() {
            return Ok(Outcome::default());
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
                let batches = n / r.config.train.batch_size.max(1);
                r.config.train.epochs.saturating_mul(batches) as u64
            })
            .fold(0u64, u64::saturating_add);
        let reporter = Reporter::new(self.mode, &experiment.name, plan.todo.len(), steps);
        let outcome = schedule::execute(plan, &self.data, &self.opts, &reporter, &self.cancel)?;
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

/// Runs a GPU trains together by default: enough to keep it busy where one small run
/// leaves it mostly idle, few enough that a pack's memory (about 45 MB a run for MNIST
/// and the depth sweep's models) stays small beside a GPU's.
const DEFAULT_GPU_PACK: usize = 32;

fn interrupted(what: Stopped) -> anyhow::Error {
    Interrupted {
        signal: signals::received(),
        what,
    }
    .into()
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
    // A closed stderr (`2>&1 | head`) loses the log, never the sweep: the subscriber
    // would otherwise report the failed write on stderr, and that write panics.
    let _ = tracing_subscriber::fmt()
        .log_internal_errors(false)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .without_time()
        .try_init();
}

/// "1 run", "2 runs".
fn plural_runs(n: usize) -> String {
    format!("{n} run{}", if n == 1 { "" } else { "s" })
}
