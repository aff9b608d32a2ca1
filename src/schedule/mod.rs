//! Many runs: in parallel, one compute thread each, resumable, each failure kept to its
//! own run.
//!
//! The scheduler decides what to run and records outcomes in the run folders; what the
//! user sees comes from [`crate::report::progress::Reporter`], fed by events.

use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;

mod feed;
pub mod lock;
pub mod memory;
pub mod select;

use crate::config::{Experiment, Run};
use crate::data::{Dataset, DatasetName};
use crate::device::Slot;
use crate::error::input_error;
use crate::layout::{self, RunState};
use crate::report::atomic::write_atomic;
use crate::report::progress::Reporter;
use crate::train::{self, Hooks};
use feed::Feed;
use lock::{Attempt, RunLock};
use memory::Budget;

/// How a sweep is run.
#[derive(Clone, Debug)]
pub struct Options {
    pub out: PathBuf,
    pub jobs: usize,
    /// Devices the workers take turns on: worker `i` computes on `slots[i % len]`.
    pub slots: Vec<Slot>,
    /// Rerun runs whose complete results already exist, and overwrite other configs' results.
    pub force: bool,
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
    /// Complete before this invocation, or completed meanwhile by another process.
    pub skipped: usize,
    /// `(run id, error)` of each failed run.
    pub failed: Vec<(String, String)>,
    /// `(run id, why)` of runs left alone because another config is in their folder.
    pub conflicts: Vec<(String, String)>,
    pub cancelled: bool,
    /// Runs trained at the same time: `--jobs`, but never more than there were runs.
    pub workers: usize,
    /// Time spent inside runs, summed over runs: preparing each folder, training, writing
    /// results. What the scheduling and reporting around them cost is the rest.
    pub in_runs: Duration,
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
            RunState::Damaged(why) => {
                tracing::info!("{}: {why}; training it again", run.id);
                todo.push(run)
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

/// Refuses, before anything is loaded or run, a run whose memory estimate exceeds what
/// the machine has: its allocation would abort the whole process.
pub fn check_memory(plan: &Plan, available: Option<u64>) -> anyhow::Result<()> {
    let Some(available) = available else {
        return Ok(());
    };
    let biggest = plan
        .todo
        .iter()
        .map(|r| (memory::estimate(&r.config), r))
        .rev()
        .max_by_key(|(bytes, _)| *bytes);
    match biggest {
        Some((bytes, run)) if bytes > available => Err(input_error(format!(
            "{}/{}: a run with `train.hidden` = {} and `train.batch_size` = {} needs about {} of memory, more than the {} available here; nothing was run. Use narrower layers or a smaller batch_size",
            plan.experiment.name,
            run.id,
            crate::config::settings::show_widths(&run.config.train.hidden),
            run.config.train.batch_size,
            memory::show(bytes),
            memory::show(available)
        ))),
        _ => Ok(()),
    }
}

/// What the workers share.
struct Shared<'a> {
    plan: &'a Plan<'a>,
    data: &'a HashMap<DatasetName, Dataset>,
    opts: &'a Options,
    reporter: &'a Reporter,
    cancel: &'a AtomicBool,
    feed: Feed<'a>,
    budget: Budget,
    next: AtomicUsize,
    /// Runs another process was training when a worker reached them, taken up again
    /// once every other run has been tried.
    deferred: Mutex<VecDeque<&'a Run>>,
    /// Set when a run folder turned out to hold another config: no new runs start.
    conflict: AtomicBool,
    ended: Mutex<Outcome>,
}

/// How one attempt at a run ended.
enum Ended {
    Trained(Result<(), String>, Duration),
    /// Another process holds the run and writes the same config: try again later.
    Busy(String),
    /// Complete by the time its lock was ours: another process trained it meanwhile.
    DoneElsewhere,
    Conflict(String),
    Cancelled,
}

/// Runs the plan's runs on at most `opts.jobs` workers (never more than there are runs),
/// each with a one-thread rayon pool; keeps `summary.csv` current. Stops taking new runs
/// once `cancel` is set.
pub fn execute(
    plan: &Plan,
    data: &HashMap<DatasetName, Dataset>,
    opts: &Options,
    reporter: &Reporter,
    cancel: &AtomicBool,
) -> anyhow::Result<Outcome> {
    reporter.skipped_runs(plan.skipped.iter().map(|r| r.id.as_str()));
    let shared = Shared {
        plan,
        data,
        opts,
        reporter,
        cancel,
        feed: Feed::new(&opts.out, plan.experiment)?,
        budget: Budget::new(memory::available().unwrap_or(u64::MAX)),
        next: AtomicUsize::new(0),
        deferred: Mutex::new(VecDeque::new()),
        conflict: AtomicBool::new(false),
        ended: Mutex::new(Outcome::default()),
    };
    let wanted = opts.jobs.max(1).min(plan.todo.len());
    let pools = compute_pools(wanted)?;
    let workers = pools.len();
    let mut spawn_error = None;
    // A plain thread per worker hands its whole loop to the worker's own pool. Workers
    // as jobs of one rayon pool nested runs: a rayon worker waiting in another pool's
    // `install` steals its own pool's jobs, and ran the second run inside the first.
    let started = std::thread::scope(|scope| {
        let mut started = 0;
        for (worker, pool) in pools.into_iter().enumerate() {
            let slot = opts
                .slots
                .get(worker % opts.slots.len().max(1))
                .copied()
                .unwrap_or(Slot::Cpu);
            let shared = &shared;
            let spawned = std::thread::Builder::new()
                .name(format!("runner-worker-{worker}"))
                .spawn_scoped(scope, move || pool.install(|| work(shared, slot)));
            match spawned {
                Ok(_) => started += 1,
                Err(e) => {
                    tracing::warn!(
                        "cannot start worker thread {worker}: {e}; going on with {started}"
                    );
                    spawn_error = Some(e);
                    break;
                }
            }
        }
        started
    });
    reporter.close();
    let Shared { feed, ended, .. } = shared;
    feed.finish()?;
    if started == 0 && !plan.todo.is_empty() {
        let why = spawn_error.map_or_else(|| "unknown".to_string(), |e| e.to_string());
        anyhow::bail!("cannot start a worker thread ({why}); no run was started");
    }
    let mut outcome = ended.into_inner().unwrap_or_else(|p| p.into_inner());
    outcome.skipped += plan.skipped.len();
    outcome.cancelled = cancel.load(Ordering::SeqCst);
    outcome.workers = workers.min(started.max(1));
    outcome.failed.sort();
    outcome.conflicts.sort();
    Ok(outcome)
}

/// One single-thread rayon pool per worker: dfdx runs matmuls on the current pool, so
/// each run stays on one core and runs do not steal each other's work. A pool that
/// cannot start its thread ends the list; none at all is an error.
fn compute_pools(wanted: usize) -> anyhow::Result<Vec<rayon::ThreadPool>> {
    let mut pools = Vec::with_capacity(wanted);
    for worker in 0..wanted {
        let built = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .thread_name(move |_| format!("runner-run-{worker}"))
            .start_handler(|_| dfdx::flush_denormals_to_zero())
            .build();
        match built {
            Ok(pool) => pools.push(pool),
            Err(e) if pools.is_empty() => {
                anyhow::bail!("cannot start a compute thread ({e}); no run was started")
            }
            Err(e) => {
                tracing::warn!(
                    "cannot start compute thread {worker} ({e}); training {} runs at a time",
                    pools.len()
                );
                break;
            }
        }
    }
    Ok(pools)
}

/// A worker: takes runs until none is left, Ctrl-C, or a conflict. It runs on its
/// compute pool's one thread, so going from one run to the next wakes no other thread.
fn work(shared: &Shared, slot: Slot) {
    while let Some((run, wait)) = next_run(shared) {
        let ended = attempt(shared, slot, run, wait);
        let mut tally = lock(&shared.ended);
        match ended {
            Ended::Trained(result, took) => {
                tally.in_runs += took;
                match result {
                    Ok(()) => tally.completed += 1,
                    Err(e) => tally.failed.push((run.id.clone(), e)),
                }
            }
            Ended::DoneElsewhere => tally.skipped += 1,
            Ended::Conflict(why) => {
                shared.conflict.store(true, Ordering::SeqCst);
                tally.conflicts.push((run.id.clone(), why));
            }
            Ended::Busy(who) => {
                drop(tally);
                tracing::info!(
                    "{}: {who} is training it; coming back to it after the other runs",
                    run.id
                );
                lock(&shared.deferred).push_back(run);
            }
            Ended::Cancelled => {}
        }
    }
}

/// The next run to try, and whether to wait for its lock: first every run once, then
/// those another process was busy with.
fn next_run<'a>(shared: &Shared<'a>) -> Option<(&'a Run, bool)> {
    if shared.cancel.load(Ordering::SeqCst) || shared.conflict.load(Ordering::SeqCst) {
        return None;
    }
    let i = shared.next.fetch_add(1, Ordering::SeqCst);
    match shared.plan.todo.get(i) {
        Some(run) => Some((*run, false)),
        None => lock(&shared.deferred).pop_front().map(|run| (run, true)),
    }
}

