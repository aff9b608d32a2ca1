//! The denoising autoencoder and its optimizer.
//!
//! Depth and widths come from the experiment file at run time. The parameters live on
//! the host in one flat buffer, [`Params`]: that is what a run draws, saves and loads.
//! Two engines train them, behind [`Trainer`]:
//!
//! - [`cpu::CpuModel`], the CPU's step written out layer by layer over plain buffers with
//!   the kernels of [`crate::kernels`]: gemm 0.19's AVX-512 products, bias and activation
//!   in one pass, the output sigmoid fused with the cost, Adam fused into the backward
//!   pass layer by layer.
//! - [`tensors::TensorModel`], the same model as dfdx tensors trained with dfdx's ops,
//!   tape and autodiff on any dfdx device; held bit for bit to dfdx's own `nn` model.
//! - [`pack::PackModel`], that model for several runs at once, stacked on a leading run
//!   axis so each kernel is launched once for all of them: the GPU's engine, and the
//!   CPU's with `--pack`.
//!
//! dfdx 0.13 keeps a tensor's data private to the crate, so a custom operation on its
//! tape can read its inputs only by copying them; the CPU's step therefore keeps its own
//! buffers. Both engines are held to dfdx's const-generic `nn` model trained with
//! `optim::Adam` (`tests/model_oracle.rs`).

pub mod adam;
pub mod cpu;
pub mod pack;
pub mod tensors;

use std::collections::HashMap;
use std::ops::Range;

use anyhow::{bail, ensure, Context};
use rand::Rng;
use rand_distr::{Distribution, Uniform};

use crate::config::{Activation, Init};

pub use adam::{Adam, AdamState};

/// A model being trained on some device: what the training loop needs of it.
pub trait Trainer {
    /// One optimizer step on a batch (row-major images). Its cost, computed before the
    /// update, is kept until [`Trainer::take_costs`]. A step whose cost is not finite
    /// may or may not update; the loop stops at the first one.
    fn step(&mut self, noisy: &[f32], clean: &[f32]) -> anyhow::Result<()> {
        self.step_beside(noisy, clean, &mut || {})
    }

    /// [`Trainer::step`] with `beside` run meanwhile on the run's other threads, if it
    /// has any (else after the step): how the loop makes the next batch. Neither
    /// result depends on where `beside` runs.
    fn step_beside(
        &mut self,
        noisy: &[f32],
        clean: &[f32],
        beside: &mut (dyn FnMut() + Send),
    ) -> anyhow::Result<()>;

    /// The costs of the steps since the last call, in order. A GPU waits for its queue
    /// here, so the loop asks only every [`Trainer::cost_interval`] steps.
    fn take_costs(&mut self) -> anyhow::Result<Vec<f64>>;

    /// Steps between the loop's calls to [`Trainer::take_costs`]; 0 for once an epoch.
    fn cost_interval(&self) -> usize {
        10
    }

    /// The sum over all values of `(output - clean)^2` for `noisy` in, without training.
    fn squared_error(&mut self, noisy: &[f32], clean: &[f32]) -> anyhow::Result<f64> {
        self.squared_error_beside(noisy, clean, &mut || {})
    }

    /// [`Trainer::squared_error`] with `beside` run meanwhile, as in
    /// [`Trainer::step_beside`].
    fn squared_error_beside(
        &mut self,
        noisy: &[f32],
        clean: &[f32],
        beside: &mut (dyn FnMut() + Send),
    ) -> anyhow::Result<f64>;

    /// The model's outputs for the images `x`.
    fn reconstruct(&mut self, x: &[f32]) -> anyhow::Result<Vec<f32>>;

    /// The parameters as they are now.
    fn params(&self) -> anyhow::Result<Params>;

    /// Threads the next steps may use. Results never depend on it.
    fn set_threads(&mut self, _threads: usize) {}

    /// The engine's name in a checkpoint: a run resumes only on the engine that wrote
    /// its checkpoint, since another rounds differently.
    fn engine(&self) -> &'static str;

