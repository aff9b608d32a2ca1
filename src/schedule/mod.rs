//! Many runs: in parallel, one compute thread each (idle cores help the runs still
//! going), resumable, each failure kept to its own run, one writer per run folder.
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

pub mod budget;
mod feed;
pub mod lock;
pub mod memory;
pub mod packs;
pub mod select;

use crate::config::{Experiment, Run};
use crate::data::{Dataset, DatasetName};
use crate::device::Slot;
use crate::error::input_error;
use crate::layout::{self, Engine, RunState};
use crate::report::atomic::write_atomic;
use crate::report::metrics::EpochMetrics;
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
    /// Most runs trained together as one batched computation ([`packs`]); 1 trains each
    /// run alone.
    pub pack: usize,
    /// Whether finished runs keep their epoch checkpoints.
    pub checkpoints: Checkpoints,
}

/// What happens to a run's epoch checkpoint when the run finishes: kept, a later run
/// asked for more epochs continues from it; dropped, it would train from the start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checkpoints {
    Keep,
    Drop,
    /// Keep them in experiments of at most [`KEEP_UP_TO`] runs and in searches, whose
    /// promoted trials go on from them: about 5 MB a run at the tutorial's size, so a
    /// 100,000-run sweep does not fill a disk unasked.
    Auto,
}

/// The most runs whose checkpoints [`Checkpoints::Auto`] keeps.
pub const KEEP_UP_TO: usize = 1000;

impl Checkpoints {
    pub fn parse(text: &str) -> Option<Checkpoints> {
        match text {
            "keep" => Some(Checkpoints::Keep),
            "drop" => Some(Checkpoints::Drop),
            "auto" => Some(Checkpoints::Auto),
            _ => None,
        }
    }

    /// Whether `run` of `experiment` keeps its checkpoint once finished. In a halving
    /// search, a run short of the last rung always does: its trial may be promoted, now
    /// or when the search grows.
    pub fn keep(self, experiment: &Experiment, run: &Run) -> bool {
        let below_last_rung = experiment
            .halving()
            .is_some_and(|h| run.config.train.epochs < h.epochs);
        below_last_rung
            || match self {
                Checkpoints::Keep => true,
                Checkpoints::Drop => false,
                Checkpoints::Auto => {
                    experiment.search.is_some() || experiment.runs.len() <= KEEP_UP_TO
                }
            }
    }
}

impl Options {
    /// The engine runs trained on `slot` compute with.
    pub fn engine(&self, slot: Slot) -> Engine {
        Engine::for_pack(self.pack, slot != Slot::Cpu)
    }
}

