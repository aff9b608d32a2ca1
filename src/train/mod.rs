//! One training run: data in, per-epoch costs and result files out.
//!
//! The loop follows the tutorial: each epoch a fresh shuffle of the training set, batches
//! of `batch_size` with the last partial batch dropped, input = clean + noise_level *
//! N(0, 1) (unclipped), target = clean, MSE loss, Adam. After each epoch the MSE on the
//! whole test set, with a noise draw fixed per run so epochs compare (or, with
//! `eval_noise_level`, at that level with one draw fixed for every run, so runs trained
//! at different noise levels are scored on the same corrupted images), and the MSE on the
//! clean test set, which means the same in every run.

pub mod ahead;
pub mod batches;
pub mod checkpoint;
pub mod evaluate;
pub mod noise;
pub mod pack;
pub mod trace;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{bail, ensure};

use crate::config::{RunConfig, TrainSettings};
use crate::data::Dataset;
use crate::device::Slot;
use crate::error::input_error;
use crate::model::cpu::CpuModel;
use crate::model::{Params, Trainer};
use crate::report;
use crate::report::metrics::EpochMetrics;
pub use batches::{Batches, Feed};
use evaluate::{clean_cost, TestNoise};
use noise::Stream;

/// Where a run stands, for progress bars.
#[derive(Clone, Debug)]
pub struct Progress {
    pub epoch: usize,
    pub epochs: usize,
    pub batch: usize,
    pub batches: usize,
    pub cost: f32,
}

/// How the scheduler watches and steers a run.
pub struct Hooks<'a> {
    /// Set by Ctrl-C: the run stops at the next batch and writes nothing that looks complete.
    pub cancel: &'a AtomicBool,
    pub on_progress: &'a (dyn Fn(&Progress) + Sync),
    pub on_epoch: &'a (dyn Fn(&EpochMetrics) + Sync),
    /// Threads the run may use from now on (cores the other runs leave idle); asked
    /// before every step. Results never depend on it.
    pub threads: &'a (dyn Fn() -> usize + Sync),
}

impl Hooks<'_> {
    /// Hooks that report nothing, never cancel, and keep the run on one thread.
    pub fn quiet(cancel: &AtomicBool) -> Hooks<'_> {
        Hooks {
            cancel,
            on_progress: &|_| {},
            on_epoch: &|_| {},
            threads: &|| 1,
        }
    }
}

/// Trains one run on the CPU and writes its files into `dir`: `model.safetensors`,
/// `reconstruction.png`, then `metrics.csv` last, so its presence marks a complete run.
/// A cancelled or failed run writes nothing that looks complete: at most the checkpoint
/// of its last finished epoch, which the next attempt goes on from.
pub fn run(
    config: &RunConfig,
    data: &Dataset,
    dir: &Path,
    hooks: &Hooks,
) -> anyhow::Result<Vec<EpochMetrics>> {
    run_on(Slot::Cpu, config, data, dir, hooks)
}

/// [`run`] on the device of `slot`: the CPU, or a GPU (a clear error where this build has
/// no CUDA or the GPU cannot be opened).
pub fn run_on(
    slot: Slot,
    config: &RunConfig,
    data: &Dataset,
    dir: &Path,
    hooks: &Hooks,
) -> anyhow::Result<Vec<EpochMetrics>> {
    let trained = match slot {
        Slot::Cpu => train_in(config, data, hooks, Some(dir))?,
        Slot::Cuda(ordinal) => train_cuda(ordinal, config, data, hooks)?,
    };
    write_results(dir, trained)
}

/// Writes a trained run's files into `dir`: `model.safetensors`, `reconstruction.png`,
/// then `metrics.csv` last, so its presence marks a complete run.
pub(crate) fn write_results(dir: &Path, trained: Trained) -> anyhow::Result<Vec<EpochMetrics>> {
    report::write_atomic(
        &dir.join("model.safetensors"),
        &trained.params.to_safetensors()?,
    )?;
    report::write_atomic(&dir.join("reconstruction.png"), &trained.reconstruction_png)?;
    report::write_atomic(
        &dir.join("metrics.csv"),
        report::metrics::to_csv(&trained.metrics).as_bytes(),
    )?;
    Ok(trained.metrics)
}

