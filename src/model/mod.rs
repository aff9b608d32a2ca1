//! The denoising autoencoder and its optimizer on dfdx.
//!
//! Depth and widths come from the experiment file at run time, and dfdx 0.13's `nn`
//! layers are const-generic only, so the parameters are plain runtime-shaped tensors and
//! the forward pass is written out with tensor ops. A const-generic `nn` model trained
//! with `optim::Adam` is the test oracle (`tests/model_oracle.rs`): equal costs, bit for
//! bit, from equal weights and batches.

pub mod adam;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use anyhow::{bail, ensure, Context};
use dfdx::losses::mse_loss;
use dfdx::prelude::{
    Axis, Cpu, Device, Gradients, HasShape, Merge, NoneTape, OwnedTape, Tape, Tensor,
};
use dfdx::tensor::{AsArray, PutTape, TensorToArray, Trace};
use dfdx::tensor_ops::{Backward, BroadcastTo, TryMatMul};
use rand::Rng;
use rand_distr::{Distribution, Uniform};

use crate::config::{Activation, Init};

pub use adam::Adam;

/// A batch of images, one per row, on device `D`.
pub type Matrix<D = Cpu, T = NoneTape> = Tensor<(usize, usize), f32, D, T>;

/// A dfdx device the model trains on: any [`Device<f32>`] that can read a scalar back
/// (the cost), plus how it computes the first layer's product.
///
/// The training loop is one generic piece over this trait; the devices differ only in
/// [`ModelDevice::first_matmul`].
pub trait ModelDevice: Device<f32> + TensorToArray<(), f32, Array = f32> {
    /// `x W` for the first layer, taped for the backward pass.
    ///
    /// By default dfdx's own matmul on the traced input, which also computes the input's
    /// gradient that nothing reads. The CPU skips that work (see [`Cpu`]'s impl).
    fn first_matmul(layer: &Layer<Self>, x: &Input<Self>) -> Matrix<Self, OwnedTape<f32, Self>> {
        dfdx_first_matmul(layer, x)
    }
}

/// `x W` with dfdx's matmul on the traced input, as dfdx's `nn::Linear` computes it.
fn dfdx_first_matmul<D: ModelDevice>(
    layer: &Layer<D>,
    x: &Input<D>,
) -> Matrix<D, OwnedTape<f32, D>> {
    x.tensor
        .clone()
        .leaky_traced()
        .matmul(layer.weight.retaped::<OwnedTape<f32, D>>())
}

impl ModelDevice for Cpu {
    fn first_matmul(layer: &Layer, x: &Input) -> Matrix<Cpu, OwnedTape<f32, Cpu>> {
        first_matmul_cpu(layer, x)
    }
}

/// dfdx's CUDA device: dfdx's matmul (cuBLAS) for the first layer too.
#[cfg(feature = "cuda")]
impl ModelDevice for dfdx::tensor::Cuda {}

/// A device error as an [`anyhow::Error`]: dfdx's error types are `Debug + Display`, but
/// `CudaError` is no `std::error::Error`, so `?` cannot convert it.
pub(crate) fn device_error<E: fmt::Display>(e: E) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// One fully connected layer: `activation(x W + b)`.
#[derive(Clone, Debug)]
pub struct Layer<D: ModelDevice = Cpu> {
    /// Shape (inputs, outputs), so that a batch of rows multiplies it without a transpose.
    pub weight: Tensor<(usize, usize), f32, D>,
    pub bias: Tensor<(usize,), f32, D>,
    pub activation: Activation,
}

impl<D: ModelDevice> Layer<D> {
    pub fn inputs(&self) -> usize {
        self.weight.shape().0
    }

    pub fn outputs(&self) -> usize {
        self.weight.shape().1
    }

    fn forward<T: Tape<f32, D> + Merge<T>>(&self, x: Matrix<D, T>) -> Matrix<D, T> {
        self.bias_activation(x.matmul(self.weight.retaped::<T>()))
    }

    /// `activation(xw + b)` from the product `xw`.
    fn bias_activation<T: Tape<f32, D> + Merge<T>>(&self, xw: Matrix<D, T>) -> Matrix<D, T> {
        let batch = xw.shape().0;
        let z = xw
            + self
                .bias
                .retaped::<T>()
                .broadcast_like::<_, Axis<0>>(&(batch, self.outputs()));
        match self.activation {
            Activation::Sigmoid => z.sigmoid(),
            Activation::Relu => z.relu(),
            Activation::Tanh => z.tanh(),
        }
    }
}

