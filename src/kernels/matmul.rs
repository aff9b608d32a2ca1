//! Row-major matrix products on gemm 0.19.
//!
//! gemm picks its kernels at run time (AVX-512 where the CPU has it, else AVX2/FMA, else
//! SSE), so the same binary is fast on every x86-64 machine; the bits of a product can
//! differ between those kernels, never between runs on one machine or between thread
//! counts (gemm splits the output, not the sum over `k`).

use std::ops::Range;

use rayon::prelude::*;

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
    pub fn strides(&self) -> (isize, isize) {
        let (row, col) = (self.cols as isize, 1);
        if self.transposed {
            (row, col)
        } else {
            (col, row)
        }
    }
}

/// `out = a b`, `out` row-major (rows of `a` x columns of `b`), overwritten. With more
/// than one thread, each computes a block of `out` with gemm on one thread: one hand-off
/// per product, where gemm's own threading hands off twice per block of `k` and scaled
/// a step's products 1.2 to 1.6 times on two cores instead of 1.5 to 1.9.
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
    let mut blocks = blocks(m, n, threads);
    if !same_sums_in_blocks(m, n, k, &blocks) {
        blocks = vec![Block {
            rows: 0..m,
            columns: 0..n,
        }];
    }
    let out = SharedOut(out.as_mut_ptr());
    let compute = |block: Block| {
        // SAFETY: the asserts above bound every index gemm computes from these shapes
        // and strides within the three slices; the blocks are disjoint, so no two calls
        // write the same value, and `out` was borrowed mutably, so it aliases neither
        // operand.
        unsafe { block_of_product(out, n, a, b, block) }
    };
    if blocks.len() == 1 {
        blocks.into_iter().for_each(compute);
    } else {
        blocks.into_par_iter().for_each(compute);
    }
}

/// Rows and columns of the output that one thread computes.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Block {
    rows: Range<usize>,
    columns: Range<usize>,
}

/// The output cut into one block per thread (fewer where it has fewer tiles): across
/// the rows when `a` is the larger operand, else across the columns, so that the
/// operand each thread packs whole is the smaller. Cuts fall on gemm's AVX-512 tiles (it
/// computes a row-major product as its transpose: 64 columns by 6 rows; 8 here), so
/// that no tile is cut in two.
fn blocks(m: usize, n: usize, threads: Threads) -> Vec<Block> {
    let by_rows = m > n;
    let (len, tile) = if by_rows { (m, 8) } else { (n, 64) };
    let tiles = len.div_ceil(tile);
    let parts = threads.0.clamp(1, tiles.max(1));
    (0..parts)
        .map(|p| {
            let edge = |p: usize| (p * tiles / parts * tile).min(len);
            let cut = edge(p)..edge(p + 1);
            if by_rows {
                Block {
                    rows: cut,
                    columns: 0..n,
                }
            } else {
                Block {
                    rows: 0..m,
                    columns: cut,
                }
            }
        })
        .collect()
}

/// Whether gemm computes every value of each block with the same operations as in the
/// whole product. It takes other paths for small shapes: a matrix-vector product for
/// one row or column, dot products when `rows x columns <= 256`, an unrolled sum for
/// `k <= 2`; and where both sides are at most 64 it cuts `k` into blocks of 512 rather
/// than into equal blocks of at least 512, which regroups the sum when `k > 512`.
fn same_sums_in_blocks(m: usize, n: usize, k: usize, blocks: &[Block]) -> bool {
    let small = |rows: usize, columns: usize| rows <= 64 && columns <= 64;
    blocks.len() == 1
        || k > 2
            && blocks.iter().all(|b| {
                let (rows, columns) = (b.rows.len(), b.columns.len());
                rows >= 2
                    && columns >= 2
                    && rows * columns > 256
                    && (k <= 512 || small(rows, columns) == small(m, n))
            })
}

/// `out`'s first value, handed to the threads that write its blocks.
#[derive(Clone, Copy)]
struct SharedOut(*mut f32);
// SAFETY: each thread writes its own block only (see `matmul`).
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

