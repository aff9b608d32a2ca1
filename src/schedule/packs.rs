//! Runs that share their shapes and optimizer settings (typically the seeds of one
//! configuration) trained together as one batched computation ([`train::pack`]): what
//! makes a GPU worth having for small models, and a setting (`--pack`) on the CPU.
//!
//! Only the grouping and the work unit differ from single runs: a worker takes a pack
//! instead of a run; each run still gets its own folder, lock, events, `error.txt` and
//! summary row, and a run that fails fails alone.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::{claim, memory, open_lock, panic_message, prepare_dir, trained, Ended, Shared};
use crate::config::Run;
use crate::device::Slot;
use crate::layout;
use crate::report::atomic::write_atomic;
use crate::report::metrics::EpochMetrics;
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

/// Takes the locks of a pack's runs (waiting for them if `wait`) and trains the runs it
/// got as one pack; every run of `runs` comes back with how its attempt ended. Runs
/// another process holds go back in the queue as for single runs.
pub(super) fn attempt<'a>(
    shared: &Shared<'a>,
    slot: Slot,
    runs: &[&'a Run],
    wait: bool,
) -> Vec<(&'a Run, Ended)> {
    let experiment = shared.plan.experiment;
    let dirs: Vec<_> = runs
        .iter()
        .map(|run| layout::run_dir(&shared.opts.out, &experiment.name, &run.id))
        .collect();
    let mut ended: Vec<Option<Ended>> = runs.iter().map(|_| None).collect();
    let mut locks = Vec::with_capacity(runs.len());
    for (i, (run, dir)) in runs.iter().zip(&dirs).enumerate() {
        match open_lock(shared, run, dir) {
            Ok(l) => locks.push(Some(l)),
            Err(e) => {
                ended[i] = Some(e);
                locks.push(None);
            }
        }
    }
    let mut held = Vec::new();
    let mut going = Vec::new();
    for (i, run_lock) in locks.iter_mut().enumerate() {
        let Some(run_lock) = run_lock else { continue };
        match claim(shared, runs[i], &dirs[i], run_lock, wait) {
            Ok(guard) => {
                held.push(guard);
                going.push(i);
            }
            Err(e) => ended[i] = Some(e),
        }
    }
    let bytes = going
        .iter()
        .map(|&i| memory::estimate(&runs[i].config))
        .fold(0u64, u64::saturating_add);
    let memory = shared.budget.take(bytes);
    let cancel = shared.cancel;
    if !going.is_empty() && !cancel.load(Ordering::SeqCst) {
        let members: Vec<&Run> = going.iter().map(|&i| runs[i]).collect();
        for run in &members {
            shared.feed.started(run);
            shared.reporter.started(&run.id);
        }
        let started = Instant::now();
        let results = train_pack(shared, &members, slot);
        let each = started.elapsed() / members.len() as u32;
        let cancelled = cancel.load(Ordering::SeqCst);
        for (&i, result) in going.iter().zip(results) {
            ended[i] = Some(if cancelled && result.is_err() {
                shared.feed.ended(runs[i], None);
                Ended::Cancelled
            } else {
                trained(shared, runs[i], result, each)
            });
        }
    }
    drop((memory, held));
    runs.iter()
        .zip(ended)
        .map(|(&run, e)| (run, e.unwrap_or(Ended::Cancelled)))
        .collect()
}

/// Trains one pack into its runs' folders; one result per run, in order. An error or a
/// panic is recorded in each affected run's `error.txt`; a run whose folder cannot be
/// prepared fails alone and the others train without it.
fn train_pack(shared: &Shared, runs: &[&Run], slot: Slot) -> Vec<Result<(), String>> {
    let (experiment, data, opts) = (shared.plan.experiment, shared.data, shared.opts);
    let (reporter, cancel, feed) = (shared.reporter, shared.cancel, &shared.feed);
    let dirs: Vec<_> = runs
        .iter()
        .map(|run| layout::run_dir(&opts.out, &experiment.name, &run.id))
        .collect();
    let mut ended: Vec<Option<Result<(), String>>> = runs
        .iter()
        .zip(&dirs)
        .map(|(run, dir)| {
            prepare_dir(opts, dir, run, slot)
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
                    move |m: &EpochMetrics| {
                        reporter.epoch(id, epochs, m);
                        feed.epoch(id, m);
                    }
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
            trial: None,
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