    /// The optimizer's state, for a checkpoint; an error where the engine cannot give it.
    fn adam_state(&self) -> anyhow::Result<AdamState> {
        bail!("the {} engine keeps no checkpoints", self.engine())
    }

    /// Continues from a checkpoint's parameters and optimizer state.
    fn resume(&mut self, _params: &[f32], _adam: &AdamState) -> anyhow::Result<()> {
        bail!("the {} engine keeps no checkpoints", self.engine())
    }
}

/// Where one layer's parameters sit in [`Params::values`], and what it computes:
/// `activation(x W + b)` with `W` of shape (inputs, outputs), row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerShape {
    pub inputs: usize,
    pub outputs: usize,
    pub activation: Activation,
    /// Offset of the weight; the bias follows it.
    offset: usize,
}

impl LayerShape {
    pub fn weight_range(&self) -> Range<usize> {
        self.offset..self.offset + self.inputs * self.outputs
    }

    pub fn bias_range(&self) -> Range<usize> {
        let start = self.weight_range().end;
        start..start + self.outputs
    }
}

/// All parameters of an autoencoder in one buffer, layer by layer, weight (row-major,
/// (inputs, outputs)) then bias: one Adam pass covers them all, and one copy moves them.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    pub values: Vec<f32>,
    pub layers: Vec<LayerShape>,
}

/// Layer widths from input to output: `[input, hidden..., hidden reversed..., input]`.
pub fn widths(input: usize, hidden: &[usize]) -> Vec<usize> {
    let mut w = Vec::with_capacity(2 * hidden.len() + 2);
    w.push(input);
    w.extend_from_slice(hidden);
    w.extend(hidden.iter().rev().skip(1));
    w.push(input);
    w
}

impl Params {
    /// Zero parameters for layers of these widths; hidden layers use `activation`, the
    /// output layer is always sigmoid so reconstructions stay pixel intensities.
    pub fn zeros(widths: &[usize], activation: Activation) -> Self {
        let last = widths.len().saturating_sub(2);
        let mut offset = 0;
        let layers: Vec<LayerShape> = widths
            .windows(2)
            .enumerate()
            .map(|(l, pair)| {
                let shape = LayerShape {
                    inputs: pair[0],
                    outputs: pair[1],
                    activation: if l == last {
                        Activation::Sigmoid
                    } else {
                        activation
                    },
                    offset,
                };
                offset += pair[0] * pair[1] + pair[1];
                shape
            })
            .collect();
        Params {
            values: vec![0.0; offset],
            layers,
        }
    }

    /// Draws the initial parameters from `rng`, layer by layer, weight (row-major)
    /// before bias, as the tutorial's graph created its variables.
    pub fn init<R: Rng>(
        input: usize,
        hidden: &[usize],
        activation: Activation,
        init: Init,
        init_scale: f64,
        rng: &mut R,
    ) -> anyhow::Result<Self> {
        ensure!(input > 0, "the input size must be positive");
        ensure!(
            hidden.iter().all(|&h| h > 0),
            "hidden layer widths must be positive, got {hidden:?}"
        );
        ensure!(
            init_scale.is_finite() && init_scale >= 0.0,
            "init_scale must be a finite number >= 0, got {init_scale}"
        );
        let mut params = Params::zeros(&widths(input, hidden), activation);
        for l in 0..params.layers.len() {
            let LayerShape {
                inputs, outputs, ..
            } = params.layers[l];
            let (w_bound, b_bound) = match init {
                Init::Uniform => (init_scale, init_scale),
                Init::Xavier => (init_scale * (6.0 / (inputs + outputs) as f64).sqrt(), 0.0),
            };
            let (w, b) = (
                params.layers[l].weight_range(),
                params.layers[l].bias_range(),
            );
            draw(rng, &mut params.values[w], w_bound);
            draw(rng, &mut params.values[b], b_bound);
        }
        Ok(params)
    }

    /// Pixels per image, in and out.
    pub fn input_size(&self) -> usize {
        self.layers.first().map_or(0, |l| l.inputs)
    }

