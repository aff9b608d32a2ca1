//! Keeps `summary.csv`, `curves.svg` and `stats.md` current while a sweep runs, at a cost
//! that does not grow with the sweep; `report.html` is written by the last rewrite only.
//!
//! Every folder is read once at the start; after that only the folder of a run that just
//! ended is read again, and the files are rewritten at most every five seconds (less often
//! when writing them takes long), then once at the end from every folder (synced to disk only then), so the last
//! shard to finish still leaves a summary of everything.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::{Experiment, Run};
use crate::layout::{self, Engine};
use crate::report::atomic::unsynced;
use crate::report::metrics::EpochMetrics;
use crate::report::rebuild;
use crate::report::summary::{self, Row, Status};
use crate::report::tensorboard::{self, RunLog, SessionStatus};

/// Shortest time between two rewrites of the report files.
const MIN_INTERVAL: Duration = Duration::from_secs(5);
/// Rewrites take at most about 1/400 of the time: the interval is at least this many
/// times the last rewrite's duration (10,000 rows take about 10 ms to render; a million,
/// seconds). A worker that rewrites them is not training meanwhile.
const SLOWDOWN: u32 = 400;

pub struct Feed<'e> {
    out: PathBuf,
    experiment: &'e Experiment,
    /// The TensorBoard logs of the runs going on, by run id.
    boards: Mutex<HashMap<String, RunLog>>,
    state: Mutex<State>,
}

struct State {
    rows: Vec<Row>,
    index: HashMap<String, usize>,
    /// Failures whose folder could not record them (no `error.txt`): the summary says
    /// `failed` anyway.
    unrecorded: HashMap<String, String>,
    next_write: Instant,
}

/// Results of two engines differ in the last bits: a folder that silently mixed them
/// would make `--verify` and comparisons across its runs misleading.
fn warn_of_mixed_engines(experiment: &Experiment, rows: &[Row], engine: Engine, todo: usize) {
    let others = rows
        .iter()
        .filter(|r| r.status == Status::Done && r.engine != engine.kind())
        .count();
    if others > 0 && todo > 0 {
        tracing::warn!(
            "{}: {others} complete runs were computed by another engine than the {todo} to train now ({}): the two engines' costs differ in the last bits, and the summary's engine column shows which computed each. To keep one engine, pass {}, or --force to recompute every run",
            experiment.name,
            engine.kind(),
            match engine {
                Engine::Kernels => "--pack N as those runs had",
                Engine::Pack(_) => "no --pack",
            }
        );
    }
}

impl<'e> Feed<'e> {
    /// Reads every run folder of `experiment` and writes the report files once; says so
    /// when the `todo` runs about to train with `engine` join results of another engine.
    pub fn new(
        out: &Path,
        experiment: &'e Experiment,
        engine: Engine,
        todo: usize,
    ) -> anyhow::Result<Feed<'e>> {
        let rows = summary::collect(out, experiment, &HashSet::new());
        warn_of_mixed_engines(experiment, &rows, engine, todo);
        rebuild::write_rows_during_sweep(out, experiment, &rows)?;
        let index = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        if let Err(e) = tensorboard::sweep::write_experiment(out, experiment) {
            tracing::warn!("TensorBoard's record of the experiment: {e:#}");
        }
        Ok(Feed {
            out: out.to_path_buf(),
            experiment,
            boards: Mutex::new(HashMap::new()),
            state: Mutex::new(State {
                rows,
                index,
                unrecorded: HashMap::new(),
                next_write: Instant::now() + MIN_INTERVAL,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A run started: shown as running, and its TensorBoard session opened.
    pub fn started(&self, run: &Run) {
        {
            let mut s = self.lock();
            if let Some(&i) = s.index.get(&run.id) {
                s.rows[i].status = Status::Running;
            }
        }
        let dir = layout::run_dir(&self.out, &self.experiment.name, &run.id);
        match tensorboard::sweep::start(&dir, self.experiment, run) {
            Ok(log) => {
                lock(&self.boards).insert(run.id.clone(), log);
            }
            Err(e) => tracing::warn!(
                "{}: no TensorBoard events ({e:#}); training goes on",
                run.id
            ),
        }
    }

    /// A run finished an epoch: its costs go to TensorBoard at once, so that a running
    /// TensorBoard shows the curves grow.
    pub fn epoch(&self, id: &str, m: &EpochMetrics) {
        if let Some(log) = lock(&self.boards).get_mut(id) {
            if let Err(e) = tensorboard::sweep::epoch(log, m) {
                tracing::warn!("{id}: TensorBoard events: {e:#}");
            }
        }
    }

    /// A run ended (`error` when it failed, `None` when it completed or was stopped):
    /// rereads its folder and rewrites the files if they are due.
    pub fn ended(&self, run: &Run, error: Option<&str>) {
        let mut row = summary::row(&self.out, self.experiment, run, false);
        let mut s = self.lock();
        if let Some(e) = error {
            if row.status != Status::Failed {
                row.status = Status::Failed;
                row.error = e.to_string();
                s.unrecorded.insert(run.id.clone(), e.to_string());
            }
        }
        let board = lock(&self.boards).remove(&run.id);
        if let Some(mut log) = board {
            let status = match row.status {
                Status::Done => SessionStatus::Success,
                Status::Failed => SessionStatus::Failure,
                _ => SessionStatus::Aborted,
            };
            let dir = layout::run_dir(&self.out, &self.experiment.name, &run.id);
            if let Err(e) = tensorboard::sweep::end(&mut log, &dir, status, row.metrics.len()) {
                tracing::warn!("{}: TensorBoard events: {e:#}", run.id);
            }
        }
        if let Some(&i) = s.index.get(&run.id) {
            s.rows[i] = row;
        }
        if Instant::now() >= s.next_write {
            let started = Instant::now();
            // Rewritten again soon and at the end: atomic, but not synced to disk.
            let written =
                unsynced(|| rebuild::write_rows_during_sweep(&self.out, self.experiment, &s.rows));
            if let Err(e) = written {
                tracing::error!("{e:#}");
            }
            let took = started.elapsed();
            s.next_write = Instant::now() + MIN_INTERVAL.max(took * SLOWDOWN);
        }
    }

    /// Rewrites the files from every run folder, as other processes may have added runs.
    pub fn finish(self) -> anyhow::Result<()> {
        let state = self.state.into_inner().unwrap_or_else(|p| p.into_inner());
        let mut rows = summary::collect(&self.out, self.experiment, &HashSet::new());
        for row in &mut rows {
            if let Some(e) = state.unrecorded.get(&row.id) {
                if row.status != Status::Done {
                    row.status = Status::Failed;
                    row.error = e.clone();
                }
            }
        }
        rebuild::write_rows(&self.out, self.experiment, &rows)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
