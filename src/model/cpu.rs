//! The autoencoder's training step on the CPU, layer by layer over plain buffers.
//!
//! Forward, each layer is one product and one pass of bias + activation. Backward, the
//! output layer's sigmoid and the cost are differentiated together; then per layer, from
//! the last: the weight gradient `h^T delta`, the bias gradient (column sums of `delta`)
//! and, except for the first layer, whose input needs none, `delta W^T` times the
//! activation's derivative for the layer below. One Adam pass updates every parameter.
//! The kernels are in [`crate::kernels`].

use anyhow::ensure;

use super::{Adam, AdamState, Params, Trainer};
use crate::config::AdamFormula;
use crate::kernels::activation::{self, activation_backward, bias_activation};
use crate::kernels::matmul::{matmul, Operand};
use crate::kernels::{self, Threads};

/// A model in training on the CPU, with its optimizer and its step's buffers.
pub struct CpuModel {
    params: Params,
    adam: Adam,
    /// One layer's weight and bias gradient (the largest layer's size).
    grads: Vec<f32>,
    batch: usize,
    /// Each layer's output for the current batch, (batch, outputs) row-major.
    outputs: Vec<Vec<f32>>,
    /// The gradient at the current layer's pre-activation, and the one below it.
    delta: Vec<f32>,
    delta_below: Vec<f32>,
    costs: Vec<f64>,
    threads: Threads,
    /// Each layer's output for the images last evaluated (test cost, reconstruction).
    evaluated: Vec<Vec<f32>>,
}

impl CpuModel {
    /// `params` trained on batches of `batch` images with Adam.
    pub fn new(params: Params, formula: AdamFormula, learning_rate: f64, batch: usize) -> Self {
        let len = params.values.len();
        let largest = params
            .layers
            .iter()
            .map(|l| l.bias_range().end - l.weight_range().start)
            .max()
            .unwrap_or(0);
        let outputs = params
            .layers
            .iter()
            .map(|l| vec![0.0; batch * l.outputs])
            .collect();
        let widest = params.layers.iter().map(|l| l.outputs).max().unwrap_or(0);
        CpuModel {
            adam: Adam::new(formula, learning_rate, len),
            grads: vec![0.0; largest],
            batch,
            outputs,
            delta: vec![0.0; batch * widest],
            delta_below: vec![0.0; batch * widest],
            costs: Vec::new(),
            threads: Threads::ONE,
            evaluated: Vec::new(),
            params,
        }
    }

    /// `work` with `beside` run meanwhile on the model's other threads (after it on
    /// one). With helpers, `work` runs on a thread of the pool, the helpers kept awake:
    /// `beside` and the pieces of its kernels go to them by work stealing, instead of
    /// each kernel call waking the pool and putting this thread to sleep until it is
    /// done.
    fn beside<R: Send>(
        &mut self,
        work: impl FnOnce(&mut Self) -> R + Send,
        beside: &mut (dyn FnMut() + Send),
    ) -> R {
        let threads = self.threads;
        kernels::helped(threads, || {
            if threads.many() {
                rayon::join(|| work(self), beside).0
            } else {
                let result = work(self);
                beside();
                result
            }
        })
    }

    pub fn params_ref(&self) -> &Params {
        &self.params
    }

    /// One step; returns its cost. A non-finite cost leaves the parameters as they were.
    pub fn train_step(&mut self, noisy: &[f32], clean: &[f32]) -> anyhow::Result<f64> {
        let dim = self.params.input_size();
        ensure!(
            noisy.len() == self.batch * dim && clean.len() == noisy.len(),
            "a batch of {} images of {dim} pixels expected",
            self.batch
        );
        forward(
            &self.params,
            noisy,
            self.batch,
            &mut self.outputs,
            self.threads,
        );
        self.backward_and_update(noisy, clean)
    }

    /// Backward from the outputs of [`forward`], updating each layer as soon as the pass
    /// is done with its weights (its gradient still in cache); returns the cost. A
    /// non-finite cost stops before any update.
    fn backward_and_update(&mut self, noisy: &[f32], clean: &[f32]) -> anyhow::Result<f64> {
        let (batch, threads) = (self.batch, self.threads);
        let last = self.params.layers.len() - 1;
        let out_cols = self.params.layers[last].outputs;
        let cost = activation::sigmoid_mse(
            &self.outputs[last],
            clean,
            &mut self.delta[..batch * out_cols],
            out_cols,
            threads,
        );
        if !cost.is_finite() {
            return Ok(cost);
        }
        self.adam.next_step()?;
        for l in (0..=last).rev() {
            let shape = &self.params.layers[l];
            let delta = &self.delta[..batch * shape.outputs];
            let below: &[f32] = if l == 0 { noisy } else { &self.outputs[l - 1] };
            let (w_grad, b_grad) = split_grads(&mut self.grads, shape);
            matmul(
                w_grad,
                Operand::new(below, batch, shape.inputs).t(),
                Operand::new(delta, batch, shape.outputs),
                threads,
            );
            activation::column_sums(delta, b_grad);
            if l > 0 {
                let next = &mut self.delta_below[..batch * shape.inputs];
                matmul(
                    next,
                    Operand::new(delta, batch, shape.outputs),
                    Operand::new(
                        &self.params.values[shape.weight_range()],
                        shape.inputs,
                        shape.outputs,
                    )
                    .t(),
                    threads,
                );
                let below_activation = self.params.layers[l - 1].activation;
                activation_backward(next, &self.outputs[l - 1], below_activation);
                std::mem::swap(&mut self.delta, &mut self.delta_below);
            }
            let range = shape.weight_range().start..shape.bias_range().end;
            let grads = &self.grads[..range.len()];
            self.adam
                .update(&mut self.params.values, range, grads, threads);
        }
        Ok(cost)
    }
}

