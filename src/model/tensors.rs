//! The autoencoder as dfdx tensors, trained with dfdx's ops, tape and autodiff on any
//! dfdx device: the GPU's path (cuBLAS products, dfdx's CUDA kernels).
//!
//! dfdx 0.13's `nn` layers are const-generic only, so the parameters are plain
//! runtime-shaped tensors and the forward pass is written out with tensor ops; dfdx's
//! `optim::Adam` needs a `TensorCollection`, which a `Vec` of such layers cannot
//! implement from outside the crate, so the update calls the same kernel,
//! `AdamConfig::try_update`, once per parameter. On the CPU this engine gives dfdx's
//! own bits (`tests/model_oracle.rs`).

use std::fmt;

use dfdx::losses::mse_loss;
use dfdx::prelude::{Axis, Cpu, Device, Gradients, HasShape, Merge, Shape, Tape, Tensor};
use dfdx::tensor::{AsArray, TensorToArray, Trace};
use dfdx::tensor_ops::{AdamConfig, Backward, BroadcastTo, TryMatMul};

use super::adam::{BETAS, EPSILON};
use super::{Params, Trainer};
use crate::config::{Activation, AdamFormula};

/// A dfdx device the model trains on: any [`Device<f32>`] that can read a scalar back.
pub trait ModelDevice: Device<f32> + TensorToArray<(), f32, Array = f32> {}

impl ModelDevice for Cpu {}

#[cfg(feature = "cuda")]
impl ModelDevice for dfdx::tensor::Cuda {}

/// A batch of images, one per row.
pub type Matrix<D = Cpu, T = dfdx::prelude::NoneTape> = Tensor<(usize, usize), f32, D, T>;

/// A device error as an [`anyhow::Error`]: dfdx's error types are `Debug + Display`, but
/// `CudaError` is no `std::error::Error`, so `?` cannot convert it.
pub(crate) fn device_error<E: fmt::Display>(e: E) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// One fully connected layer: `activation(x W + b)`. One run's layer has a weight of
/// shape (inputs, outputs), so that a batch of rows multiplies it without a transpose,
/// and a bias of (outputs,); a pack's ([`super::pack`]) stacks them on a leading run axis.
#[derive(Clone, Debug)]
pub struct Layer<D: ModelDevice = Cpu, W: Shape = (usize, usize), B: Shape = (usize,)> {
    pub weight: Tensor<W, f32, D>,
    pub bias: Tensor<B, f32, D>,
    pub activation: Activation,
}

impl<D: ModelDevice> Layer<D> {
    fn forward<T: Tape<f32, D> + Merge<T>>(&self, x: Matrix<D, T>) -> Matrix<D, T> {
        let xw = x.matmul(self.weight.retaped::<T>());
        let shape = *xw.shape();
        let z = xw
            + self
                .bias
                .retaped::<T>()
                .broadcast_like::<_, Axis<0>>(&shape);
        activate(z, self.activation)
    }
}

/// A layer's activation on dfdx tensors of any shape (one run's batch, or a pack's).
pub(super) fn activate<S: Shape, D: ModelDevice, T: Tape<f32, D>>(
    z: Tensor<S, f32, D, T>,
    activation: Activation,
) -> Tensor<S, f32, D, T> {
    match activation {
        Activation::Sigmoid => z.sigmoid(),
        Activation::Relu => z.relu(),
        Activation::Tanh => z.tanh(),
    }
}

/// A model in training on a dfdx device, with Adam's moments there too.
pub struct TensorModel<D: ModelDevice = Cpu> {
    dev: D,
    layers: Vec<Layer<D>>,
    adam: TensorAdam<D>,
    costs: Vec<f64>,
}

impl<D: ModelDevice> TensorModel<D> {
    /// `params` copied to `dev`.
    pub fn new(dev: &D, params: &Params, formula: AdamFormula, learning_rate: f64) -> Self {
        let layers = params
            .layers
            .iter()
            .enumerate()
            .map(|(l, shape)| Layer {
                weight: dev
                    .tensor_from_vec(params.weight(l).to_vec(), (shape.inputs, shape.outputs)),
                bias: dev.tensor_from_vec(params.bias(l).to_vec(), (shape.outputs,)),
                activation: shape.activation,
            })
            .collect();
        TensorModel {
            dev: dev.clone(),
            layers,
            adam: TensorAdam::new(formula, learning_rate),
            costs: Vec::new(),
        }
    }

    pub fn layers(&self) -> &[Layer<D>] {
        &self.layers
    }

    /// Works with or without a tape: training traces the input, evaluation does not.
    pub fn forward<T: Tape<f32, D> + Merge<T>>(&self, x: Matrix<D, T>) -> Matrix<D, T> {
        self.layers.iter().fold(x, |h, layer| layer.forward(h))
    }

    fn matrix(&self, values: &[f32]) -> Matrix<D> {
        let dim = self.layers[0].weight.shape().0;
        self.dev
            .tensor_from_vec(values.to_vec(), (values.len() / dim, dim))
    }