/// What to do with an experiment's runs, decided from their folders before anything runs.
pub struct Plan<'e> {
    pub experiment: &'e Experiment,
    pub todo: Vec<&'e Run>,
    pub skipped: Vec<&'e Run>,
    /// With `--force`: the results each run to do had when planned. A run whose results
    /// have changed since was trained again by another forced process meanwhile: done.
    pub forced: HashMap<String, Option<layout::Stamp>>,
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
    let mut forced = HashMap::new();
    let experiment_dir = layout::experiment_dir(&opts.out, &experiment.name);
    if let Some(link) = layout::check_links(&opts.out, &experiment_dir, layout::EXPERIMENT_FILES) {
        return Err(layout::link_error(&link));
    }
    for run in runs {
        let dir = layout::run_dir(&opts.out, &experiment.name, &run.id);
        if let Some(link) = layout::check_links(&experiment_dir, &dir, layout::RUN_FILES) {
            return Err(layout::link_error(&link));
        }
        if opts.force {
            forced.insert(run.id.clone(), layout::stamp(&dir));
        }
        match state_of(experiment, &dir, run) {
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
    let plan = Plan {
        experiment,
        todo,
        skipped,
        forced,
    };
    Ok(plan)
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
    /// What the workers take in turn: single runs, or packs with `--pack`.
    units: Vec<Vec<&'a Run>>,
    next: AtomicUsize,
    /// Runs being trained now, so that a run knows its share of the cores.
    running: AtomicUsize,
    cores: usize,
    /// Runs another process was training when a worker reached them, taken up again
    /// once every other run has been tried.
    deferred: Mutex<VecDeque<&'a Run>>,
    /// Set when a run folder turned out to hold another config: no new runs start.
    conflict: AtomicBool,
    ended: Mutex<Outcome>,
}

impl Shared<'_> {
    /// The cores a run may use now: an equal share of those the runs going leave.
    fn threads(&self) -> usize {
        (self.cores / self.running.load(Ordering::Relaxed).max(1)).max(1)
    }
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

/// Runs the plan's runs on at most `opts.jobs` workers (never more than there are runs);
/// keeps the report current. Stops taking new runs once `cancel` is set.
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
    reporter.skipped_runs(plan.skipped.iter().map(|r| r.id.as_str()));
    let units = if opts.pack > 1 {
        packs::group(&plan.todo, opts.pack, opts.jobs.max(1))
    } else {
        plan.todo.iter().map(|&run| vec![run]).collect()
    };
    let wanted = opts.jobs.max(1).min(units.len());
    let shared = Shared {
        plan,
        data,
        opts,
        reporter,
        cancel,
        feed: Feed::new(
            &opts.out,
            plan.experiment,
            opts.engine(opts.slots.first().copied().unwrap_or(Slot::Cpu)),
            plan.todo.len(),
        )?,
        budget: Budget::new(memory::available().unwrap_or(u64::MAX)),
        units,
        next: AtomicUsize::new(0),
        running: AtomicUsize::new(0),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        deferred: Mutex::new(VecDeque::new()),
        conflict: AtomicBool::new(false),
        ended: Mutex::new(Outcome::default()),
    };
    let mut spawn_error = None;
    // Plain threads drive the runs, never rayon jobs: a rayon thread waiting for its
    // kernel's pieces steals whatever job is queued, and a queued run would then nest
    // inside another run and run after it instead of beside it.
    let started = std::thread::scope(|scope| {
        let mut started = 0;
        for worker in 0..wanted {
            let slot = opts
                .slots
                .get(worker % opts.slots.len().max(1))
                .copied()
                .unwrap_or(Slot::Cpu);
            let shared = &shared;
            let spawned = std::thread::Builder::new()
                .name(format!("runner-worker-{worker}"))
                .spawn_scoped(scope, move || work(shared, slot));
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
    outcome.workers = wanted.min(started.max(1));
    outcome.failed.sort();
    outcome.conflicts.sort();
    Ok(outcome)
}

/// A worker: takes runs (or packs) until none is left, Ctrl-C, or a conflict.
fn work(shared: &Shared, slot: Slot) {
    while let Some((unit, wait)) = next_unit(shared) {
        if shared.opts.pack > 1 {
            for (run, ended) in packs::attempt(shared, slot, &unit, wait) {
                tally(shared, run, ended);
            }
        } else if let Some(&run) = unit.first() {
            tally(shared, run, attempt(shared, slot, run, wait));
        }
    }
}

/// Counts how a run's attempt ended; a run another process was busy with goes back in
/// the queue, to be waited for once every other run has been tried.
fn tally<'a>(shared: &Shared<'a>, run: &'a Run, ended: Ended) {
    {
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

/// The next unit to try, and whether to wait for its locks: first every unit once, then
/// one by one the runs another process was busy with.
fn next_unit<'a>(shared: &Shared<'a>) -> Option<(Vec<&'a Run>, bool)> {
    if shared.cancel.load(Ordering::SeqCst) || shared.conflict.load(Ordering::SeqCst) {
        return None;
    }
    let i = shared.next.fetch_add(1, Ordering::SeqCst);
    match shared.units.get(i) {
        Some(unit) => Some((unit.clone(), false)),
        None => lock(&shared.deferred)
            .pop_front()
            .map(|run| (vec![run], true)),
    }
}

/// Takes the run's lock (waiting for it if `wait`), checks the folder again now that no
/// one else can write it, and trains the run.
fn attempt(shared: &Shared, slot: Slot, run: &Run, wait: bool) -> Ended {
    let dir = layout::run_dir(&shared.opts.out, &shared.plan.experiment.name, &run.id);
    let mut run_lock = match open_lock(shared, run, &dir) {
        Ok(l) => l,
        Err(ended) => return ended,
    };
    let _held = match claim(shared, run, &dir, &mut run_lock, wait) {
        Ok(guard) => guard,
        Err(ended) => return ended,
    };
    let _memory = shared.budget.take(memory::estimate(&run.config));
    if shared.cancel.load(Ordering::SeqCst) {
        return Ended::Cancelled;
    }
    shared.feed.started(run);
    shared.reporter.started(&run.id);
    shared.running.fetch_add(1, Ordering::SeqCst);
    let started = Instant::now();
    let result = run_one(shared, run, slot, &dir);
    let took = started.elapsed();
    shared.running.fetch_sub(1, Ordering::SeqCst);
    if shared.cancel.load(Ordering::SeqCst) && result.is_err() {
        shared.feed.ended(run, None);
        return Ended::Cancelled;
    }
    trained(shared, run, result, took)
}

/// Creates the run's folder and opens its lock file; a folder that cannot be written
/// fails the run.
fn open_lock(shared: &Shared, run: &Run, dir: &Path) -> Result<RunLock, Ended> {
    layout::create_dir_under(&shared.opts.out, dir)
        .and_then(|()| RunLock::open(dir))
        .map_err(|e| {
            let error = format!("{e:#} (no error.txt: the folder cannot be written)");
            trained(shared, run, Err(error), Duration::ZERO)
        })
}

/// Takes the lock of the run folder `dir` (first waiting until it is free if `wait`) and
/// reads the folder again now that no one else can write it: `Err` says why the run is
/// not to be trained now.
fn claim<'l>(
    shared: &Shared,
    run: &Run,
    dir: &Path,
    run_lock: &'l mut RunLock,
    wait: bool,
) -> Result<fd_lock::RwLockWriteGuard<'l, std::fs::File>, Ended> {
    if wait {
        wait_until_free(shared, run, dir)?;
    }
    let guard = match run_lock.try_hold() {
        Err(e) => return Err(trained(shared, run, Err(format!("{e:#}")), Duration::ZERO)),
        Ok(Attempt::Held(guard)) => guard,
        Ok(Attempt::Busy(who)) => return Err(busy(shared, run, dir, who)),
    };
    let forced_elsewhere = shared.opts.force
        && shared
            .plan
            .forced
            .get(&run.id)
            .is_some_and(|planned| layout::stamp(dir) != *planned);
    match state_of(shared.plan.experiment, dir, run) {
        RunState::Complete(_) if !shared.opts.force || forced_elsewhere => {
            Err(done_elsewhere(shared, run))
        }
        RunState::OtherConfig(why) if !shared.opts.force => Err(Ended::Conflict(why)),
        _ => Ok(guard),
    }
}

/// What the run's folder holds: in a halving search the run asks for a rung's epochs,
/// and a run already trained past them has passed it.
fn state_of(experiment: &Experiment, dir: &Path, run: &Run) -> RunState {
    if experiment.halving().is_some() {
        layout::read_rung_state(dir, &run.config)
    } else {
        layout::read_state(dir, &run.config)
    }
}

/// A run found complete once it was reached: shown and summarized as skipped.
fn done_elsewhere(shared: &Shared, run: &Run) -> Ended {
    shared
        .reporter
        .skipped_runs(std::iter::once(run.id.as_str()));
    shared.feed.ended(run, None);
    Ended::DoneElsewhere
}

/// Another process holds the run: a conflict if it writes another config there.
fn busy(shared: &Shared, run: &Run, dir: &Path, who: String) -> Ended {
    let rungs = shared.plan.experiment.halving().is_some();
    // Promoted past this rung and trained further by the other: nothing to wait for.
    if rungs
        && matches!(
            state_of(shared.plan.experiment, dir, run),
            RunState::Complete(_)
        )
    {
        return done_elsewhere(shared, run);
    }
    match layout::other_config(dir, &run.config, rungs) {
        Some(why) => Ended::Conflict(format!(
            "{who} is writing another config into its folder: {why}"
        )),
        None => Ended::Busy(who),
    }
}

/// Polls the run's lock through a lock file of its own until no one holds it. Taking
/// the lock for real afterwards can still lose to a third process; the run then goes
/// back in the queue and is waited for again.
fn wait_until_free(shared: &Shared, run: &Run, dir: &Path) -> Result<(), Ended> {
    let mut probe = open_lock(shared, run, dir)?;
    let mut waited = false;
    loop {
        match probe.try_hold() {
            Err(e) => return Err(trained(shared, run, Err(format!("{e:#}")), Duration::ZERO)),
            Ok(Attempt::Held(_)) => return Ok(()),
            Ok(Attempt::Busy(who)) => {
                if let Ended::Conflict(why) = busy(shared, run, dir, who.clone()) {
                    return Err(Ended::Conflict(why));
                }
                if !waited {
                    tracing::info!("{}: waiting for {who}, who is training it", run.id);
                    waited = true;
                }
                if shared.cancel.load(Ordering::SeqCst) {
                    return Err(Ended::Cancelled);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}

/// Reports a run that ended, in the progress display and in the summary.
fn trained(shared: &Shared, run: &Run, result: Result<(), String>, took: Duration) -> Ended {
    let error = result.as_ref().err().map(String::as_str);
    shared.reporter.finished(&run.id, error);
    shared.feed.ended(run, error);
    Ended::Trained(result, took)
}

/// Sets up the global rayon pool that runs borrow idle cores from: one thread per core,
/// each flushing denormals to zero like the runs' own threads (the flag is per thread,
/// and denormals in the sigmoid's tails slow a step several times). Call once, before
/// any run; a pool already set up is kept. Where threads cannot be started (a process
/// limit), a pool of one thread is tried: runs then compute on their own threads only.
pub fn init_compute_pool() {
    let build = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("runner-compute-{i}"))
            .start_handler(|_| dfdx::flush_denormals_to_zero())
            .build_global()
    };
    if let Err(e) = build(0) {
        if build(1).is_ok() {
            tracing::warn!("cannot start a compute thread per core ({e}); using one");
        }
    }
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
        prepare_dir(shared.opts, dir, run, slot)?;
        let Some(dataset) = shared.data.get(&run.config.data.dataset) else {
            anyhow::bail!(
                "data set {} was not loaded",
                run.config.data.dataset.as_str()
            );
        };
        let dataset = dataset.capped(run.config.data.train_examples);
        let epochs = run.config.train.epochs;
        let on_progress = |p: &train::Progress| reporter.progress(&run.id, p);
        let on_epoch = |m: &EpochMetrics| {
            reporter.epoch(&run.id, epochs, m);
            shared.feed.epoch(&run.id, m);
        };
        let threads = || shared.threads();
        let hooks = Hooks {
            cancel,
            on_progress: &on_progress,
            on_epoch: &on_epoch,
            threads: &threads,
        };
        train::run_on(slot, &run.config, &dataset, dir, &hooks)?;
        if !shared.opts.checkpoints.keep(shared.plan.experiment, run) {
            remove_if_present(&dir.join(layout::CHECKPOINT))?;
        }
        Ok(())
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
fn prepare_dir(opts: &Options, dir: &Path, run: &Run, slot: Slot) -> anyhow::Result<()> {
    layout::create_dir_under(&opts.out, dir)?;
    // Forced runs train from the start, not from their checkpoint.
    let forced: &[&str] = if opts.force {
        &[layout::CHECKPOINT]
    } else {
        &[]
    };
    // A continuing run keeps the rows of its earlier epochs until it writes them all.
    let metrics: &[&str] = if !opts.force && layout::keeps_metrics(dir, &run.config) {
        &[]
    } else {
        &[layout::METRICS]
    };
    let results = [layout::ERROR, layout::RECONSTRUCTION, layout::MODEL];
    for name in results.iter().chain(forced).chain(metrics) {
        remove_if_present(&dir.join(name))?;
    }
    let path = dir.join(layout::DEVICE);
    write_atomic(&path, format!("{}\n", slot.label()).as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    let path = dir.join(layout::ENGINE);
    write_atomic(&path, format!("{}\n", opts.engine(slot).label()).as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    let path = dir.join(layout::CONFIG);
    write_atomic(&path, run.config.to_toml().as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn remove_if_present(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", path.display()))
        }
        _ => Ok(()),
    }
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
                    trial: None,
                }
            })
            .collect();
        Experiment {
            name: "e".into(),
            description: None,
            axes: vec!["hidden".into()],
            runs,
            search: None,
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
            forced: HashMap::new(),
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
            forced: HashMap::new(),
        };
        assert!(check_memory(&plan, Some(16_000_000_000)).is_ok());
    }
}
