//! One training run: data in, per-epoch costs and result files out.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use crate::config::RunConfig;
use crate::data::Dataset;

/// Costs after one epoch, as written to `metrics.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochMetrics {
    pub epoch: usize,
    /// Mean of the batch costs computed before each update (the tutorial's number).
    pub train_cost: f32,
    /// MSE on the whole test set with a noise draw fixed per run.
    pub test_cost: f32,
    pub seconds: f64,
}

/// Where a run stands, for progress bars.
#[derive(Clone, Debug)]
pub struct Progress {
    pub epoch: usize,
    pub epochs: usize,
    pub batch: usize,
    pub batches: usize,
    pub cost: f32,
}

/// How the scheduler watches and stops a run.
pub struct Hooks<'a> {
    /// Set by Ctrl-C: the run stops at the next batch and writes nothing that looks complete.
    pub cancel: &'a AtomicBool,
    pub on_progress: &'a (dyn Fn(&Progress) + Sync),
    pub on_epoch: &'a (dyn Fn(&EpochMetrics) + Sync),
}

/// Trains one run and writes its files into `dir`; `metrics.csv` is written last, so its
/// presence marks a complete run.
pub fn run(
    _config: &RunConfig,
    _data: &Dataset,
    _dir: &Path,
    _hooks: &Hooks,
) -> anyhow::Result<Vec<EpochMetrics>> {
    anyhow::bail!("training is not implemented yet")
}
