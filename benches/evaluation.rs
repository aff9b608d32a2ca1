//! What the test-set evaluation costs beside training: `cargo bench --bench evaluation`.
//!
//! For the depth sweep's two architectures (784-256-784 and 784-256-128-256-784, batch
//! 100) on MNIST (from `$RUNNER_DATA_DIR` or `data/`, fetched if missing), on one thread
//! and on every core: the wall time of an epoch's 550 training steps, of the noisy test
//! cost (10,000 test images with the run's noise) and of the clean test cost (the same
//! images without noise), each the median of rounds that alternate them, and the clean
//! pass as a share of the whole epoch (steps and both passes). The clean pass is the
//! evaluation a run makes so that runs at different noise levels compare.

mod common;

use std::time::Instant;

use common::{median, shape, timed_epoch};
use runner::config::RunConfig;
use runner::data::{self, DataOptions, DatasetName};
use runner::model::cpu::CpuModel;
use runner::model::Trainer;
use runner::train::evaluate::{clean_cost, TestNoise};
use runner::train::{self, Batches};

const ROUNDS: usize = 9;

fn main() -> anyhow::Result<()> {
    runner::schedule::init_compute_pool();
    dfdx::flush_denormals_to_zero();
    let data = data::load(DatasetName::Mnist, &DataOptions::from_env(None))?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "| architecture | threads | 550 steps | noisy test cost | clean test cost | clean / epoch |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for hidden in [vec![256], vec![256, 128]] {
        let mut config = RunConfig::default();
        config.train.hidden = hidden.clone();
        let t = &config.train;
        for threads in [1, cores] {
            let params = train::initial_params(t, data.train.dim())?;
            let mut model = CpuModel::new(params, t.adam, t.learning_rate, t.batch_size);
            model.set_threads(threads);
            let mut batches = Batches::new(t, &data.train);
            let mut batch = batches.empty_batch();
            let test = TestNoise::new(t);
            let (mut steps, mut noisy, mut clean) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..ROUNDS {
                steps.push(timed_epoch(&mut model, &mut batches, &mut batch)?);
                let started = Instant::now();
                test.cost(&mut model, &data.test)?;
                noisy.push(started.elapsed().as_secs_f64());
                let started = Instant::now();
                clean_cost(&mut model, &data.test)?;
                clean.push(started.elapsed().as_secs_f64());
            }
            let (s, n, c) = (median(steps), median(noisy), median(clean));
            let shape = shape(&hidden);
            println!(
                "| {shape} | {threads} | {s:.3} s | {:.1} ms | {:.1} ms | {:.2}% |",
                n * 1e3,
                c * 1e3,
                100.0 * c / (s + n + c)
            );
        }
    }
    Ok(())
}