/// `x W` for the first layer, taped so that the backward pass computes the weight's
/// gradient only.
///
/// dfdx's matmul backward always computes both operands' gradients, and the input's
/// (`dZ W^T`, a sixth of a step's matmul work) feeds nothing. Its weight gradient here is
/// the same gemm call dfdx makes (same shapes, strides, accumulation and threads), so the
/// bits are dfdx's. dfdx 0.13 does not expose a tensor's data, so the input's pixels come
/// from [`Input`]'s host copy.
fn first_matmul_cpu(layer: &Layer, x: &Input) -> Matrix<Cpu, OwnedTape<f32, Cpu>> {
    let (m, k) = x.shape();
    let n = layer.outputs();
    assert_eq!(
        k,
        layer.inputs(),
        "the input has {k} columns, the layer {} inputs",
        layer.inputs()
    );
    let xw = x.tensor.clone().matmul(layer.weight.clone());
    let (w, xw_ghost) = (layer.weight.ghost(), xw.ghost());
    let pixels = Arc::clone(&x.host);
    let mut tape = OwnedTape::<f32, Cpu>::default();
    tape.add_backward_op(move |grads| {
        grads.try_alloc_for(&w)?;
        grads.try_alloc_for(&xw_ghost)?;
        // The gradient of `xw` is only read while the weight's is written; both buffers
        // are allocated above, so looking one up cannot move the other's heap data.
        let g_xw: *const f32 = grads.get_or_alloc_mut(&xw_ghost)?.as_ptr();
        let g_w = grads.get_or_alloc_mut(&w)?;
        debug_assert_eq!(g_w.len(), k * n);
        // dW += x^T dZ: (k, m) x (m, n), row-major, as dfdx's `MatMatKernel::backward`.
        unsafe {
            gemm::gemm(
                k,
                n,
                m,
                g_w.as_mut_ptr(),
                1,
                n as isize,
                true,
                pixels.as_ptr(),
                k as isize,
                1,
                g_xw,
                1,
                n as isize,
                1.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::Rayon(rayon::current_num_threads()),
            );
        }
        Ok(())
    });
    xw.put_tape(tape)
}

/// A batch of training inputs, one image per row, held twice: as a tensor for the
/// forward pass and as host memory for the CPU's first-layer weight gradient (other
/// devices do not read the host copy).
#[derive(Clone, Debug)]
pub struct Input<D: ModelDevice = Cpu> {
    host: Arc<Vec<f32>>,
    tensor: Matrix<D>,
}

impl<D: ModelDevice> Input<D> {
    /// A zero batch of `rows` images of `cols` pixels, to be overwritten with [`Input::set`].
    pub fn zeros(dev: &D, rows: usize, cols: usize) -> Self {
        Input {
            host: Arc::new(vec![0.0; rows * cols]),
            tensor: dev.zeros_like(&(rows, cols)),
        }
    }

    /// A batch from `rows * cols` values, row-major.
    pub fn from_vec(dev: &D, data: Vec<f32>, (rows, cols): (usize, usize)) -> Self {
        assert_eq!(data.len(), rows * cols, "{rows} x {cols} values expected");
        Input {
            tensor: dev.tensor_from_vec(data.clone(), (rows, cols)),
            host: Arc::new(data),
        }
    }

    /// Overwrites the batch with `values` (rows * cols, row-major). In place once the
    /// previous step is done with it; a copy otherwise. On a GPU, `values` are copied to
    /// the device.
    pub fn set(&mut self, values: &[f32]) {
        Arc::make_mut(&mut self.host).copy_from_slice(values);
        self.tensor.copy_from(values);
    }

    /// (rows, cols).
    pub fn shape(&self) -> (usize, usize) {
        *self.tensor.shape()
    }

    pub fn tensor(&self) -> &Matrix<D> {
        &self.tensor
    }
}

