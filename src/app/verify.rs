//! `--verify`: the selected runs trained again into a temporary folder, each with the
//! engine its committed results record (unless `--pack` says otherwise), and their
//! costs compared with the committed ones.

use crate::config::{Experiment, Run};
use crate::layout::{self, Engine};
use crate::report::atomic::temporary_dir;
use crate::verify::{self, Verdict};

use super::{interrupted, plural_runs, show, Selection, Session, Stopped};

/// Reruns the selected runs into a temporary folder and compares their costs with the
/// results under `--out`. Every plan is checked before the first run trains.
pub(super) fn verify_all(
    session: &mut Session,
    experiments: &[Experiment],
    selected: &Selection,
    tolerance: f64,
    pack: Option<usize>,
) -> anyhow::Result<()> {
    let committed = session.opts.out.clone();
    let trained: Vec<Experiment> = experiments
        .iter()
        .map(|e| as_trained(&committed, e))
        .collect();
    let experiments = &trained[..];
    let scratch = temporary_dir("runner-verify-")
        .map_err(|e| anyhow::anyhow!("cannot create a temporary folder: {e}"))?;
    session.opts.out = scratch.dir.path().to_path_buf();
    session.opts.force = false;
    let mut plans = Vec::new();
    let mut packs = Vec::new();
    for experiment in experiments {
        // Runs without committed results are MISSING whatever a rerun gives: not trained.
        let comparable: Vec<&Run> = selected
            .runs(experiment)
            .into_iter()
            .filter(|r| verify::has_committed(&committed, experiment, r))
            .collect();
        for (n, runs) in by_engine(&committed, experiment, comparable, pack) {
            session.opts.pack = n;
            plans.push(session.prepare(experiment, runs)?);
            packs.push(n);
        }
    }
    session.make_folders(&plans)?;
    session.load_data(&plans)?;
    for (plan, &n) in plans.iter().zip(&packs) {
        session.opts.pack = n;
        if session.execute(plan)?.cancelled {
            return Err(interrupted(Stopped::Verify));
        }
    }
    let mut drifting = Vec::new();
    for experiment in experiments {
        let rows: Vec<(String, Verdict)> = selected
            .runs(experiment)
            .iter()
            .map(|r| {
                let v = verify::verdict(&committed, scratch.dir.path(), experiment, r);
                (r.id.clone(), v)
            })
            .collect();
        show(&format!(
            "{} ({} runs, tolerance {tolerance}, each recomputed with the engine it records)\n{}",
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

/// A halving search's runs as far as each was trained (a pruned run to its last rung),
/// to recompute as plain runs of those epochs; any other experiment as it is.
fn as_trained(committed: &std::path::Path, experiment: &Experiment) -> Experiment {
    let mut plain = experiment.clone();
    let Some(search) = plain.search.as_mut().filter(|s| s.halving.is_some()) else {
        return plain;
    };
    search.halving = None;
    for run in &mut plain.runs {
        let dir = layout::run_dir(committed, &experiment.name, &run.id);
        if let Some(found) = layout::read_same_run(&dir, &run.config) {
            run.config.train.epochs = found.train.epochs;
        }
    }
    plain
}

/// The runs grouped by the pack size to recompute them with: `--pack` if given, else the
/// engine each committed run records (the kernels alone, a pack as it was), in order.
fn by_engine<'e>(
    committed: &std::path::Path,
    experiment: &Experiment,
    runs: Vec<&'e Run>,
    pack: Option<usize>,
) -> Vec<(usize, Vec<&'e Run>)> {
    let mut groups: Vec<(usize, Vec<&'e Run>)> = Vec::new();
    for run in runs {
        let dir = layout::run_dir(committed, &experiment.name, &run.id);
        let n = pack.unwrap_or(match layout::read_engine(&dir) {
            Engine::Kernels => 1,
            Engine::Pack(n) => n,
        });
        match groups.iter_mut().find(|(m, _)| *m == n) {
            Some((_, group)) => group.push(run),
            None => groups.push((n, vec![run])),
        }
    }
    groups
}
