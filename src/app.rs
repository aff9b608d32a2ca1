//! What each command-line mode does, kept out of `main.rs` so tests can call it.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::cli::Args;
use crate::config::{self, Experiment, Run};
use crate::data::{self, DataOptions, Dataset, DatasetName};
use crate::device::{self, Slot};
use crate::error::{input_error, Interrupted};
use crate::layout;
use crate::report;
use crate::report::progress::{Mode, Reporter};
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
    let selected = Selection {
        filter: args.filter.clone(),
        shard,
    };
    let device = device::parse(&args.device)?;
    if args.dry_run {
        return dry_run(&args, &experiments, &selected);
    }
    check_out(&args.out)?;
    if args.summarize {
        for experiment in &experiments {
            report::rebuild::write(&args.out, experiment, &HashSet::new())?;
            say(&format!(
                "{}: summary rebuilt in {}",
                experiment.name,
                layout::experiment_dir(&args.out, &experiment.name).display()
            ));
        }
        return Ok(());
    }
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
    train_all(&mut session, &experiments, &selected)
}

/// Trains the selected runs of every experiment; the error lists the runs that failed,
/// or that were left to another process writing a different config into `--out`.
fn train_all(
    session: &mut Session,
    experiments: &[Experiment],
    selected: &Selection,
) -> anyhow::Result<()> {
    let mut failed = Vec::new();
    let mut conflicts = Vec::new();
    for experiment in experiments {
        let outcome = session.run(experiment, selected.runs(experiment))?;
        let line = |(id, e): &(String, String)| format!("  {}/{id}: {e}", experiment.name);
        failed.extend(outcome.failed.iter().map(line));
        conflicts.extend(outcome.conflicts.iter().map(line));
        if outcome.cancelled {
            return Err(Interrupted::Sweep.into());
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

/// Prints each experiment's table; a reader that goes away (`| head`) ends the listing
/// quietly.
fn dry_run(args: &Args, experiments: &[Experiment], selected: &Selection) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    for (path, experiment) in args.experiments.iter().zip(experiments) {
        let runs = selected.runs(experiment);
        let written =
            write_dry_run_table(&mut out, path, experiment, &runs).and_then(|()| out.flush());
        match written {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => anyhow::bail!("cannot write to standard output: {e}"),
        }
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
        select::select(&experiment.runs, self.filter.as_deref(), self.shard)
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
    fn run(&mut self, experiment: &Experiment, runs: Vec<&Run>) -> anyhow::Result<Outcome> {
        let selected = runs.len();
        let plan = schedule::plan(experiment, runs, &self.opts)?;
        schedule::check_memory(&plan, schedule::memory::available())?;
        let dir = layout::experiment_dir(&self.opts.out, &experiment.name);
        std::fs::create_dir_all(&dir).map_err(|e| {
            input_error(format!(
                "cannot create the results folder {}: {e}; --out must name a folder you can write to",
                dir.display()
            ))
        })?;
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
                let batches = n / r.config.train.batch_size.max(1);
                r.config.train.epochs.saturating_mul(batches) as u64
            })
            .fold(0u64, u64::saturating_add);
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
    selected: &Selection,
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
        let runs = selected.runs(experiment);
        // Runs without committed results are MISSING whatever a rerun gives: not trained.
        let comparable: Vec<&Run> = runs
            .iter()
            .filter(|r| verify::has_committed(&committed, experiment, r))
            .copied()
            .collect();
        let outcome = session.run(experiment, comparable)?;
        if outcome.cancelled {
            return Err(Interrupted::Verify.into());
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
        show(&format!(
            "{} ({} runs, tolerance {tolerance})\n{}",
            experiment.name,
            rows.len(),
            verify::table(&rows, tolerance)
        ));
        drifting.extend(
            rows.into_iter()
                .filter(|(_, v)| !v.passes(tolerance))
                .map(|(id, v)| (format!("{}/{id}", experiment.name), v)),
        );
    }
    if drifting.is_empty() {
        show("all runs reproduce\n");
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

/// The first Ctrl-C asks runs to stop at their next batch (finished runs are kept);
/// a second one exits at once.
fn cancel_on_ctrl_c() -> Arc<AtomicBool> {
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            crate::report::atomic::exit_removing_temporaries(130);
        }
        say("\nstopping: runs in progress end at their next batch (Ctrl-C again to quit now)");
    });
    cancel
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

/// "1 run", "2 runs".
fn plural_runs(n: usize) -> String {
    format!("{n} run{}", if n == 1 { "" } else { "s" })
}
