//! Runs that share their shapes and optimizer settings (typically the seeds of one
//! configuration) trained together as one batched computation ([`train::pack`]): what
//! makes a GPU worth having for small models, and a setting (`--pack`) on the CPU.
//!
//! Only the grouping and the work unit differ from [`super::execute`]: a worker takes a
//! pack instead of a run; each run still gets its own folder, events, `error.txt` and
//! summary row, and a run that fails fails alone.

use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use super::{lock, panic_message, prepare_dir, Options, Outcome, Plan};
use crate::config::{Experiment, Run};
use crate::data::{Dataset, DatasetName};
use crate::device::Slot;
use crate::layout;
use crate::report::atomic::write_atomic;
use crate::report::progress::Reporter;
use crate::report::summary;
use crate::train::pack::{self, pack_key, Member};
use crate::train::{self, Hooks};

/// The runs to do as packs: runs with the same [`pack_key`] in the order they come, at
/// most `max` a pack; while there are fewer packs than `workers`, the largest is halved,
/// so that no worker idles while another trains a pack it could share.
pub fn group<'e>(todo: &[&'e Run], max: usize, workers: usize) -> Vec<Vec<&'e Run>> {
    let mut groups: Vec<(pack::PackKey, Vec<&'e Run>)> = Vec::new();
    for &run in todo {
        let key = pack_key(&run.config);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, runs)) => runs.push(run),
            None => groups.push((key, vec![run])),
        }
    }
    let mut packs: Vec<Vec<&Run>> = groups
        .into_iter()
        .flat_map(|(_, runs)| {
            runs.chunks(max.max(1))
                .map(<[&Run]>::to_vec)
                .collect::<Vec<_>>()
        })
        .collect();
    while packs.len() < workers {
        let Some((largest, _)) = packs
            .iter()
            .enumerate()
            .filter(|(_, p)| p.len() > 1)
            .max_by_key(|(i, p)| (p.len(), std::cmp::Reverse(*i)))
        else {
            break;
        };
        let half = packs[largest].len().div_ceil(2);
        let second = packs[largest].split_off(half);
        packs.insert(largest + 1, second);
    }
    packs
}

