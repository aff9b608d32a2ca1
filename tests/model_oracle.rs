//! Both training engines against dfdx's own const-generic `nn` model and `optim::Adam`,
//! from equal weights and batches:
//! - the tensor engine (dfdx ops on runtime-shaped tensors, the GPU's path), run on the
//!   CPU, must give the oracle's costs and final weights bit for bit;
//! - the CPU engine (gemm 0.19 products, fused kernels, one Adam pass) computes the same
//!   functions with other kernels, so its costs may differ in the last bits: they must
//!   agree within [`CPU_TOLERANCE`], and so must its final weights.

use dfdx::losses::mse_loss;
use dfdx::nn::builders::{Linear, Sigmoid};
use dfdx::nn::modules;
use dfdx::nn::{DeviceBuildExt, Module};
use dfdx::optim::Optimizer;
use dfdx::prelude::{
    AdamConfig, AsArray, Const, Cpu, CpuError, OwnedTape, Tensor, TensorCollection,
};
use dfdx::tensor::{TensorFromVec, Trace};
use dfdx::tensor_ops::Backward;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use runner::config::{Activation, AdamFormula, Init};
use runner::model::cpu::CpuModel;
use runner::model::tensors::TensorModel;
use runner::model::Params;
use runner::train::noise;

const STEPS: usize = 50;
const BATCH: usize = 100;
const DIM: usize = 784;

/// Largest relative difference of a step's cost between the CPU engine and the oracle.
/// Measured on an Intel Xeon (Sapphire Rapids, AVX-512 kernels): 3.6e-5 (one hidden
/// layer) and 5.0e-5 (two) over these 50 steps. About 1e-5 of that is the oracle's own
/// cost: dfdx sums the 78,400 squared errors one by one in f32, where the CPU engine sums
/// in f64 (on a real run's first step, the numpy float64 replay is 8.5e-6 from dfdx's cost
/// and 2.4e-9 from the CPU engine's). The rest is f32 rounding in other kernels (gemm
/// 0.19 against 0.15, the exponential) amplified by the first Adam steps. 2e-4 leaves 4x
/// for AVX2 machines' other summation order and is 50x below what a changed formula
/// moves (`a_wrong_formula_is_caught`).
const CPU_TOLERANCE: f64 = 2e-4;

type Batch<T = dfdx::prelude::NoneTape> = Tensor<(usize, Const<DIM>), f32, Cpu, T>;

/// MNIST-like pixels (mostly zero) and their noisy version, fixed by `step`.
fn batch(step: usize) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1000 + step as u64);
    let clean: Vec<f32> = (0..BATCH * DIM)
        .map(|_| {
            if rng.gen::<f32>() < 0.8 {
                0.0
            } else {
                rng.gen::<f32>()
            }
        })
        .collect();
    let mut noisy = vec![0f32; clean.len()];
    noise::add_noise(&mut rng, 0.6, &clean, &mut noisy);
    (noisy, clean)
}

fn initial(hidden: &[usize]) -> Params {
    let mut rng = noise::stream(1, noise::Stream::Init);
    Params::init(
        DIM,
        hidden,
        Activation::Sigmoid,
        Init::Uniform,
        1.0,
        &mut rng,
    )
    .unwrap()
}

fn tensor_costs(params: &Params) -> (Vec<f32>, Params) {
    use runner::model::Trainer;
    let mut model = TensorModel::new(&Cpu::seed_from_u64(0), params, AdamFormula::Dfdx, 0.01);
    let costs = (0..STEPS)
        .map(|s| {
            let (noisy, clean) = batch(s);
            model.train_step(&noisy, &clean).unwrap() as f32
        })
        .collect();
    (costs, model.params().unwrap())
}

fn cpu_costs(params: &Params, formula: AdamFormula) -> (Vec<f64>, Params) {
    let mut model = CpuModel::new(params.clone(), formula, 0.01, BATCH);
    let costs = (0..STEPS)
        .map(|s| {
            let (noisy, clean) = batch(s);
            model.train_step(&noisy, &clean).unwrap()
        })
        .collect();
    (costs, model.params_ref().clone())
}

