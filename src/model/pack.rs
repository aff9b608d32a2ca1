//! Several runs of one shape trained as one batched computation: the GPU's engine.
//!
//! A GPU spends a small model's step mostly waiting for the host to launch its kernels,
//! not computing them, and dfdx 0.13 puts every kernel of every run on the same (legacy
//! default) CUDA stream, so runs side by side do not overlap either. A pack therefore
//! stacks its runs' parameters on a leading run axis, `(runs, inputs, outputs)`, and
//! launches each kernel once for all of them: the products become batched matrix
//! products (cuBLAS's strided-batched gemm), everything else elementwise.
//!
//! Each run keeps its own initial values, batches and noise, and no operation of a step
//! mixes runs: every product, bias, activation, cost and Adam update touches one run's
//! slice only. A run that diverges fills its own slice with NaN and leaves the others
//! alone. On dfdx's CPU device the batched products are the same gemm calls one run at a
//! time, so a run's parameters are bit for bit those of [`super::tensors::TensorModel`]
//! trained alone (`tests/pack.rs`).
//!
//! Nothing here waits for the device: a step's costs stay on it until the loop reads an
//! epoch's worth at once. The training images live on the device for the whole pack and
//! each step gathers its batch there from the indices; only the noisy inputs, drawn on
//! the host from each run's own stream, travel per step.
//!
//! Costs are summed as a product with a vector of ones, not with dfdx's `sum`: its CUDA
//! kernel adds partial sums with `atomicAdd` in whatever order the blocks finish, which
//! made a GPU run's costs differ from one launch to the next; cuBLAS's products are
//! reproducible on one GPU (see docs/gpu.md).

use std::collections::HashMap;

use anyhow::ensure;
use dfdx::prelude::{Axes3, Axis, Cpu, HasShape, Merge, NoneTape, Tape, Tensor};
use dfdx::tensor::Trace;
use dfdx::tensor_ops::{Backward, BroadcastTo, GatherTo, PermuteTo, SumTo, TryDiv, TryMatMul};

use super::tensors::{activate, device_error, Layer, ModelDevice, TensorAdam};
use super::Params;
use crate::config::{Activation, AdamFormula};
use crate::data::Images;

/// A stack of matrices, one per run: `(runs, rows, columns)`.
pub type Stack<D = Cpu, T = NoneTape> = Tensor<(usize, usize, usize), f32, D, T>;
/// A matrix shared by every run, such as images: `(rows, columns)`.
pub type Matrix<D = Cpu, T = NoneTape> = Tensor<(usize, usize), f32, D, T>;

/// One layer of every run: `activation(x W + b)` with `W` of shape (runs, inputs, outputs)
/// and `b` of (runs, outputs).
type PackLayer<D> = Layer<D, (usize, usize, usize), (usize, usize)>;

impl<D: ModelDevice> PackLayer<D> {
    fn forward<T: Tape<f32, D> + Merge<T>>(&self, x: Stack<D, T>) -> Stack<D, T> {
        let xw = x.matmul(self.weight.retaped::<T>());
        let shape = *xw.shape();
        let z = xw
            + self
                .bias
                .retaped::<T>()
                .broadcast_like::<_, Axis<1>>(&shape);
        activate(z, self.activation)
    }
}

/// Runs of one architecture, optimizer and batch size in training together on a dfdx
/// device, with Adam's moments and the training images there too.
pub struct PackModel<D: ModelDevice = Cpu> {
    dev: D,
    runs: usize,
    /// Images per run and step.
    batch: usize,
    layers: Vec<PackLayer<D>>,
    adam: TensorAdam<D>,
    /// The training images, (images, pixels), as [`Images::fill_f32`] makes them.
    images: Matrix<D>,
    /// Column vectors of ones by length, for the per-run sums.
    ones: HashMap<usize, Matrix<D>>,
    /// Each step's summed squared errors per run, (runs, 1, 1), not read yet.
    pending: Vec<Stack<D>>,
}

