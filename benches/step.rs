//! Training speed against the CPU's own matmul peak: `cargo bench --bench step`.
//!
//! Prints, single thread, release, batch 100:
//! - the single-core fp32 matmul peak, measured with the gemm crate (the kernels dfdx
//!   calls) without threads (`Parallelism::None`), on a large square product and on the
//!   products of a 784-256-784 step;
//! - per architecture, the real training loop's time per step (batch assembly, noise,
//!   forward, backward, Adam), as steps/s and GFLOP/s counting 6·batch·Σ(in·out) FLOPs
//!   per step, and that as a share of the peak.
//!
//! Both wall time and the thread's CPU time are measured: on a machine shared with other
//! work, wall time includes waiting for a core and CPU time does not. The peak and the
//! steps are measured in alternating rounds, so that a ratio compares like with like, and
//! every figure is the median over the rounds. About 20 s in all. Synthetic images (a
//! step's speed hardly depends on the pixels) and a tiny test set, so an epoch is almost
//! all training steps. Other architectures: `cargo bench --bench step -- 784-512-784`.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use runner::config::RunConfig;
use runner::data::{Dataset, DatasetName, Images};
use runner::model::widths;
use runner::train::{self, Hooks};

const BATCH: usize = 100;
const STEPS_PER_EPOCH: usize = 100;
/// Epochs per round; the first warms caches and allocations up and is not counted.
const EPOCHS: usize = 3;
const ROUNDS: usize = 5;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Seconds of CPU time used by the calling thread so far.
fn thread_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a valid pointer to a timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Wall and CPU seconds, each the median over `repeats`, of `C = A B` with A (m, k) and
/// B (k, n), row-major, on this thread.
fn sgemm_seconds(m: usize, k: usize, n: usize, repeats: usize) -> (f64, f64) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let a: Vec<f32> = (0..m * k).map(|_| rng.gen()).collect();
    let b: Vec<f32> = (0..k * n).map(|_| rng.gen()).collect();
    let mut c = vec![0f32; m * n];
    let mut run = || unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            1,
            n as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    };
    run();
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    for _ in 0..repeats {
        let (t, c) = (Instant::now(), thread_cpu_seconds());
        run();
        cpu.push(thread_cpu_seconds() - c);
        wall.push(t.elapsed().as_secs_f64());
    }
    (median(wall), median(cpu))
}

fn images(count: usize) -> Images {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
    let bytes: Vec<u8> = (0..count * 784)
        .map(|_| if rng.gen::<f32>() < 0.8 { 0 } else { rng.gen() })
        .collect();
    Images::new(Arc::<[u8]>::from(bytes), 784)
}