fn oracle_costs<M>(dev: &Cpu, model: &mut M) -> Vec<f32>
where
    M: Module<Batch<OwnedTape<f32, Cpu>>, Output = Batch<OwnedTape<f32, Cpu>>, Error = CpuError>
        + TensorCollection<f32, Cpu>,
{
    let cfg = AdamConfig {
        lr: 0.01,
        betas: [0.9, 0.999],
        eps: 1e-8,
        weight_decay: None,
    };
    let mut opt = dfdx::optim::Adam::new(model, cfg);
    (0..STEPS)
        .map(|s| {
            let (noisy, clean) = batch(s);
            let x: Batch = dev.tensor_from_vec(noisy, (BATCH, Const));
            let y: Batch = dev.tensor_from_vec(clean, (BATCH, Const));
            let loss = mse_loss(model.forward(x.leaky_traced()), y);
            let cost = loss.array();
            let grads = loss.backward();
            opt.update(model, &grads).unwrap();
            cost
        })
        .collect()
}

/// `nn::Linear` stores its weight as (outputs, inputs); `Params` as (inputs, outputs).
fn transposed(params: &Params, layer: usize) -> Vec<f32> {
    let (i, o) = (params.layers[layer].inputs, params.layers[layer].outputs);
    let w = params.weight(layer);
    let mut t = vec![0f32; i * o];
    for r in 0..i {
        for c in 0..o {
            t[c * i + r] = w[r * o + c];
        }
    }
    t
}

fn set<const I: usize, const O: usize>(
    lin: &mut modules::Linear<I, O, f32, Cpu>,
    params: &Params,
    layer: usize,
) {
    lin.weight.copy_from(&transposed(params, layer));
    lin.bias.copy_from(params.bias(layer));
}

/// The oracle's layer as (weight as `Params` stores it, bias).
fn get<const I: usize, const O: usize>(lin: &modules::Linear<I, O, f32, Cpu>) -> Vec<f32> {
    let w = lin.weight.as_vec();
    let mut out = vec![0f32; I * O];
    for r in 0..I {
        for c in 0..O {
            out[r * O + c] = w[c * I + r];
        }
    }
    out.extend(lin.bias.as_vec());
    out
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn largest_relative(a: &[f64], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x - y as f64).abs() / (y as f64).abs())
        .fold(0.0, f64::max)
}

fn largest_abs(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() as f64)
        .fold(0.0, f64::max)
}

/// Runs both engines against an oracle whose final parameters (flat, as `Params`) are
/// `oracle_params`.
fn check(expected: Vec<f32>, oracle_params: Vec<f32>, params: &Params) {
    let (tensor, tensor_params) = tensor_costs(params);
    assert_eq!(bits(&tensor), bits(&expected), "tensor engine costs");
    assert_eq!(
        bits(&tensor_params.values),
        bits(&oracle_params),
        "tensor engine weights"
    );

    let (cpu, cpu_params) = cpu_costs(params, AdamFormula::Dfdx);
    let rel = largest_relative(&cpu, &expected);
    println!("CPU engine: largest relative cost difference {rel:.2e}");
    assert!(rel < CPU_TOLERANCE, "CPU engine costs differ by {rel:e}");
    let abs = largest_abs(&cpu_params.values, &oracle_params);
    println!("CPU engine: largest weight difference {abs:.2e}");
    assert!(abs < 1e-3, "CPU engine weights differ by {abs:e}");
    assert!(cpu[STEPS - 1] < cpu[0], "the cost should fall: {cpu:?}");
}

#[test]
fn one_hidden_layer_matches_nn_and_optim_adam() {
    let dev = Cpu::seed_from_u64(0);
    let params = initial(&[256]);
    let mut oracle =
        dev.build_module::<(Linear<784, 256>, Sigmoid, Linear<256, 784>, Sigmoid), f32>();
    set(&mut oracle.0, &params, 0);
    set(&mut oracle.2, &params, 1);
    let expected = oracle_costs(&dev, &mut oracle);
    let oracle_params = [get(&oracle.0), get(&oracle.2)].concat();
    check(expected, oracle_params, &params);
}