impl<D: ModelDevice> PackModel<D> {
    /// A pack of the runs that start from `params` (equal shapes), on `dev`, with the
    /// training images copied there once.
    pub fn new(
        dev: &D,
        params: &[Params],
        formula: AdamFormula,
        learning_rate: f64,
        batch_size: usize,
        images: &Images,
    ) -> anyhow::Result<Self> {
        ensure!(!params.is_empty(), "a pack needs at least one run");
        ensure!(batch_size > 0, "batch_size must be at least 1");
        let first = &params[0].layers;
        ensure!(
            params.iter().all(|p| same_shapes(&p.layers, first)),
            "the runs of a pack must have the same layers"
        );
        ensure!(
            images.dim() == params[0].input_size(),
            "the model takes {} pixels but the images have {}",
            params[0].input_size(),
            images.dim()
        );
        let runs = params.len();
        let layers = first
            .iter()
            .enumerate()
            .map(|(l, shape)| {
                let weights = params.iter().flat_map(|p| p.weight(l)).copied().collect();
                let biases = params.iter().flat_map(|p| p.bias(l)).copied().collect();
                PackLayer {
                    weight: dev.tensor_from_vec(weights, (runs, shape.inputs, shape.outputs)),
                    bias: dev.tensor_from_vec(biases, (runs, shape.outputs)),
                    activation: shape.activation,
                }
            })
            .collect();
        let all: Vec<usize> = (0..images.len()).collect();
        let mut pixels = vec![0f32; images.len() * images.dim()];
        images.fill_f32(&all, &mut pixels);
        Ok(PackModel {
            images: dev.tensor_from_vec(pixels, (images.len(), images.dim())),
            dev: dev.clone(),
            runs,
            batch: batch_size,
            layers,
            adam: TensorAdam::new(formula, learning_rate),
            ones: HashMap::new(),
            pending: Vec::new(),
        })
    }

    /// Runs in the pack.
    pub fn runs(&self) -> usize {
        self.runs
    }

    /// Pixels per image.
    pub fn dim(&self) -> usize {
        self.images.shape().1
    }

    /// Works with or without a tape: training traces the input, evaluation does not.
    fn forward<T: Tape<f32, D> + Merge<T>>(&self, x: Stack<D, T>) -> Stack<D, T> {
        self.layers.iter().fold(x, |h, layer| layer.forward(h))
    }

    /// One step of every run. `indices` holds each run's batch of training-image
    /// indices, run after run; `noisy` the matching inputs, run after run, row-major.
    /// Queues the work and returns; the costs wait on the device for
    /// [`PackModel::take_costs`].
    pub fn step(&mut self, indices: Vec<usize>, noisy: Vec<f32>) -> anyhow::Result<()> {
        let (dim, batch) = (self.dim(), self.batch);
        ensure!(
            indices.len() == batch * self.runs && noisy.len() == indices.len() * dim,
            "a pack step takes {batch} images for each of its {} runs",
            self.runs
        );
        let shape = (self.runs, batch, dim);
        let idx = self.dev.tensor_from_vec(indices, (self.runs, batch));
        let clean: Stack<D> = self.images.clone().try_gather(idx).map_err(device_error)?;
        let x = self.dev.tensor_from_vec(noisy, shape).leaky_traced();
        let squares = (self.forward(x) - clean).square();
        let sums = self.sums(&squares.retaped::<NoneTape>())?;
        self.pending.push(sums);
        // Each run's cost is its mean over batch * dim values; the sum over runs has the
        // same gradient for each run as that run's mean alone (dfdx's `mean` is this
        // `sum` and division). Only its gradient is used: its value, summed on a GPU with
        // `atomicAdd`, is not.
        let loss = squares
            .try_sum::<(), _>()
            .map_err(device_error)?
            .try_div((batch * dim) as f32)
            .map_err(device_error)?;
        let mut grads = loss.backward();
        // dfdx's kernel is elementwise, so stacking the runs changes nothing.
        self.adam.update(&mut self.layers, &mut grads)
    }

    /// Each run's sum over its slice of `x`, (runs, 1, 1): each row's sum, then the sum
    /// of the rows, both as products with ones. A product per run, so a run's sum does
    /// not depend on its pack-mates (on the CPU it is the same gemm call alone or
    /// packed), and two short sums keep f32 accurate where one over every pixel would not.
    /// The row sums are turned into a row by a permutation (a view), not a reshape:
    /// dfdx's reshape compiles a CUDA kernel at run time (NVRTC) for tensors that are not
    /// contiguous, and that branch alone makes the binary need libnvrtc, which a binary
    /// carried to a GPU machine cannot count on (`scripts/build-cuda.sh` checks).
    fn sums(&mut self, x: &Stack<D>) -> anyhow::Result<Stack<D>> {
        let cols = x.shape().2;
        let rows = x.shape().1;
        let row_sums = x
            .clone()
            .try_matmul(self.ones(cols)?)
            .map_err(device_error)?;
        row_sums
            .try_permute::<_, Axes3<0, 2, 1>>()
            .map_err(device_error)?
            .try_matmul(self.ones(rows)?)
            .map_err(device_error)
    }

