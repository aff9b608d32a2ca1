//! What a run is scored on after each epoch: the test set corrupted with the run's fixed
//! noise draw (or the draw every run shares, at `eval_noise_level`), the clean test set,
//! and the first test images it reconstructs in `reconstruction.png`.

use super::ahead::Ahead;
use super::noise::{self, RunRng, Stream};
use crate::config::TrainSettings;
use crate::data::Images;
use crate::model::Trainer;
use crate::report;

/// Test images evaluated per forward pass: bounds memory, not results.
const TEST_CHUNK: usize = 1000;
/// Clean test images per forward pass.
const CLEAN_CHUNK: usize = 250;
/// Test images shown in `reconstruction.png`.
const SHOWN: usize = 10;

/// MSE over all pixels of the clean test images fed in as they are, summed in f64; each
/// chunk's images are made beside the model's pass over the chunk before.
pub fn clean_cost(model: &mut dyn Trainer, test: &Images) -> anyhow::Result<f64> {
    let count = test.len().div_ceil(CLEAN_CHUNK);
    let size = CLEAN_CHUNK.min(test.len()) * test.dim();
    let mut chunks = Ahead::new(count, [vec![0f32; size], vec![0f32; size]], |i, chunk| {
        let first = i * CLEAN_CHUNK;
        let indices: Vec<usize> = (first..test.len().min(first + CLEAN_CHUNK)).collect();
        chunk.resize(indices.len() * test.dim(), 0.0);
        test.fill_f32(&indices, chunk);
    });
    let mut total = 0f64;
    for _ in 0..count {
        total +=
            chunks.take(|chunk, make_next| model.squared_error_beside(chunk, chunk, make_next))?;
    }
    Ok(total / (test.len() * test.dim()) as f64)
}

/// The seed of the test noise that every run with an `eval_noise_level` shares: a
/// constant, so that every run of every experiment is scored on the same corrupted images.
pub const EVAL_NOISE_SEED: u64 = 0;

/// The run's fixed noise on the test set: the same draw every epoch, replayed from the
/// stream's start rather than stored (31 MB for MNIST's 10000 test images).
pub struct TestNoise {
    start: RunRng,
    level: f32,
}

/// A chunk of test images, clean and noisy, in buffers sized for a whole chunk.
struct Chunk {
    clean: Vec<f32>,
    noisy: Vec<f32>,
    /// Values in use (the last chunk may be short).
    len: usize,
}

impl Chunk {
    fn for_images(test: &Images) -> Self {
        let size = TEST_CHUNK.min(test.len()) * test.dim();
        Chunk {
            clean: vec![0.0; size],
            noisy: vec![0.0; size],
            len: 0,
        }
    }

    /// (clean, noisy).
    fn images(&self) -> (&[f32], &[f32]) {
        (&self.clean[..self.len], &self.noisy[..self.len])
    }
}

impl TestNoise {
    /// The run's own draw at its own noise level, or with `eval_noise_level` the draw
    /// every run shares at that level.
    pub fn new(t: &TrainSettings) -> Self {
        match t.eval_noise_level {
            None => TestNoise {
                start: noise::stream(t.seed, Stream::TestNoise),
                level: t.noise_level as f32,
            },
            Some(level) => TestNoise {
                start: noise::stream(EVAL_NOISE_SEED, Stream::TestNoise),
                level: level as f32,
            },
        }
    }

    /// MSE over all pixels of all test images, summed in f64. Each chunk's noise is
    /// drawn beside the model's pass over the chunk before.
    pub fn cost(&self, model: &mut dyn Trainer, test: &Images) -> anyhow::Result<f64> {
        let count = test.len().div_ceil(TEST_CHUNK);
        let mut rng = self.start.clone();
        let buffers = [Chunk::for_images(test), Chunk::for_images(test)];
        let mut chunks = Ahead::new(count, buffers, |i, chunk: &mut Chunk| {
            self.fill_chunk(test, &mut rng, i, chunk)
        });
        let mut total = 0f64;
        for _ in 0..count {
            total += chunks.take(|chunk, make_next| {
                let (clean, noisy) = chunk.images();
                model.squared_error_beside(noisy, clean, make_next)
            })?;
        }
        Ok(total / (test.len() * test.dim()) as f64)
    }

    /// Calls `f` with the clean and noisy images of each chunk of [`TEST_CHUNK`] test
    /// images, in order, noise drawn chunk after chunk from the stream's start.
    pub(crate) fn chunks(
        &self,
        test: &Images,
        mut f: impl FnMut(&[f32], &[f32]) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let mut rng = self.start.clone();
        let mut chunk = Chunk::for_images(test);
        for i in 0..test.len().div_ceil(TEST_CHUNK) {
            self.fill_chunk(test, &mut rng, i, &mut chunk);
            let (clean, noisy) = chunk.images();
            f(clean, noisy)?;
        }
        Ok(())
    }

