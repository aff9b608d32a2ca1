//! Several runs trained together as one batched computation ([`PackModel`]): the GPU's
//! loop, and the CPU's with `--pack`.
//!
//! Each run keeps everything it has alone: its initial values, shuffles, training and
//! test noise come from its own streams through the same code as a run alone
//! ([`Batches`], `TestNoise`), so a packed run sees the inputs it would see alone on
//! any device. Only the arithmetic is shared.
//!
//! The device is never kept waiting by the host: a producer thread draws the next steps'
//! shuffles and noise (each run's on its own core, via rayon) while the loop queues the
//! current one, and the loop reads costs once per epoch. A run whose cost stops being
//! finite fails at that epoch's end with the error it would have alone; it stays in the
//! pack (its slice of every operation is its own, so its NaNs reach no other run) and
//! its results are dropped.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::Instant;

use anyhow::{anyhow, bail, ensure};
use rayon::prelude::*;

use super::{batches_per_epoch, initial_params, Cancelled, EpochMetrics, Hooks, Progress, Trained};
use crate::config::{Activation, AdamFormula, RunConfig};
use crate::data::{Dataset, DatasetName, Images};
use crate::device::Slot;
use crate::model::pack::{Matrix, PackModel, Stack};
use crate::model::tensors::ModelDevice;
use crate::report;
use crate::train::batches::{Batch, Batches};
use crate::train::evaluate::TestNoise;

/// Steps the producer may draw ahead of the device: enough that a slow draw never leaves
/// the queue empty, few enough that the inputs in flight stay small.
const AHEAD: usize = 3;

/// One run of a pack: its settings and how the scheduler watches it.
pub struct Member<'a> {
    pub config: &'a RunConfig,
    pub hooks: &'a Hooks<'a>,
}

/// What runs must share to train as one pack: everything that fixes the shapes, the
/// step count and the optimizer. Seeds, init and noise level may differ.
#[derive(Clone, Debug, PartialEq)]
pub struct PackKey {
    dataset: DatasetName,
    train_examples: Option<usize>,
    hidden: Vec<usize>,
    activation: Activation,
    batch_size: usize,
    epochs: usize,
    learning_rate: u64,
    adam: AdamFormula,
}

/// The key runs are grouped by.
pub fn pack_key(config: &RunConfig) -> PackKey {
    let t = &config.train;
    PackKey {
        dataset: config.data.dataset,
        train_examples: config.data.train_examples,
        hidden: t.hidden.clone(),
        activation: t.activation,
        batch_size: t.batch_size,
        epochs: t.epochs,
        learning_rate: t.learning_rate.to_bits(),
        adam: t.adam,
    }
}

/// Trains the runs together on `slot` and writes each completed run's files into its
/// folder, as [`super::run_on`] does for one run. One result per run, in order: a
/// failure of one run (divergence, a folder that cannot be written) is that run's alone;
/// a failure of the device fails them all.
pub fn run(
    slot: Slot,
    members: &[Member],
    dirs: &[PathBuf],
    data: &Dataset,
) -> Vec<anyhow::Result<Vec<EpochMetrics>>> {
    train(slot, members, data)
        .into_iter()
        .zip(dirs)
        .map(|(trained, dir)| super::write_results(dir, trained?))
        .collect()
}

/// Trains the runs together on `slot` and returns one result per run without writing
/// anything.
pub fn train(slot: Slot, members: &[Member], data: &Dataset) -> Vec<anyhow::Result<Trained>> {
    let all = match slot {
        Slot::Cpu => train_on(&dfdx::prelude::Cpu::default(), members, data),
        Slot::Cuda(ordinal) => train_cuda(ordinal, members, data),
    };
    match all {
        Ok(each) => each,
        // One run keeps its error as it is (its type says cancelled or bad input).
        Err(e) if members.len() == 1 => vec![Err(e)],
        Err(e) => {
            let text = format!("{e:#}");
            let cancelled = e.is::<Cancelled>();
            members
                .iter()
                .map(|_| {
                    if cancelled {
                        Err(Cancelled.into())
                    } else {
                        Err(anyhow!("{text}"))
                    }
                })
                .collect()
        }
    }
}