    /// One step; returns its cost. A non-finite cost leaves the parameters as they were.
    pub fn train_step(&mut self, noisy: &[f32], clean: &[f32]) -> anyhow::Result<f64> {
        let x = self.matrix(noisy).leaky_traced();
        let loss = mse_loss(self.forward(x), self.matrix(clean));
        let cost = loss.array() as f64;
        if cost.is_finite() {
            let mut grads = loss.backward();
            self.adam.update(&mut self.layers, &mut grads)?;
        }
        Ok(cost)
    }
}

/// Adam's state on a dfdx device, for models whose parameters are dfdx tensors: the
/// moments in two gradient maps, updated with dfdx's kernel one parameter at a time
/// (dfdx's `optim::Adam` needs a `TensorCollection`, which runtime-shaped layers cannot
/// be). TensorFlow 1's formula is dfdx's with epsilon divided by `sqrt(1 - b2^t)`:
/// `lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps)` equals
/// `lr m_hat / (sqrt(v_hat) + eps / sqrt(1 - b2^t))`.
pub(super) struct TensorAdam<D: ModelDevice> {
    formula: AdamFormula,
    lr: f64,
    /// Steps taken.
    t: i32,
    moment1: Gradients<f32, D>,
    moment2: Gradients<f32, D>,
}

impl<D: ModelDevice> TensorAdam<D> {
    pub(super) fn new(formula: AdamFormula, learning_rate: f64) -> Self {
        TensorAdam {
            formula,
            lr: learning_rate,
            t: 0,
            moment1: Gradients::leaky(),
            moment2: Gradients::leaky(),
        }
    }

    /// One step: every weight and bias of `layers` updated from its gradient in `grads`.
    pub(super) fn update<W: Shape, B: Shape>(
        &mut self,
        layers: &mut [Layer<D, W, B>],
        grads: &mut Gradients<f32, D>,
    ) -> anyhow::Result<()> {
        self.t += 1;
        let cfg = adam_config(self.formula, self.lr, self.t);
        for layer in layers {
            self.update_one(&cfg, &mut layer.weight, grads)?;
            self.update_one(&cfg, &mut layer.bias, grads)?;
        }
        Ok(())
    }

    /// Adam's kernel on one parameter, with its moments and its gradient in `grads`.
    fn update_one<S: Shape>(
        &mut self,
        cfg: &AdamConfig,
        param: &mut Tensor<S, f32, D>,
        grads: &mut Gradients<f32, D>,
    ) -> anyhow::Result<()> {
        let m = self.moment1.get_or_alloc_mut(param).map_err(device_error)?;
        let v = self.moment2.get_or_alloc_mut(param).map_err(device_error)?;
        let g = grads.get_or_alloc_mut(param).map_err(device_error)?;
        cfg.try_update(self.t, param, m, v, g).map_err(device_error)
    }
}

/// dfdx's Adam settings for step `t` of `formula`.
fn adam_config(formula: AdamFormula, lr: f64, t: i32) -> AdamConfig {
    let eps = match formula {
        AdamFormula::Dfdx => EPSILON,
        AdamFormula::Tf1 => EPSILON / (1.0 - BETAS[1].powi(t)).sqrt(),
    };
    AdamConfig {
        lr,
        betas: BETAS,
        eps,
        weight_decay: None,
    }
}

impl<D: ModelDevice> Trainer for TensorModel<D> {
    /// On one thread: `beside` runs after the step.
    fn step_beside(
        &mut self,
        noisy: &[f32],
        clean: &[f32],
        beside: &mut (dyn FnMut() + Send),
    ) -> anyhow::Result<()> {
        let cost = self.train_step(noisy, clean)?;
        self.costs.push(cost);
        beside();
        Ok(())
    }

    fn take_costs(&mut self) -> anyhow::Result<Vec<f64>> {
        Ok(std::mem::take(&mut self.costs))
    }

    fn squared_error_beside(
        &mut self,
        noisy: &[f32],
        clean: &[f32],
        beside: &mut (dyn FnMut() + Send),
    ) -> anyhow::Result<f64> {
        let cost = mse_loss(self.forward(self.matrix(noisy)), self.matrix(clean)).array();
        beside();
        Ok(cost as f64 * noisy.len() as f64)
    }

    fn reconstruct(&mut self, x: &[f32]) -> anyhow::Result<Vec<f32>> {
        Ok(self.forward(self.matrix(x)).as_vec())
    }

    fn engine(&self) -> &'static str {
        "tensors"
    }

    fn params(&self) -> anyhow::Result<Params> {
        let widths: Vec<usize> = std::iter::once(self.layers[0].weight.shape().0)
            .chain(self.layers.iter().map(|l| l.weight.shape().1))
            .collect();
        let mut params = Params::zeros(&widths, Activation::Sigmoid);
        for (shape, layer) in params.layers.iter_mut().zip(&self.layers) {
            shape.activation = layer.activation;
            params.values[shape.weight_range()].copy_from_slice(&layer.weight.as_vec());
            params.values[shape.bias_range()].copy_from_slice(&layer.bias.as_vec());
        }
        Ok(params)
    }
}
