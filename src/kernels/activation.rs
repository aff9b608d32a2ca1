//! The elementwise work around each product, one pass per layer and direction.
//!
//! Forward, a layer adds its bias to the product and applies its activation in place.
//! Backward, the output layer's sigmoid and the mean squared error are differentiated in
//! one pass that also sums the cost; hidden layers multiply the incoming gradient by the
//! activation's derivative, read from the forward output as dfdx and TensorFlow do
//! (`y (1 - y)` for the sigmoid).
//!
//! The sigmoid's exponential is Cephes' `expf` (the polynomial that Eigen, and so
//! TensorFlow, vectorises too): plain arithmetic that the compiler turns into AVX-512 or
//! AVX2 code, where the C library's `expf` runs one value at a time and took a third of a
//! step. Its error is within 2 units in the last place of `f32::exp`, tested below.

use rayon::prelude::*;

use super::Threads;
use crate::config::Activation;

/// Rows handed to one rayon task; small enough to split a batch of 100 between cores.
const ROWS_PER_TASK: usize = 25;

/// `e^x` in f32 (Cephes' `expf`), NaN in, NaN out.
#[inline(always)]
fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in two, so that n ln 2 is subtracted exactly.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding 1.5 * 2^23 rounds to an integer n, which then sits in the low bits.
    const ROUND: f32 = 12_582_912.0;
    // Beyond these, 2^n leaves f32's normal range. (`clamp` keeps a NaN a NaN.)
    let x = x.clamp(-87.3, 88.3);
    let shifted = x * LOG2E + ROUND;
    let n = shifted - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let mut p = 1.987_569_2e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let e = p * (r * r) + r + 1.0;
    // 2^n from its exponent bits, n read back as an integer from `shifted` (integer
    // arithmetic only, so it stays in vector registers); n is in [-126, 127].
    let n_int = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    e * f32::from_bits(n_int.wrapping_add(127) << 23)
}

/// The logistic function with the exponential above.
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// `z = activation(z + bias)` for every row of `z` (rows of `bias.len()` values).
pub fn bias_activation(z: &mut [f32], bias: &[f32], activation: Activation, threads: Threads) {
    let cols = bias.len();
    assert_eq!(z.len() % cols, 0, "rows of {cols} values expected");
    let rows = |chunk: &mut [f32]| {
        for row in chunk.chunks_exact_mut(cols) {
            match activation {
                Activation::Sigmoid => bias_sigmoid_row(row, bias),
                Activation::Relu => bias_relu_row(row, bias),
                Activation::Tanh => bias_tanh_row(row, bias),
            }
        }
    };
    split_rows(z, cols, threads, rows);
}

simd! {
    fn bias_sigmoid_row(row: &mut [f32], bias: &[f32]) {
        for (z, &b) in row.iter_mut().zip(bias) {
            *z = sigmoid(*z + b);
        }
    }
}

simd! {
    fn bias_relu_row(row: &mut [f32], bias: &[f32]) {
        for (z, &b) in row.iter_mut().zip(bias) {
            // As dfdx's relu: max(x, 0), so NaN becomes 0 like there.
            *z = (*z + b).max(0.0);
        }
    }
}

fn bias_tanh_row(row: &mut [f32], bias: &[f32]) {
    // The C library's tanh: accurate near 0, where 2 sigmoid(2x) - 1 is not.
    for (z, &b) in row.iter_mut().zip(bias) {
        *z = (*z + b).tanh();
    }
}

/// `delta *= activation'` for a hidden layer, the derivative taken from the layer's
/// output `y`.
pub fn activation_backward(delta: &mut [f32], y: &[f32], activation: Activation) {
    assert_eq!(delta.len(), y.len());
    match activation {
        Activation::Sigmoid => sigmoid_backward(delta, y),
        Activation::Relu => relu_backward(delta, y),
        Activation::Tanh => tanh_backward(delta, y),
    }
}

simd! {
    fn sigmoid_backward(delta: &mut [f32], y: &[f32]) {
        for (d, &y) in delta.iter_mut().zip(y) {
            *d *= y * (1.0 - y);
        }
    }
}

simd! {
    fn relu_backward(delta: &mut [f32], y: &[f32]) {
        for (d, &y) in delta.iter_mut().zip(y) {
            *d = if y > 0.0 { *d } else { 0.0 };
        }
    }
}