/// A layer's weight and bias gradients at the start of the gradient buffer.
fn split_grads<'g>(
    grads: &'g mut [f32],
    shape: &super::LayerShape,
) -> (&'g mut [f32], &'g mut [f32]) {
    let (w, b) = (shape.weight_range().len(), shape.bias_range().len());
    grads[..w + b].split_at_mut(w)
}

/// Every layer's output for `x` (`rows` images) into `outputs`.
fn forward(params: &Params, x: &[f32], rows: usize, outputs: &mut [Vec<f32>], threads: Threads) {
    forward_layers(params, x, rows, outputs, threads, params.layers.len());
}

/// [`forward`], with bias and activation applied to the first `activated` layers only
/// (the rest keep their products `x W`).
fn forward_layers(
    params: &Params,
    x: &[f32],
    rows: usize,
    outputs: &mut [Vec<f32>],
    threads: Threads,
    activated: usize,
) {
    for (l, shape) in params.layers.iter().enumerate() {
        let (done, rest) = outputs.split_at_mut(l);
        let input: &[f32] = if l == 0 { x } else { &done[l - 1] };
        let out = &mut rest[0][..rows * shape.outputs];
        matmul(
            out,
            Operand::new(&input[..rows * shape.inputs], rows, shape.inputs),
            Operand::new(
                &params.values[shape.weight_range()],
                shape.inputs,
                shape.outputs,
            ),
            threads,
        );
        if l < activated {
            bias_activation(
                out,
                &params.values[shape.bias_range()],
                shape.activation,
                threads,
            );
        }
    }
}

/// Every layer's output for `x` (whole images) in `outputs`, resized to fit: buffers
/// kept from one call to the next, since freeing and mapping megabytes per chunk of the
/// test set made the kernel stop the other cores to flush their address caches.
fn outputs_for<'o>(
    params: &Params,
    x: &[f32],
    outputs: &'o mut Vec<Vec<f32>>,
    threads: Threads,
) -> &'o [f32] {
    let rows = sized_for(params, x, outputs);
    forward(params, x, rows, outputs, threads);
    outputs.last().map(Vec::as_slice).unwrap_or_default()
}

/// The sum over all values of `(output - target)^2` for `x` in: [`outputs_for`] with the
/// output layer's sigmoid fused into the sum, the same bits without writing the outputs.
fn squared_error_for(
    params: &Params,
    x: &[f32],
    target: &[f32],
    outputs: &mut Vec<Vec<f32>>,
    threads: Threads,
) -> f64 {
    let last = params.layers.len() - 1;
    if params.layers[last].activation != crate::config::Activation::Sigmoid {
        let cols = params.layers[last].outputs;
        let out = outputs_for(params, x, outputs, threads);
        return activation::squared_error(out, target, cols, threads);
    }
    let rows = sized_for(params, x, outputs);
    forward_layers(params, x, rows, outputs, threads, last);
    let bias = &params.values[params.layers[last].bias_range()];
    activation::bias_sigmoid_squared_error(&outputs[last], bias, target, threads)
}

/// Resizes `outputs` to every layer's output for `x`; returns the images in `x`.
fn sized_for(params: &Params, x: &[f32], outputs: &mut Vec<Vec<f32>>) -> usize {
    let rows = x.len() / params.input_size().max(1);
    outputs.resize_with(params.layers.len(), Vec::new);
    for (out, l) in outputs.iter_mut().zip(&params.layers) {
        out.resize(rows * l.outputs, 0.0);
    }
    rows
}

impl Trainer for CpuModel {
    fn step_beside(
        &mut self,
        noisy: &[f32],
        clean: &[f32],
        beside: &mut (dyn FnMut() + Send),
    ) -> anyhow::Result<()> {
        let cost = self.beside(|model| model.train_step(noisy, clean), beside)?;
        self.costs.push(cost);
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
        let dim = self.params.input_size();
        ensure!(
            noisy.len() == clean.len() && noisy.len().is_multiple_of(dim),
            "whole images expected"
        );
        Ok(self.beside(
            |model| {
                let params = &model.params;
                squared_error_for(params, noisy, clean, &mut model.evaluated, model.threads)
            },
            beside,
        ))
    }

    fn reconstruct(&mut self, x: &[f32]) -> anyhow::Result<Vec<f32>> {
        ensure!(
            x.len().is_multiple_of(self.params.input_size()),
            "whole images expected"
        );
        Ok(outputs_for(&self.params, x, &mut self.evaluated, self.threads).to_vec())
    }

    fn params(&self) -> anyhow::Result<Params> {
        Ok(self.params.clone())
    }

    fn set_threads(&mut self, threads: usize) {
        self.threads = Threads(threads.max(1));
    }

    fn engine(&self) -> &'static str {
        "kernels"
    }

    fn adam_state(&self) -> anyhow::Result<AdamState> {
        Ok(self.adam.state())
    }

    fn resume(&mut self, params: &[f32], adam: &AdamState) -> anyhow::Result<()> {
        ensure!(
            params.len() == self.params.values.len(),
            "the checkpoint holds {} parameters, the model {}",
            params.len(),
            self.params.values.len()
        );
        self.params.values.copy_from_slice(params);
        self.adam.restore(adam)
    }
}
