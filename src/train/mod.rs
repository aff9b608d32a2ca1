//! One training run: data in, per-epoch costs and result files out.
//!
//! The loop follows the tutorial: each epoch a fresh shuffle of the training set, batches
//! of `batch_size` with the last partial batch dropped, input = clean + noise_level *
//! N(0, 1) (unclipped), target = clean, MSE loss, Adam. After each epoch the MSE on the
//! whole test set, with a noise draw fixed per run so epochs compare.

pub mod noise;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{bail, ensure};
use dfdx::prelude::Cpu;
use rand::seq::SliceRandom;

use crate::config::RunConfig;
use crate::data::{Dataset, Images};
use crate::device::Slot;
use crate::error::input_error;
use crate::model::{Adam, Autoencoder, Input, Matrix, ModelDevice};
use crate::report;
use noise::{RunRng, Stream};

/// Costs after one epoch, as written to `metrics.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochMetrics {
    pub epoch: usize,
    /// Mean of the batch costs computed before each update (the tutorial's number).
    pub train_cost: f32,
    /// MSE on the whole test set with a noise draw fixed per run.
    pub test_cost: f32,
    /// Wall time of the epoch: its training steps and the test cost.
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

/// Trains one run on the CPU and writes its files into `dir`: `model.safetensors`,
/// `reconstruction.png`, then `metrics.csv` last, so its presence marks a complete run.
/// A cancelled or failed run writes nothing.
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
    let seed = config.train.seed;
    match slot {
        Slot::Cpu => run_with(&Cpu::seed_from_u64(seed), config, data, dir, hooks),
        Slot::Cuda(ordinal) => run_cuda(ordinal, seed, config, data, dir, hooks),
    }
}

#[cfg(feature = "cuda")]
fn run_cuda(
    ordinal: usize,
    seed: u64,
    config: &RunConfig,
    data: &Dataset,
    dir: &Path,
    hooks: &Hooks,
) -> anyhow::Result<Vec<EpochMetrics>> {
    let dev = dfdx::tensor::Cuda::try_build(ordinal, seed).map_err(|e| {
        anyhow::anyhow!(
            "cannot open GPU cuda:{ordinal} ({e:?}); `nvidia-smi` should list it, and the CUDA libraries (libcuda, libnvrtc, libcublas, libcublasLt) must be loadable"
        )
    })?;
    run_with(&dev, config, data, dir, hooks)
}

#[cfg(not(feature = "cuda"))]
fn run_cuda(
    ordinal: usize,
    _seed: u64,
    _config: &RunConfig,
    _data: &Dataset,
    _dir: &Path,
    _hooks: &Hooks,
) -> anyhow::Result<Vec<EpochMetrics>> {
    Err(input_error(format!(
        "cuda:{ordinal}: this runner was built without CUDA; build it with `cargo build --release --features cuda` (see the README's CUDA section)"
    )))
}

/// [`run`] on `dev`.
fn run_with<D: ModelDevice>(
    dev: &D,
    config: &RunConfig,
    data: &Dataset,
    dir: &Path,
    hooks: &Hooks,
) -> anyhow::Result<Vec<EpochMetrics>> {
    let trained = train_on(dev, config, data, hooks)?;
    report::write_atomic(
        &dir.join("model.safetensors"),
        &trained.model.to_safetensors()?,
    )?;
    report::write_atomic(&dir.join("reconstruction.png"), &trained.reconstruction_png)?;
    report::write_atomic(
        &dir.join("metrics.csv"),
        report::metrics::to_csv(&trained.metrics).as_bytes(),
    )?;
    Ok(trained.metrics)
}

/// What a run produced, before anything is written.
pub struct Trained<D: ModelDevice = Cpu> {
    pub model: Autoencoder<D>,
    pub metrics: Vec<EpochMetrics>,
    /// `reconstruction.png`, encoded.
    pub reconstruction_png: Vec<u8>,
}

/// The error a run ends with when `hooks.cancel` was set; the scheduler can tell it from
/// a failure with `err.is::<Cancelled>()`.
#[derive(Debug, thiserror::Error)]
#[error("cancelled")]
pub struct Cancelled;

/// Test images evaluated per forward pass: bounds memory, not results.
const TEST_CHUNK: usize = 1000;
/// Test images shown in `reconstruction.png`.
const SHOWN: usize = 10;
/// Batches between progress reports.
const PROGRESS_EVERY: usize = 10;

/// Trains on the CPU, on the current thread (and the current rayon pool, for matrix
/// products), and returns the results without writing anything.
pub fn train(config: &RunConfig, data: &Dataset, hooks: &Hooks) -> anyhow::Result<Trained> {
    train_on(&Cpu::seed_from_u64(config.train.seed), config, data, hooks)
}

