//! The run's own random streams.
//!
//! Every random draw of a run comes from generators derived here from its seed, never
//! from a shared or global one, so a run is a pure function of its config. Each purpose
//! (init, shuffle, training noise, test noise) gets its own stream, so that drawing more
//! or less of one (a different batch size, an extra epoch) never shifts another.
//!
//! The generator and the normal sampler fix the bits of every committed result: changing
//! either changes all costs. Xoshiro256++ feeds a vectorised Box-Muller transform
//! ([`crate::kernels::normal`]), one `u64` per pair of normals: 78,400 normals a step in
//! a fraction of the time rand_distr's one-at-a-time ziggurat took.

use rand::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::kernels;

pub type RunRng = Xoshiro256PlusPlus;

/// What a stream is used for; the discriminant is its jump count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Init = 0,
    Shuffle = 1,
    TrainNoise = 2,
    TestNoise = 3,
}

/// The generator for `stream`: the seed's Xoshiro256++ state advanced by `stream` jumps
/// of 2^128 steps, so the streams never overlap.
pub fn stream(seed: u64, stream: Stream) -> RunRng {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    for _ in 0..stream as usize {
        rng.jump();
    }
    rng
}

/// Writes `clean + level * N(0, 1)` into `noisy`, one fresh normal per pixel, unclipped
/// (as the tutorial fed its network).
pub fn add_noise<R: RngCore>(rng: &mut R, level: f32, clean: &[f32], noisy: &mut [f32]) {
    assert_eq!(clean.len(), noisy.len());
    kernels::normal::fill(rng, noisy);
    for (n, &c) in noisy.iter_mut().zip(clean) {
        *n = c + level * *n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use rand::Rng;

    #[test]
    fn streams_differ_and_repeat() {
        let a: u64 = stream(7, Stream::Init).gen();
        let b: u64 = stream(7, Stream::Shuffle).gen();
        assert_ne!(a, b);
        assert_eq!(a, stream(7, Stream::Init).gen::<u64>());
        assert_ne!(a, stream(8, Stream::Init).gen::<u64>());
    }

    #[test]
    fn noise_has_roughly_unit_variance() {
        let mut rng = stream(1, Stream::TrainNoise);
        let clean = vec![0.5f32; 100_000];
        let mut noisy = vec![0f32; clean.len()];
        add_noise(&mut rng, 2.0, &clean, &mut noisy);
        let mean = noisy.iter().map(|&x| x as f64).sum::<f64>() / noisy.len() as f64;
        let var = noisy
            .iter()
            .map(|&x| (x as f64 - mean).powi(2))
            .sum::<f64>()
            / noisy.len() as f64;
        assert!((mean - 0.5).abs() < 0.03, "mean {mean}");
        assert!((var - 4.0).abs() < 0.1, "variance {var}");
    }
}
