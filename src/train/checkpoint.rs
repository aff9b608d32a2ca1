//! Epoch checkpoints: a run's whole state after an epoch, so that a killed run resumes
//! and a finished one continues to more epochs, bit for bit as if never stopped.
//!
//! The state is the parameters, Adam's moments, step count and running powers, the
//! shuffle and noise streams where the next epoch begins, and the metrics of the epochs
//! so far. The test noise and the init are drawn afresh from the seed, and each epoch's
//! order is a fresh shuffle, so nothing else carries over. It is one safetensors file
//! (`checkpoint.safetensors`): the three float buffers as tensors, everything else as
//! JSON under one metadata key, written atomically after every epoch.
//!
//! A checkpoint belongs to its run's config with any number of epochs: growing
//! `epochs` continues a run instead of training it again. Only the CPU kernels engine
//! writes them; the tensor and pack engines round differently and train from the start.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use super::batches::Streams;
use crate::config::RunConfig;
use crate::layout::CHECKPOINT;
use crate::model::{from_le_bytes, le_bytes, AdamState};
use crate::report::atomic::write_atomic;
use crate::report::metrics::EpochMetrics;

/// What the format says it is, so that another file under the name is refused.
const FORMAT: &str = "runner checkpoint 1";

/// A run's state after `epoch` epochs.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    pub epoch: usize,
    pub params: Vec<f32>,
    pub adam: AdamState,
    pub streams: Streams,
    pub metrics: Vec<EpochMetrics>,
    /// The run's config as it was trained; its `epochs` may be smaller or larger than a
    /// later run's.
    pub config: RunConfig,
}

/// The non-tensor part, as JSON in the metadata.
#[derive(Serialize, Deserialize)]
struct Meta {
    format: String,
    epoch: usize,
    adam_t: i32,
    adam_powers: [f32; 2],
    streams: Streams,
    /// `metrics.csv`'s text for the epochs so far (costs round-trip exactly).
    metrics: String,
    config: String,
}

impl Checkpoint {
    pub fn to_bytes(&self) -> anyhow::Result<Vec<u8>> {
        let meta = Meta {
            format: FORMAT.into(),
            epoch: self.epoch,
            adam_t: self.adam.t,
            adam_powers: self.adam.powers,
            streams: self.streams.clone(),
            metrics: crate::report::metrics::to_csv(&self.metrics),
            config: self.config.to_toml(),
        };
        let buffers = [
            ("params", le_bytes(&self.params)),
            ("adam.m", le_bytes(&self.adam.m)),
            ("adam.v", le_bytes(&self.adam.v)),
        ];
        let mut views = Vec::with_capacity(buffers.len());
        for (name, data) in &buffers {
            let view = ::safetensors::tensor::TensorView::new(
                ::safetensors::Dtype::F32,
                vec![data.len() / 4],
                data,
            )
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            views.push((name.to_string(), view));
        }
        let metadata = HashMap::from([("runner".to_string(), serde_json::to_string(&meta)?)]);
        ::safetensors::tensor::serialize(views, &Some(metadata))
            .map_err(|e| anyhow::anyhow!("serializing the checkpoint: {e:?}"))
    }

    pub fn from_bytes(bytes: &[u8]) -> anyhow::Result<Checkpoint> {
        let st = ::safetensors::SafeTensors::deserialize(bytes)
            .map_err(|e| anyhow::anyhow!("not a safetensors file: {e:?}"))?;
        let (_, header) = ::safetensors::SafeTensors::read_metadata(bytes)
            .map_err(|e| anyhow::anyhow!("no safetensors header: {e:?}"))?;
        let json = header
            .metadata()
            .as_ref()
            .and_then(|m| m.get("runner"))
            .context("no runner state in its metadata")?;
        let meta: Meta = serde_json::from_str(json).context("its runner state")?;
        if meta.format != FORMAT {
            bail!("format \"{}\", not \"{FORMAT}\"", meta.format);
        }
        let tensor = |name: &str| -> anyhow::Result<Vec<f32>> {
            let t = st
                .tensor(name)
                .map_err(|e| anyhow::anyhow!("tensor {name}: {e:?}"))?;
            if t.dtype() != ::safetensors::Dtype::F32 {
                bail!("tensor {name} is not f32");
            }
            Ok(from_le_bytes(t.data()))
        };
        let metrics = parse_metrics(&meta.metrics)?;
        if metrics.len() != meta.epoch {
            bail!(
                "{} epochs of metrics for epoch {}",
                metrics.len(),
                meta.epoch
            );
        }
        Ok(Checkpoint {
            epoch: meta.epoch,
            params: tensor("params")?,
            adam: AdamState {
                t: meta.adam_t,
                powers: meta.adam_powers,
                m: tensor("adam.m")?,
                v: tensor("adam.v")?,
            },
            streams: meta.streams,
            metrics,
            config: toml::from_str(&meta.config).context("its config")?,
        })
    }