#[cfg(feature = "cuda")]
fn train_cuda(
    ordinal: usize,
    members: &[Member],
    data: &Dataset,
) -> anyhow::Result<Vec<anyhow::Result<Trained>>> {
    use dfdx::tensor::Cache;
    let seed = members.first().map_or(0, |m| m.config.train.seed);
    let dev = dfdx::tensor::Cuda::try_build(ordinal, seed).map_err(|e| {
        anyhow!(
            "cannot open GPU cuda:{ordinal} ({e:?}); `nvidia-smi` should list it, and the CUDA libraries (libcuda, libcublas, libcublasLt) must be loadable"
        )
    })?;
    // Reuse freed device buffers instead of returning them to the driver after every
    // operation (measured on an H200: 3.0 -> 2.5 ms per step for four runs sharing it).
    dev.try_enable_cache()
        .map_err(crate::model::tensors::device_error)?;
    train_on(&dev, members, data)
}

#[cfg(not(feature = "cuda"))]
fn train_cuda(
    ordinal: usize,
    _members: &[Member],
    _data: &Dataset,
) -> anyhow::Result<Vec<anyhow::Result<Trained>>> {
    Err(crate::error::input_error(format!(
        "cuda:{ordinal}: this runner was built without CUDA; build it with `cargo build --release --features cuda` (see docs/gpu.md)"
    )))
}

/// A member's state in the loop.
struct Runner<'a> {
    member: &'a Member<'a>,
    metrics: Vec<EpochMetrics>,
    /// Why it stopped, once it has.
    failed: Option<anyhow::Error>,
}

/// The pack's loop on a dfdx device; the outer error fails every run.
fn train_on<D: ModelDevice>(
    dev: &D,
    members: &[Member],
    data: &Dataset,
) -> anyhow::Result<Vec<anyhow::Result<Trained>>> {
    dfdx::flush_denormals_to_zero();
    let first = members
        .first()
        .ok_or_else(|| anyhow!("a pack needs a run"))?;
    let key = pack_key(first.config);
    ensure!(
        members.iter().all(|m| pack_key(m.config) == key),
        "the runs of a pack must share their data, layers, batch size, epochs and optimizer"
    );
    let t = &first.config.train;
    let per_epoch = batches_per_epoch(t, data)?;
    let params = members
        .iter()
        .map(|m| initial_params(&m.config.train, data.train.dim()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut model = PackModel::new(
        dev,
        &params,
        t.adam,
        t.learning_rate,
        t.batch_size,
        &data.train,
    )?;
    let tests: Vec<TestNoise> = members
        .iter()
        .map(|m| TestNoise::new(&m.config.train))
        .collect();
    let test_set = TestSet::new(&model, &tests, &data.test)?;
    let mut runners: Vec<Runner> = members
        .iter()
        .map(|member| Runner {
            member,
            metrics: Vec::new(),
            failed: None,
        })
        .collect();
    let settings: Vec<_> = members.iter().map(|m| &m.config.train).collect();
    let cancel = first.hooks.cancel;
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let (tx, rx) = mpsc::sync_channel(AHEAD);
        let train_images = &data.train;
        let producer = std::thread::Builder::new()
            .name("runner-pack-inputs".to_string())
            .spawn_scoped(scope, move || {
                produce(&settings, train_images, per_epoch, tx)
            })?;
        for epoch in 1..=t.epochs {
            let started = Instant::now();
            for _ in 0..per_epoch {
                if cancel.load(Ordering::Relaxed) {
                    return Err(Cancelled.into());
                }
                let Ok(input) = rx.recv() else {
                    bail!("the thread drawing the pack's inputs stopped");
                };
                model.step(input.indices, input.noisy)?;
            }
            let test_sums = test_set.queue(&mut model)?;
            let clean_sums = test_set.queue_clean(&mut model)?;
            let costs = model.take_costs()?;
            let test_costs = test_set.read(test_sums);
            let clean_costs = test_set.read(clean_sums);
            let seconds = started.elapsed().as_secs_f64();
            let tests = test_costs.into_iter().zip(clean_costs);
            for ((runner, costs), test) in runners.iter_mut().zip(costs).zip(tests) {
                if runner.failed.is_none() {
                    runner.end_epoch(epoch, t.epochs, &costs, test, seconds);
                }
            }
            if runners.iter().all(|r| r.failed.is_some()) {
                break;
            }
        }
        if cancel.load(Ordering::Relaxed) {
            return Err(Cancelled.into());
        }
        drop(rx);
        producer
            .join()
            .map_err(|_| anyhow!("the thread drawing the pack's inputs panicked"))?;
        Ok(())
    })?;
    let params = model.params();
    let shown = reconstructions(&model, &tests, &data.test)?;
    Ok(runners
        .into_iter()
        .zip(params)
        .zip(shown)
        .map(|((runner, params), png)| match runner.failed {
            Some(e) => Err(e),
            None => Ok(Trained {
                params,
                metrics: runner.metrics,
                reconstruction_png: png?,
            }),
        })
        .collect())
}