    pub fn weight(&self, layer: usize) -> &[f32] {
        &self.values[self.layers[layer].weight_range()]
    }

    pub fn bias(&self, layer: usize) -> &[f32] {
        &self.values[self.layers[layer].bias_range()]
    }

    /// The parameters as safetensors bytes: `layers.{i}.weight` with shape (inputs,
    /// outputs), so `y = activation(x W + b)`, and `layers.{i}.bias`, f32 little-endian;
    /// the activations, comma-separated, under the metadata key `activations`.
    pub fn to_safetensors(&self) -> anyhow::Result<Vec<u8>> {
        let mut bytes: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            bytes.push((
                format!("layers.{i}.weight"),
                vec![layer.inputs, layer.outputs],
                le_bytes(self.weight(i)),
            ));
            bytes.push((
                format!("layers.{i}.bias"),
                vec![layer.outputs],
                le_bytes(self.bias(i)),
            ));
        }
        let mut views = Vec::with_capacity(bytes.len());
        for (name, shape, data) in &bytes {
            views.push((
                name.clone(),
                ::safetensors::tensor::TensorView::new(
                    ::safetensors::Dtype::F32,
                    shape.clone(),
                    data,
                )
                .map_err(|e| anyhow::anyhow!("{e:?}"))?,
            ));
        }
        let activations: Vec<&str> = self
            .layers
            .iter()
            .map(|l| activation_name(l.activation))
            .collect();
        // One key only: safetensors writes the metadata map in hash order, and a second
        // key would make two identical runs' files differ byte for byte.
        let metadata = HashMap::from([("activations".to_string(), activations.join(","))]);
        ::safetensors::tensor::serialize(views, &Some(metadata))
            .map_err(|e| anyhow::anyhow!("serializing the model: {e:?}"))
    }

    /// Rebuilds parameters written by [`Params::to_safetensors`]; the architecture comes
    /// from the stored shapes.
    pub fn from_safetensors(bytes: &[u8]) -> anyhow::Result<Self> {
        let st = ::safetensors::SafeTensors::deserialize(bytes)
            .map_err(|e| anyhow::anyhow!("reading safetensors: {e:?}"))?;
        let (_, meta) = ::safetensors::SafeTensors::read_metadata(bytes)
            .map_err(|e| anyhow::anyhow!("reading safetensors metadata: {e:?}"))?;
        let activations: Vec<Activation> = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get("activations"))
            .context("the model file has no activations in its metadata")?
            .split(',')
            .map(parse_activation)
            .collect::<anyhow::Result<_>>()?;
        let mut tensors = Vec::with_capacity(activations.len());
        for i in 0..activations.len() {
            let w = st
                .tensor(&format!("layers.{i}.weight"))
                .map_err(|e| anyhow::anyhow!("layer {i} weight: {e:?}"))?;
            let b = st
                .tensor(&format!("layers.{i}.bias"))
                .map_err(|e| anyhow::anyhow!("layer {i} bias: {e:?}"))?;
            let (ws, bs) = (w.shape().to_vec(), b.shape().to_vec());
            if ws.len() != 2
                || bs.len() != 1
                || bs[0] != ws[1]
                || w.dtype() != ::safetensors::Dtype::F32
                || b.dtype() != ::safetensors::Dtype::F32
            {
                bail!("layer {i}: unexpected shapes {ws:?} and {bs:?} or dtype");
            }
            tensors.push((ws, from_le_bytes(w.data()), from_le_bytes(b.data())));
        }
        ensure!(!tensors.is_empty(), "the model file has no layers");
        for (i, pair) in tensors.windows(2).enumerate() {
            ensure!(
                pair[0].0[1] == pair[1].0[0],
                "layer {i} has {} outputs but layer {} has {} inputs",
                pair[0].0[1],
                i + 1,
                pair[1].0[0]
            );
        }
        let mut widths: Vec<usize> = tensors.iter().map(|(ws, ..)| ws[0]).collect();
        widths.push(tensors[tensors.len() - 1].0[1]);
        let mut params = Params::zeros(&widths, Activation::Sigmoid);
        for (l, (layer, (_, w, b))) in params.layers.iter_mut().zip(&tensors).enumerate() {
            layer.activation = activations[l];
            params.values[layer.weight_range()].copy_from_slice(w);
            params.values[layer.bias_range()].copy_from_slice(b);
        }
        Ok(params)
    }
}

