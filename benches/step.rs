//! Training speed against the matmul bound: `cargo bench --bench step`.
//!
//! For each architecture (default 784-256-784 and 784-256-128-256-784; others as
//! arguments, e.g. `cargo bench --bench step -- 784-512-784`), single thread, release,
//! batch 100:
//!
//! - every matrix product of a step (forward `x W`, backward `h^T delta` and, above the
//!   first layer, `delta W^T`) timed alone with each sgemm the build can use: gemm 0.19
//!   (the model's, with its run-time choice of AVX-512 or AVX2 kernels) and gemm 0.15
//!   (dfdx's); the faster one per product;
//! - the bound: the sum over the step's products of the faster time, i.e. the step's
//!   product FLOPs at the best single-thread sgemm speed on the step's own shapes;
//! - the real training loop's time per step (batch assembly, noise, forward, backward,
//!   Adam) and that as a multiple of the bound;
//! - the same loop on every core of the machine (the helpers a run gets when fewer runs
//!   than cores are going), wall time per step against one thread's;
//! - the work outside the products timed alone with the same kernels, to show where the
//!   rest of the step goes: making a batch (pixels to floats, 78,400 normals), Adam over
//!   all parameters, bias + activation forward, the output's sigmoid + MSE backward.
//!
//! Times are CPU time (on a busy machine wall time also counts waiting for a core): the
//! calling thread's for the products and parts, the whole process's for the step;
//! except the comparison of thread counts, in wall time. Medians over rounds that
//! alternate products and steps, so a ratio compares like with like. About 30 s in all. Synthetic images (a step's speed
//! hardly depends on the pixels) and a tiny test set, so an epoch is almost all steps.

mod common;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use runner::config::RunConfig;
use runner::config::{Activation, AdamFormula};
use runner::data::{Dataset, DatasetName, Images};
use runner::kernels::activation;
use runner::kernels::matmul::{matmul, Operand};
use runner::kernels::Threads;
use runner::model::widths;
use runner::model::{Adam, Params};
use runner::train::Batches;
use runner::train::{self, Hooks};

use common::{median, process_cpu_seconds, thread_cpu_seconds};

const BATCH: usize = 100;
const STEPS_PER_EPOCH: usize = 100;
/// Epochs per round; the first warms caches and allocations up and is not counted.
const EPOCHS: usize = 3;
const ROUNDS: usize = 5;

/// One product of a step: `out (m, n) = a (m, k) b (k, n)`, with either operand stored
/// transposed as the step stores it.
#[derive(Clone, Copy, Debug)]
struct Product {
    m: usize,
    k: usize,
    n: usize,
    a_transposed: bool,
    b_transposed: bool,
    what: &'static str,
}

impl Product {
    fn flop(&self) -> f64 {
        2.0 * (self.m * self.k * self.n) as f64
    }

    fn label(&self) -> String {
        format!("{} {}x{}x{}", self.what, self.m, self.k, self.n)
    }
}

/// The products of one step, in the order the step runs them.
fn products(hidden: &[usize]) -> Vec<Product> {
    let w = widths(784, hidden);
    let mut out = Vec::new();
    for pair in w.windows(2) {
        let (i, o) = (pair[0], pair[1]);
        out.push(Product {
            m: BATCH,
            k: i,
            n: o,
            a_transposed: false,
            b_transposed: false,
            what: "x W",
        });
    }
    for (l, pair) in w.windows(2).enumerate().rev() {
        let (i, o) = (pair[0], pair[1]);
        out.push(Product {
            m: i,
            k: BATCH,
            n: o,
            a_transposed: true,
            b_transposed: false,
            what: "h^T d",
        });
        if l > 0 {
            out.push(Product {
                m: BATCH,
                k: o,
                n: i,
                a_transposed: false,
                b_transposed: true,
                what: "d W^T",
            });
        }
    }
    out
}