/// One run on a GPU: a pack of one (the GPU's engine, [`pack`]).
fn train_cuda(
    ordinal: usize,
    config: &RunConfig,
    data: &Dataset,
    hooks: &Hooks,
) -> anyhow::Result<Trained> {
    let member = pack::Member { config, hooks };
    let mut trained = pack::train(Slot::Cuda(ordinal), std::slice::from_ref(&member), data);
    trained
        .pop()
        .unwrap_or_else(|| bail!("the pack returned no run"))
}

/// What a run produced, before anything is written.
pub struct Trained {
    pub params: Params,
    pub metrics: Vec<EpochMetrics>,
    /// `reconstruction.png`, encoded.
    pub reconstruction_png: Vec<u8>,
}

/// The error a run ends with when `hooks.cancel` was set; the scheduler can tell it from
/// a failure with `err.is::<Cancelled>()`.
#[derive(Debug, thiserror::Error)]
#[error("cancelled")]
pub struct Cancelled;

/// Trains on the CPU, on the current thread (and the current rayon pool when the hooks
/// allow more threads), and returns the results without writing anything.
pub fn train(config: &RunConfig, data: &Dataset, hooks: &Hooks) -> anyhow::Result<Trained> {
    train_in(config, data, hooks, None)
}

/// [`train`] with a checkpoint after every epoch in the run folder `dir` (when given),
/// going on from the checkpoint found there, if it is of this run.
fn train_in(
    config: &RunConfig,
    data: &Dataset,
    hooks: &Hooks,
    dir: Option<&Path>,
) -> anyhow::Result<Trained> {
    let t = &config.train;
    let params = initial_params(t, data.train.dim())?;
    let mut model = CpuModel::new(params, t.adam, t.learning_rate, t.batch_size);
    let resume = dir.and_then(|d| checkpoint::read_for(d, config));
    if let (Some(c), Some(d)) = (&resume, dir) {
        tracing::info!(
            "{}: resuming from its checkpoint after epoch {} of {}",
            d.display(),
            c.epoch,
            t.epochs
        );
    }
    let saves = Saves { dir, resume };
    train_with(&mut model, config, data, hooks, saves)
}

/// Where a run's checkpoints go, and the one it goes on from.
struct Saves<'a> {
    dir: Option<&'a Path>,
    resume: Option<checkpoint::Checkpoint>,
}

/// The run's parameters before training: drawn from its own init stream, so the same
/// config starts from the same parameters on every device.
pub fn initial_params(t: &TrainSettings, dim: usize) -> anyhow::Result<Params> {
    Params::init(
        dim,
        &t.hidden,
        t.activation,
        t.init,
        t.init_scale,
        &mut noise::stream(t.seed, Stream::Init),
    )
}

/// Checks what the loop relies on; returns the number of batches per epoch.
fn batches_per_epoch(t: &TrainSettings, data: &Dataset) -> anyhow::Result<usize> {
    let dim = data.train.dim();
    ensure!(dim > 0, "the training images have no pixels");
    ensure!(
        data.test.dim() == dim,
        "training images have {dim} pixels but test images have {}",
        data.test.dim()
    );
    ensure!(!data.test.is_empty(), "the test set is empty");
    if t.batch_size == 0 {
        return Err(input_error("batch_size must be at least 1"));
    }
    let n = data.train.len();
    match n / t.batch_size {
        0 => Err(input_error(format!(
            "batch_size {} is larger than the {n} training examples",
            t.batch_size
        ))),
        batches => Ok(batches),
    }
}

