//! Trains a halving search rung by rung. Each round reads where the search stands from
//! the run folders ([`crate::report::rungs`]), trains this process's share of the runs
//! still short of their rung (a promoted run continues from its checkpoint), and reads
//! again. A rung is a barrier: its cut waits until all its trials reached it, whoever
//! trains them, so any number of processes and shards reach the same promotions. A
//! process waiting at the barrier for a run another one trains sleeps on its lock
//! (`schedule`'s deferred runs), never spins.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::config::{Experiment, Run};
use crate::report::rungs;
use crate::schedule::{self, Outcome};

use super::{Selection, Session};

/// How long a process whose round moved nothing waits before it reads the folders again.
const POLL: Duration = Duration::from_secs(2);

/// Trains `experiment`'s selected share of every rung until the search is over, this
/// process stops, or (with `--filter`) what is left is outside the filter.
pub(super) fn train(
    session: &mut Session,
    experiment: &Experiment,
    selected: &Selection,
) -> anyhow::Result<Outcome> {
    let mut total = Outcome::default();
    // --force retrains the first rungs from scratch; later rungs continue from them.
    let forced = session.opts.force;
    let mut first = true;
    let mut failed_here: HashSet<String> = HashSet::new();
    // The last standing read: at the end it holds the failures to report.
    let mut standing = None;
    loop {
        let forcing = first && forced;
        let under_way = if forcing {
            first_rungs(experiment)
        } else {
            standing = rungs::read(&session.opts.out, experiment);
            standing.as_ref().map_or_else(Vec::new, |s| s.under_way())
        };
        if under_way.is_empty() {
            break;
        }
        let level: Vec<Run> = under_way
            .iter()
            .map(|&(i, epochs, _)| at_epochs(&experiment.runs[i], epochs))
            .collect();
        let short: HashSet<&str> = level
            .iter()
            .zip(&under_way)
            .filter(|(_, (_, _, short))| *short)
            .map(|(run, _)| run.id.as_str())
            .collect();
        // A run that failed here without a record in its folder (no error.txt: the
        // folder cannot be written) still reads as short: it is not tried again.
        let open = |run: &&Run| short.contains(run.id.as_str()) && !failed_here.contains(&run.id);
        let share: Vec<&Run> = selected.runs_of(&level).into_iter().filter(open).collect();
        // Its share done, a shard helps with the rest (a forced pass would train them
        // twice): a search never waits for a task still queued, cancelled or gone.
        let helping = share.is_empty() && selected.filter.is_none() && !forcing;
        let mine: Vec<&Run> = if helping {
            level.iter().filter(open).collect()
        } else {
            share
        };
        if mine.is_empty() && level.iter().any(|r| failed_here.contains(&r.id)) {
            tracing::error!(
                "{}: the next cut waits for runs that failed here and left no error.txt in their folders; fix what the errors say and run again",
                experiment.name
            );
            break;
        }
        if mine.is_empty() {
            tracing::info!(
                "{}: the next cut waits for {} outside --filter; run again without --filter, or with a filter that selects them, to go on",
                experiment.name,
                named(&level, &short)
            );
            break;
        }
        if helping {
            tracing::info!(
                "{}: its share of the rung is done; it helps with the other {} (a run another process trains is waited for, not trained twice)",
                experiment.name,
                named(&level, &short)
            );
        }
        session.opts.force = forcing;
        let plan = schedule::plan(experiment, mine, &session.opts);
        session.opts.force = forced;
        let outcome = session.execute(&plan?)?;
        failed_here.extend(outcome.failed.iter().map(|(id, _)| id.clone()));
        let progressed = outcome.completed + outcome.skipped + outcome.failed.len() > 0;
        add(&mut total, outcome);
        if total.cancelled || !total.conflicts.is_empty() {
            return Ok(total);
        }
        first = false;
        // Nothing moved (every run was someone else's and none ended): look again later
        // rather than spin.
        if !progressed && !sleep_unless_stopped(session) {
            total.cancelled = true;
            return Ok(total);
        }
    }
    if let Some(standing) = standing {
        add_failed_elsewhere(&mut total, session, experiment, &standing);
    }
    Ok(total)
}