/// Encoder and mirrored decoder, built for one run on that run's own device.
#[derive(Clone, Debug)]
pub struct Autoencoder<D: ModelDevice = Cpu> {
    dev: D,
    layers: Vec<Layer<D>>,
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

impl<D: ModelDevice> Autoencoder<D> {
    /// Draws the initial parameters from `rng`, layer by layer, weight (row-major) before
    /// bias, as the tutorial's graph created its variables. Hidden layers use `activation`;
    /// the output layer is always sigmoid so reconstructions stay pixel intensities.
    pub fn new<R: Rng>(
        dev: &D,
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
        let w = widths(input, hidden);
        let last = w.len() - 2;
        let mut layers = Vec::with_capacity(w.len() - 1);
        for (l, pair) in w.windows(2).enumerate() {
            let (i, o) = (pair[0], pair[1]);
            let (w_bound, b_bound) = match init {
                Init::Uniform => (init_scale, init_scale),
                Init::Xavier => (init_scale * (6.0 / (i + o) as f64).sqrt(), 0.0),
            };
            let weight = draw(rng, i * o, w_bound);
            let bias = draw(rng, o, b_bound);
            layers.push(Layer {
                weight: dev.tensor_from_vec(weight, (i, o)),
                bias: dev.tensor_from_vec(bias, (o,)),
                activation: if l == last {
                    Activation::Sigmoid
                } else {
                    activation
                },
            });
        }
        Ok(Autoencoder {
            dev: dev.clone(),
            layers,
        })
    }

    pub fn device(&self) -> &D {
        &self.dev
    }

    pub fn layers(&self) -> &[Layer<D>] {
        &self.layers
    }

    pub(crate) fn layers_mut(&mut self) -> &mut [Layer<D>] {
        &mut self.layers
    }

    /// Pixels per image, in and out.
    pub fn input_size(&self) -> usize {
        self.layers[0].inputs()
    }

    /// Works with or without a tape: training traces the input, evaluation does not.
    pub fn forward<T: Tape<f32, D> + Merge<T>>(&self, x: Matrix<D, T>) -> Matrix<D, T> {
        let mut h = x;
        for layer in &self.layers {
            h = layer.forward(h);
        }
        h
    }

    /// The mean squared error of reconstructing `clean` from `noisy`, without training.
    pub fn cost(&self, noisy: Matrix<D>, clean: Matrix<D>) -> f32 {
        mse_loss(self.forward(noisy), clean).array()
    }

    /// One Adam step on one batch; returns the cost computed before the update.
    ///
    /// A non-finite cost is returned without updating, so the caller can report where
    /// training diverged.
    pub fn train_step(
        &mut self,
        opt: &mut Adam<D>,
        noisy: &Input<D>,
        clean: Matrix<D>,
    ) -> anyhow::Result<f32> {
        let (first, rest) = self
            .layers
            .split_first()
            .context("the model has no layers")?;
        let mut h = first.bias_activation(D::first_matmul(first, noisy));
        for layer in rest {
            h = layer.forward(h);
        }
        let loss = mse_loss(h, clean);
        let cost = loss.array();
        if !cost.is_finite() {
            return Ok(cost);
        }
        let mut grads: Gradients<f32, D> = loss.backward();
        opt.update(self, &mut grads)?;
        Ok(cost)
    }

