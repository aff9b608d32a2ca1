//! Where a halving search stands, read from its run folders alone: which trials reached
//! which rung, with what metric, and who was promoted or pruned.
//!
//! Every process of a search reads the same folders and calls the same pure
//! [`halving::decide`], so they agree on every promotion without talking to each other;
//! nothing here depends on who trained a run, when, or in what order.

use std::collections::{HashMap, HashSet};
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
    ranges: HashMap<usize, Range<usize>>,
    /// Where each trial stands, by index: looked up once per summary row.
    places: HashMap<usize, TrialStanding>,
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
    /// The last rung (among all rungs) it was scored at, a failed trial's the rung it
    /// failed on its way to; `None` before its first.
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
    let Some(asked) = layout::read_same_run(dir, &run.config).map(|c| c.train.epochs) else {
        return Reached::default();
    };
    // Rows out of order, or more than its config asks, were edited or damaged: none
    // count, as `layout::read_state` would train the run again.
    let metrics = metrics::read(&dir.join(layout::METRICS))
        .ok()
        .filter(|m| m.len() <= asked && metrics::numbered(m))
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
    let standing: Vec<BracketStanding> = brackets
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
                let promoted: HashSet<usize> = decision.promoted().iter().map(|p| p.0).collect();
                at.retain(|(t, _)| promoted.contains(t));
                level.decision = Some(decision);
                levels.push(level);
            }
            BracketStanding {
                bracket: bracket.clone(),
                levels,
            }
        })
        .collect();
    let places = places(&standing);
    Standing {
        brackets: standing,
        runs,
        ranges: trials.into_iter().collect(),
        places,
    }
}

/// Each trial's standing, from the last rung it appears at: scored and cut below
/// (pruned), scored at its bracket's last rung (done), NaN (failed), else open.
fn places(brackets: &[BracketStanding]) -> HashMap<usize, TrialStanding> {
    let mut out: HashMap<usize, TrialStanding> = HashMap::new();
    for b in brackets {
        let last = b.bracket.rungs.len();
        for (i, level) in b.levels.iter().enumerate() {
            let promoted: HashSet<usize> = level
                .decision
                .iter()
                .flat_map(|d| d.promoted().iter().map(|p| p.0))
                .collect();
            for &(trial, score) in &level.scores {
                let before = out.get(&trial).and_then(|p| p.rung);
                let (status, rung) = match score {
                    None => (TrialStatus::Open, before),
                    // Ranked (last) at the rung it failed on its way to.
                    Some(s) if s.is_nan() => (TrialStatus::Failed, Some(level.rung)),
                    Some(_) if i + 1 == last => (TrialStatus::Done, Some(level.rung)),
                    Some(_) if level.decision.is_some() && !promoted.contains(&trial) => {
                        (TrialStatus::Pruned, Some(level.rung))
                    }
                    Some(_) => (TrialStatus::Open, Some(level.rung)),
                };
                out.insert(
                    trial,
                    TrialStanding {
                        bracket: b.bracket.index,
                        rung,
                        status,
                    },
                );
            }
        }
    }
    out
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
        self.ranges.get(&trial).cloned().unwrap_or(0..0)
    }

    /// Where trial `trial` stands.
    pub fn trial(&self, trial: usize) -> Option<TrialStanding> {
        self.places.get(&trial).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Six trials of two seeds, rungs at epochs 1 and 3 (eta 3): two go on.
    fn experiment() -> Experiment {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.toml");
        let text = "name = \"e\"\n[train]\nepochs = 3\n[search]\ntrials = 6\n\
            metric = \"test_cost_clean\"\n[search.space]\nlearning_rate = { log_uniform = [1e-3, 1e-2] }\n\
            [search.halving]\nmin_epochs = 1\neta = 3\n[sweep]\nseed = [1, 2]\n";
        std::fs::write(&path, text).unwrap();
        crate::config::load(&path, &[]).unwrap()
    }

    /// A run that reached `epochs` epochs with clean test cost `cost` at each.
    fn reached(epochs: usize, cost: f32) -> Reached {
        let metrics = (1..=epochs)
            .map(|epoch| EpochMetrics {
                epoch,
                train_cost: 1.0,
                test_cost: 1.0,
                test_cost_clean: cost,
                seconds: 0.0,
            })
            .collect();
        Reached {
            metrics,
            failed: false,
        }
    }

    fn standing(runs: Vec<Reached>) -> Standing {
        let e = experiment();
        let halving = e.halving().unwrap();
        stand(&e, halving, runs)
    }

    #[test]
    fn a_rung_is_cut_only_once_every_run_of_every_trial_reached_it() {
        let mut runs: Vec<Reached> = (0..12).map(|i| reached(1, i as f32)).collect();
        runs[11] = Reached::default();
        let s = standing(runs);
        let level = &s.brackets[0].levels[0];
        assert!(!level.complete() && level.decision.is_none());
        // Only the missing run is short; the whole rung stays under way.
        let short: Vec<usize> = s.under_way().iter().filter(|r| r.2).map(|r| r.0).collect();
        assert_eq!(short, vec![11]);
        assert_eq!(s.under_way().len(), 12);
        assert_eq!(s.trial(0).unwrap().status, TrialStatus::Open);
    }

    #[test]
    fn the_mean_over_seeds_ranks_and_failures_rank_last() {
        // Trial t's seeds: costs 10 - t and 10 - t (trial 5 best), but trial 5 failed.
        let mut runs: Vec<Reached> = (0..12).map(|i| reached(1, 10.0 - (i / 2) as f32)).collect();
        runs[10] = Reached {
            metrics: Vec::new(),
            failed: true,
        };
        let s = standing(runs);
        let decision = s.brackets[0].levels[0].decision.as_ref().unwrap();
        // floor(6 / 3) = 2 kept: trials 4 and 3; the failed trial 5 ranks last.
        assert_eq!(
            decision.promoted().iter().map(|p| p.0).collect::<Vec<_>>(),
            [4, 3]
        );
        assert_eq!(decision.ranking.last().unwrap().0, 5);
        assert_eq!(s.trial(5).unwrap().status, TrialStatus::Failed);
        assert_eq!(
            s.trial(5).unwrap().rung,
            Some(0),
            "failed on its way to rung 0"
        );
        assert_eq!(s.trial(0).unwrap().status, TrialStatus::Pruned);
        assert_eq!(s.trial(0).unwrap().rung, Some(0));
        // The promoted trials' four runs go on to epoch 3.
        let next: Vec<(usize, usize, bool)> = s.under_way();
        assert_eq!(
            next,
            vec![(6, 3, true), (7, 3, true), (8, 3, true), (9, 3, true)]
        );
        assert_eq!(s.trial(4).unwrap().status, TrialStatus::Open);
    }

    #[test]
    fn promoted_trials_that_reach_the_last_rung_are_done() {
        let runs: Vec<Reached> = (0..12)
            .map(|i| match i / 2 {
                3 | 4 => reached(3, 1.0),
                t => reached(1, 10.0 - t as f32),
            })
            .collect();
        let s = standing(runs);
        assert!(s.under_way().is_empty(), "the search is over");
        let done = TrialStanding {
            bracket: 0,
            rung: Some(1),
            status: TrialStatus::Done,
        };
        assert_eq!(s.trial(3), Some(done));
        assert_eq!(s.trial(4), Some(done));
        assert_eq!(s.trial(5).unwrap().status, TrialStatus::Pruned);
    }
}
