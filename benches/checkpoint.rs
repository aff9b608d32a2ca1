//! What an epoch checkpoint costs beside training: `cargo bench --bench checkpoint`.
//!
//! For the depth sweep's two architectures (784-256-784 and 784-256-128-256-784, batch
//! 100) on MNIST (from `$RUNNER_DATA_DIR` or `data/`, fetched if missing), on one thread:
//! the wall time of an epoch's 550 training steps and of writing the checkpoint after it
//! (gathering the parameters, Adam's state and the streams, encoding them as safetensors
//! and replacing the file atomically in a folder under `target/`), each the median of
//! rounds that alternate them, the checkpoint's size, and its share of the epoch.

mod common;

use std::time::Instant;

use common::{median, shape, timed_epoch};
use runner::config::RunConfig;
use runner::data::{self, DataOptions, DatasetName};
use runner::model::cpu::CpuModel;
use runner::model::Trainer;
use runner::report::metrics::EpochMetrics;
use runner::train::checkpoint::{self, Checkpoint};
use runner::train::{self, Batches};

const ROUNDS: usize = 7;

fn main() -> anyhow::Result<()> {
    dfdx::flush_denormals_to_zero();
    let data = data::load(DatasetName::Mnist, &DataOptions::from_env(None))?;
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR"))?;
    println!("| architecture | 550 steps | checkpoint | size | checkpoint / epoch |");
    println!("|---|---:|---:|---:|---:|");
    for hidden in [vec![256], vec![256, 128]] {
        let mut config = RunConfig::default();
        config.train.hidden = hidden.clone();
        let t = &config.train;
        let params = train::initial_params(t, data.train.dim())?;
        let mut model = CpuModel::new(params, t.adam, t.learning_rate, t.batch_size);
        let mut batches = Batches::new(t, &data.train);
        let mut batch = batches.empty_batch();
        let (mut steps, mut saves, mut metrics) = (Vec::new(), Vec::new(), Vec::new());
        for epoch in 1..=ROUNDS {
            steps.push(timed_epoch(&mut model, &mut batches, &mut batch)?);
            metrics.push(EpochMetrics {
                epoch,
                train_cost: 0.1,
                test_cost: 0.1,
                test_cost_clean: 0.1,
                seconds: 1.0,
            });
            let started = Instant::now();
            let c = Checkpoint {
                epoch,
                params: model.params()?.values,
                adam: model.adam_state()?,
                streams: batches.streams(),
                metrics: metrics.clone(),
                config: config.clone(),
            };
            checkpoint::write(dir.path(), &c)?;
            saves.push(started.elapsed().as_secs_f64());
        }
        let size = std::fs::metadata(dir.path().join(runner::layout::CHECKPOINT))?.len();
        let (s, c) = (median(steps), median(saves));
        let shape = shape(&hidden);
        println!(
            "| {shape} | {s:.3} s | {:.1} ms | {:.2} MB | {:.2}% |",
            c * 1e3,
            size as f64 / 1e6,
            100.0 * c / s
        );
    }
    Ok(())
}
