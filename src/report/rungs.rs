//! Where a halving search stands, read from its run folders alone: which trials reached
//! which rung, with what metric, and who was promoted or pruned.
//!
//! Every process of a search reads the same folders and calls the same pure
//! [`halving::decide`], so they agree on every promotion without talking to each other;
//! nothing here depends on who trained a run, when, or in what order.

use std::ops::Range;
use std::path::Path;

use crate::config::{Experiment, Run};
use crate::layout;
use crate::report::metrics::{self, EpochMetrics};
use crate::search::halving::{self, Bracket, Decision};
use crate::search::Halving;

/// A halving search as its folders hold it.
#[derive(Debug)]
pub struct Standing {
    pub brackets: Vec<BracketStanding>,
    /// What each run of the experiment has done, in the experiment's order.
    pub runs: Vec<Reached>,
    /// Each trial's runs: a range of the experiment's runs (its seeds, its grid part).
    pub trials: Vec<(usize, Range<usize>)>,
}

/// One bracket: its rungs so far, the last one under way unless the bracket is over.
#[derive(Debug)]
pub struct BracketStanding {
    pub bracket: Bracket,
    pub levels: Vec<Level>,
}

/// The trials of one bracket at one of its rungs.
#[derive(Debug)]
pub struct Level {
    /// Its rung among all of the search's rungs: bracket `b` starts at rung `b`.
    pub rung: usize,
    pub epochs: usize,
    /// Each trial at this rung, by index, with its metric at `epochs` (the mean over its
    /// runs): `None` until every run has reached them, NaN when one failed.
    pub scores: Vec<(usize, Option<f64>)>,
    /// Who goes on, once every trial has a score and a later rung follows.
    pub decision: Option<Decision>,
}

impl Level {
    pub fn complete(&self) -> bool {
        self.scores.iter().all(|(_, s)| s.is_some())
    }
}

/// What one run's folder holds of it.
#[derive(Debug, Default)]
pub struct Reached {
    /// The epochs its `metrics.csv` records (a continuing run keeps its last rung's).
    pub metrics: Vec<EpochMetrics>,
    /// Its folder holds an `error.txt`: it failed at the first epoch it lacks.
    pub failed: bool,
}

/// Where a trial ended up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrialStatus {
    /// Trained to the last rung of its bracket.
    Done,
    /// Ranked below the cut at `rung`.
    Pruned,
    /// A run failed or diverged: ranked last at `rung`.
    Failed,
    /// Training, or waiting for its rung to be reached by all.
    Open,
}

/// A trial's place in the search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrialStanding {
    pub bracket: usize,
    /// The last rung (among all rungs) it was scored at; `None` before its first.
    pub rung: Option<usize>,
    pub status: TrialStatus,
}

/// Reads the folders of `experiment`'s runs under `out`; `None` when it is no halving
/// search.
pub fn read(out: &Path, experiment: &Experiment) -> Option<Standing> {
    read_in(&layout::experiment_dir(out, &experiment.name), experiment)
}

/// [`read`] of the experiment's folder `dir`.
pub fn read_in(dir: &Path, experiment: &Experiment) -> Option<Standing> {
    let halving = experiment.halving()?;
    let runs = experiment
        .runs
        .iter()
        .map(|run| reached(&dir.join(&run.id), run))
        .collect();
    Some(stand(experiment, halving, runs))
}

/// What a run folder holds of `run`: nothing when it records another run.
fn reached(dir: &Path, run: &Run) -> Reached {
    match layout::read_config(dir) {
        Some(found) if found.same_run_as(&run.config) => {}
        _ => return Reached::default(),
    }
    let metrics = metrics::read(&dir.join(layout::METRICS))
        .ok()
        .filter(|m| m.iter().enumerate().all(|(i, e)| e.epoch == i + 1))
        .unwrap_or_default();
    Reached {
        metrics,
        failed: dir.join(layout::ERROR).exists(),
    }
}