    /// A column of `len` ones, made once.
    fn ones(&mut self, len: usize) -> anyhow::Result<Matrix<D>> {
        if let Some(ones) = self.ones.get(&len) {
            return Ok(ones.clone());
        }
        let ones: Matrix<D> = self.dev.try_ones_like(&(len, 1)).map_err(device_error)?;
        self.ones.insert(len, ones.clone());
        Ok(ones)
    }

    /// Each run's mean squared error per step since the last call, run by run: the one
    /// place training waits for the device.
    pub fn take_costs(&mut self) -> anyhow::Result<Vec<Vec<f64>>> {
        let mut costs = vec![Vec::with_capacity(self.pending.len()); self.runs];
        let values = (self.batch * self.dim()) as f64;
        for sums in std::mem::take(&mut self.pending) {
            for (run, sum) in sums.as_vec().into_iter().enumerate() {
                costs[run].push(sum as f64 / values);
            }
        }
        Ok(costs)
    }

    /// Queues each run's summed squared error on `inputs` (its own noisy images, (runs,
    /// images, pixels)) against `clean` (images, pixels, shared by all runs).
    pub fn squared_errors(
        &mut self,
        inputs: &Stack<D>,
        clean: &Matrix<D>,
    ) -> anyhow::Result<Stack<D>> {
        let out = self.forward(inputs.clone());
        let shape = *out.shape();
        let diff = out - clean.clone().broadcast_like::<_, Axis<0>>(&shape);
        self.sums(&diff.square())
    }

    /// Queues each run's summed squared error on the clean images `clean` (images,
    /// pixels) fed in as they are: the same input for every run, broadcast (a view, not
    /// a copy per run).
    pub fn clean_squared_errors(&mut self, clean: &Matrix<D>) -> anyhow::Result<Stack<D>> {
        let (rows, dim) = *clean.shape();
        let shape = (self.runs, rows, dim);
        let inputs: Stack<D> = clean.clone().broadcast_like::<_, Axis<0>>(&shape);
        let out = self.forward(inputs.clone());
        self.sums(&(out - inputs).square())
    }

    /// Every run's outputs for its own images `inputs` (runs, images, pixels), run after
    /// run.
    pub fn reconstruct(&self, inputs: &Stack<D>) -> Vec<f32> {
        self.forward(inputs.clone()).as_vec()
    }

    /// Each run's parameters as they are now.
    pub fn params(&self) -> Vec<Params> {
        let widths: Vec<usize> = std::iter::once(self.layers[0].weight.shape().1)
            .chain(self.layers.iter().map(|l| l.weight.shape().2))
            .collect();
        let mut params = vec![Params::zeros(&widths, Activation::Sigmoid); self.runs];
        for (l, layer) in self.layers.iter().enumerate() {
            let (weights, biases) = (layer.weight.as_vec(), layer.bias.as_vec());
            let (w, b) = (weights.len() / self.runs, biases.len() / self.runs);
            for (run, p) in params.iter_mut().enumerate() {
                let shape = &mut p.layers[l];
                shape.activation = layer.activation;
                let (wr, br) = (shape.weight_range(), shape.bias_range());
                p.values[wr].copy_from_slice(&weights[run * w..(run + 1) * w]);
                p.values[br].copy_from_slice(&biases[run * b..(run + 1) * b]);
            }
        }
        params
    }

    /// A stack on this pack's device from host values, run after run.
    pub fn upload(&self, values: Vec<f32>, rows: usize) -> Stack<D> {
        let dim = self.dim();
        self.dev.tensor_from_vec(values, (self.runs, rows, dim))
    }

    /// A matrix of images on this pack's device.
    pub fn upload_images(&self, values: Vec<f32>) -> Matrix<D> {
        let dim = self.dim();
        let rows = values.len() / dim;
        self.dev.tensor_from_vec(values, (rows, dim))
    }
}

fn same_shapes(a: &[super::LayerShape], b: &[super::LayerShape]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            (x.inputs, x.outputs, x.activation) == (y.inputs, y.outputs, y.activation)
        })
}