/// [`train`] on `dev`. Everything random (init, shuffle, noise) is drawn on the host from
/// the run's own streams and batches are copied to the device, so every device sees the
/// same numbers; only the arithmetic differs.
pub fn train_on<D: ModelDevice>(
    dev: &D,
    config: &RunConfig,
    data: &Dataset,
    hooks: &Hooks,
) -> anyhow::Result<Trained<D>> {
    // Denormals in the sigmoid's tails make steps several times slower; the flag is per
    // thread, and results were measured bit-identical with and without it.
    dfdx::flush_denormals_to_zero();
    let t = &config.train;
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
    let batches = n / t.batch_size;
    if batches == 0 {
        return Err(input_error(format!(
            "batch_size {} is larger than the {n} training examples",
            t.batch_size
        )));
    }

    let mut model = Autoencoder::new(
        dev,
        dim,
        &t.hidden,
        t.activation,
        t.init,
        t.init_scale,
        &mut noise::stream(t.seed, Stream::Init),
    )?;
    let mut adam = Adam::new(t.learning_rate);
    let mut shuffle_rng = noise::stream(t.seed, Stream::Shuffle);
    let mut noise_rng = noise::stream(t.seed, Stream::TrainNoise);
    let test = TestNoise {
        start: noise::stream(t.seed, Stream::TestNoise),
        level: t.noise_level as f32,
    };
    let level = t.noise_level as f32;

    let mut order: Vec<usize> = Vec::with_capacity(n);
    let mut clean = vec![0f32; t.batch_size * dim];
    let mut noisy = vec![0f32; t.batch_size * dim];
    // Reused across steps: once a step's clones are dropped, `copy_from` writes in place.
    let mut clean_t: Matrix<D> = dev.zeros_like(&(t.batch_size, dim));
    let mut noisy_t = Input::zeros(dev, t.batch_size, dim);
    // Grows by one an epoch: reserving `epochs` up front aborted the process on a typo
    // such as epochs = 1000000000000.
    let mut metrics = Vec::new();

    for epoch in 1..=t.epochs {
        let started = Instant::now();
        order.clear();
        order.extend(0..n);
        order.shuffle(&mut shuffle_rng);
        let mut sum = 0f64;
        for (b, indices) in order.chunks_exact(t.batch_size).enumerate() {
            if hooks.cancel.load(Ordering::Relaxed) {
                return Err(Cancelled.into());
            }
            data.train.fill_f32(indices, &mut clean);
            noise::add_noise(&mut noise_rng, level, &clean, &mut noisy);
            clean_t.copy_from(&clean);
            noisy_t.set(&noisy);
            let cost = model.train_step(&mut adam, &noisy_t, clean_t.clone())?;
            if !cost.is_finite() {
                bail!(
                    "diverged at epoch {epoch}, batch {}: cost is {}; try a lower learning_rate",
                    b + 1,
                    cost
                );
            }
            sum += cost as f64;
            if (b + 1) % PROGRESS_EVERY == 0 || b + 1 == batches {
                (hooks.on_progress)(&Progress {
                    epoch,
                    epochs: t.epochs,
                    batch: b + 1,
                    batches,
                    cost,
                });
            }
        }
        if hooks.cancel.load(Ordering::Relaxed) {
            return Err(Cancelled.into());
        }
        let test_cost = test.cost(&model, &data.test) as f32;
        if !test_cost.is_finite() {
            bail!("diverged at epoch {epoch}: test cost is {test_cost}; try a lower learning_rate");
        }
        let m = EpochMetrics {
            epoch,
            train_cost: (sum / batches as f64) as f32,
            test_cost,
            seconds: started.elapsed().as_secs_f64(),
        };
        (hooks.on_epoch)(&m);
        metrics.push(m);
    }

    let reconstruction_png = test.reconstruction(&model, &data.test)?;
    Ok(Trained {
        model,
        metrics,
        reconstruction_png,
    })
}

/// The run's fixed noise on the test set: the same draw every epoch, replayed from the
/// stream's start rather than stored (31 MB for MNIST's 10000 test images).
struct TestNoise {
    start: RunRng,
    level: f32,
}

impl TestNoise {
    /// MSE over all pixels of all test images, in f64 across chunks.
    fn cost<D: ModelDevice>(&self, model: &Autoencoder<D>, test: &Images) -> f64 {
        let dim = test.dim();
        let mut rng = self.start.clone();
        let mut clean = vec![0f32; TEST_CHUNK.min(test.len()) * dim];
        let mut noisy = clean.clone();
        let indices: Vec<usize> = (0..test.len()).collect();
        let mut total = 0f64;
        for chunk in indices.chunks(TEST_CHUNK) {
            let len = chunk.len() * dim;
            test.fill_f32(chunk, &mut clean[..len]);
            noise::add_noise(&mut rng, self.level, &clean[..len], &mut noisy[..len]);
            let cost = model.cost(
                model
                    .device()
                    .tensor_from_vec(noisy[..len].to_vec(), (chunk.len(), dim)),
                model
                    .device()
                    .tensor_from_vec(clean[..len].to_vec(), (chunk.len(), dim)),
            );
            total += cost as f64 * chunk.len() as f64;
        }
        total / test.len() as f64
    }

    /// The first test images clean, noisy (as the test cost saw them) and reconstructed.
    fn reconstruction<D: ModelDevice>(
        &self,
        model: &Autoencoder<D>,
        test: &Images,
    ) -> anyhow::Result<Vec<u8>> {
        let dim = test.dim();
        let count = SHOWN.min(test.len());
        let indices: Vec<usize> = (0..count).collect();
        let mut clean = vec![0f32; count * dim];
        let mut noisy = clean.clone();
        test.fill_f32(&indices, &mut clean);
        noise::add_noise(&mut self.start.clone(), self.level, &clean, &mut noisy);
        let out = model
            .forward(model.device().tensor_from_vec(noisy.clone(), (count, dim)))
            .as_vec();
        report::reconstruction::render(&[&clean, &noisy, &out], count, dim)
    }
}
