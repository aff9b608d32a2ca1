//! Many runs: in parallel, one compute thread each, resumable, each failure kept to its
//! own run.
//!
//! The scheduler decides what to run and records outcomes in the run folders; what the
//! user sees comes from [`crate::report::progress::Reporter`], fed by events.

use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::Context;

pub mod packs;
pub mod select;

use crate::config::{Experiment, Run};
use crate::data::{Dataset, DatasetName};
use crate::device::Slot;
use crate::error::input_error;
use crate::layout::{self, RunState};
use crate::report::atomic::write_atomic;
use crate::report::progress::Reporter;
use crate::report::summary;
use crate::train::{self, Hooks};

/// How a sweep is run.
#[derive(Clone, Debug)]
pub struct Options {
    pub out: PathBuf,
    pub jobs: usize,
    /// Devices the workers take turns on: worker `i` computes on `slots[i % len]`.
    pub slots: Vec<Slot>,
    /// Rerun runs whose complete results already exist, and overwrite other configs' results.
    pub force: bool,
    /// Most runs trained together as one batched computation ([`packs`]); 1 trains each
    /// run alone.
    pub pack: usize,
}

/// What to do with an experiment's runs, decided from their folders before anything runs.
pub struct Plan<'e> {
    pub experiment: &'e Experiment,
    pub todo: Vec<&'e Run>,
    pub skipped: Vec<&'e Run>,
}

/// How the runs ended.
#[derive(Debug, Default)]
pub struct Outcome {
    pub completed: usize,
    pub skipped: usize,
    /// `(run id, error)` of each failed run.
    pub failed: Vec<(String, String)>,
    pub cancelled: bool,
}

/// Reads the folders of the selected `runs`: complete runs of the same config are skipped
/// (unless `force`), and a folder holding another config's results stops everything
/// before it is mixed.
pub fn plan<'e>(
    experiment: &'e Experiment,
    runs: Vec<&'e Run>,
    opts: &Options,
) -> anyhow::Result<Plan<'e>> {
    let mut todo = Vec::new();
    let mut skipped = Vec::new();
    let mut conflicts = Vec::new();
    for run in runs {
        let dir = layout::run_dir(&opts.out, &experiment.name, &run.id);
        match layout::read_state(&dir, &run.config) {
            RunState::Complete(_) if !opts.force => skipped.push(run),
            RunState::OtherConfig(why) if !opts.force => {
                conflicts.push(format!("  {}: {why}", dir.display()))
            }
            _ => todo.push(run),
        }
    }
    if !conflicts.is_empty() {
        return Err(input_error(format!(
            "these run folders hold results of a different config under the same id; nothing was run so they are not mixed:\n{}\nUse another --out, move the folders away, or pass --force to overwrite them.",
            conflicts.join("\n")
        )));
    }
    Ok(Plan {
        experiment,
        todo,
        skipped,
    })
}

/// The data sets the runs to do need.
pub fn datasets_needed(plan: &Plan) -> Vec<DatasetName> {
    let mut names: Vec<DatasetName> = plan.todo.iter().map(|r| r.config.data.dataset).collect();
    names.sort_by_key(|n| n.as_str());
    names.dedup();
    names
}

