//! Hand-written CPU kernels for a training step, each tested against a plain reference.
//!
//! A step of the autoencoder is a few matrix products and a little elementwise work
//! around each, plus the noise added to its inputs. dfdx computes every elementwise operation as its own pass (with a fresh
//! buffer and a backward closure each) and its products with gemm 0.15's AVX2 kernels;
//! these kernels instead take gemm 0.19's AVX-512 kernels for the products and do the
//! work around them in one pass per layer:
//!
//! - [`matmul`]: row-major products with either operand transposed;
//! - [`activation`]: bias + activation forward, the activation's backward, the output
//!   sigmoid fused with the MSE and its gradient, and the bias gradient;
//! - [`adam`]: Adam's update, in TensorFlow 1's or dfdx's formula;
//! - [`normal`]: standard normal draws, many at a time (Box-Muller).
//!
//! Every kernel gives the same bits whatever the number of threads: work is split only
//! where outputs are independent (rows, columns, output tiles), and every sum runs in a
//! fixed order.

/// Compiles the wrapped functions for AVX-512, AVX2 + FMA and SSE 4.2 besides the
/// baseline, and picks one at run time: their plain loops become vector code of the
/// widest kind the CPU has. (multiversion's own `"simd"` preset leaves AVX-512 out.) The
/// compiler never fuses a multiply and an add, so every version gives the same bits.
macro_rules! simd {
    ($($item:item)*) => {$(
        #[multiversion::multiversion(targets(
            "x86_64+avx512f+avx512bw+avx512cd+avx512dq+avx512vl",
            "x86_64+avx2+fma",
            "x86_64+sse4.2",
        ))]
        $item
    )*};
}

pub mod activation;
pub mod adam;
pub mod matmul;
pub mod normal;

/// Threads a kernel may use: 1 runs on the calling thread, more use the current rayon
/// pool. Never changes a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Threads(pub usize);

impl Threads {
    pub const ONE: Threads = Threads(1);

    pub fn many(self) -> bool {
        self.0 > 1
    }
}
