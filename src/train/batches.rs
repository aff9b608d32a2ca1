//! What a run feeds its model: the epoch's shuffle, the batches it cuts, and the noise.
//!
//! Kept apart from the loop so that everything random about the inputs comes from one
//! place: training, the step-for-step trace (`runner-trace`) and any other consumer see
//! the same batches for the same config.

use rand::seq::SliceRandom;

use super::noise::{self, RunRng, Stream};
use crate::config::TrainSettings;
use crate::data::Images;

/// The training batches of one run, epoch after epoch: each epoch a fresh shuffle of the
/// whole training set, `batch_size` images a batch with the last partial batch dropped,
/// input = clean + noise_level * N(0, 1) (unclipped), as the tutorial fed its network.
pub struct Batches<'d> {
    images: &'d Images,
    batch_size: usize,
    level: f32,
    shuffle: RunRng,
    noise: RunRng,
    order: Vec<usize>,
    /// The current batch's clean images, row-major (pixel / 255).
    pub clean: Vec<f32>,
    /// The current batch's noisy images, as the model sees them.
    pub noisy: Vec<f32>,
}

impl<'d> Batches<'d> {
    /// The batches of the run `train` on `images`, drawn from the run's own shuffle and
    /// noise streams. `batch_size` must be at least 1.
    pub fn new(train: &TrainSettings, images: &'d Images) -> Self {
        let len = train.batch_size * images.dim();
        Batches {
            images,
            batch_size: train.batch_size,
            level: train.noise_level as f32,
            shuffle: noise::stream(train.seed, Stream::Shuffle),
            noise: noise::stream(train.seed, Stream::TrainNoise),
            order: Vec::new(),
            clean: vec![0.0; len],
            noisy: vec![0.0; len],
        }
    }

    /// Full batches in an epoch.
    pub fn per_epoch(&self) -> usize {
        self.images.len() / self.batch_size
    }

    /// Draws the next epoch's order.
    pub fn shuffle(&mut self) {
        self.order.clear();
        self.order.extend(0..self.images.len());
        self.order.shuffle(&mut self.shuffle);
    }

    /// The training-set indices of batch `b` of the current epoch.
    pub fn indices(&self, b: usize) -> &[usize] {
        &self.order[b * self.batch_size..(b + 1) * self.batch_size]
    }

    /// Fills [`Batches::clean`] and [`Batches::noisy`] with batch `b` of the current
    /// epoch; batches must be taken in order, since each draws the next noise.
    pub fn fill(&mut self, b: usize) {
        let indices = &self.order[b * self.batch_size..(b + 1) * self.batch_size];
        self.images.fill_f32(indices, &mut self.clean);
        noise::add_noise(&mut self.noise, self.level, &self.clean, &mut self.noisy);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RunConfig;

    fn images(n: usize, dim: usize) -> Images {
        let pixels: Vec<u8> = (0..n * dim).map(|i| (i % 251) as u8).collect();
        Images::new(pixels.into(), dim)
    }

    #[test]
    fn each_epoch_is_a_permutation_cut_into_full_batches() {
        let mut train = RunConfig::default().train;
        train.batch_size = 3;
        let imgs = images(10, 4);
        let mut b = Batches::new(&train, &imgs);
        assert_eq!(b.per_epoch(), 3);
        b.shuffle();
        let first: Vec<usize> = (0..3).flat_map(|i| b.indices(i).to_vec()).collect();
        let mut seen = first.clone();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 9, "no image twice in an epoch");
        b.shuffle();
        let second: Vec<usize> = (0..3).flat_map(|i| b.indices(i).to_vec()).collect();
        assert_ne!(first, second, "a fresh order each epoch");
    }

    #[test]
    fn noisy_is_clean_plus_scaled_noise() {
        let mut train = RunConfig::default().train;
        train.batch_size = 2;
        train.noise_level = 0.0;
        let imgs = images(4, 5);
        let mut b = Batches::new(&train, &imgs);
        b.shuffle();
        b.fill(1);
        assert_eq!(b.clean, b.noisy);
        let mut expected = vec![0.0; 10];
        imgs.fill_f32(b.indices(1), &mut expected);
        assert_eq!(b.clean, expected);
    }
}