/// The standing from what each run reached: rung after rung, each bracket's trials are
/// scored, and a complete rung decides who reaches the next.
pub fn stand(experiment: &Experiment, halving: Halving, runs: Vec<Reached>) -> Standing {
    let cost = experiment
        .search
        .as_ref()
        .and_then(|s| metrics::cost_named(&s.metric))
        .unwrap_or(metrics::COSTS[1]);
    let trials = trial_ranges(&experiment.runs);
    let brackets = halving.brackets();
    let score = |range: &Range<usize>, epochs: usize| -> Option<f64> {
        let mut sum = 0.0;
        for r in &runs[range.clone()] {
            match r.metrics.get(epochs - 1) {
                Some(m) => sum += f64::from((cost.get)(m)),
                None if r.failed => sum += f64::NAN,
                None => return None,
            }
        }
        Some(sum / range.len() as f64)
    };
    let standing = brackets
        .iter()
        .map(|bracket| {
            let mut at: Vec<&(usize, Range<usize>)> = trials
                .iter()
                .filter(|(t, _)| halving::bracket_of(&brackets, *t) == bracket.index)
                .collect();
            let mut levels = Vec::new();
            for (i, &epochs) in bracket.rungs.iter().enumerate() {
                let scores: Vec<(usize, Option<f64>)> =
                    at.iter().map(|(t, r)| (*t, score(r, epochs))).collect();
                let mut level = Level {
                    rung: bracket.index + i,
                    epochs,
                    scores,
                    decision: None,
                };
                let last = i + 1 == bracket.rungs.len();
                if last || !level.complete() {
                    levels.push(level);
                    break;
                }
                let known: Vec<(usize, f64)> = level
                    .scores
                    .iter()
                    .map(|(t, s)| (*t, s.unwrap_or(f64::NAN)))
                    .collect();
                let decision = halving::decide(&known, halving.eta);
                at.retain(|(t, _)| decision.promoted().iter().any(|(p, _)| p == t));
                level.decision = Some(decision);
                levels.push(level);
            }
            BracketStanding {
                bracket: bracket.clone(),
                levels,
            }
        })
        .collect();
    Standing {
        brackets: standing,
        runs,
        trials,
    }
}

/// Each trial with the range of its runs: the experiment lists a trial's runs together.
fn trial_ranges(runs: &[Run]) -> Vec<(usize, Range<usize>)> {
    let mut out: Vec<(usize, Range<usize>)> = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        let Some(t) = run.trial else { continue };
        match out.last_mut() {
            Some((last, range)) if *last == t && range.end == i => range.end = i + 1,
            _ => out.push((t, i..i + 1)),
        }
    }
    out
}

impl Standing {
    /// The runs of each bracket's rung under way, as `(index in the experiment's runs,
    /// the rung's epochs)`, and whether each is still short of them (and has not failed).
    /// A rung's list stays the same while it is under way, so shards deal it out the same
    /// way however far it got. Empty when the search is over.
    pub fn under_way(&self) -> Vec<(usize, usize, bool)> {
        let mut out = Vec::new();
        for b in &self.brackets {
            let Some(level) = b.levels.last().filter(|l| !l.complete()) else {
                continue;
            };
            for (trial, _) in &level.scores {
                for i in self.runs_of(*trial) {
                    let r = &self.runs[i];
                    let short = r.metrics.len() < level.epochs && !r.failed;
                    out.push((i, level.epochs, short));
                }
            }
        }
        out.sort_unstable();
        out
    }

    fn runs_of(&self, trial: usize) -> Range<usize> {
        self.trials
            .iter()
            .find(|(t, _)| *t == trial)
            .map_or(0..0, |(_, r)| r.clone())
    }

    /// Where trial `trial` stands.
    pub fn trial(&self, trial: usize) -> Option<TrialStanding> {
        self.brackets.iter().find_map(|b| {
            let mut rung = None;
            for (i, level) in b.levels.iter().enumerate() {
                let (_, score) = level.scores.iter().find(|(t, _)| *t == trial)?;
                let status = match score {
                    None => TrialStatus::Open,
                    Some(s) if s.is_nan() => TrialStatus::Failed,
                    Some(_) if i + 1 == b.bracket.rungs.len() => TrialStatus::Done,
                    Some(_) => {
                        rung = Some(level.rung);
                        match &level.decision {
                            Some(d) if d.promoted().iter().any(|(t, _)| *t == trial) => continue,
                            Some(_) => TrialStatus::Pruned,
                            None => TrialStatus::Open,
                        }
                    }
                };
                let rung = match status {
                    TrialStatus::Done => Some(level.rung),
                    _ => rung,
                };
                return Some(TrialStanding {
                    bracket: b.bracket.index,
                    rung,
                    status,
                });
            }
            None
        })
    }
}