/// [`super::execute`] for packs: runs the plan's runs as packs of at most `opts.pack` on
/// `opts.jobs` workers, rewriting `summary.csv` as packs finish.
pub(super) fn execute(
    plan: &Plan,
    data: &HashMap<DatasetName, Dataset>,
    opts: &Options,
    reporter: &Reporter,
    cancel: &AtomicBool,
) -> anyhow::Result<Outcome> {
    let experiment = plan.experiment;
    for run in &plan.skipped {
        reporter.skipped(&run.id);
    }
    let packs = group(&plan.todo, opts.pack, opts.jobs.max(1));
    let running = Mutex::new(HashSet::new());
    summary::write(&opts.out, experiment, &HashSet::new())?;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(String, Result<(), String>)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for worker in 0..opts.jobs.max(1).min(packs.len()) {
            let slot = opts
                .slots
                .get(worker % opts.slots.len().max(1))
                .copied()
                .unwrap_or(Slot::Cpu);
            let (next, results, running, packs) = (&next, &results, &running, &packs);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(runs) = packs.get(i) else { break };
                if cancel.load(Ordering::SeqCst) {
                    break;
                }
                for run in runs {
                    lock(running).insert(run.id.clone());
                    reporter.started(&run.id);
                }
                let ended = train_pack(experiment, runs, slot, data, opts, reporter, cancel);
                let cancelled = cancel.load(Ordering::SeqCst);
                for (run, result) in runs.iter().zip(ended) {
                    lock(running).remove(&run.id);
                    let cancelled = cancelled && result.is_err();
                    if !cancelled {
                        reporter.finished(&run.id, result.as_ref().err().map(String::as_str));
                        lock(results).push((run.id.clone(), result));
                    }
                }
                let snapshot = lock(running).clone();
                if let Err(e) = summary::write(&opts.out, experiment, &snapshot) {
                    tracing::error!("{e:#}");
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

/// Trains one pack into its runs' folders; one result per run, in order. An error or a
/// panic is recorded in each affected run's `error.txt`; a run whose folder cannot be
/// prepared fails alone and the others train without it.
fn train_pack(
    experiment: &Experiment,
    runs: &[&Run],
    slot: Slot,
    data: &HashMap<DatasetName, Dataset>,
    opts: &Options,
    reporter: &Reporter,
    cancel: &AtomicBool,
) -> Vec<Result<(), String>> {
    let dirs: Vec<_> = runs
        .iter()
        .map(|run| layout::run_dir(&opts.out, &experiment.name, &run.id))
        .collect();
    let mut ended: Vec<Option<Result<(), String>>> = runs
        .iter()
        .zip(&dirs)
        .map(|(run, dir)| {
            prepare_dir(dir, run, slot)
                .err()
                .map(|e| Err(format!("{e:#}")))
        })
        .collect();
    let going: Vec<usize> = (0..runs.len()).filter(|&i| ended[i].is_none()).collect();
    let first = &runs[going.first().copied().unwrap_or(0)].config.data;
    let trained = match data.get(&first.dataset) {
        None => {
            let e = format!("data set {} was not loaded", first.dataset.as_str());
            going.iter().map(|_| Err(e.clone())).collect()
        }
        Some(dataset) if !going.is_empty() => {
            let dataset = dataset.capped(first.train_examples);
            let progress: Vec<_> = going
                .iter()
                .map(|&i| move |p: &train::Progress| reporter.progress(&runs[i].id, p))
                .collect();
            let epochs: Vec<_> = going
                .iter()
                .map(|&i| {
                    let (id, epochs) = (&runs[i].id, runs[i].config.train.epochs);
                    move |m: &train::EpochMetrics| reporter.epoch(id, epochs, m)
                })
                .collect();
            let one = || 1;
            let hooks: Vec<Hooks> = progress
                .iter()
                .zip(&epochs)
                .map(|(on_progress, on_epoch)| Hooks {
                    cancel,
                    on_progress,
                    on_epoch,
                    threads: &one,
                })
                .collect();
            let members: Vec<Member> = going
                .iter()
                .zip(&hooks)
                .map(|(&i, hooks)| Member {
                    config: &runs[i].config,
                    hooks,
                })
                .collect();
            let pack_dirs: Vec<_> = going.iter().map(|&i| dirs[i].clone()).collect();
            let result = catch_unwind(AssertUnwindSafe(|| {
                pack::run(slot, &members, &pack_dirs, &dataset)
            }));
            match result {
                Ok(each) => each
                    .into_iter()
                    .map(|r| r.map(|_| ()).map_err(|e| format!("{e:#}")))
                    .collect(),
                Err(panic) => {
                    let e = format!("panicked: {}", panic_message(&panic));
                    going.iter().map(|_| Err(e.clone())).collect()
                }
            }
        }
        Some(_) => Vec::new(),
    };
    for (&i, result) in going.iter().zip(trained) {
        ended[i] = Some(result);
    }
    let cancelled = cancel.load(Ordering::SeqCst);
    ended
        .into_iter()
        .zip(&dirs)
        .map(|(result, dir)| {
            let result = result.unwrap_or_else(|| Err("not trained".to_string()));
            if let Err(error) = &result {
                if !cancelled {
                    let _ = write_atomic(&dir.join(layout::ERROR), format!("{error}\n").as_bytes());
                }
            }
            result
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RunConfig;

    fn run(id: &str, hidden: &[usize], seed: u64) -> Run {
        let mut config = RunConfig::default();
        config.train.hidden = hidden.to_vec();
        config.train.seed = seed;
        Run {
            id: id.to_string(),
            values: Vec::new(),
            config,
        }
    }

    fn ids(packs: &[Vec<&Run>]) -> Vec<Vec<String>> {
        packs
            .iter()
            .map(|p| p.iter().map(|r| r.id.clone()).collect())
            .collect()
    }

    #[test]
    fn seeds_of_a_configuration_share_a_pack() {
        let runs: Vec<Run> = [
            (1, &[256][..]),
            (2, &[256, 128]),
            (3, &[256]),
            (4, &[256, 128]),
        ]
        .iter()
        .map(|(s, h)| run(&format!("r{s}"), h, *s))
        .collect();
        let todo: Vec<&Run> = runs.iter().collect();
        assert_eq!(
            ids(&group(&todo, 16, 1)),
            [vec!["r1", "r3"], vec!["r2", "r4"]]
        );
        assert_eq!(
            ids(&group(&todo, 1, 1)),
            [vec!["r1"], vec!["r3"], vec!["r2"], vec!["r4"]]
        );
    }

    #[test]
    fn anything_but_seed_init_and_noise_level_splits_a_pack() {
        let mut runs: Vec<Run> = (1..=5).map(|s| run(&format!("r{s}"), &[64], s)).collect();
        runs[1].config.train.noise_level = 0.3;
        runs[1].config.train.init_scale = 0.5;
        runs[2].config.train.learning_rate = 0.001;
        runs[3].config.train.batch_size = 50;
        runs[4].config.data.train_examples = Some(1000);
        let todo: Vec<&Run> = runs.iter().collect();
        assert_eq!(
            ids(&group(&todo, 16, 1)),
            [vec!["r1", "r2"], vec!["r3"], vec!["r4"], vec!["r5"]]
        );
    }

    #[test]
    fn packs_are_capped_and_split_for_idle_workers() {
        let runs: Vec<Run> = (1..=5).map(|s| run(&format!("r{s}"), &[64], s)).collect();
        let todo: Vec<&Run> = runs.iter().collect();
        assert_eq!(
            ids(&group(&todo, 2, 1)),
            [vec!["r1", "r2"], vec!["r3", "r4"], vec!["r5"]]
        );
        assert_eq!(
            ids(&group(&todo, 16, 2)),
            [vec!["r1", "r2", "r3"], vec!["r4", "r5"]]
        );
        assert_eq!(
            ids(&group(&todo, 16, 4)),
            [vec!["r1"], vec!["r2"], vec!["r3"], vec!["r4", "r5"]]
        );
        assert_eq!(group(&todo, 16, 9).len(), 5);
        assert!(group(&[], 16, 2).is_empty());
    }
}