impl Runner<'_> {
    /// Records an epoch from its step costs and test cost, or the failure they show, with
    /// the words [`super::train_with`] uses for a run alone.
    fn end_epoch(
        &mut self,
        epoch: usize,
        epochs: usize,
        costs: &[f64],
        (test, clean): (f64, f64),
        seconds: f64,
    ) {
        let hooks = self.member.hooks;
        if let Some((batch, cost)) = costs.iter().enumerate().find(|(_, c)| !c.is_finite()) {
            self.failed = Some(anyhow!(
                "diverged at epoch {epoch}, batch {}: cost is {cost}; try a lower learning_rate",
                batch + 1
            ));
            return;
        }
        let train_cost = (costs.iter().sum::<f64>() / costs.len() as f64) as f32;
        let (test_cost, test_cost_clean) = (test as f32, clean as f32);
        if !(test_cost.is_finite() && test_cost_clean.is_finite()) {
            self.failed = Some(anyhow!(
                "diverged at epoch {epoch}: test cost is {test_cost}; try a lower learning_rate"
            ));
            return;
        }
        (hooks.on_progress)(&Progress {
            epoch,
            epochs,
            batch: costs.len(),
            batches: costs.len(),
            cost: train_cost,
        });
        let m = EpochMetrics {
            epoch,
            train_cost,
            test_cost,
            test_cost_clean,
            seconds,
        };
        (hooks.on_epoch)(&m);
        self.metrics.push(m);
    }
}

/// A step's inputs for every run of the pack, run after run.
struct StepInput {
    indices: Vec<usize>,
    noisy: Vec<f32>,
}

/// Draws every step's inputs in order, each run's from its own streams exactly as a run
/// alone draws them, until all epochs are drawn or the loop stops listening.
fn produce(
    settings: &[&crate::config::TrainSettings],
    images: &Images,
    per_epoch: usize,
    tx: mpsc::SyncSender<StepInput>,
) {
    dfdx::flush_denormals_to_zero();
    let mut runs: Vec<(Batches, Batch)> = settings
        .iter()
        .map(|t| {
            let batches = Batches::new(t, images);
            let batch = batches.empty_batch();
            (batches, batch)
        })
        .collect();
    let epochs = settings.first().map_or(0, |t| t.epochs);
    let per_run = settings.first().map_or(0, |t| t.batch_size) * images.dim();
    for _ in 0..epochs {
        runs.par_iter_mut().for_each(|(b, _)| b.shuffle());
        for step in 0..per_epoch {
            let mut noisy = vec![0f32; per_run * runs.len()];
            runs.par_iter_mut()
                .zip(noisy.par_chunks_mut(per_run))
                .for_each(|((b, batch), slot)| {
                    b.fill(step, batch);
                    slot.copy_from_slice(&batch.noisy);
                });
            let input = StepInput {
                indices: runs
                    .iter()
                    .flat_map(|(b, _)| b.indices(step))
                    .copied()
                    .collect(),
                noisy,
            };
            if tx.send(input).is_err() {
                return;
            }
        }
    }
}