simd! {
    fn tanh_backward(delta: &mut [f32], y: &[f32]) {
        for (d, &y) in delta.iter_mut().zip(y) {
            *d *= 1.0 - y * y;
        }
    }
}

/// The output layer's backward pass and the cost: for sigmoid outputs `y` and targets
/// `t` (`n` values in all), writes `delta = 2 (y - t) / n * y (1 - y)`, the gradient of
/// the mean squared error with respect to the layer's pre-activation, and returns the
/// mean squared error, summed in f64.
pub fn sigmoid_mse(
    y: &[f32],
    target: &[f32],
    delta: &mut [f32],
    cols: usize,
    threads: Threads,
) -> f64 {
    assert!(y.len() == target.len() && y.len() == delta.len());
    let scale = 2.0 / y.len() as f32;
    let row_sums: Vec<f64> = match task_len(y.len(), cols, threads) {
        Some(len) => y
            .par_chunks(len)
            .zip(target.par_chunks(len))
            .zip(delta.par_chunks_mut(len))
            .flat_map_iter(|((y, t), d)| sigmoid_mse_rows(y, t, d, cols, scale))
            .collect(),
        None => sigmoid_mse_rows(y, target, delta, cols, scale),
    };
    // Summed in row order, as on one thread.
    let mut sum = 0f64;
    for s in row_sums {
        sum += s;
    }
    sum / y.len() as f64
}

/// [`sigmoid_mse`] on whole rows; each row's squared error.
fn sigmoid_mse_rows(y: &[f32], t: &[f32], delta: &mut [f32], cols: usize, scale: f32) -> Vec<f64> {
    y.chunks(cols)
        .zip(t.chunks(cols))
        .zip(delta.chunks_mut(cols))
        .map(|((y, t), d)| sigmoid_mse_row(y, t, d, scale))
        .collect()
}

simd! {
    fn sigmoid_mse_row(y: &[f32], t: &[f32], delta: &mut [f32], scale: f32) -> f64 {
        for ((d, &y), &t) in delta.iter_mut().zip(y).zip(t) {
            *d = (y - t) * scale * (y * (1.0 - y));
        }
        squared_error_row(y, t)
    }
}

/// The sum of `(y - t)^2`, in f64.
pub fn squared_error(y: &[f32], target: &[f32], cols: usize, threads: Threads) -> f64 {
    assert_eq!(y.len(), target.len());
    let row_sums = |(y, t): (&[f32], &[f32])| -> Vec<f64> {
        y.chunks(cols)
            .zip(t.chunks(cols))
            .map(|(y, t)| squared_error_row(y, t))
            .collect()
    };
    let sums: Vec<f64> = match task_len(y.len(), cols, threads) {
        Some(len) => y
            .par_chunks(len)
            .zip(target.par_chunks(len))
            .flat_map_iter(row_sums)
            .collect(),
        None => row_sums((y, target)),
    };
    // Summed in row order, as on one thread.
    sums.into_iter().sum()
}

/// [`squared_error`] of `sigmoid(z + bias)` against `target`, without writing the
/// outputs: the same operations value by value and the same order of sums, so the same
/// bits as [`bias_activation`] then [`squared_error`], with one pass over the outputs
/// instead of three (the output layer of an evaluation has 784 values an image).
pub fn bias_sigmoid_squared_error(
    z: &[f32],
    bias: &[f32],
    target: &[f32],
    threads: Threads,
) -> f64 {
    let cols = bias.len();
    assert_eq!(z.len(), target.len());
    assert_eq!(z.len() % cols.max(1), 0, "rows of {cols} values expected");
    let row_sums = |(z, t): (&[f32], &[f32])| -> Vec<f64> {
        let mut y = vec![0f32; cols];
        z.chunks(cols)
            .zip(t.chunks(cols))
            .map(|(z, t)| {
                y.copy_from_slice(z);
                bias_sigmoid_row(&mut y, bias);
                squared_error_row(&y, t)
            })
            .collect()
    };
    let sums: Vec<f64> = match task_len(z.len(), cols, threads) {
        Some(len) => z
            .par_chunks(len)
            .zip(target.par_chunks(len))
            .flat_map_iter(row_sums)
            .collect(),
        None => row_sums((z, target)),
    };
    sums.into_iter().sum()
}