#[test]
fn two_hidden_layers_match_nn_and_optim_adam() {
    let dev = Cpu::seed_from_u64(0);
    let params = initial(&[256, 128]);
    type Model = (
        (Linear<784, 256>, Sigmoid, Linear<256, 128>, Sigmoid),
        (Linear<128, 256>, Sigmoid, Linear<256, 784>, Sigmoid),
    );
    let mut oracle = dev.build_module::<Model, f32>();
    set(&mut oracle.0 .0, &params, 0);
    set(&mut oracle.0 .2, &params, 1);
    set(&mut oracle.1 .0, &params, 2);
    set(&mut oracle.1 .2, &params, 3);
    let expected = oracle_costs(&dev, &mut oracle);
    let oracle_params = [
        get(&oracle.0 .0),
        get(&oracle.0 .2),
        get(&oracle.1 .0),
        get(&oracle.1 .2),
    ]
    .concat();
    check(expected, oracle_params, &params);
}

/// The tolerance is tight enough to see a formula change: TensorFlow 1's Adam, which
/// differs from dfdx's only in where epsilon enters, already parts from the oracle by
/// more than the tolerance.
#[test]
fn a_wrong_formula_is_caught() {
    let dev = Cpu::seed_from_u64(0);
    let params = initial(&[256]);
    let mut oracle =
        dev.build_module::<(Linear<784, 256>, Sigmoid, Linear<256, 784>, Sigmoid), f32>();
    set(&mut oracle.0, &params, 0);
    set(&mut oracle.2, &params, 1);
    let expected = oracle_costs(&dev, &mut oracle);
    let (tf1, _) = cpu_costs(&params, AdamFormula::Tf1);
    let rel = largest_relative(&tf1, &expected);
    println!("TensorFlow 1's formula against dfdx's: {rel:.2e}");
    assert!(rel > 10.0 * CPU_TOLERANCE, "{rel:e}");
}

/// The tensor engine (the GPU's path) with TensorFlow 1's formula agrees with the CPU
/// engine's, though one computes it as dfdx's kernel with a rescaled epsilon.
#[test]
fn both_engines_agree_on_tensorflow_1s_adam() {
    use runner::model::Trainer;
    let params = initial(&[256]);
    let mut tensor = TensorModel::new(&Cpu::seed_from_u64(0), &params, AdamFormula::Tf1, 0.01);
    let tensor_costs: Vec<f32> = (0..STEPS)
        .map(|s| {
            let (noisy, clean) = batch(s);
            tensor.train_step(&noisy, &clean).unwrap() as f32
        })
        .collect();
    let (cpu, cpu_params) = cpu_costs(&params, AdamFormula::Tf1);
    let rel = largest_relative(&cpu, &tensor_costs);
    println!("tf1: CPU engine against tensor engine {rel:.2e}");
    assert!(rel < CPU_TOLERANCE, "{rel:e}");
    assert!(largest_abs(&cpu_params.values, &tensor.params().unwrap().values) < 1e-3);
}

/// Idle cores helping a run (its step on a pool thread, the kernels' pieces stolen by the
/// others) change nothing: costs and weights are the bits of the run on one thread.
#[test]
fn helper_threads_change_no_bits() {
    use runner::model::Trainer;
    let params = initial(&[256, 128]);
    let run = |threads: usize| {
        let mut model = CpuModel::new(params.clone(), AdamFormula::Tf1, 0.01, BATCH);
        model.set_threads(threads);
        for s in 0..10 {
            let (noisy, clean) = batch(s);
            model.step(&noisy, &clean).unwrap();
        }
        let costs = model.take_costs().unwrap();
        (costs, model.params_ref().values.clone())
    };
    let alone = run(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .unwrap();
    for threads in [2, 3, 4] {
        let helped = pool.install(|| run(threads));
        assert_eq!(alone.0, helped.0, "costs with {threads} threads");
        assert!(
            alone
                .1
                .iter()
                .zip(&helped.1)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "weights with {threads} threads"
        );
    }
}
