//! Adam for a model whose parameters are runtime-shaped tensors.
//!
//! dfdx's `optim::Adam` needs a `TensorCollection`, which a `Vec` of runtime-shaped
//! layers cannot implement from outside the crate. This keeps the same state (two moment
//! maps and a step counter) and calls the same kernel, `AdamConfig::try_update`, once per
//! parameter, so it updates bit for bit as `optim::Adam` would.

use anyhow::Context;
use dfdx::prelude::{Cpu, Gradients, Shape, Tensor};
use dfdx::tensor_ops::AdamConfig;

use super::{device_error, Autoencoder, ModelDevice};

pub struct Adam<D: ModelDevice = Cpu> {
    cfg: AdamConfig,
    t: i32,
    moment1: Gradients<f32, D>,
    moment2: Gradients<f32, D>,
}

impl<D: ModelDevice> Adam<D> {
    /// Adam with the tutorial's (and TensorFlow's) betas 0.9, 0.999 and epsilon 1e-8.
    pub fn new(learning_rate: f64) -> Self {
        Adam {
            cfg: AdamConfig {
                lr: learning_rate,
                betas: [0.9, 0.999],
                eps: 1e-8,
                weight_decay: None,
            },
            t: 0,
            moment1: Gradients::leaky(),
            moment2: Gradients::leaky(),
        }
    }

    /// Steps taken so far.
    pub fn steps(&self) -> i32 {
        self.t
    }

    /// Applies one update from `grads`; a parameter without a gradient gets a zero one,
    /// which still moves it by its momentum, as `optim::Adam` would not, but every
    /// parameter of an autoencoder is used by every forward pass.
    pub fn update(
        &mut self,
        model: &mut Autoencoder<D>,
        grads: &mut Gradients<f32, D>,
    ) -> anyhow::Result<()> {
        self.t = self
            .t
            .checked_add(1)
            .context("Adam's step counter overflowed")?;
        for layer in model.layers_mut() {
            self.step(&mut layer.weight, grads)?;
            self.step(&mut layer.bias, grads)?;
        }
        Ok(())
    }

    /// Adam's kernel on one parameter, with its moments and gradient.
    fn step<S: Shape>(
        &mut self,
        param: &mut Tensor<S, f32, D>,
        grads: &mut Gradients<f32, D>,
    ) -> anyhow::Result<()> {
        let m = self.moment1.get_or_alloc_mut(param).map_err(device_error)?;
        let v = self.moment2.get_or_alloc_mut(param).map_err(device_error)?;
        let g = grads.get_or_alloc_mut(param).map_err(device_error)?;
        self.cfg
            .try_update(self.t, param, m, v, g)
            .map_err(device_error)
    }
}