/// `block` of `out = a b` (`out` row-major with `n` columns), on this thread. Each value
/// is the same sum in the same order whatever the block, where `same_sums_in_blocks`
/// says so: gemm splits `k` by `k` alone.
///
/// # Safety
/// `out` must hold `rows of a` x `n` values, none read or written elsewhere meanwhile in
/// `block`, and `a`, `b` must have the shapes `matmul` checked.
unsafe fn block_of_product(out: SharedOut, n: usize, a: Operand, b: Operand, block: Block) {
    let (a_cs, a_rs) = a.strides();
    let (b_cs, b_rs) = b.strides();
    let (row, column) = (block.rows.start as isize, block.columns.start as isize);
    gemm::gemm(
        block.rows.len(),
        block.columns.len(),
        a.shape().1,
        out.0.offset(row * n as isize + column),
        1,
        n as isize,
        false,
        a.data.as_ptr().offset(row * a_rs),
        a_cs,
        a_rs,
        b.data.as_ptr().offset(column * b_cs),
        b_cs,
        b_rs,
        0.0,
        1.0,
        false,
        false,
        false,
        gemm::Parallelism::None,
    );
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

    /// The product `a b` with each operand read as stored or as the transpose of its
    /// transpose (`at`, `bt`): all four combinations.
    fn stored_both_ways<'a>(
        a: &'a [f32],
        at: &'a [f32],
        b: &'a [f32],
        bt: &'a [f32],
        (m, k, n): (usize, usize, usize),
    ) -> [(Operand<'a>, Operand<'a>); 4] {
        [
            (Operand::new(a, m, k), Operand::new(b, k, n)),
            (Operand::new(at, k, m).t(), Operand::new(b, k, n)),
            (Operand::new(a, m, k), Operand::new(bt, n, k).t()),
            (Operand::new(at, k, m).t(), Operand::new(bt, n, k).t()),
        ]
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
        let (at, bt) = (transpose(&a, m, k), transpose(&b, k, n));
        for (i, (x, y)) in stored_both_ways(&a, &at, &b, &bt, (m, k, n))
            .into_iter()
            .enumerate()
        {
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
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap();
        let sizes = |s: &[usize]| s.to_vec();
        let shapes = sizes(&[1, 2, 5, 50, 64, 65, 100, 300, 784])
            .into_iter()
            .flat_map(|m| {
                sizes(&[2, 3, 300, 784]).into_iter().flat_map(move |k| {
                    sizes(&[1, 3, 65, 100, 130, 256, 784])
                        .into_iter()
                        .map(move |n| (m, k, n))
                })
            });
        for (m, k, n) in shapes {
            let a = values(m * k, 3);
            let b = values(k * n, 4);
            let (at, bt) = (transpose(&a, m, k), transpose(&b, k, n));
            let cases = stored_both_ways(&a, &at, &b, &bt, (m, k, n));
            for (i, (x, y)) in cases.into_iter().enumerate() {
                let mut one = vec![0f32; m * n];
                matmul(&mut one, x, y, Threads::ONE);
                for t in 2..=5 {
                    let mut many = vec![f32::NAN; m * n];
                    pool.install(|| matmul(&mut many, x, y, Threads(t)));
                    assert!(
                        one.iter()
                            .zip(&many)
                            .all(|(x, y)| x.to_bits() == y.to_bits()),
                        "{m}x{k}x{n}, case {i}, {t} threads"
                    );
                }
            }
        }
    }

    #[test]
    fn blocks_cut_the_larger_side_in_whole_tiles() {
        let cuts = |m, n, t| {
            blocks(m, n, Threads(t))
                .into_iter()
                .map(|b| (b.rows, b.columns))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            cuts(100, 256, 2),
            vec![(0..100, 0..128), (0..100, 128..256)]
        );
        assert_eq!(
            cuts(100, 784, 2),
            vec![(0..100, 0..384), (0..100, 384..784)]
        );
        assert_eq!(cuts(100, 100, 8), vec![(0..100, 0..64), (0..100, 64..100)]);
        assert_eq!(
            cuts(784, 256, 2),
            vec![(0..392, 0..256), (392..784, 0..256)]
        );
        assert_eq!(
            cuts(20, 3, 4),
            vec![(0..8, 0..3), (8..16, 0..3), (16..20, 0..3)]
        );
        assert_eq!(cuts(10, 10, 1), vec![(0..10, 0..10)]);
        assert_eq!(cuts(0, 0, 3), vec![(0..0, 0..0)]);
    }
}