/// Takes the run's lock (waiting for it if `wait`), checks the folder again now that no
/// one else can write it, and trains the run.
fn attempt(shared: &Shared, slot: Slot, run: &Run, wait: bool) -> Ended {
    let (opts, experiment) = (shared.opts, shared.plan.experiment);
    let dir = layout::run_dir(&opts.out, &experiment.name, &run.id);
    let mut run_lock = match std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create {}", dir.display()))
        .and_then(|()| RunLock::open(&dir))
    {
        Ok(l) => l,
        Err(e) => {
            let error = format!("{e:#} (no error.txt: the folder cannot be written)");
            return trained(shared, run, Err(error), Duration::ZERO);
        }
    };
    let mut waited = false;
    let _held = loop {
        match run_lock.try_hold() {
            Err(e) => return trained(shared, run, Err(format!("{e:#}")), Duration::ZERO),
            Ok(Attempt::Held(guard)) => break guard,
            Ok(Attempt::Busy(who)) => {
                if let Some(why) = layout::other_config(&dir, &run.config) {
                    return Ended::Conflict(format!(
                        "{who} is writing another config into its folder: {why}"
                    ));
                }
                if !wait {
                    return Ended::Busy(who);
                }
                if !waited {
                    tracing::info!("{}: waiting for {who}, who is training it", run.id);
                    waited = true;
                }
                if shared.cancel.load(Ordering::SeqCst) {
                    return Ended::Cancelled;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    };
    match layout::read_state(&dir, &run.config) {
        RunState::Complete(_) if !opts.force => {
            shared
                .reporter
                .skipped_runs(std::iter::once(run.id.as_str()));
            shared.feed.ended(run, None);
            return Ended::DoneElsewhere;
        }
        RunState::OtherConfig(why) if !opts.force => return Ended::Conflict(why),
        _ => {}
    }
    let _memory = shared.budget.take(memory::estimate(&run.config));
    if shared.cancel.load(Ordering::SeqCst) {
        return Ended::Cancelled;
    }
    shared.feed.started(&run.id);
    shared.reporter.started(&run.id);
    let started = Instant::now();
    let result = run_one(shared, run, slot, &dir);
    let took = started.elapsed();
    if shared.cancel.load(Ordering::SeqCst) && result.is_err() {
        shared.feed.ended(run, None);
        return Ended::Cancelled;
    }
    trained(shared, run, result, took)
}

/// Reports a run that ended, in the progress display and in the summary.
fn trained(shared: &Shared, run: &Run, result: Result<(), String>, took: Duration) -> Ended {
    let error = result.as_ref().err().map(String::as_str);
    shared.reporter.finished(&run.id, error);
    shared.feed.ended(run, error);
    Ended::Trained(result, took)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Trains one run into its folder. An error or a panic is recorded in `error.txt` and
/// returned as text; it never reaches the other runs. When `error.txt` cannot be written
/// either, the text says so.
fn run_one(shared: &Shared, run: &Run, slot: Slot, dir: &Path) -> Result<(), String> {
    let (reporter, cancel) = (shared.reporter, shared.cancel);
    let result = catch_unwind(AssertUnwindSafe(|| -> anyhow::Result<()> {
        prepare_dir(dir, run, slot)?;
        let Some(dataset) = shared.data.get(&run.config.data.dataset) else {
            anyhow::bail!(
                "data set {} was not loaded",
                run.config.data.dataset.as_str()
            );
        };
        let dataset = dataset.capped(run.config.data.train_examples);
        let epochs = run.config.train.epochs;
        let on_progress = |p: &train::Progress| reporter.progress(&run.id, p);
        let on_epoch = |m: &train::EpochMetrics| reporter.epoch(&run.id, epochs, m);
        let hooks = Hooks {
            cancel,
            on_progress: &on_progress,
            on_epoch: &on_epoch,
        };
        train::run_on(slot, &run.config, &dataset, dir, &hooks).map(|_| ())
    }));
    let error = match result {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(e)) => format!("{e:#}"),
        Err(panic) => format!("panicked: {}", panic_message(&panic)),
    };
    if cancel.load(Ordering::SeqCst) {
        return Err(error);
    }
    match write_atomic(&dir.join(layout::ERROR), format!("{error}\n").as_bytes()) {
        Ok(()) => Err(error),
        Err(e) => Err(format!("{error} (and no error.txt: {e:#})")),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RunConfig;
    use crate::error::exit_code;

    fn experiment(widths: &[usize]) -> Experiment {
        let runs = widths
            .iter()
            .map(|&w| {
                let mut config = RunConfig::default();
                config.train.hidden = vec![w];
                Run {
                    id: format!("h{w}"),
                    values: Vec::new(),
                    config,
                }
            })
            .collect();
        Experiment {
            name: "e".into(),
            description: None,
            axes: vec!["hidden".into()],
            runs,
        }
    }

    // Issue 15, case 3: a run too big for the machine is refused before anything runs.
    #[test]
    fn a_run_bigger_than_the_machine_is_refused_up_front() {
        let e = experiment(&[32, 100_000_000, 64]);
        let plan = Plan {
            experiment: &e,
            todo: e.runs.iter().collect(),
            skipped: Vec::new(),
        };
        let err = check_memory(&plan, Some(16_000_000_000)).unwrap_err();
        assert_eq!(exit_code(&err), 2);
        let msg = format!("{err}");
        assert!(msg.contains("e/h100000000"), "{msg}");
        assert!(msg.contains("`train.hidden` = [100000000]"), "{msg}");
        assert!(msg.contains("16.0 GB available"), "{msg}");
        assert!(
            check_memory(&plan, None).is_ok(),
            "unknown memory: no refusal"
        );
        let small = experiment(&[32, 64]);
        let plan = Plan {
            experiment: &small,
            todo: small.runs.iter().collect(),
            skipped: Vec::new(),
        };
        assert!(check_memory(&plan, Some(16_000_000_000)).is_ok());
    }
}