simd! {
    /// Eight running sums, combined in a fixed order: the compiler can vectorise them, and
    /// the result does not depend on which CPU ran it.
    fn squared_error_row(y: &[f32], t: &[f32]) -> f64 {
        let mut lanes = [0f64; 8];
        let (yc, tc) = (y.chunks_exact(8), t.chunks_exact(8));
        let (y_rest, t_rest) = (yc.remainder(), tc.remainder());
        for (y8, t8) in yc.zip(tc) {
            for i in 0..8 {
                let e = (y8[i] - t8[i]) as f64;
                lanes[i] += e * e;
            }
        }
        let mut sum = lanes.iter().sum::<f64>();
        for (&y, &t) in y_rest.iter().zip(t_rest) {
            let e = (y - t) as f64;
            sum += e * e;
        }
        sum
    }
}

/// `out[j] = sum over rows of delta[r][j]`: the bias gradient, rows summed in order.
pub fn column_sums(delta: &[f32], out: &mut [f32]) {
    let cols = out.len();
    assert_eq!(delta.len() % cols, 0, "rows of {cols} values expected");
    out.fill(0.0);
    for row in delta.chunks_exact(cols) {
        add_row(out, row);
    }
}

simd! {
    fn add_row(out: &mut [f32], row: &[f32]) {
        for (o, &x) in out.iter_mut().zip(row) {
            *o += x;
        }
    }
}

/// Runs `f` on groups of whole rows, in parallel when `threads` allows.
fn split_rows(
    values: &mut [f32],
    cols: usize,
    threads: Threads,
    f: impl Fn(&mut [f32]) + Sync + Send,
) {
    match task_len(values.len(), cols, threads) {
        Some(len) => values.par_chunks_mut(len).for_each(f),
        None => f(values),
    }
}