    /// The parameters as safetensors bytes: `layers.{i}.weight` with shape (inputs,
    /// outputs), so `y = activation(x W + b)`, and `layers.{i}.bias`, f32 little-endian;
    /// the activations, comma-separated, under the metadata key `activations`. Parameters
    /// on a GPU are copied to the host first.
    pub fn to_safetensors(&self) -> anyhow::Result<Vec<u8>> {
        let mut bytes: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            let (inp, out) = (layer.inputs(), layer.outputs());
            bytes.push((
                format!("layers.{i}.weight"),
                vec![inp, out],
                le_bytes(&layer.weight.as_vec()),
            ));
            bytes.push((
                format!("layers.{i}.bias"),
                vec![out],
                le_bytes(&layer.bias.as_vec()),
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

    /// Rebuilds a model written by [`Autoencoder::to_safetensors`]; the architecture comes
    /// from the stored shapes.
    pub fn from_safetensors(dev: &D, bytes: &[u8]) -> anyhow::Result<Self> {
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
        let mut layers = Vec::with_capacity(activations.len());
        for (i, &activation) in activations.iter().enumerate() {
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
            layers.push(Layer {
                weight: dev.tensor_from_vec(from_le_bytes(w.data()), (ws[0], ws[1])),
                bias: dev.tensor_from_vec(from_le_bytes(b.data()), (bs[0],)),
                activation,
            });
        }
        ensure!(!layers.is_empty(), "the model file has no layers");
        for (i, pair) in layers.windows(2).enumerate() {
            ensure!(
                pair[0].outputs() == pair[1].inputs(),
                "layer {i} has {} outputs but layer {} has {} inputs",
                pair[0].outputs(),
                i + 1,
                pair[1].inputs()
            );
        }
        Ok(Autoencoder {
            dev: dev.clone(),
            layers,
        })
    }
}

/// U(-bound, bound); a zero bound gives zeros (`Uniform` rejects an empty range).
fn draw<R: Rng>(rng: &mut R, n: usize, bound: f64) -> Vec<f32> {
    let bound = bound as f32;
    if bound > 0.0 {
        let dist = Uniform::new(-bound, bound);
        (0..n).map(|_| dist.sample(rng)).collect()
    } else {
        vec![0.0; n]
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

fn le_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_le_bytes(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfdx::tensor::TensorFromVec;
    use rand::SeedableRng;

    #[test]
    fn widths_mirror_the_encoder() {
        assert_eq!(widths(784, &[256]), vec![784, 256, 784]);
        assert_eq!(widths(784, &[256, 128]), vec![784, 256, 128, 256, 784]);
        assert_eq!(widths(784, &[]), vec![784, 784]);
    }

    #[test]
    fn output_is_sigmoid_and_xavier_biases_are_zero() {
        let dev = Cpu::default();
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(3);
        let m = Autoencoder::new(
            &dev,
            16,
            &[8, 4],
            Activation::Relu,
            Init::Xavier,
            1.0,
            &mut rng,
        )
        .unwrap();
        let acts: Vec<_> = m.layers().iter().map(|l| l.activation).collect();
        assert_eq!(
            acts,
            [
                Activation::Relu,
                Activation::Relu,
                Activation::Relu,
                Activation::Sigmoid
            ]
        );
        assert!(m
            .layers()
            .iter()
            .all(|l| l.bias.as_vec().iter().all(|&b| b == 0.0)));
        let bound = (6.0f32 / 24.0).sqrt();
        assert!(m.layers()[0]
            .weight
            .as_vec()
            .iter()
            .all(|w| w.abs() <= bound));
    }

    /// What a GPU computes for the first layer (dfdx's matmul), run on the CPU: the same
    /// product and weight gradient, bit for bit, as the CPU's own op.
    #[test]
    fn the_generic_first_matmul_matches_the_cpu_one() {
        let dev = Cpu::default();
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(5);
        let m = Autoencoder::new(
            &dev,
            12,
            &[5],
            Activation::Sigmoid,
            Init::Uniform,
            1.0,
            &mut rng,
        )
        .unwrap();
        let layer = &m.layers()[0];
        let x = Input::from_vec(&dev, draw(&mut rng, 4 * 12, 1.0), (4, 12));
        let target: Matrix = dev.tensor_from_vec(draw(&mut rng, 4 * 5, 1.0), (4, 5));
        let cpu = first_matmul_cpu(layer, &x);
        let generic = dfdx_first_matmul(layer, &x);
        assert_eq!(cpu.as_vec(), generic.as_vec());
        let g_cpu = mse_loss(cpu, target.clone()).backward();
        let g_generic = mse_loss(generic, target).backward();
        let (a, b) = (
            g_cpu.get(&layer.weight).as_vec(),
            g_generic.get(&layer.weight).as_vec(),
        );
        assert!(a.iter().any(|&g| g != 0.0));
        let bits = |v: &[f32]| v.iter().map(|g| g.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a), bits(&b));
    }

    #[test]
    fn safetensors_round_trip_is_exact() {
        let dev = Cpu::default();
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(4);
        let m = Autoencoder::new(
            &dev,
            12,
            &[5],
            Activation::Tanh,
            Init::Uniform,
            1.0,
            &mut rng,
        )
        .unwrap();
        let back = Autoencoder::from_safetensors(&dev, &m.to_safetensors().unwrap()).unwrap();
        assert_eq!(back.layers().len(), 2);
        for (a, b) in m.layers().iter().zip(back.layers()) {
            assert_eq!(a.weight.shape(), b.weight.shape());
            assert_eq!(a.weight.as_vec(), b.weight.as_vec());
            assert_eq!(a.bias.as_vec(), b.bias.as_vec());
            assert_eq!(a.activation, b.activation);
        }
    }
}