/// Every run's noisy test images on the device, drawn once (each run's noise is the same
/// every epoch), in chunks as [`TestNoise`] draws them, with the clean images shared.
struct TestSet<D: ModelDevice> {
    chunks: Vec<(Stack<D>, Matrix<D>)>,
    /// Pixels in the test set, the cost's denominator.
    values: f64,
}

impl<D: ModelDevice> TestSet<D> {
    fn new(model: &PackModel<D>, tests: &[TestNoise], images: &Images) -> anyhow::Result<Self> {
        let runs = tests.len();
        let mut noisy: Vec<Vec<Vec<f32>>> = vec![Vec::new(); runs];
        let mut clean: Vec<Vec<f32>> = Vec::new();
        let drawn: Vec<anyhow::Result<Vec<Vec<f32>>>> = tests
            .par_iter()
            .map(|test| {
                let mut chunks = Vec::new();
                test.chunks(images, |_, n| {
                    chunks.push(n.to_vec());
                    Ok(())
                })?;
                Ok(chunks)
            })
            .collect();
        for (run, chunks) in drawn.into_iter().enumerate() {
            noisy[run] = chunks?;
        }
        tests[0].chunks(images, |c, _| {
            clean.push(c.to_vec());
            Ok(())
        })?;
        let dim = images.dim();
        let chunks = clean
            .into_iter()
            .enumerate()
            .map(|(i, clean)| {
                let rows = clean.len() / dim;
                let stacked: Vec<f32> = noisy
                    .iter()
                    .flat_map(|run| run[i].iter().copied())
                    .collect();
                (model.upload(stacked, rows), model.upload_images(clean))
            })
            .collect();
        Ok(TestSet {
            chunks,
            values: (images.len() * dim) as f64,
        })
    }

    /// Queues every run's squared error on every chunk.
    fn queue(&self, model: &mut PackModel<D>) -> anyhow::Result<Vec<Stack<D>>> {
        self.chunks
            .iter()
            .map(|(noisy, clean)| model.squared_errors(noisy, clean))
            .collect()
    }

    /// Queues every run's squared error on every chunk of the clean images.
    fn queue_clean(&self, model: &mut PackModel<D>) -> anyhow::Result<Vec<Stack<D>>> {
        self.chunks
            .iter()
            .map(|(_, clean)| model.clean_squared_errors(clean))
            .collect()
    }

    /// Each run's test cost from the queued sums: chunk sums added in f64, over all pixels.
    fn read(&self, sums: Vec<Stack<D>>) -> Vec<f64> {
        let mut total: Vec<f64> = Vec::new();
        for chunk in sums {
            let values = chunk.as_vec();
            total.resize(values.len(), 0.0);
            for (t, v) in total.iter_mut().zip(values) {
                *t += v as f64;
            }
        }
        total.into_iter().map(|t| t / self.values).collect()
    }
}

/// Each run's `reconstruction.png`: its first test images clean, noisy as its test cost
/// sees them, and as it reconstructs them.
fn reconstructions<D: ModelDevice>(
    model: &PackModel<D>,
    tests: &[TestNoise],
    images: &Images,
) -> anyhow::Result<Vec<anyhow::Result<Vec<u8>>>> {
    let shown: Vec<(Vec<f32>, Vec<f32>, usize)> = tests.iter().map(|t| t.shown(images)).collect();
    let count = shown.first().map_or(0, |s| s.2);
    let inputs: Vec<f32> = shown
        .iter()
        .flat_map(|(_, n, _)| n.iter().copied())
        .collect();
    let out = model.reconstruct(&model.upload(inputs, count));
    let per_run = (count * images.dim()).max(1);
    Ok(shown
        .iter()
        .zip(out.chunks(per_run))
        .map(|((clean, noisy, _), out)| {
            report::reconstruction::render(&[clean, noisy, out], count, images.dim())
        })
        .collect())
}