/// Values of whole rows a rayon task takes from `len` values with `cols` columns, when
/// `threads` allows and there is more than one task's worth; `None`: all on this thread.
fn task_len(len: usize, cols: usize, threads: Threads) -> Option<usize> {
    let task = ROWS_PER_TASK * cols;
    (threads.many() && task > 0 && len > task).then_some(task)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f32, b: f32) -> u32 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
    }

    #[test]
    fn exp_is_within_two_ulps_of_the_c_library() {
        let mut worst = 0;
        let mut x = -87.0f32;
        while x < 88.0 {
            worst = worst.max(ulps(exp(x), x.exp()));
            x += 0.001_7;
        }
        assert!(worst <= 2, "{worst} ulps");
        assert!(exp(f32::NAN).is_nan());
        assert_eq!(exp(0.0), 1.0);
    }

    #[test]
    fn sigmoid_matches_the_plain_formula_and_keeps_nan() {
        let mut x = -30.0f32;
        while x < 30.0 {
            let want = 1.0 / (1.0 + (-(x as f64)).exp());
            let got = sigmoid(x) as f64;
            assert!(
                (got - want).abs() <= 3e-7 * want.max(1e-30),
                "{x}: {got} vs {want}"
            );
            x += 0.013;
        }
        assert!(sigmoid(f32::NAN).is_nan());
        assert_eq!(sigmoid(100.0), 1.0);
        assert!(sigmoid(-100.0) < 1e-38);
    }

    #[test]
    fn forward_and_backward_match_plain_loops() {
        let (rows, cols) = (7, 5);
        let z0: Vec<f32> = (0..rows * cols)
            .map(|i| (i as f32 * 0.37).sin() * 4.0)
            .collect();
        let bias: Vec<f32> = (0..cols).map(|j| j as f32 * 0.1 - 0.2).collect();
        for act in [Activation::Sigmoid, Activation::Relu, Activation::Tanh] {
            let mut z = z0.clone();
            bias_activation(&mut z, &bias, act, Threads::ONE);
            let mut delta: Vec<f32> = (0..rows * cols).map(|i| i as f32 * 0.01).collect();
            let d0 = delta.clone();
            activation_backward(&mut delta, &z, act);
            for i in 0..rows * cols {
                let pre = (z0[i] + bias[i % cols]) as f64;
                let (y, dy) = match act {
                    Activation::Sigmoid => {
                        let s = 1.0 / (1.0 + (-pre).exp());
                        (s, s * (1.0 - s))
                    }
                    Activation::Relu => (pre.max(0.0), if pre > 0.0 { 1.0 } else { 0.0 }),
                    Activation::Tanh => (pre.tanh(), 1.0 - pre.tanh().powi(2)),
                };
                assert!((z[i] as f64 - y).abs() < 1e-6, "{act:?} forward {i}");
                assert!(
                    (delta[i] as f64 - d0[i] as f64 * dy).abs() < 1e-6,
                    "{act:?} backward {i}"
                );
            }
        }
    }

    #[test]
    fn the_fused_evaluation_gives_the_bits_of_its_two_passes() {
        let cols = 37;
        let rows = 300; // several tasks on many threads, a short last one
        let z: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 7919) % 2000) as f32 / 97.0 - 10.0)
            .collect();
        let t: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 31) % 256) as f32 / 255.0)
            .collect();
        let bias: Vec<f32> = (0..cols).map(|j| j as f32 / 10.0 - 1.5).collect();
        for threads in [Threads::ONE, Threads(2), Threads(3)] {
            let mut y = z.clone();
            bias_activation(&mut y, &bias, Activation::Sigmoid, threads);
            let two_passes = squared_error(&y, &t, cols, threads);
            let fused = bias_sigmoid_squared_error(&z, &bias, &t, threads);
            assert_eq!(fused.to_bits(), two_passes.to_bits(), "{threads:?}");
        }
    }

    #[test]
    fn sigmoid_mse_is_the_cost_and_its_gradient() {
        let (rows, cols) = (3, 11);
        let y: Vec<f32> = (0..rows * cols).map(|i| 0.05 + (i as f32) / 40.0).collect();
        let t: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 7) % 5) as f32 / 4.0)
            .collect();
        let mut delta = vec![0f32; y.len()];
        let cost = sigmoid_mse(&y, &t, &mut delta, cols, Threads::ONE);
        let n = y.len() as f64;
        let want: f64 = y
            .iter()
            .zip(&t)
            .map(|(&a, &b)| ((a - b) as f64).powi(2))
            .sum::<f64>()
            / n;
        assert!((cost - want).abs() < 1e-12);
        assert!((squared_error(&y, &t, cols, Threads::ONE) / n - want).abs() < 1e-12);
        for i in 0..y.len() {
            let (a, b) = (y[i] as f64, t[i] as f64);
            let g = 2.0 * (a - b) / n * a * (1.0 - a);
            assert!((delta[i] as f64 - g).abs() < 1e-8, "{i}");
        }
    }

    #[test]
    fn column_sums_add_rows_in_order() {
        let delta = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let mut out = [9.0f32; 3];
        column_sums(&delta, &mut out);
        assert_eq!(out, [5.0, 7.0, 9.0]);
    }

    #[test]
    fn threads_do_not_change_the_forward_bits() {
        let cols = 784;
        let z0: Vec<f32> = (0..100 * cols)
            .map(|i| (i as f32 * 0.11).cos() * 9.0)
            .collect();
        let bias = vec![0.25f32; cols];
        let mut one = z0.clone();
        bias_activation(&mut one, &bias, Activation::Sigmoid, Threads::ONE);
        let mut many = z0;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        pool.install(|| bias_activation(&mut many, &bias, Activation::Sigmoid, Threads(3)));
        assert!(one
            .iter()
            .zip(&many)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn threads_do_not_change_the_cost_bits() {
        let cols = 784;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        for rows in [1, 24, 25, 26, 100, 1000] {
            let y: Vec<f32> = (0..rows * cols)
                .map(|i| 0.5 + 0.4 * (i as f32 * 0.37).sin())
                .collect();
            let t: Vec<f32> = (0..rows * cols).map(|i| (i % 7) as f32 / 7.0).collect();
            let mut d_one = vec![0f32; y.len()];
            let one = sigmoid_mse(&y, &t, &mut d_one, cols, Threads::ONE);
            let sq_one = squared_error(&y, &t, cols, Threads::ONE);
            for threads in [2, 3] {
                let mut d_many = vec![0f32; y.len()];
                let (many, sq_many) = pool.install(|| {
                    (
                        sigmoid_mse(&y, &t, &mut d_many, cols, Threads(threads)),
                        squared_error(&y, &t, cols, Threads(threads)),
                    )
                });
                assert_eq!(one.to_bits(), many.to_bits(), "{rows} rows");
                assert_eq!(sq_one.to_bits(), sq_many.to_bits(), "{rows} rows");
                assert!(d_one
                    .iter()
                    .zip(&d_many)
                    .all(|(a, b)| a.to_bits() == b.to_bits()));
            }
        }
    }
}
