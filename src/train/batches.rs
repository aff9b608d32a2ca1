//! What a run feeds its model: the epoch's shuffle, the batches it cuts, and the noise.
//!
//! Kept apart from the loop so that everything random about the inputs comes from one
//! place: training, the step-for-step trace (`runner-trace`) and any other consumer see
//! the same batches for the same config. [`feed`] makes each batch beside the model's step
//! on the one before, so that drawing the noise overlaps the step.

use rand::seq::SliceRandom;

use super::ahead::Ahead;
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
}

/// One batch: clean images, row-major (pixel / 255), and the noisy ones the model sees.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    pub clean: Vec<f32>,
    pub noisy: Vec<f32>,
}

/// The random streams the batches are drawn from, where an epoch begins: with the run's
/// parameters and optimizer state, all a checkpoint needs to go on as if never stopped
/// (each epoch's order is a fresh shuffle of `0..n`, so no order is kept).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Streams {
    pub shuffle: RunRng,
    pub noise: RunRng,
}

impl<'d> Batches<'d> {
    /// The batches of the run `train` on `images`, drawn from the run's own shuffle and
    /// noise streams. `batch_size` must be at least 1.
    pub fn new(train: &TrainSettings, images: &'d Images) -> Self {
        Batches {
            images,
            batch_size: train.batch_size,
            level: train.noise_level as f32,
            shuffle: noise::stream(train.seed, Stream::Shuffle),
            noise: noise::stream(train.seed, Stream::TrainNoise),
            order: Vec::new(),
        }
    }

    /// The batches of the same run from `streams` on: the epochs after a checkpoint.
    pub fn resumed(train: &TrainSettings, images: &'d Images, streams: Streams) -> Self {
        Batches {
            shuffle: streams.shuffle,
            noise: streams.noise,
            ..Batches::new(train, images)
        }
    }

    /// The streams as they are now (between epochs: where the next epoch begins).
    pub fn streams(&self) -> Streams {
        Streams {
            shuffle: self.shuffle.clone(),
            noise: self.noise.clone(),
        }
    }

    /// A batch to fill, of the right size.
    pub fn empty_batch(&self) -> Batch {
        let len = self.batch_size * self.images.dim();
        Batch {
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

    /// Fills `batch` with batch `b` of the current epoch; batches must be taken in
    /// order, since each draws the next noise.
    pub fn fill(&mut self, b: usize, batch: &mut Batch) {
        let indices = &self.order[b * self.batch_size..(b + 1) * self.batch_size];
        self.images.fill_f32(indices, &mut batch.clean);
        noise::add_noise(&mut self.noise, self.level, &batch.clean, &mut batch.noisy);
    }
}

/// The run's batches in order across all its epochs, each made beside the step on the
/// one before. A thread of its own for them competed for the cores with the step's
/// helpers, and lost more than it overlapped.
pub type Feed<'d> = Ahead<Batch, Box<dyn FnMut(usize, &mut Batch) + Send + 'd>>;

/// Where each epoch of a feed ends: the streams after epoch `k` (counted from the feed's
/// start), recorded as the feed reaches them, for checkpoints.
pub type Boundaries = std::sync::Arc<std::sync::Mutex<std::collections::HashMap<usize, Streams>>>;

/// The batches of `epochs` epochs as a [`Feed`], each epoch shuffled at its start; the
/// streams at every epoch's end go into `boundaries`. The feed makes the first batch of
/// an epoch beside the last step of the one before, so an epoch's end is recorded
/// before that step returns.
pub fn feed<'d>(mut batches: Batches<'d>, epochs: usize, boundaries: Boundaries) -> Feed<'d> {
    let per_epoch = batches.per_epoch();
    let total = epochs * per_epoch;
    let buffers = [batches.empty_batch(), batches.empty_batch()];
    let record = move |k: usize, streams: Streams| {
        boundaries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(k, streams);
    };
    let make = move |i: usize, batch: &mut Batch| {
        let b = i % per_epoch;
        if b == 0 {
            if i > 0 {
                record(i / per_epoch, batches.streams());
            }
            batches.shuffle();
        }
        batches.fill(b, batch);
        if i + 1 == total {
            record(epochs, batches.streams());
        }
    };
    Ahead::new(total, buffers, Box::new(make))
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
        let mut batch = b.empty_batch();
        b.fill(1, &mut batch);
        assert_eq!(batch.clean, batch.noisy);
        let mut expected = vec![0.0; 10];
        imgs.fill_f32(b.indices(1), &mut expected);
        assert_eq!(batch.clean, expected);
    }

    #[test]
    fn fed_batches_are_the_batches_in_order() {
        let mut train = RunConfig::default().train;
        train.batch_size = 3;
        let imgs = images(10, 4);
        let mut direct = Vec::new();
        let mut b = Batches::new(&train, &imgs);
        for _ in 0..3 {
            b.shuffle();
            for i in 0..b.per_epoch() {
                let mut batch = b.empty_batch();
                b.fill(i, &mut batch);
                direct.push(batch.noisy);
            }
        }
        let boundaries = Boundaries::default();
        let mut feed = feed(Batches::new(&train, &imgs), 3, boundaries.clone());
        let mut fed = Vec::new();
        for _ in 0..direct.len() {
            feed.take(|batch, make_next| {
                fed.push(batch.noisy.clone());
                make_next();
                make_next();
                Ok(())
            })
            .unwrap();
        }
        assert_eq!(fed, direct);
        feed.take(|_, _| Ok(())).unwrap();
        // Resumed from the streams at an epoch's end, the batches go on as they did.
        let after_one = boundaries.lock().unwrap()[&1].clone();
        assert_eq!(boundaries.lock().unwrap().len(), 3, "epochs 1, 2, 3");
        let mut resumed = Batches::resumed(&train, &imgs, after_one);
        let mut again = Vec::new();
        for _ in 0..2 {
            resumed.shuffle();
            for i in 0..resumed.per_epoch() {
                let mut batch = resumed.empty_batch();
                resumed.fill(i, &mut batch);
                again.push(batch.noisy);
            }
        }
        assert_eq!(again, direct[3..]);
    }
}