/// Wall and CPU seconds per step of the real training loop on a one-thread pool.
fn seconds_per_step(hidden: &[usize], data: &Dataset) -> (f64, f64) {
    let mut config = RunConfig::default();
    config.train.hidden = hidden.to_vec();
    config.train.batch_size = BATCH;
    config.train.epochs = EPOCHS;
    let flag = AtomicBool::new(false);
    let hooks = Hooks {
        cancel: &flag,
        on_progress: &|_| {},
        on_epoch: &|_| {},
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    pool.install(|| {
        // CPU time of the epochs after the first: the first epoch's end is marked by its
        // hook, which runs on this thread.
        let warm_cpu = std::sync::Mutex::new(0.0);
        let first = |m: &train::EpochMetrics| {
            if m.epoch == 1 {
                *warm_cpu.lock().unwrap() = thread_cpu_seconds();
            }
        };
        let hooks = Hooks {
            on_epoch: &first,
            ..hooks
        };
        let trained = train::train(&config, data, &hooks).unwrap();
        let cpu = thread_cpu_seconds() - *warm_cpu.lock().unwrap();
        let steps = ((EPOCHS - 1) * STEPS_PER_EPOCH) as f64;
        let wall: f64 = trained.metrics[1..].iter().map(|m| m.seconds).sum();
        (wall / steps, cpu / steps)
    })
}

/// `784-256-128-256-784` to its hidden widths `[256, 128]`.
fn parse_arch(s: &str) -> Option<Vec<usize>> {
    let w: Vec<usize> = s
        .split('-')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    if w.len() < 3 || w[0] != 784 {
        return None;
    }
    let hidden = w[1..=(w.len() - 1) / 2].to_vec();
    (widths(784, &hidden) == w).then_some(hidden)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let archs: Vec<Vec<usize>> = if args.is_empty() {
        vec![vec![256], vec![256, 128]]
    } else {
        args.iter()
            .map(|a| {
                parse_arch(a).unwrap_or_else(|| {
                    panic!("{a}: expected mirrored widths from 784 to 784, e.g. 784-256-784")
                })
            })
            .collect()
    };
    // dfdx calls this per computing thread; the peak is measured the same way.
    dfdx::flush_denormals_to_zero();
    let data = Dataset {
        name: DatasetName::Mnist,
        train: images(STEPS_PER_EPOCH * BATCH),
        test: images(10),
    };
    let big = 1024;
    let big_flop = 2.0 * (big * big * big) as f64;
    let shapes = [(100, 784, 256), (100, 256, 784), (784, 100, 256)];

    // Per round: [peak wall, peak cpu], per shape [wall, cpu], per arch [wall, cpu].
    let mut peak = (Vec::new(), Vec::new());
    let mut shape_gflops = vec![(Vec::new(), Vec::new()); shapes.len()];
    let mut steps = vec![(Vec::new(), Vec::new(), Vec::new(), Vec::new()); archs.len()];
    for _ in 0..ROUNDS {
        let (w, c) = sgemm_seconds(big, big, big, 5);
        let (pw, pc) = (big_flop / w / 1e9, big_flop / c / 1e9);
        peak.0.push(pw);
        peak.1.push(pc);
        for (i, &(m, k, n)) in shapes.iter().enumerate() {
            let (w, c) = sgemm_seconds(m, k, n, 51);
            let flop = 2.0 * (m * k * n) as f64;
            shape_gflops[i].0.push(flop / w / 1e9);
            shape_gflops[i].1.push(flop / c / 1e9);
        }
        for (i, hidden) in archs.iter().enumerate() {
            let w = widths(784, hidden);
            let flop = 6.0 * BATCH as f64 * w.windows(2).map(|p| (p[0] * p[1]) as f64).sum::<f64>();
            let (sw, sc) = seconds_per_step(hidden, &data);
            steps[i].0.push(sw);
            steps[i].1.push(sc);
            steps[i].2.push(flop / sc / 1e9);
            steps[i].3.push(100.0 * (flop / sc / 1e9) / pc);
        }
    }

    println!("sgemm (gemm crate 0.15, fp32, one thread), GFLOP/s, median of {ROUNDS} rounds:");
    println!("  {:<26} {:>8} {:>8}", "m x k x n", "wall", "cpu");
    println!(
        "  {:<26} {:>8.1} {:>8.1}   <- peak",
        format!("{big} x {big} x {big}"),
        median(peak.0.clone()),
        median(peak.1.clone())
    );
    for (&(m, k, n), (w, c)) in shapes.iter().zip(&shape_gflops) {
        println!(
            "  {:<26} {:>8.1} {:>8.1}",
            format!("{m} x {k} x {n}"),
            median(w.clone()),
            median(c.clone())
        );
    }
    println!();
    println!(
        "training step, batch {BATCH}, one thread, {} steps per round, median of {ROUNDS} rounds:",
        (EPOCHS - 1) * STEPS_PER_EPOCH
    );
    println!(
        "  {:<22} {:>13} {:>12} {:>8} {:>13} {:>8}",
        "architecture", "ms/step wall", "ms/step cpu", "steps/s", "GFLOP/s (cpu)", "% peak"
    );
    for (hidden, (sw, sc, g, pct)) in archs.iter().zip(steps) {
        let name = widths(784, hidden)
            .iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join("-");
        let (sw, sc) = (median(sw), median(sc));
        println!(
            "  {name:<22} {:>13.3} {:>12.3} {:>8.0} {:>13.1} {:>7.0}%",
            sw * 1000.0,
            sc * 1000.0,
            1.0 / sc,
            median(g),
            median(pct)
        );
    }
    println!();
    println!("GFLOP/s count 6 x batch x sum(in x out) per step; % peak is per round, against that round's 1024^3 cpu figure.");
    println!("steps/s from cpu time; wall time also counts waiting for a core on a busy machine.");
}
