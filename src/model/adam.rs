//! Adam over a model's flat parameter buffer, in the formula the run asks for.
//!
//! Both formulas keep the same state (two moments and a step count) and differ only in
//! where epsilon enters; see [`AdamFormula`] and the kernels in
//! [`crate::kernels::adam`]. The bias corrections are computed once per step, as each
//! original does: TensorFlow 1 keeps `b1^t` and `b2^t` as f32 variables multiplied by the
//! betas after every step, dfdx computes `b^t` with `powi` in f32. A step may update its
//! parameters in several parts (the CPU's step updates each layer as soon as the backward
//! pass is done with it, while its gradient is still in cache); every value is updated
//! on its own, so the parts never change a result.

use std::ops::Range;

use anyhow::Context;

use crate::config::AdamFormula;
use crate::kernels::{self, Threads};

/// Adam's betas and epsilon: the tutorial's, TensorFlow's and dfdx's defaults.
pub const BETAS: [f64; 2] = [0.9, 0.999];
pub const EPSILON: f64 = 1e-8;

/// Everything Adam carries from one step to the next, as a checkpoint stores it.
#[derive(Clone, Debug, PartialEq)]
pub struct AdamState {
    pub t: i32,
    /// TensorFlow 1's running `b1^t`, `b2^t` (unused by dfdx's formula).
    pub powers: [f32; 2],
    pub m: Vec<f32>,
    pub v: Vec<f32>,
}

pub struct Adam {
    pub formula: AdamFormula,
    lr: f32,
    betas: [f32; 2],
    eps: f32,
    /// Steps taken.
    t: i32,
    /// TensorFlow 1's running `b1^t`, `b2^t` (f32 products, as its beta power variables).
    powers: [f32; 2],
    /// This step's factors: TensorFlow 1's `alpha` (and 0), or dfdx's `1 / (1 - b^t)`.
    scale: [f32; 2],
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Adam {
    /// Adam for `len` parameters with the given learning rate.
    pub fn new(formula: AdamFormula, learning_rate: f64, len: usize) -> Self {
        let betas = BETAS.map(|b| b as f32);
        Adam {
            formula,
            lr: learning_rate as f32,
            betas,
            eps: EPSILON as f32,
            t: 0,
            powers: betas,
            scale: [0.0; 2],
            m: vec![0.0; len],
            v: vec![0.0; len],
        }
    }

    /// Steps taken so far.
    pub fn steps(&self) -> i32 {
        self.t
    }

    /// The state to resume from, exactly.
    pub fn state(&self) -> AdamState {
        AdamState {
            t: self.t,
            powers: self.powers,
            m: self.m.clone(),
            v: self.v.clone(),
        }
    }

    /// Continues from `state`, as if its steps had been taken here.
    pub fn restore(&mut self, state: &AdamState) -> anyhow::Result<()> {
        anyhow::ensure!(
            state.m.len() == self.m.len() && state.v.len() == self.v.len(),
            "the checkpoint's optimizer holds {} values, the model {}",
            state.m.len(),
            self.m.len()
        );
        self.t = state.t;
        self.powers = state.powers;
        self.m.copy_from_slice(&state.m);
        self.v.copy_from_slice(&state.v);
        Ok(())
    }

    /// Starts the next step: counts it and fixes its bias corrections.
    pub fn next_step(&mut self) -> anyhow::Result<()> {
        self.t = self
            .t
            .checked_add(1)
            .context("Adam's step counter overflowed")?;
        let [b1, b2] = self.betas;
        self.scale = match self.formula {
            AdamFormula::Tf1 => {
                let [p1, p2] = self.powers;
                self.powers = [p1 * b1, p2 * b2];
                [self.lr * (1.0 - p2).sqrt() / (1.0 - p1), 0.0]
            }
            AdamFormula::Dfdx => [
                (1.0 - b1.powi(self.t)).recip(),
                (1.0 - b2.powi(self.t)).recip(),
            ],
        };
        Ok(())
    }

    /// Updates `params[range]` in this step from `grads`, the gradient of that range.
    pub fn update(
        &mut self,
        params: &mut [f32],
        range: Range<usize>,
        grads: &[f32],
        threads: Threads,
    ) {
        let (p, m, v) = (
            &mut params[range.clone()],
            &mut self.m[range.clone()],
            &mut self.v[range],
        );
        match self.formula {
            AdamFormula::Tf1 => {
                kernels::adam::tf1(p, grads, m, v, self.scale[0], self.betas, self.eps, threads)
            }
            AdamFormula::Dfdx => kernels::adam::dfdx(
                p, grads, m, v, self.lr, self.betas, self.scale, self.eps, threads,
            ),
        }
    }
}