/// Failed runs stay failed in a halving search (a rung was cut with them ranked last, and
/// retraining them could change that cut after the fact), so a rerun, or a process whose
/// share had none, reports the failures its folders hold, as a grid's rerun would.
fn add_failed_elsewhere(
    total: &mut Outcome,
    session: &Session,
    experiment: &Experiment,
    standing: &rungs::Standing,
) {
    let known: HashSet<String> = total.failed.iter().map(|(id, _)| id.clone()).collect();
    for (run, reached) in experiment.runs.iter().zip(&standing.runs) {
        if reached.failed && !known.contains(&run.id) {
            let dir = crate::layout::run_dir(&session.opts.out, &experiment.name, &run.id);
            let error = std::fs::read_to_string(dir.join(crate::layout::ERROR)).unwrap_or_default();
            let first = error.lines().next().unwrap_or("failed").to_string();
            total.failed.push((run.id.clone(), first));
        }
    }
    total.failed.sort();
}

/// Refuses `--force` with `--shard` for a halving search: each shard would force only
/// its share of the first rungs, and one done early would cut them with the others' old
/// results. One process forces them all, then the shards take up the later rungs.
pub(super) fn check_force(
    force: bool,
    selected: &Selection,
    experiments: &[Experiment],
) -> anyhow::Result<()> {
    let Some(experiment) = experiments.iter().find(|e| e.halving().is_some()) else {
        return Ok(());
    };
    if force && selected.shard.is_some() {
        return Err(crate::error::input_error(format!(
            "--force with --shard: each shard of the halving search \"{}\" would retrain only its share of the first rungs and could cut them with the other shards' old results; run it once with --force and without --shard (or into a fresh --out), then the shards without --force",
            experiment.name
        )));
    }
    Ok(())
}

/// Every run at its bracket's first rung, as a forced search starts.
fn first_rungs(experiment: &Experiment) -> Vec<(usize, usize, bool)> {
    let Some(halving) = experiment.halving() else {
        return Vec::new();
    };
    let brackets = halving.brackets();
    experiment
        .runs
        .iter()
        .enumerate()
        .filter_map(|(i, run)| {
            let b = crate::search::halving::bracket_of(&brackets, run.trial?);
            Some((i, brackets[b].rungs[0], true))
        })
        .collect()
}

/// `run` trained to `epochs`: a rung's share of its full training.
fn at_epochs(run: &Run, epochs: usize) -> Run {
    let mut run = run.clone();
    run.config.train.epochs = epochs;
    run
}

/// "3 runs (t0002 to epoch 6, t0005 to epoch 6, t0007 to epoch 2)": the rung's runs
/// still `short` of it, at most five named.
fn named(level: &[Run], short: &HashSet<&str>) -> String {
    let runs: Vec<String> = level
        .iter()
        .filter(|r| short.contains(r.id.as_str()))
        .map(|r| format!("{} to epoch {}", r.id, r.config.train.epochs))
        .collect();
    let more = runs.len().saturating_sub(5);
    let mut list = runs.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if more > 0 {
        list.push_str(&format!(" and {more} more"));
    }
    format!("{} ({list})", super::plural_runs(runs.len()))
}

/// Sleeps [`POLL`], waking early to a stop signal; `false` when one came.
fn sleep_unless_stopped(session: &Session) -> bool {
    let step = Duration::from_millis(100);
    let mut slept = Duration::ZERO;
    while slept < POLL {
        if session.cancel.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::sleep(step);
        slept += step;
    }
    !session.cancel.load(Ordering::SeqCst)
}

fn add(total: &mut Outcome, outcome: Outcome) {
    total.completed += outcome.completed;
    total.skipped += outcome.skipped;
    total.failed.extend(outcome.failed);
    total.conflicts.extend(outcome.conflicts);
    total.cancelled |= outcome.cancelled;
    total.workers = total.workers.max(outcome.workers);
    total.in_runs += outcome.in_runs;
}
