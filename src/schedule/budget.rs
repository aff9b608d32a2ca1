//! What a selection of runs will cost before it starts: epochs, examples and steps, and
//! a time estimate from a few steps measured on this machine, so that `--dry-run` shows
//! a sweep that would take weeks before it is started.

use std::time::{Duration, Instant};

use crate::config::{Run, RunConfig};
use crate::data::PIXELS;
use crate::model::cpu::CpuModel;
use crate::model::Trainer;
use crate::train;

/// The training a selection of runs asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Budget {
    pub runs: usize,
    pub epochs: u64,
    /// Training images seen, over all epochs of all runs.
    pub examples: u64,
    pub steps: u64,
}

/// Training images a run sees per epoch (every full batch of its training set).
fn per_epoch(config: &RunConfig) -> (u64, u64) {
    let available = config.data.dataset.train_size();
    let n = config
        .data
        .train_examples
        .map_or(available, |c| c.min(available));
    let batch = config.train.batch_size.max(1);
    let steps = (n / batch) as u64;
    (steps * batch as u64, steps)
}

/// Sums the budget of `runs`.
pub fn of(runs: &[&Run]) -> Budget {
    runs.iter().fold(Budget::default(), |b, r| {
        let epochs = r.config.train.epochs as u64;
        let (examples, steps) = per_epoch(&r.config);
        Budget {
            runs: b.runs + 1,
            epochs: b.epochs.saturating_add(epochs),
            examples: b.examples.saturating_add(epochs.saturating_mul(examples)),
            steps: b.steps.saturating_add(epochs.saturating_mul(steps)),
        }
    })
}

/// A step's cost measured on one run's architecture.
#[derive(Clone, Debug)]
pub struct Measured {
    /// The architecture measured, as `784-256-784`, and its batch size.
    pub shape: String,
    pub batch: usize,
    pub step: Duration,
    /// Seconds per parameter and image: how the estimate scales to other runs.
    rate: f64,
}

/// Measures a few steps of the largest run (by parameters times batch) on one core,
/// with synthetic inputs: no data set is needed. `None` when there is nothing to time.
pub fn measure(runs: &[&Run]) -> Option<Measured> {
    let run = runs.iter().max_by_key(|r| work(&r.config))?;
    let t = &run.config.train;
    let params = train::initial_params(t, PIXELS).ok()?;
    let shape = crate::model::widths(PIXELS, &t.hidden)
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("-");
    let mut model = CpuModel::new(params, t.adam, t.learning_rate, t.batch_size);
    let clean = vec![0.5f32; t.batch_size * PIXELS];
    let noisy = vec![0.25f32; clean.len()];
    dfdx::flush_denormals_to_zero();
    model.step(&noisy, &clean).ok()?;
    let started = Instant::now();
    let mut steps = 0u32;
    // At least 3 steps, at most a quarter of a second (a huge model: one step).
    while steps < 3 || (started.elapsed() < Duration::from_millis(250) && steps < 50) {
        model.step(&noisy, &clean).ok()?;
        steps += 1;
        if started.elapsed() > Duration::from_secs(2) {
            break;
        }
    }
    let step = started.elapsed() / steps;
    Some(Measured {
        shape,
        batch: t.batch_size,
        step,
        rate: step.as_secs_f64() / work(&run.config).max(1) as f64,
    })
}

/// Parameters times images per step: what a step's time grows with.
fn work(config: &RunConfig) -> u128 {
    let widths = crate::model::widths(PIXELS, &config.train.hidden);
    let params: u128 = widths
        .windows(2)
        .map(|w| (w[0] as u128) * (w[1] as u128) + w[1] as u128)
        .sum();
    params * config.train.batch_size as u128
}

/// Estimated wall time of `runs` with `workers` runs at a time, from `measured`: each
/// run's steps at the measured rate scaled by its work, plus its test passes (a forward
/// pass over the test set each epoch, about a third of a step per batch of images).
pub fn estimate(runs: &[&Run], measured: &Measured, workers: usize) -> Duration {
    let seconds: f64 = runs
        .iter()
        .map(|r| {
            let step = measured.rate * work(&r.config) as f64;
            let (_, steps) = per_epoch(&r.config);
            let test = crate::data::TEST_SIZE as f64 / r.config.train.batch_size.max(1) as f64;
            r.config.train.epochs as f64 * (steps as f64 + test / 3.0) * step
        })
        .sum();
    Duration::from_secs_f64(seconds / workers.clamp(1, runs.len().max(1)) as f64)
}

/// A duration for reading: `45 s`, `12 min`, `3.5 h`, `9.2 days`.
pub fn show(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 90.0 {
        format!("{s:.0} s")
    } else if s < 5400.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 172_800.0 {
        format!("{:.1} h", s / 3600.0)
    } else {
        format!("{:.1} days", s / 86_400.0)
    }
}

/// A count with thousands separators: `44,000,000`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(epochs: usize, train_examples: Option<usize>, batch_size: usize) -> Run {
        let mut config = RunConfig::default();
        config.train.epochs = epochs;
        config.train.batch_size = batch_size;
        config.data.train_examples = train_examples;
        Run {
            id: "r".into(),
            values: Vec::new(),
            config,
            trial: None,
        }
    }

    #[test]
    fn budgets_count_full_batches_only() {
        let (a, b) = (run(2, Some(250), 100), run(3, None, 100));
        let budget = of(&[&a, &b]);
        assert_eq!(budget.runs, 2);
        assert_eq!(budget.epochs, 5);
        assert_eq!(budget.examples, 2 * 200 + 3 * 55_000);
        assert_eq!(budget.steps, 2 * 2 + 3 * 550);
    }

    #[test]
    fn counts_and_durations_read_well() {
        assert_eq!(grouped(44_000_000), "44,000,000");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(show(Duration::from_secs(45)), "45 s");
        assert_eq!(show(Duration::from_secs(720)), "12 min");
        assert_eq!(show(Duration::from_secs(3 * 86_400)), "3.0 days");
    }

    #[test]
    fn the_estimate_scales_with_the_work_and_the_workers() {
        let small = run(1, Some(1000), 100);
        let measured = measure(&[&small]).unwrap();
        assert!(measured.step > Duration::ZERO);
        let one = estimate(&[&small, &small], &measured, 1);
        let two = estimate(&[&small, &small], &measured, 2);
        assert!((one.as_secs_f64() / two.as_secs_f64() - 2.0).abs() < 1e-6);
    }
}