/// The training loop on any engine. Everything random (init, shuffle, noise) is drawn
/// on the host from the run's own streams, so every engine sees the same numbers; only
/// the arithmetic differs.
fn train_with(
    model: &mut dyn Trainer,
    config: &RunConfig,
    data: &Dataset,
    hooks: &Hooks,
    saves: Saves,
) -> anyhow::Result<Trained> {
    // Denormals in the sigmoid's tails make steps several times slower; the flag is per
    // thread (the scheduler's rayon threads set it too).
    dfdx::flush_denormals_to_zero();
    let t = &config.train;
    let per_epoch = batches_per_epoch(t, data)?;
    let test = TestNoise::new(t);
    let interval = match model.cost_interval() {
        0 => per_epoch,
        n => n,
    };
    let (start, mut metrics, batches) = match saves.resume {
        Some(c) => {
            model.resume(&c.params, &c.adam)?;
            let batches = Batches::resumed(t, &data.train, c.streams);
            (c.epoch, c.metrics, batches)
        }
        None => (0, Vec::new(), Batches::new(t, &data.train)),
    };
    let boundaries = batches::Boundaries::default();
    let mut feed = batches::feed(batches, t.epochs - start, boundaries.clone());
    for epoch in start + 1..=t.epochs {
        let started = Instant::now();
        let sum = train_epoch(
            model,
            &mut feed,
            hooks,
            epoch,
            (per_epoch, interval),
            t.epochs,
        )?;
        if hooks.cancel.load(Ordering::Relaxed) {
            return Err(Cancelled.into());
        }
        let test_cost = test.cost(model, &data.test)? as f32;
        let test_cost_clean = clean_cost(model, &data.test)? as f32;
        if !(test_cost.is_finite() && test_cost_clean.is_finite()) {
            bail!("diverged at epoch {epoch}: test cost is {test_cost}; try a lower learning_rate");
        }
        let m = EpochMetrics {
            epoch,
            train_cost: (sum / per_epoch as f64) as f32,
            test_cost,
            test_cost_clean,
            seconds: started.elapsed().as_secs_f64(),
        };
        metrics.push(m.clone());
        if let Some(dir) = saves.dir {
            let streams = lock_boundaries(&boundaries).remove(&(epoch - start));
            let Some(streams) = streams else {
                bail!("the batch feed did not record where epoch {epoch} ends");
            };
            save(dir, model, config, streams, &metrics)?;
        }
        (hooks.on_epoch)(&m);
    }
    let reconstruction_png = test.reconstruction(model, &data.test)?;
    Ok(Trained {
        params: model.params()?,
        metrics,
        reconstruction_png,
    })
}

fn lock_boundaries(
    b: &batches::Boundaries,
) -> std::sync::MutexGuard<'_, std::collections::HashMap<usize, batches::Streams>> {
    b.lock().unwrap_or_else(|p| p.into_inner())
}

/// Writes the checkpoint after the last of `metrics`' epochs (engines that keep no
/// optimizer state on the host write none).
fn save(
    dir: &Path,
    model: &dyn Trainer,
    config: &RunConfig,
    streams: batches::Streams,
    metrics: &[EpochMetrics],
) -> anyhow::Result<()> {
    let Ok(adam) = model.adam_state() else {
        return Ok(());
    };
    let checkpoint = checkpoint::Checkpoint {
        epoch: metrics.len(),
        params: model.params()?.values,
        adam,
        streams,
        metrics: metrics.to_vec(),
        config: config.clone(),
    };
    checkpoint::write(dir, &checkpoint)
}

/// One epoch's steps; returns the sum of their costs.
fn train_epoch(
    model: &mut dyn Trainer,
    feed: &mut Feed,
    hooks: &Hooks,
    epoch: usize,
    (per_epoch, interval): (usize, usize),
    epochs: usize,
) -> anyhow::Result<f64> {
    let mut sum = 0f64;
    let mut seen = 0;
    for b in 0..per_epoch {
        if hooks.cancel.load(Ordering::Relaxed) {
            return Err(Cancelled.into());
        }
        model.set_threads((hooks.threads)());
        feed.take(|batch, make_next| model.step_beside(&batch.noisy, &batch.clean, make_next))?;
        if (b + 1) % interval == 0 || b + 1 == per_epoch {
            for cost in model.take_costs()? {
                seen += 1;
                if !cost.is_finite() {
                    bail!(
                        "diverged at epoch {epoch}, batch {seen}: cost is {cost}; try a lower learning_rate"
                    );
                }
                sum += cost;
            }
            (hooks.on_progress)(&Progress {
                epoch,
                epochs,
                batch: b + 1,
                batches: per_epoch,
                cost: (sum / seen as f64) as f32,
            });
        }
    }
    Ok(sum)
}