    /// Chunk `i` of the test set, its noise drawn from `rng` (which must have drawn the
    /// chunks before it).
    fn fill_chunk(&self, test: &Images, rng: &mut RunRng, i: usize, chunk: &mut Chunk) {
        let first = i * TEST_CHUNK;
        let indices: Vec<usize> = (first..test.len().min(first + TEST_CHUNK)).collect();
        chunk.len = indices.len() * test.dim();
        let (clean, noisy) = (&mut chunk.clean[..chunk.len], &mut chunk.noisy[..chunk.len]);
        test.fill_f32(&indices, clean);
        noise::add_noise(rng, self.level, clean, noisy);
    }

    /// The first test images, clean and noisy (as the test cost sees them), and their
    /// count.
    pub(crate) fn shown(&self, test: &Images) -> (Vec<f32>, Vec<f32>, usize) {
        let dim = test.dim();
        let count = SHOWN.min(test.len());
        let indices: Vec<usize> = (0..count).collect();
        let mut clean = vec![0f32; count * dim];
        let mut noisy = clean.clone();
        test.fill_f32(&indices, &mut clean);
        noise::add_noise(&mut self.start.clone(), self.level, &clean, &mut noisy);
        (clean, noisy, count)
    }

    /// The first test images clean, noisy (as the test cost saw them) and reconstructed.
    pub(crate) fn reconstruction(
        &self,
        model: &mut dyn Trainer,
        test: &Images,
    ) -> anyhow::Result<Vec<u8>> {
        let (clean, noisy, count) = self.shown(test);
        let out = model.reconstruct(&noisy)?;
        report::reconstruction::render(&[&clean, &noisy, &out], count, test.dim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Activation, AdamFormula, Init, RunConfig};
    use crate::model::cpu::CpuModel;
    use crate::model::Params;
    use rand::SeedableRng;

    fn images(count: usize, dim: usize) -> Images {
        let bytes: Vec<u8> = (0..count * dim).map(|i| (i * 37 % 256) as u8).collect();
        Images::new(bytes.into(), dim)
    }

    fn model(dim: usize) -> CpuModel {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(5);
        let params =
            Params::init(dim, &[6], Activation::Tanh, Init::Uniform, 1.0, &mut rng).unwrap();
        CpuModel::new(params, AdamFormula::Tf1, 0.01, 10)
    }

    /// The clean cost as a reader would compute it: every image through the layers in
    /// f64, one value at a time.
    fn plain_clean_cost(params: &Params, test: &Images) -> f64 {
        let dim = test.dim();
        let mut pixels = vec![0f32; test.len() * dim];
        test.fill_f32(&(0..test.len()).collect::<Vec<_>>(), &mut pixels);
        let mut total = 0f64;
        for x in pixels.chunks(dim) {
            let mut h: Vec<f64> = x.iter().map(|&v| v as f64).collect();
            for (l, shape) in params.layers.iter().enumerate() {
                let (w, b) = (params.weight(l), params.bias(l));
                h = (0..shape.outputs)
                    .map(|j| {
                        let z = b[j] as f64
                            + (0..shape.inputs)
                                .map(|i| h[i] * w[i * shape.outputs + j] as f64)
                                .sum::<f64>();
                        match shape.activation {
                            Activation::Sigmoid => 1.0 / (1.0 + (-z).exp()),
                            Activation::Relu => z.max(0.0),
                            Activation::Tanh => z.tanh(),
                        }
                    })
                    .collect();
            }
            total += h
                .iter()
                .zip(x)
                .map(|(o, &c)| (o - c as f64).powi(2))
                .sum::<f64>();
        }
        total / (test.len() * dim) as f64
    }

    #[test]
    fn the_clean_cost_is_the_plain_forward_pass() {
        // 2500 images: three chunks, the last one short.
        let test = images(2500, 20);
        let mut m = model(20);
        let fast = clean_cost(&mut m, &test).unwrap();
        let plain = plain_clean_cost(m.params_ref(), &test);
        assert!(
            ((fast - plain) / plain).abs() < 1e-6,
            "clean cost {fast}, plain forward pass {plain}"
        );
    }

    #[test]
    fn a_fixed_eval_noise_scores_every_noise_level_alike() {
        let test = images(1200, 20);
        let mut m = model(20);
        let mut a = RunConfig::default().train;
        a.noise_level = 0.1;
        a.seed = 3;
        let mut b = a.clone();
        b.noise_level = 0.9;
        b.seed = 4;
        let own = |t: &TrainSettings, m: &mut CpuModel| TestNoise::new(t).cost(m, &test).unwrap();
        assert_ne!(
            own(&a, &mut m),
            own(&b, &mut m),
            "each at its own level and draw"
        );
        a.eval_noise_level = Some(0.6);
        b.eval_noise_level = Some(0.6);
        assert_eq!(
            own(&a, &mut m).to_bits(),
            own(&b, &mut m).to_bits(),
            "one level, one draw: equal weights score equal"
        );
        let mut c = a.clone();
        c.eval_noise_level = Some(0.3);
        assert_ne!(own(&a, &mut m), own(&c, &mut m));
    }
}
