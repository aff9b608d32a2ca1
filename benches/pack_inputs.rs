//! What a pack's producer thread costs the host: `cargo bench --bench pack_inputs`.
//!
//! A GPU pack never waits for its inputs only if the host draws them faster than the
//! GPU consumes them. This measures one run-step's inputs as the producer draws them
//! (`Batches::fill`: 100 images of 784 pixels gathered from their bytes, plus the run's
//! Gaussian noise) in the calling thread's CPU time, median of rounds, and says how many
//! run-steps a second that makes per core: the producer spreads a pack's runs over the
//! cores (rayon), so a machine keeps up with cores times that many. Synthetic bytes (the
//! cost does not depend on the pixels).

mod common;

use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use runner::config::RunConfig;
use runner::data::Images;
use runner::train::Batches;

use common::thread_cpu_seconds;

const ROUNDS: usize = 7;
const STEPS: usize = 500;

fn main() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let bytes: Vec<u8> = (0..55_000 * 784).map(|_| rng.gen()).collect();
    let images = Images::new(Arc::<[u8]>::from(bytes), 784);
    let train = RunConfig::default().train;
    let mut batches = Batches::new(&train, &images);
    let mut batch = batches.empty_batch();
    let per_epoch = batches.per_epoch();
    let mut rounds = Vec::new();
    for _ in 0..ROUNDS {
        batches.shuffle();
        let start = thread_cpu_seconds();
        for step in 0..STEPS {
            batches.fill(step % per_epoch, &mut batch);
        }
        rounds.push((thread_cpu_seconds() - start) / STEPS as f64);
    }
    rounds.sort_by(f64::total_cmp);
    let median = rounds[ROUNDS / 2];
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "one run-step's inputs (batch {}, 784 pixels, noise): {:.1} us of CPU time (median of {ROUNDS} rounds of {STEPS})",
        train.batch_size,
        median * 1e6
    );
    println!(
        "that is {:.0} run-steps/s per core; with this machine's {cores} cores a producer keeps up with about {:.0}",
        1.0 / median,
        cores as f64 / median
    );
}