/// Runs the plan's runs on `opts.jobs` workers; rewrites `summary.csv` as runs finish.
/// Stops taking new runs once `cancel` is set.
///
/// Each run computes on its worker's own thread. When fewer runs are going than the
/// machine has cores (the last wave, or a single run), a run's products and elementwise
/// kernels also use the global rayon pool, so idle cores help; results never depend on
/// it, since the kernels split work only where outputs are independent.
pub fn execute(
    plan: &Plan,
    data: &HashMap<DatasetName, Dataset>,
    opts: &Options,
    reporter: &Reporter,
    cancel: &AtomicBool,
) -> anyhow::Result<Outcome> {
    if opts.pack > 1 {
        return packs::execute(plan, data, opts, reporter, cancel);
    }
    let experiment = plan.experiment;
    for run in &plan.skipped {
        reporter.skipped(&run.id);
    }
    let running = Mutex::new(HashSet::new());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // The cores a run may use: an equal share of those the runs going now leave.
    let threads = || (cores / lock(&running).len().max(1)).max(1);
    summary::write(&opts.out, experiment, &HashSet::new())?;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(String, Result<(), String>)>> = Mutex::new(Vec::new());
    // Plain threads drive the runs, never rayon jobs: a rayon thread waiting for its
    // kernel's pieces steals whatever job is queued, and a queued run would then nest
    // inside another run and run after it instead of beside it.
    std::thread::scope(|scope| {
        for worker in 0..opts.jobs.max(1) {
            let slot = opts
                .slots
                .get(worker % opts.slots.len().max(1))
                .copied()
                .unwrap_or(Slot::Cpu);
            let (next, results, running, threads) = (&next, &results, &running, &threads);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(run) = plan.todo.get(i) else { break };
                if cancel.load(Ordering::SeqCst) {
                    break;
                }
                lock(running).insert(run.id.clone());
                reporter.started(&run.id);
                let context = RunContext {
                    slot,
                    data,
                    opts,
                    reporter,
                    cancel,
                    threads,
                };
                let result = run_one(experiment, run, &context);
                lock(running).remove(&run.id);
                let cancelled = cancel.load(Ordering::SeqCst) && result.is_err();
                if !cancelled {
                    reporter.finished(&run.id, result.as_ref().err().map(String::as_str));
                }
                let snapshot = lock(running).clone();
                if let Err(e) = summary::write(&opts.out, experiment, &snapshot) {
                    tracing::error!("{e:#}");
                }
                if !cancelled {
                    lock(results).push((run.id.clone(), result));
                }
            });
        }
    });
    reporter.close();
    summary::write(&opts.out, experiment, &HashSet::new())?;
    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut outcome = Outcome {
        skipped: plan.skipped.len(),
        cancelled: cancel.load(Ordering::SeqCst),
        ..Outcome::default()
    };
    for (id, result) in results {
        match result {
            Ok(()) => outcome.completed += 1,
            Err(e) => outcome.failed.push((id, e)),
        }
    }
    outcome.failed.sort();
    Ok(outcome)
}

/// Sets up the global rayon pool that runs borrow idle cores from: one thread per core,
/// each flushing denormals to zero like the runs' own threads (the flag is per thread,
/// and denormals in the sigmoid's tails slow a step several times). Call once, before
/// any run; a pool already set up is kept.
pub fn init_compute_pool() {
    let _ = rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("runner-compute-{i}"))
        .start_handler(|_| dfdx::flush_denormals_to_zero())
        .build_global();
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What a worker hands each run it trains.
struct RunContext<'a> {
    slot: Slot,
    data: &'a HashMap<DatasetName, Dataset>,
    opts: &'a Options,
    reporter: &'a Reporter,
    cancel: &'a AtomicBool,
    threads: &'a (dyn Fn() -> usize + Sync),
}

/// Trains one run into its folder. An error or a panic is recorded in `error.txt` and
/// returned as text; it never reaches the other runs.
fn run_one(experiment: &Experiment, run: &Run, cx: &RunContext) -> Result<(), String> {
    let RunContext {
        slot,
        data,
        opts,
        reporter,
        cancel,
        threads,
    } = *cx;
    let dir = layout::run_dir(&opts.out, &experiment.name, &run.id);
    prepare_dir(&dir, run, slot).map_err(|e| format!("{e:#}"))?;
    let Some(dataset) = data.get(&run.config.data.dataset) else {
        return Err(format!(
            "data set {} was not loaded",
            run.config.data.dataset.as_str()
        ));
    };
    let dataset = dataset.capped(run.config.data.train_examples);
    let epochs = run.config.train.epochs;
    let on_progress = |p: &train::Progress| reporter.progress(&run.id, p);
    let on_epoch = |m: &train::EpochMetrics| reporter.epoch(&run.id, epochs, m);
    let hooks = Hooks {
        cancel,
        on_progress: &on_progress,
        on_epoch: &on_epoch,
        threads,
    };
    let result = catch_unwind(AssertUnwindSafe(|| {
        train::run_on(slot, &run.config, &dataset, &dir, &hooks)
    }));
    let error = match result {
        Ok(Ok(_)) => return Ok(()),
        Ok(Err(e)) => format!("{e:#}"),
        Err(panic) => format!("panicked: {}", panic_message(&panic)),
    };
    if !cancel.load(Ordering::SeqCst) {
        let _ = write_atomic(&dir.join(layout::ERROR), format!("{error}\n").as_bytes());
    }
    Err(error)
}

/// Clears what an earlier attempt left and records the resolved config first, so the
/// folder always says which config its files belong to.
fn prepare_dir(dir: &Path, run: &Run, slot: Slot) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for name in [
        layout::METRICS,
        layout::ERROR,
        layout::RECONSTRUCTION,
        layout::MODEL,
    ] {
        let path = dir.join(name);
        if path.exists() {
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    let path = dir.join(layout::DEVICE);
    write_atomic(&path, format!("{}\n", slot.label()).as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    let path = dir.join(layout::CONFIG);
    write_atomic(&path, run.config.to_toml().as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}