/// CPU seconds (median of `repeats`) of `p` with gemm 0.19 through the model's wrapper,
/// and with gemm 0.15 called directly.
fn product_seconds(p: Product, repeats: usize) -> [f64; 2] {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let a: Vec<f32> = (0..p.m * p.k).map(|_| rng.gen()).collect();
    let b: Vec<f32> = (0..p.k * p.n).map(|_| rng.gen()).collect();
    let mut c = vec![0f32; p.m * p.n];
    let (ar, ac) = if p.a_transposed {
        (p.k, p.m)
    } else {
        (p.m, p.k)
    };
    let (br, bc) = if p.b_transposed {
        (p.n, p.k)
    } else {
        (p.k, p.n)
    };
    let op = |data, rows, cols, t: bool| {
        let o = Operand::new(data, rows, cols);
        if t {
            o.t()
        } else {
            o
        }
    };
    let (a_op, b_op) = (
        op(&a, ar, ac, p.a_transposed),
        op(&b, br, bc, p.b_transposed),
    );
    let mut new = || matmul(&mut c, a_op, b_op, Threads::ONE);
    let t_new = time(&mut new, repeats);
    let ((a_cs, a_rs), (b_cs, b_rs)) = (a_op.strides(), b_op.strides());
    let mut c = vec![0f32; p.m * p.n];
    let mut old = || unsafe {
        gemm015::gemm(
            p.m,
            p.n,
            p.k,
            c.as_mut_ptr(),
            1,
            p.n as isize,
            false,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm015::Parallelism::None,
        )
    };
    let t_old = time(&mut old, repeats);
    [t_new, t_old]
}

fn time(f: &mut dyn FnMut(), repeats: usize) -> f64 {
    f();
    let mut cpu = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let c = thread_cpu_seconds();
        f();
        cpu.push(thread_cpu_seconds() - c);
    }
    median(cpu)
}

fn images(count: usize) -> Images {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
    let bytes: Vec<u8> = (0..count * 784)
        .map(|_| if rng.gen::<f32>() < 0.8 { 0 } else { rng.gen() })
        .collect();
    Images::new(Arc::<[u8]>::from(bytes), 784)
}

/// CPU seconds per step of the real training loop on one thread (batches and all), wall
/// seconds per step of the same loop on `threads` threads of the global pool, and the
/// run's costs.
fn seconds_per_step(hidden: &[usize], data: &Dataset, threads: usize) -> (f64, f64, Vec<f32>) {
    let mut config = RunConfig::default();
    config.train.hidden = hidden.to_vec();
    config.train.batch_size = BATCH;
    config.train.epochs = EPOCHS;
    let flag = AtomicBool::new(false);
    // CPU time and wall time of the epochs after the first, whose end its hook marks.
    let warm = std::sync::Mutex::new((0.0, 0.0));
    let first = |m: &runner::report::metrics::EpochMetrics| {
        let mut warm = warm.lock().unwrap();
        if m.epoch == 1 {
            warm.0 = process_cpu_seconds();
        } else {
            warm.1 += m.seconds;
        }
    };
    let threads = move || threads;
    let hooks = Hooks {
        on_epoch: &first,
        threads: &threads,
        ..Hooks::quiet(&flag)
    };
    let trained = train::train(&config, data, &hooks).unwrap();
    let (cpu, wall) = *warm.lock().unwrap();
    let steps = ((EPOCHS - 1) * STEPS_PER_EPOCH) as f64;
    let costs = trained
        .metrics
        .iter()
        .flat_map(|m| [m.train_cost, m.test_cost])
        .collect();
    ((process_cpu_seconds() - cpu) / steps, wall / steps, costs)
}

