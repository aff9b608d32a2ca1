//! The runtime-shaped model against dfdx's own const-generic `nn` model and `optim::Adam`:
//! from equal weights and batches, the costs and final weights must be equal bit for bit.

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
use runner::config::{Activation, Init};
use runner::model::{Adam, Autoencoder, Input, Layer};
use runner::train::noise;

const STEPS: usize = 50;
const BATCH: usize = 100;
const DIM: usize = 784;

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

fn runtime_model(dev: &Cpu, hidden: &[usize]) -> Autoencoder {
    let mut rng = noise::stream(1, noise::Stream::Init);
    Autoencoder::new(
        dev,
        DIM,
        hidden,
        Activation::Sigmoid,
        Init::Uniform,
        1.0,
        &mut rng,
    )
    .unwrap()
}

fn runtime_costs(dev: &Cpu, model: &mut Autoencoder) -> Vec<f32> {
    let mut adam = Adam::new(0.01);
    (0..STEPS)
        .map(|s| {
            let (noisy, clean) = batch(s);
            model
                .train_step(
                    &mut adam,
                    &Input::from_vec(dev, noisy, (BATCH, DIM)),
                    dev.tensor_from_vec(clean, (BATCH, DIM)),
                )
                .unwrap()
        })
        .collect()
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

/// `nn::Linear` stores its weight as (outputs, inputs); the runtime layer as (inputs, outputs).
fn transposed(layer: &Layer) -> Vec<f32> {
    let (i, o) = (layer.inputs(), layer.outputs());
    let w = layer.weight.as_vec();
    let mut t = vec![0f32; i * o];
    for r in 0..i {
        for c in 0..o {
            t[c * i + r] = w[r * o + c];
        }
    }
    t
}

fn set<const I: usize, const O: usize>(lin: &mut modules::Linear<I, O, f32, Cpu>, layer: &Layer) {
    lin.weight.copy_from(&transposed(layer));
    lin.bias.copy_from(&layer.bias.as_vec());
}

fn same<const I: usize, const O: usize>(
    lin: &modules::Linear<I, O, f32, Cpu>,
    layer: &Layer,
) -> bool {
    lin.weight.as_vec() == transposed(layer) && lin.bias.as_vec() == layer.bias.as_vec()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn one_hidden_layer_matches_nn_and_optim_adam() {
    let dev = Cpu::seed_from_u64(0);
    let mut runtime = runtime_model(&dev, &[256]);
    let mut oracle =
        dev.build_module::<(Linear<784, 256>, Sigmoid, Linear<256, 784>, Sigmoid), f32>();
    set(&mut oracle.0, &runtime.layers()[0]);
    set(&mut oracle.2, &runtime.layers()[1]);
    let expected = oracle_costs(&dev, &mut oracle);
    let got = runtime_costs(&dev, &mut runtime);
    assert_eq!(bits(&got), bits(&expected));
    assert!(got[STEPS - 1] < got[0], "the cost should fall: {got:?}");
    assert!(same(&oracle.0, &runtime.layers()[0]) && same(&oracle.2, &runtime.layers()[1]));
}

#[test]
fn two_hidden_layers_match_nn_and_optim_adam() {
    let dev = Cpu::seed_from_u64(0);
    let mut runtime = runtime_model(&dev, &[256, 128]);
    type Model = (
        (Linear<784, 256>, Sigmoid, Linear<256, 128>, Sigmoid),
        (Linear<128, 256>, Sigmoid, Linear<256, 784>, Sigmoid),
    );
    let mut oracle = dev.build_module::<Model, f32>();
    let l = runtime.layers();
    set(&mut oracle.0 .0, &l[0]);
    set(&mut oracle.0 .2, &l[1]);
    set(&mut oracle.1 .0, &l[2]);
    set(&mut oracle.1 .2, &l[3]);
    let expected = oracle_costs(&dev, &mut oracle);
    let got = runtime_costs(&dev, &mut runtime);
    assert_eq!(bits(&got), bits(&expected));
    let l = runtime.layers();
    assert!(same(&oracle.0 .0, &l[0]) && same(&oracle.0 .2, &l[1]));
    assert!(same(&oracle.1 .0, &l[2]) && same(&oracle.1 .2, &l[3]));
}