/// U(-bound, bound) into `out`; a zero bound gives zeros (`Uniform` rejects an empty range).
fn draw<R: Rng>(rng: &mut R, out: &mut [f32], bound: f64) {
    let bound = bound as f32;
    if bound > 0.0 {
        let dist = Uniform::new(-bound, bound);
        out.iter_mut().for_each(|x| *x = dist.sample(rng));
    } else {
        out.fill(0.0);
    }
}

fn activation_name(a: Activation) -> &'static str {
    match a {
        Activation::Sigmoid => "sigmoid",
        Activation::Relu => "relu",
        Activation::Tanh => "tanh",
    }
}

fn parse_activation(s: &str) -> anyhow::Result<Activation> {
    Ok(match s {
        "sigmoid" => Activation::Sigmoid,
        "relu" => Activation::Relu,
        "tanh" => Activation::Tanh,
        other => bail!("unknown activation {other:?} in the model file"),
    })
}

pub(crate) fn le_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(crate) fn from_le_bytes(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng(seed: u64) -> rand_xoshiro::Xoshiro256PlusPlus {
        rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed)
    }

    #[test]
    fn widths_mirror_the_encoder() {
        assert_eq!(widths(784, &[256]), vec![784, 256, 784]);
        assert_eq!(widths(784, &[256, 128]), vec![784, 256, 128, 256, 784]);
        assert_eq!(widths(784, &[]), vec![784, 784]);
    }

    #[test]
    fn layers_tile_the_buffer() {
        let p = Params::zeros(&[6, 4, 6], Activation::Relu);
        assert_eq!(p.values.len(), 6 * 4 + 4 + 4 * 6 + 6);
        assert_eq!(p.layers[0].bias_range(), 24..28);
        assert_eq!(p.layers[1].weight_range(), 28..52);
        assert_eq!(p.layers[1].bias_range().end, p.values.len());
    }

    #[test]
    fn output_is_sigmoid_and_xavier_biases_are_zero() {
        let p = Params::init(
            16,
            &[8, 4],
            Activation::Relu,
            Init::Xavier,
            1.0,
            &mut rng(3),
        )
        .unwrap();
        let acts: Vec<_> = p.layers.iter().map(|l| l.activation).collect();
        use Activation::{Relu, Sigmoid};
        assert_eq!(acts, [Relu, Relu, Relu, Sigmoid]);
        assert!((0..4).all(|l| p.bias(l).iter().all(|&b| b == 0.0)));
        let bound = (6.0f32 / 24.0).sqrt();
        assert!(p.weight(0).iter().all(|w| w.abs() <= bound));
        assert!(p.weight(0).iter().any(|&w| w != 0.0));
    }

    #[test]
    fn uniform_init_draws_weight_then_bias_layer_by_layer() {
        let p = Params::init(
            3,
            &[2],
            Activation::Sigmoid,
            Init::Uniform,
            1.0,
            &mut rng(9),
        )
        .unwrap();
        let mut r = rng(9);
        let dist = Uniform::new(-1.0f32, 1.0);
        let expected: Vec<f32> = (0..p.values.len()).map(|_| dist.sample(&mut r)).collect();
        assert_eq!(p.values, expected);
    }

    #[test]
    fn safetensors_round_trip_is_exact() {
        let p = Params::init(12, &[5], Activation::Tanh, Init::Uniform, 1.0, &mut rng(4)).unwrap();
        let back = Params::from_safetensors(&p.to_safetensors().unwrap()).unwrap();
        assert_eq!(back, p);
    }
}