/// CPU seconds of the step's work outside the products, each part alone:
/// [making a batch, Adam, bias + activation forward, sigmoid + MSE backward].
fn outside_products(hidden: &[usize], data: &Dataset, repeats: usize) -> [f64; 4] {
    let config = RunConfig::default();
    let mut batches = Batches::new(&config.train, &data.train);
    batches.shuffle();
    let mut batch = batches.empty_batch();
    let mut b = 0;
    let make = time(
        &mut || {
            batches.fill(b % batches.per_epoch(), &mut batch);
            b += 1;
        },
        repeats,
    );
    let mut params = Params::zeros(&widths(784, hidden), Activation::Sigmoid);
    params.values.fill(0.1);
    let grads = vec![1e-6f32; params.values.len()];
    let mut adam = Adam::new(AdamFormula::Tf1, 0.01, params.values.len());
    let all = 0..params.values.len();
    let adam_time = time(
        &mut || {
            adam.next_step().unwrap();
            adam.update(&mut params.values, all.clone(), &grads, Threads::ONE);
        },
        repeats,
    );
    let mut outputs: Vec<Vec<f32>> = params
        .layers
        .iter()
        .map(|l| vec![0.5; BATCH * l.outputs])
        .collect();
    let forward = time(
        &mut || {
            for (l, out) in params.layers.iter().zip(&mut outputs) {
                out.fill(0.5);
                activation::bias_activation(out, &vec![0.0; l.outputs], l.activation, Threads::ONE);
            }
        },
        repeats,
    );
    let out = &outputs[outputs.len() - 1];
    let mut delta = vec![0f32; out.len()];
    let loss = time(
        &mut || {
            std::hint::black_box(activation::sigmoid_mse(
                out,
                &batch.clean,
                &mut delta,
                784,
                Threads::ONE,
            ));
        },
        repeats,
    );
    [make, adam_time, forward, loss]
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

fn arch_name(hidden: &[usize]) -> String {
    widths(784, hidden)
        .iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join("-")
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
    // The training loop sets this on its thread; the products are timed the same way.
    dfdx::flush_denormals_to_zero();
    let data = Dataset {
        name: DatasetName::Mnist,
        train: images(STEPS_PER_EPOCH * BATCH),
        test: images(10),
    };
    let plans: Vec<Vec<Product>> = archs.iter().map(|h| products(h)).collect();
    // Per architecture, per product, per kernel: CPU seconds of each round; and steps.
    let mut product_times = plans
        .iter()
        .map(|ps| vec![[Vec::new(), Vec::new()]; ps.len()])
        .collect::<Vec<_>>();
    let mut step_times = vec![Vec::new(); archs.len()];
    // Wall time per step on one thread and on every core, side by side.
    let cores = rayon::current_num_threads();
    let (mut one_wall, mut many_wall) = (step_times.clone(), step_times.clone());
    let mut same_costs = vec![true; archs.len()];
    let mut outside = vec![vec![Vec::new(); 4]; archs.len()];
    for _ in 0..ROUNDS {
        for (a, hidden) in archs.iter().enumerate() {
            for (i, &p) in plans[a].iter().enumerate() {
                let [new, old] = product_seconds(p, 41);
                product_times[a][i][0].push(new);
                product_times[a][i][1].push(old);
            }
            let (cpu, wall, costs) = seconds_per_step(hidden, &data, 1);
            step_times[a].push(cpu);
            one_wall[a].push(wall);
            if cores > 1 {
                let (_, wall, many_costs) = seconds_per_step(hidden, &data, cores);
                many_wall[a].push(wall);
                same_costs[a] &= many_costs == costs;
            }
            for (k, t) in outside_products(hidden, &data, 41).into_iter().enumerate() {
                outside[a][k].push(t);
            }
        }
    }

    println!("one thread, batch {BATCH}, CPU time, median of {ROUNDS} rounds");
    for (a, hidden) in archs.iter().enumerate() {
        println!();
        println!("{}: products of one step, GFLOP/s", arch_name(hidden));
        println!(
            "  {:<24} {:>10} {:>10} {:>10}",
            "product m x k x n", "gemm 0.19", "gemm 0.15", "best ms"
        );
        let mut bound = 0.0;
        let mut flop = 0.0;
        for (i, p) in plans[a].iter().enumerate() {
            let [new, old] = [0, 1].map(|k| median(product_times[a][i][k].clone()));
            let best = new.min(old);
            bound += best;
            flop += p.flop();
            println!(
                "  {:<24} {:>10.1} {:>10.1} {:>10.3}",
                p.label(),
                p.flop() / new / 1e9,
                p.flop() / old / 1e9,
                best * 1e3
            );
        }
        let step = median(step_times[a].clone());
        println!(
            "  bound: {:.1} MFLOP of products at the best sgemm per product = {:.3} ms/step ({:.1} GFLOP/s)",
            flop / 1e6,
            bound * 1e3,
            flop / bound / 1e9
        );
        println!(
            "  training step: {:.3} ms/step ({:.0} steps/s) = {:.2}x the bound ({:.0}% of the bound's speed)",
            step * 1e3,
            1.0 / step,
            step / bound,
            100.0 * bound / step
        );
        if cores > 1 {
            let (one, many) = (median(one_wall[a].clone()), median(many_wall[a].clone()));
            println!(
                "  on {cores} threads: {:.3} ms/step wall, {:.2}x faster than on one ({:.3} ms/step wall); costs {}",
                many * 1e3,
                one / many,
                one * 1e3,
                if same_costs[a] { "identical" } else { "DIFFER" }
            );
        }
        let parts = [
            "making a batch (pixels, 78,400 normals)",
            "Adam, all parameters",
            "bias + activation, forward",
            "sigmoid + MSE, backward",
        ];
        let times: Vec<f64> = outside[a].iter().map(|t| median(t.clone())).collect();
        println!(
            "  outside the products, each alone: {:.3} ms of the {:.3} ms above the bound",
            times.iter().sum::<f64>() * 1e3,
            (step - bound) * 1e3
        );
        for (part, t) in parts.iter().zip(&times) {
            println!("    {part:<42} {:>8.3} ms", t * 1e3);
        }
    }
}
