//! Row-major matrix products on gemm 0.19.
//!
//! gemm picks its kernels at run time (AVX-512 where the CPU has it, else AVX2/FMA, else
//! SSE), so the same binary is fast on every x86-64 machine; the bits of a product can
//! differ between those kernels, never between runs on one machine or between thread
//! counts (gemm splits the output, not the sum over `k`).

use super::Threads;

/// A row-major matrix, possibly read transposed.
#[derive(Clone, Copy, Debug)]
pub struct Operand<'a> {
    pub data: &'a [f32],
    /// Rows and columns as stored.
    pub rows: usize,
    pub cols: usize,
    /// Read as its transpose.
    pub transposed: bool,
}

impl<'a> Operand<'a> {
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        assert_eq!(data.len(), rows * cols, "{rows} x {cols} values expected");
        Operand {
            data,
            rows,
            cols,
            transposed: false,
        }
    }

    pub fn t(self) -> Self {
        Operand {
            transposed: !self.transposed,
            ..self
        }
    }

    /// (rows, cols) as read.
    fn shape(&self) -> (usize, usize) {
        if self.transposed {
            (self.cols, self.rows)
        } else {
            (self.rows, self.cols)
        }
    }

    /// gemm's (column stride, row stride) of the matrix as read.
    fn strides(&self) -> (isize, isize) {
        let (row, col) = (self.cols as isize, 1);
        if self.transposed {
            (row, col)
        } else {
            (col, row)
        }
    }
}

/// `out = a b`, `out` row-major (rows of `a` x columns of `b`), overwritten.
pub fn matmul(out: &mut [f32], a: Operand, b: Operand, threads: Threads) {
    let (m, k) = a.shape();
    let (kb, n) = b.shape();
    assert_eq!(k, kb, "inner dimensions differ: {m}x{k} times {kb}x{n}");
    assert_eq!(
        out.len(),
        m * n,
        "the output holds {} values, not {m} x {n}",
        out.len()
    );
    let (a_cs, a_rs) = a.strides();
    let (b_cs, b_rs) = b.strides();
    let parallelism = if threads.many() {
        gemm::Parallelism::Rayon(threads.0)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the asserts above bound every index gemm computes from these shapes and
    // strides within the three slices, and `out` is borrowed mutably, so it aliases
    // neither operand.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.data.as_ptr(),
            a_cs,
            a_rs,
            b.data.as_ptr(),
            b_cs,
            b_rs,
            0.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(a: &[f32], (m, k): (usize, usize), b: &[f32], n: usize) -> Vec<f64> {
        let mut out = vec![0f64; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k)
                    .map(|p| a[i * k + p] as f64 * b[p * n + j] as f64)
                    .sum();
            }
        }
        out
    }

    fn transpose(v: &[f32], rows: usize, cols: usize) -> Vec<f32> {
        let mut t = vec![0f32; v.len()];
        for r in 0..rows {
            for c in 0..cols {
                t[c * rows + r] = v[r * cols + c];
            }
        }
        t
    }

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 8) as f32 / 16777216.0
                    - 0.5
            })
            .collect()
    }

    #[test]
    fn every_transpose_combination_matches_a_plain_product() {
        let (m, k, n) = (37, 53, 29);
        let a = values(m * k, 1);
        let b = values(k * n, 2);
        let want = reference(&a, (m, k), &b, n);
        let at = transpose(&a, m, k);
        let bt = transpose(&b, k, n);
        let cases = [
            (Operand::new(&a, m, k), Operand::new(&b, k, n)),
            (Operand::new(&at, k, m).t(), Operand::new(&b, k, n)),
            (Operand::new(&a, m, k), Operand::new(&bt, n, k).t()),
            (Operand::new(&at, k, m).t(), Operand::new(&bt, n, k).t()),
        ];
        for (i, (x, y)) in cases.into_iter().enumerate() {
            let mut out = vec![f32::NAN; m * n];
            matmul(&mut out, x, y, Threads::ONE);
            for (got, want) in out.iter().zip(&want) {
                assert!(
                    (*got as f64 - want).abs() < 1e-5,
                    "case {i}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn threads_do_not_change_the_bits() {
        let (m, k, n) = (100, 784, 256);
        let a = values(m * k, 3);
        let b = values(k * n, 4);
        let mut one = vec![0f32; m * n];
        matmul(
            &mut one,
            Operand::new(&a, m, k),
            Operand::new(&b, k, n),
            Threads::ONE,
        );
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap();
        for t in 2..=4 {
            let mut many = vec![0f32; m * n];
            pool.install(|| {
                matmul(
                    &mut many,
                    Operand::new(&a, m, k),
                    Operand::new(&b, k, n),
                    Threads(t),
                )
            });
            assert!(
                one.iter()
                    .zip(&many)
                    .all(|(x, y)| x.to_bits() == y.to_bits()),
                "{t} threads"
            );
        }
    }
}
