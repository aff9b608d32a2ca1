//! One Adam update over all parameters at once (they sit in one flat buffer), in either
//! of the two formulas that differ in where epsilon enters.

use rayon::prelude::*;

use super::Threads;

/// Values per rayon task when threads help: large enough to amortise the hand-off.
const CHUNK: usize = 1 << 14;

/// TensorFlow 1's `ApplyAdam` (training_ops.cc, without Nesterov), operation for
/// operation in f32: `m += (g - m)(1 - b1)`, `v += (g^2 - v)(1 - b2)`,
/// `p -= m alpha / (sqrt(v) + eps)`, with `alpha = lr sqrt(1 - b2^t) / (1 - b1^t)` from
/// the caller, computed once per step as TensorFlow does.
#[allow(clippy::too_many_arguments)]
pub fn tf1(
    p: &mut [f32],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    alpha: f32,
    [b1, b2]: [f32; 2],
    eps: f32,
    threads: Threads,
) {
    let (one_b1, one_b2) = (1.0 - b1, 1.0 - b2);
    each_chunk(p, g, m, v, threads, |p, g, m, v| {
        tf1_chunk(p, g, m, v, alpha, one_b1, one_b2, eps)
    });
}

simd! {
    #[allow(clippy::too_many_arguments)]
    fn tf1_chunk(
        p: &mut [f32],
        g: &[f32],
        m: &mut [f32],
        v: &mut [f32],
        alpha: f32,
        one_b1: f32,
        one_b2: f32,
        eps: f32,
    ) {
        for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
            *m += (g - *m) * one_b1;
            *v += (g * g - *v) * one_b2;
            *p -= (*m * alpha) / (v.sqrt() + eps);
        }
    }
}

/// dfdx 0.13's Adam kernel (`tensor_ops/adam/cpu_kernel.rs`), the same f32 operations in
/// the same order, so the bits are dfdx's: `m = m b1 + g (1 - b1)`,
/// `v = v b2 + g^2 (1 - b2)`, `p -= lr (m c1) / (sqrt(v c2) + eps)` with
/// `c1 = 1 / (1 - b1^t)` and `c2 = 1 / (1 - b2^t)` from the caller.
#[allow(clippy::too_many_arguments)]
pub fn dfdx(
    p: &mut [f32],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    lr: f32,
    betas: [f32; 2],
    [c1, c2]: [f32; 2],
    eps: f32,
    threads: Threads,
) {
    each_chunk(p, g, m, v, threads, |p, g, m, v| {
        dfdx_chunk(p, g, m, v, lr, betas, c1, c2, eps)
    });
}

simd! {
    #[allow(clippy::too_many_arguments)]
    fn dfdx_chunk(
        p: &mut [f32],
        g: &[f32],
        m: &mut [f32],
        v: &mut [f32],
        lr: f32,
        [b1, b2]: [f32; 2],
        c1: f32,
        c2: f32,
        eps: f32,
    ) {
        for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
            *m = *m * b1 + g * (1.0 - b1);
            *v = *v * b2 + g * g * (1.0 - b2);
            let m_hat = *m * c1;
            let v_hat = *v * c2;
            *p -= lr * m_hat / (v_hat.sqrt() + eps);
        }
    }
}

/// Runs `f` over matching chunks of the four buffers, in parallel when `threads` allows;
/// every value is updated on its own, so the split never changes a result.
fn each_chunk(
    p: &mut [f32],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    threads: Threads,
    f: impl Fn(&mut [f32], &[f32], &mut [f32], &mut [f32]) + Sync,
) {
    assert!(p.len() == g.len() && p.len() == m.len() && p.len() == v.len());
    if threads.0 > 1 && p.len() > CHUNK {
        p.par_chunks_mut(CHUNK)
            .zip(g.par_chunks(CHUNK))
            .zip(m.par_chunks_mut(CHUNK))
            .zip(v.par_chunks_mut(CHUNK))
            .for_each(|(((p, g), m), v)| f(p, g, m, v));
    } else {
        f(p, g, m, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One parameter through both formulas against the formulas written out in f64.
    #[test]
    fn both_formulas_match_their_definitions() {
        let (lr, b1, b2, eps) = (0.01f64, 0.9f64, 0.999f64, 1e-8f64);
        let grads = [3e-7f64, -2e-6, 5e-7, 1e-3, -4e-8];
        let (mut p_tf, mut m_tf, mut v_tf) = ([0.5f32], [0f32], [0f32]);
        let (mut p_dx, mut m_dx, mut v_dx) = ([0.5f32], [0f32], [0f32]);
        let (mut p64_tf, mut p64_dx, mut m, mut v) = (0.5f64, 0.5f64, 0f64, 0f64);
        for (t, &g) in grads.iter().enumerate() {
            let t = t as i32 + 1;
            m = b1 * m + (1.0 - b1) * g;
            v = b2 * v + (1.0 - b2) * g * g;
            let (bc1, bc2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
            p64_tf -= lr * bc2.sqrt() / bc1 * m / (v.sqrt() + eps);
            p64_dx -= lr * (m / bc1) / ((v / bc2).sqrt() + eps);
            let alpha = (lr * bc2.sqrt() / bc1) as f32;
            let betas = [b1 as f32, b2 as f32];
            tf1(
                &mut p_tf,
                &[g as f32],
                &mut m_tf,
                &mut v_tf,
                alpha,
                betas,
                1e-8,
                Threads::ONE,
            );
            let c = [(1.0 / bc1) as f32, (1.0 / bc2) as f32];
            dfdx(
                &mut p_dx,
                &[g as f32],
                &mut m_dx,
                &mut v_dx,
                0.01,
                betas,
                c,
                1e-8,
                Threads::ONE,
            );
            assert!((p_tf[0] as f64 - p64_tf).abs() < 1e-6, "tf1 step {t}");
            assert!((p_dx[0] as f64 - p64_dx).abs() < 1e-6, "dfdx step {t}");
        }
        // Gradients of the size of epsilon are where the two formulas part.
        assert!((p64_tf - p64_dx).abs() > 1e-3);
    }

    #[test]
    fn threads_do_not_change_the_bits() {
        let n = 100_003;
        let g: Vec<f32> = (0..n)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * 1e-6)
            .collect();
        let run = |threads| {
            let (mut p, mut m, mut v) = (vec![0.1f32; n], vec![0f32; n], vec![0f32; n]);
            for _ in 0..3 {
                tf1(
                    &mut p,
                    &g,
                    &mut m,
                    &mut v,
                    0.003,
                    [0.9, 0.999],
                    1e-8,
                    threads,
                );
                dfdx(
                    &mut p,
                    &g,
                    &mut m,
                    &mut v,
                    0.01,
                    [0.9, 0.999],
                    [10.0, 1000.0],
                    1e-8,
                    threads,
                );
            }
            p
        };
        let one = run(Threads::ONE);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let many = pool.install(|| run(Threads(3)));
        assert!(one
            .iter()
            .zip(&many)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
    }
}
