//! Per-step time of the real training loop, single thread, batch 100 (ignored by default):
//!
//! `cargo test --release --test train_speed -- --ignored --nocapture`
//!
//! Synthetic images (the speed of a step does not depend on the pixels' values much) and
//! a tiny test set, so an epoch's seconds are almost all training steps.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use runner::config::RunConfig;
use runner::data::{Dataset, DatasetName, Images};
use runner::train::{self, Hooks};

fn images(count: usize) -> Images {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
    let bytes: Vec<u8> = (0..count * 784)
        .map(|_| if rng.gen::<f32>() < 0.8 { 0 } else { rng.gen() })
        .collect();
    Images::new(Arc::<[u8]>::from(bytes), 784)
}

fn ms_per_step(hidden: &[usize]) -> f64 {
    const STEPS: usize = 200;
    let data = Dataset {
        name: DatasetName::Mnist,
        train: images(STEPS * 100),
        test: images(10),
    };
    let mut config = RunConfig::default();
    config.train.hidden = hidden.to_vec();
    config.train.epochs = 3;
    let flag = AtomicBool::new(false);
    let hooks = Hooks {
        cancel: &flag,
        on_progress: &|_| {},
        on_epoch: &|_| {},
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let trained = pool
        .install(|| train::train(&config, &data, &hooks))
        .unwrap();
    let best = trained
        .metrics
        .iter()
        .map(|m| m.seconds)
        .fold(f64::INFINITY, f64::min);
    best * 1000.0 / STEPS as f64
}

#[test]
#[ignore = "timing; run in release"]
fn step_time_of_the_tutorial_architectures() {
    let clean = vec![0.5f32; 100 * 784];
    let mut noisy = clean.clone();
    let mut rng = runner::train::noise::stream(1, runner::train::noise::Stream::TrainNoise);
    let started = std::time::Instant::now();
    for _ in 0..200 {
        runner::train::noise::add_noise(&mut rng, 0.6, &clean, &mut noisy);
    }
    println!(
        "noise: {:.3} ms/step",
        started.elapsed().as_secs_f64() * 1000.0 / 200.0
    );
    for hidden in [vec![256], vec![256, 128]] {
        println!(
            "hidden {hidden:?}: {:.2} ms/step (best of 3 epochs of 200 steps)",
            ms_per_step(&hidden)
        );
    }
}
