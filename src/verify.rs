//! `--verify`: do committed results still reproduce? The runs are trained again into a
//! temporary folder and their cost columns compared with the committed `metrics.csv`.

use std::path::Path;

use crate::config::{Experiment, Run};
use crate::layout::{self, RunState};
use crate::report::metrics::{EpochMetrics, COSTS};

/// How one run's fresh costs compare with its committed ones.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Every cost matches bit for bit.
    Identical,
    /// Largest absolute and relative difference over both cost columns.
    Differs { max_abs: f64, max_rel: f64 },
    /// Cannot be compared: no committed results, another config, a failed rerun...
    Missing(String),
}

impl Verdict {
    pub fn passes(&self, tolerance: f64) -> bool {
        match self {
            Verdict::Identical => true,
            Verdict::Differs { max_abs, .. } => *max_abs <= tolerance,
            Verdict::Missing(_) => false,
        }
    }
}

/// Compares two cost tables epoch by epoch.
pub fn compare(committed: &[EpochMetrics], fresh: &[EpochMetrics]) -> Verdict {
    if committed.len() != fresh.len() {
        return Verdict::Missing(format!(
            "{} epochs committed, {} rerun",
            committed.len(),
            fresh.len()
        ));
    }
    // Every per-epoch cost the committed file has (one from before the clean test cost
    // was measured has NaN there, and compares the other two).
    let pairs = committed.iter().zip(fresh).flat_map(|(a, b)| {
        COSTS
            .iter()
            .map(|c| ((c.get)(a), (c.get)(b)))
            .filter(|(a, _)| !a.is_nan())
            .collect::<Vec<_>>()
    });
    let mut identical = true;
    let (mut max_abs, mut max_rel) = (0f64, 0f64);
    for (a, b) in pairs {
        identical &= a.to_bits() == b.to_bits();
        let abs = (a as f64 - b as f64).abs();
        let abs = if abs.is_nan() { f64::INFINITY } else { abs };
        max_abs = max_abs.max(abs);
        max_rel = max_rel.max(abs / (a as f64).abs().max(f64::MIN_POSITIVE));
    }
    if identical {
        Verdict::Identical
    } else {
        Verdict::Differs { max_abs, max_rel }
    }
}

/// Whether `committed_out` holds complete results of `run`'s config to compare with.
pub fn has_committed(committed_out: &Path, experiment: &Experiment, run: &Run) -> bool {
    let dir = layout::run_dir(committed_out, &experiment.name, &run.id);
    matches!(layout::read_state(&dir, &run.config), RunState::Complete(_))
}

/// The verdict for `run`: committed results under `committed_out`, fresh ones under
/// `fresh_out`.
pub fn verdict(
    committed_out: &Path,
    fresh_out: &Path,
    experiment: &Experiment,
    run: &Run,
) -> Verdict {
    let committed_dir = layout::run_dir(committed_out, &experiment.name, &run.id);
    let committed = match layout::read_state(&committed_dir, &run.config) {
        RunState::Complete(m) => m,
        RunState::OtherConfig(why) => {
            return Verdict::Missing(format!("committed results are of {why}"))
        }
        _ => {
            return Verdict::Missing(format!(
                "no complete results in {}",
                committed_dir.display()
            ))
        }
    };
    let fresh_dir = layout::run_dir(fresh_out, &experiment.name, &run.id);
    match layout::read_state(&fresh_dir, &run.config) {
        RunState::Complete(fresh) => compare(&committed, &fresh),
        RunState::Failed(e) => Verdict::Missing(format!("the rerun failed: {e}")),
        _ => Verdict::Missing("the rerun did not complete".into()),
    }
}

/// A table of `(run id, verdict)`, one line each.
pub fn table(rows: &[(String, Verdict)], tolerance: f64) -> String {
    let width = rows
        .iter()
        .map(|(id, _)| id.len())
        .max()
        .unwrap_or(0)
        .max(6);
    let mut out = format!(
        "{:<width$}  {:<9}  {:>12}  {:>12}\n",
        "run_id", "result", "max_abs", "max_rel"
    );
    for (id, v) in rows {
        let line = match v {
            Verdict::Identical => {
                format!("{id:<width$}  {:<9}  {:>12}  {:>12}", "identical", "0", "0")
            }
            Verdict::Differs { max_abs, max_rel } => format!(
                "{id:<width$}  {:<9}  {max_abs:>12.3e}  {max_rel:>12.3e}",
                if v.passes(tolerance) {
                    "within"
                } else {
                    "DRIFTS"
                }
            ),
            Verdict::Missing(why) => format!("{id:<width$}  {:<9}  {why}", "MISSING"),
        };
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(costs: &[(f32, f32)]) -> Vec<EpochMetrics> {
        costs
            .iter()
            .enumerate()
            .map(|(i, &(train_cost, test_cost))| EpochMetrics {
                epoch: i + 1,
                train_cost,
                test_cost,
                test_cost_clean: test_cost / 2.0,
                seconds: i as f64,
            })
            .collect()
    }

    #[test]
    fn identical_ignores_seconds() {
        let a = m(&[(0.5, 0.4), (0.3, 0.2)]);
        let mut b = a.clone();
        b[1].seconds = 99.0;
        assert_eq!(compare(&a, &b), Verdict::Identical);
    }

    #[test]
    fn differences_are_measured_and_judged_by_tolerance() {
        let v = compare(&m(&[(0.5, 0.4)]), &m(&[(0.5, 0.41)]));
        let Verdict::Differs { max_abs, max_rel } = v.clone() else {
            panic!("{v:?}")
        };
        assert!((max_abs - 0.01).abs() < 1e-6);
        assert!((max_rel - 0.025).abs() < 1e-5);
        assert!(!v.passes(0.0));
        assert!(v.passes(0.02));
        assert!(table(&[("r".into(), v)], 0.0).contains("DRIFTS"));
    }

    #[test]
    fn nan_and_length_mismatch_never_pass() {
        assert!(!compare(&m(&[(0.5, 0.4)]), &m(&[(f32::NAN, 0.4)])).passes(1.0));
        assert!(!compare(&m(&[(0.5, 0.4)]), &m(&[])).passes(1.0));
    }
}
