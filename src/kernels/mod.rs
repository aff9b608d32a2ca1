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

/// Runs `work` on a thread of the current rayon pool with `threads - 1` other pool
/// threads kept awake until it ends, so that the pieces its kernels split off are taken
/// at once; denormals are flushed to zero on all of them, as on the runs' own threads.
/// A rayon thread that finds no work soon sleeps, and waking it for each of a step's
/// dozen small kernels cost more than the kernels gained. The helpers run other queued
/// work meanwhile (`rayon::yield_now`), so nothing waits on them; that may be another
/// run's step, which is why a run hands the pool one step at a time and not a whole
/// epoch: a helper that took another run's epoch would hold this step up for all of it.
pub fn helped<R: Send>(threads: Threads, work: impl FnOnce() -> R + Send) -> R {
    if !threads.many() {
        return work();
    }
    let done = std::sync::atomic::AtomicBool::new(false);
    let done = &done;
    rayon::scope(|s| {
        let worker = rayon::current_thread_index();
        for _ in 1..threads.0 {
            s.spawn(move |_| keep_helping(done, worker));
        }
        dfdx::flush_denormals_to_zero();
        let result = work();
        done.store(true, std::sync::atomic::Ordering::Release);
        result
    })
}

/// Takes pool work until `done`. Picked up by the thread running the work itself (while
/// it waits on a piece), it returns at once: that thread cannot wait for itself.
fn keep_helping(done: &std::sync::atomic::AtomicBool, worker: Option<usize>) {
    if rayon::current_thread_index() == worker {
        return;
    }
    dfdx::flush_denormals_to_zero();
    while !done.load(std::sync::atomic::Ordering::Acquire) {
        if rayon::yield_now() != Some(rayon::Yield::Executed) {
            std::hint::spin_loop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    fn sum_of_squares(threads: Threads) -> u64 {
        helped(threads, || {
            (0..100_000u64).into_par_iter().map(|i| i * i).sum()
        })
    }

    /// More helpers asked for than the pool has threads, from inside and outside the
    /// pool, must neither hang nor change the result.
    #[test]
    fn helpers_never_wait_for_themselves() {
        let want = sum_of_squares(Threads::ONE);
        for pool_threads in [1, 2, 4] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(pool_threads)
                .build()
                .unwrap();
            for threads in [2, 3, 8] {
                assert_eq!(pool.install(|| sum_of_squares(Threads(threads))), want);
            }
        }
        assert_eq!(sum_of_squares(Threads(2)), want);
    }
}