    /// Whether this checkpoint can start `config`'s remaining epochs: the same run in
    /// every setting but `epochs`, and not past them.
    pub fn fits(&self, config: &RunConfig) -> bool {
        self.epoch <= config.train.epochs && self.config.same_run_as(config)
    }
}

fn parse_metrics(text: &str) -> anyhow::Result<Vec<EpochMetrics>> {
    crate::report::metrics::parse(text.as_bytes(), Path::new("its metrics"))
}

/// Writes `checkpoint` into the run folder `dir`, replacing the last one atomically.
pub fn write(dir: &Path, checkpoint: &Checkpoint) -> anyhow::Result<()> {
    write_atomic(&dir.join(CHECKPOINT), &checkpoint.to_bytes()?)
}

/// The checkpoint in `dir` that `config` can go on from, if any. One that cannot be
/// read or belongs to another config is left alone (and said so): the run then trains
/// from the start and replaces it.
pub fn read_for(dir: &Path, config: &RunConfig) -> Option<Checkpoint> {
    let path = dir.join(CHECKPOINT);
    let bytes = match read_no_follow(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(
                "{}: cannot read it ({e}); training from the start",
                path.display()
            );
            return None;
        }
    };
    match Checkpoint::from_bytes(&bytes) {
        Ok(c) if c.fits(config) => Some(c),
        Ok(c) => {
            tracing::info!(
                "{}: a checkpoint of another config or of more epochs ({}); training from the start",
                path.display(),
                c.epoch
            );
            None
        }
        Err(e) => {
            tracing::warn!("{}: {e:#}; training from the start", path.display());
            None
        }
    }
}

/// Reads a file under `--out` without following a link planted at it.
fn read_no_follow(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    crate::layout::open_no_follow(std::fs::OpenOptions::new().read(true), path)?
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::noise::{stream, Stream};

    fn sample() -> Checkpoint {
        let mut config = RunConfig::default();
        config.train.epochs = 3;
        Checkpoint {
            epoch: 2,
            params: vec![0.5, -1.25, f32::MIN_POSITIVE],
            adam: AdamState {
                t: 1100,
                powers: [0.9f32.powi(1100), 0.999f32.powi(1100)],
                m: vec![1e-9, 2.0, -3.0],
                v: vec![4e-12, 5.0, 6.0],
            },
            streams: Streams {
                shuffle: stream(7, Stream::Shuffle),
                noise: stream(7, Stream::TrainNoise),
            },
            metrics: (1..=2)
                .map(|epoch| EpochMetrics {
                    epoch,
                    train_cost: 0.1 / epoch as f32,
                    test_cost: 0.3 / 7.0,
                    test_cost_clean: 1.0 / 3.0,
                    seconds: 1.5,
                })
                .collect(),
            config,
        }
    }

    #[test]
    fn round_trips_exactly() {
        let c = sample();
        let back = Checkpoint::from_bytes(&c.to_bytes().unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn fits_the_same_run_with_more_epochs_only() {
        let c = sample();
        let mut more = c.config.clone();
        more.train.epochs = 30;
        assert!(c.fits(&more));
        let mut fewer = c.config.clone();
        fewer.train.epochs = 1;
        assert!(!c.fits(&fewer), "epoch 2 is past a 1-epoch run");
        let mut other = more.clone();
        other.train.learning_rate = 0.02;
        assert!(!c.fits(&other));
    }

    #[test]
    fn another_file_or_a_link_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CHECKPOINT), b"not a checkpoint").unwrap();
        assert!(read_for(dir.path(), &sample().config).is_none());
        write(dir.path(), &sample()).unwrap();
        assert_eq!(read_for(dir.path(), &sample().config), Some(sample()));
        #[cfg(unix)]
        {
            let other = tempfile::tempdir().unwrap();
            write(other.path(), &sample()).unwrap();
            std::fs::remove_file(dir.path().join(CHECKPOINT)).unwrap();
            std::os::unix::fs::symlink(other.path().join(CHECKPOINT), dir.path().join(CHECKPOINT))
                .unwrap();
            assert!(read_for(dir.path(), &sample().config).is_none());
        }
    }
}
