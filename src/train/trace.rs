//! A run's first steps, recorded so that an implementation sharing no code with runner
//! can replay them exactly (`scripts/reference/replay.py`).
//!
//! Everything random is recorded rather than re-drawn: the initial parameters, each
//! step's batch (training-set indices, clean pixels as bytes, noisy inputs as the model
//! saw them), then the cost of every step and the parameters after the last. A replay
//! that starts from these and agrees step for step shows that runner computes the
//! tutorial's model; where it parts shows where the arithmetic differs.
//!
//! The files are NumPy `.npy` (`np.load` reads them), one array each, in one folder:
//!
//! | file | dtype | shape |
//! |---|---|---|
//! | `init_w{i}.npy`, `init_b{i}.npy` | float32 | (inputs, outputs), (outputs,) of layer i |
//! | `final_w{i}.npy`, `final_b{i}.npy` | float32 | the same, after the last step |
//! | `indices.npy` | uint32 | (steps, batch): training-set rows, after the held-out 5000 |
//! | `clean.npy` | uint8 | (steps, batch, pixels): the targets, pixel = byte / 255 |
//! | `noisy.npy` | float32 | (steps, batch, pixels): the inputs |
//! | `cost.npy` | float64 | (steps,): each step's cost, before its update |
//! | `config.toml` | | the run's settings (activation, learning rate, ...) |

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use npyz::{AutoSerialize, NpyWriter, WriterBuilder};

use super::{initial_params, Batches};
use crate::config::RunConfig;
use crate::data::Dataset;
use crate::model::cpu::CpuModel;
use crate::model::Params;
use crate::report::write_atomic;

/// Trains `config` on the CPU for `steps` steps (across epochs if needed) and writes its
/// trace into `dir`; returns the per-step costs.
pub fn record(
    config: &RunConfig,
    data: &Dataset,
    steps: usize,
    dir: &Path,
) -> anyhow::Result<Vec<f64>> {
    dfdx::flush_denormals_to_zero();
    let t = &config.train;
    let data = data.capped(config.data.train_examples);
    let (dim, batch) = (data.train.dim(), t.batch_size);
    if batch == 0 || data.train.len() < batch {
        bail!(
            "batch_size {batch} needs at least that many training images, there are {}",
            data.train.len()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let params = initial_params(t, dim)?;
    write_parameters(dir, "init", &params)?;
    write_atomic(&dir.join("config.toml"), config.to_toml().as_bytes())?;

    let mut indices = Npy::<u32>::create(dir, "indices", &[steps, batch])?;
    let mut clean = Npy::<u8>::create(dir, "clean", &[steps, batch, dim])?;
    let mut noisy = Npy::<f32>::create(dir, "noisy", &[steps, batch, dim])?;
    let mut model = CpuModel::new(params, t.adam, t.learning_rate, batch);
    let mut batches = Batches::new(t, &data.train);
    let mut batch = batches.empty_batch();
    let mut costs = Vec::with_capacity(steps.min(1 << 20));
    for step in 0..steps {
        let b = step % batches.per_epoch();
        if b == 0 {
            batches.shuffle();
        }
        batches.fill(b, &mut batch);
        for &i in batches.indices(b) {
            indices.push_all(&[u32::try_from(i)?])?;
            clean.push_all(data.train.image(i))?;
        }
        noisy.push_all(&batch.noisy)?;
        costs.push(model.train_step(&batch.noisy, &batch.clean)?);
    }
    indices.finish()?;
    clean.finish()?;
    noisy.finish()?;
    let mut cost = Npy::<f64>::create(dir, "cost", &[steps])?;
    cost.push_all(&costs)?;
    cost.finish()?;
    write_parameters(dir, "final", model.params_ref())?;
    Ok(costs)
}

/// `{prefix}_w{i}.npy` and `{prefix}_b{i}.npy` for every layer.
fn write_parameters(dir: &Path, prefix: &str, params: &Params) -> anyhow::Result<()> {
    for (i, layer) in params.layers.iter().enumerate() {
        let mut w = Npy::<f32>::create(
            dir,
            &format!("{prefix}_w{i}"),
            &[layer.inputs, layer.outputs],
        )?;
        w.push_all(params.weight(i))?;
        w.finish()?;
        let mut b = Npy::<f32>::create(dir, &format!("{prefix}_b{i}"), &[layer.outputs])?;
        b.push_all(params.bias(i))?;
        b.finish()?;
    }
    Ok(())
}

/// One `.npy` file being written: to a temporary name, renamed when finished, so an
/// interrupted trace never leaves a file that looks whole.
struct Npy<T: AutoSerialize + Copy> {
    writer: NpyWriter<T, BufWriter<File>>,
    tmp: PathBuf,
    path: PathBuf,
}

impl<T: AutoSerialize + Copy> Npy<T> {
    fn create(dir: &Path, name: &str, shape: &[usize]) -> anyhow::Result<Self> {
        let path = dir.join(format!("{name}.npy"));
        let tmp = dir.join(format!("{name}.npy.tmp"));
        let file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
        let writer = npyz::WriteOptions::new()
            .default_dtype()
            .shape(&shape)
            .writer(BufWriter::new(file))
            .begin_nd()
            .with_context(|| format!("writing {}", tmp.display()))?;
        Ok(Npy { writer, tmp, path })
    }

    fn push_all(&mut self, values: &[T]) -> anyhow::Result<()> {
        self.writer
            .extend(values.iter().copied())
            .with_context(|| format!("writing {}", self.tmp.display()))
    }

    fn finish(self) -> anyhow::Result<()> {
        self.writer
            .finish()
            .with_context(|| format!("writing {}", self.tmp.display()))?;
        std::fs::rename(&self.tmp, &self.path)
            .with_context(|| format!("renaming {} to {}", self.tmp.display(), self.path.display()))
    }
}
