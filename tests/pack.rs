//! Vectorised runs (`--pack`, the GPU's engine) on dfdx's CPU device, against the same
//! runs trained alone: a packed run must train as it would alone, whatever its
//! pack-mates do.

use std::sync::atomic::AtomicBool;

use dfdx::prelude::Cpu;
use runner::config::{AdamFormula, Init, RunConfig};
use runner::data::{Dataset, DatasetName, Images};
use runner::device::Slot;
use runner::model::pack::PackModel;
use runner::model::tensors::TensorModel;
use runner::model::Trainer;
use runner::train::pack::{self, Member};
use runner::train::{self, Batches, Hooks, Trained};

/// Largest relative difference between a packed run's costs and the same run trained
/// alone by the CPU engine (`runner --device cpu` without `--pack`), over this file's
/// 3-epoch runs. Measured on an Intel Xeon (family 6 model 207, AVX-512): 3.8e-6 for
/// train costs and 6.5e-6 for test costs. The two engines compute the same functions with
/// other kernels (gemm 0.15 inside dfdx against 0.19, a sum of f32 products against the
/// CPU engine's f64 sums); tests/model_oracle.rs bounds the same difference at 2e-4 for
/// 50 steps of the full-size model.
const ENGINE_TOLERANCE: f64 = 2e-4;

/// Largest relative difference between a packed run's step costs and those of dfdx's
/// tensor engine alone (same kernels, same parameters bit for bit): only the cost's sum
/// differs (row sums as products with ones here, dfdx's one long f32 `sum` there, the
/// less accurate of the two: `the_pack_cost_is_an_accurate_sum`). Measured: 5.4e-6.
const COST_SUM_TOLERANCE: f64 = 5e-5;

fn images(count: usize, seed: u64) -> Images {
    common::rectangles(count, seed)
}

fn dataset() -> Dataset {
    Dataset {
        name: DatasetName::Mnist,
        train: images(400, 1),
        test: images(1500, 2),
    }
}

/// Runs that may share a pack: one shape and optimizer, their own seed, init and noise.
fn config(seed: u64) -> RunConfig {
    let mut c = RunConfig::default();
    c.train.epochs = 3;
    c.train.batch_size = 32;
    c.train.hidden = vec![32, 16];
    c.train.seed = seed;
    c.train.noise_level = 0.2 + 0.2 * seed as f64;
    if seed.is_multiple_of(2) {
        c.train.init = Init::Xavier;
    }
    c
}

fn train_pack(configs: &[RunConfig]) -> Vec<anyhow::Result<Trained>> {
    let cancel = AtomicBool::new(false);
    let hooks = Hooks::quiet(&cancel);
    let members: Vec<Member> = configs
        .iter()
        .map(|config| Member {
            config,
            hooks: &hooks,
        })
        .collect();
    pack::train(Slot::Cpu, &members, &dataset())
}

fn metric_costs(t: &Trained) -> Vec<(f32, f32)> {
    t.metrics
        .iter()
        .map(|m| (m.train_cost, m.test_cost))
        .collect()
}

fn error(r: &anyhow::Result<Trained>) -> String {
    match r {
        Ok(_) => panic!("expected a failure"),
        Err(e) => e.to_string(),
    }
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn relative(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
}

#[test]
fn a_packed_run_trains_bit_for_bit_as_alone() {
    let configs: Vec<RunConfig> = (1..=3).map(config).collect();
    let packed = train_pack(&configs);
    for (config, packed) in configs.iter().zip(&packed) {
        let packed = packed.as_ref().unwrap();
        let alone = train_pack(std::slice::from_ref(config))
            .pop()
            .unwrap()
            .unwrap();
        assert_eq!(
            metric_costs(packed),
            metric_costs(&alone),
            "seed {}",
            config.train.seed
        );
        assert_eq!(bits(&packed.params.values), bits(&alone.params.values));
        assert_eq!(packed.reconstruction_png, alone.reconstruction_png);
        assert_eq!(packed.metrics.len(), 3);
        assert!(packed.metrics[2].train_cost < packed.metrics[0].train_cost);
    }
    // Different seeds really are different runs.
    let a = packed[0].as_ref().unwrap();
    let b = packed[1].as_ref().unwrap();
    assert_ne!(metric_costs(a), metric_costs(b));
}

#[test]
fn a_packed_run_agrees_with_the_cpu_engine() {
    let configs: Vec<RunConfig> = (1..=2).map(config).collect();
    let packed = train_pack(&configs);
    let cancel = AtomicBool::new(false);
    let (mut worst_train, mut worst_test) = (0f64, 0f64);
    for (config, packed) in configs.iter().zip(packed) {
        let packed = packed.unwrap();
        let alone = train::train(config, &dataset(), &Hooks::quiet(&cancel)).unwrap();
        for (p, a) in packed.metrics.iter().zip(&alone.metrics) {
            worst_train = worst_train.max(relative(p.train_cost as f64, a.train_cost as f64));
            worst_test = worst_test.max(relative(p.test_cost as f64, a.test_cost as f64));
        }
        assert_eq!(packed.metrics.len(), alone.metrics.len());
    }
    println!("pack against the CPU engine: train {worst_train:.2e}, test {worst_test:.2e}");
    assert!(worst_train < ENGINE_TOLERANCE, "{worst_train:e}");
    assert!(worst_test < ENGINE_TOLERANCE, "{worst_test:e}");
}

/// Step by step against dfdx's tensor engine alone (itself bit for bit dfdx's `nn` model
/// and `optim::Adam`, tests/model_oracle.rs): the same parameters after every step.
#[test]
fn the_pack_engine_is_the_tensor_engine_per_run() {
    let data = dataset();
    let configs: Vec<RunConfig> = (1..=3).map(config).collect();
    let params: Vec<_> = configs
        .iter()
        .map(|c| train::initial_params(&c.train, 784).unwrap())
        .collect();
    let dev = Cpu::default();
    for formula in [AdamFormula::Tf1, AdamFormula::Dfdx] {
        let mut pack = PackModel::new(&dev, &params, formula, 0.01, 32, &data.train).unwrap();
        let mut alone: Vec<TensorModel> = params
            .iter()
            .map(|p| TensorModel::new(&dev, p, formula, 0.01))
            .collect();
        let mut batches: Vec<Batches> = configs
            .iter()
            .map(|c| Batches::new(&c.train, &data.train))
            .collect();
        batches.iter_mut().for_each(|b| b.shuffle());
        let mut worst = 0f64;
        for step in 0..8 {
            let mut indices = Vec::new();
            let mut noisy = Vec::new();
            let mut expected = Vec::new();
            for (b, model) in batches.iter_mut().zip(&mut alone) {
                let mut batch = b.empty_batch();
                b.fill(step, &mut batch);
                indices.extend_from_slice(b.indices(step));
                noisy.extend_from_slice(&batch.noisy);
                expected.push(model.train_step(&batch.noisy, &batch.clean).unwrap());
            }
            pack.step(indices, noisy).unwrap();
            let got = pack.take_costs().unwrap();
            for (run, e) in expected.iter().enumerate() {
                assert_eq!(got[run].len(), 1);
                worst = worst.max(relative(got[run][0], *e));
            }
            for (p, a) in pack.params().iter().zip(&alone) {
                assert_eq!(
                    bits(&p.values),
                    bits(&a.params().unwrap().values),
                    "{formula:?}, step {step}"
                );
            }
        }
        println!("{formula:?}: step costs against the tensor engine {worst:.2e}");
        assert!(worst < COST_SUM_TOLERANCE, "{worst:e}");
    }
}

/// The pack sums a cost as row sums and then their sum, in f32: against the same squared
/// errors summed in f64 it is closer than dfdx's one long f32 sum (measured on the first
/// step of three runs: 4.6e-8 against 2.4e-6 for dfdx's `mse_loss`).
#[test]
fn the_pack_cost_is_an_accurate_sum() {
    let data = dataset();
    let configs: Vec<RunConfig> = (1..=3).map(config).collect();
    let params: Vec<_> = configs
        .iter()
        .map(|c| train::initial_params(&c.train, 784).unwrap())
        .collect();
    let dev = Cpu::default();
    let mut pack = PackModel::new(&dev, &params, AdamFormula::Tf1, 0.01, 32, &data.train).unwrap();
    let mut indices = Vec::new();
    let mut noisy = Vec::new();
    let mut exact = Vec::new();
    let mut dfdx_costs = Vec::new();
    for (c, p) in configs.iter().zip(&params) {
        let mut b = Batches::new(&c.train, &data.train);
        b.shuffle();
        let mut batch = b.empty_batch();
        b.fill(0, &mut batch);
        indices.extend_from_slice(b.indices(0));
        noisy.extend_from_slice(&batch.noisy);
        let mut alone = TensorModel::new(&dev, p, AdamFormula::Tf1, 0.01);
        let out = alone.reconstruct(&batch.noisy).unwrap();
        let sum: f64 = out
            .iter()
            .zip(&batch.clean)
            .map(|(o, c)| ((o - c) as f64).powi(2))
            .sum();
        exact.push(sum / out.len() as f64);
        dfdx_costs.push(alone.train_step(&batch.noisy, &batch.clean).unwrap());
    }
    pack.step(indices, noisy).unwrap();
    let costs = pack.take_costs().unwrap();
    let (mut ours, mut theirs) = (0f64, 0f64);
    for run in 0..3 {
        ours = ours.max(relative(costs[run][0], exact[run]));
        theirs = theirs.max(relative(dfdx_costs[run], exact[run]));
    }
    println!("against an f64 sum: pack {ours:.1e}, dfdx's mse_loss {theirs:.1e}");
    assert!(ours < 1e-6, "{ours:e}");
    assert!(ours < theirs);
}

/// A run whose cost turns non-finite fails with the error it has alone, and its
/// pack-mates finish exactly as they would without it.
#[test]
fn a_diverging_run_fails_alone_and_spares_its_pack_mates() {
    let mut configs: Vec<RunConfig> = (1..=3).map(config).collect();
    configs[1].train.noise_level = f64::INFINITY;
    let packed = train_pack(&configs);
    let err = error(&packed[1]);
    assert_eq!(
        err,
        "diverged at epoch 1, batch 1: cost is NaN; try a lower learning_rate"
    );
    let alone = train_pack(std::slice::from_ref(&configs[1])).pop().unwrap();
    assert_eq!(error(&alone), err);
    let healthy = [configs[0].clone(), configs[2].clone()];
    let without = train_pack(&healthy);
    for (with, without) in [&packed[0], &packed[2]].into_iter().zip(&without) {
        let (with, without) = (with.as_ref().unwrap(), without.as_ref().unwrap());
        assert_eq!(metric_costs(with), metric_costs(without));
        assert_eq!(bits(&with.params.values), bits(&without.params.values));
    }
}

#[test]
fn runs_of_other_shapes_are_refused() {
    let mut other = config(2);
    other.train.hidden = vec![32];
    let results = train_pack(&[config(1), other]);
    for r in results {
        let err = error(&r);
        assert!(err.contains("must share"), "{err}");
    }
}

#[test]
fn a_cancelled_pack_cancels_every_run() {
    let cancel = AtomicBool::new(true);
    let hooks = Hooks::quiet(&cancel);
    let configs = [config(1), config(2)];
    let members: Vec<Member> = configs
        .iter()
        .map(|config| Member {
            config,
            hooks: &hooks,
        })
        .collect();
    for r in pack::train(Slot::Cpu, &members, &dataset()) {
        assert!(r.err().expect("cancelled").is::<train::Cancelled>());
    }
}

// The binary with `--pack`, on real MNIST slices.

mod common;

use common::{costs, ok, runner, text};

/// Two depths, three seeds and two noise levels: with `--pack 8` the runs of each depth
/// share a pack. (No valid setting makes a pack-mate diverge on its own any more: every
/// setting but the learning rate, which pack-mates share, is bounded to what the
/// arithmetic takes; `a_diverging_run_fails_alone_and_spares_its_pack_mates` covers divergence.)
const SWEEP: &str = r#"
name = "packed"
[data]
train_examples = 300
[train]
epochs = 2
batch_size = 50
activation = "relu"
[sweep]
hidden = [[32], [32, 16]]
seed = [1, 2, 3]
noise_level = [0.6, 0.3]
"#;

fn sweep(dir: &std::path::Path) -> String {
    let path = dir.join("packed.toml");
    std::fs::write(&path, SWEEP).unwrap();
    path.to_str().unwrap().to_string()
}

fn run_ids(root: &std::path::Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    ids.sort();
    ids
}

#[test]
fn packed_sweeps_give_each_run_its_own_results_whatever_the_packing() {
    let dir = tempfile::tempdir().unwrap();
    let exp = sweep(dir.path());
    let mut outs = Vec::new();
    for (name, args) in [
        ("one", &["--pack", "8", "--jobs", "1"][..]),
        ("two", &["--pack", "8", "--jobs", "2"]),
        ("pairs", &["--pack", "2", "--jobs", "1"]),
    ] {
        let mut all = vec![exp.as_str(), "--out", name, "-q"];
        all.extend_from_slice(args);
        ok(&runner(&all, dir.path()));
        outs.push(dir.path().join(name).join("packed"));
    }
    let ids = run_ids(&outs[0]);
    assert_eq!(ids.len(), 12);
    for id in &ids {
        let dirs: Vec<_> = outs.iter().map(|o| o.join(id)).collect();
        let first = costs(&dirs[0].join("metrics.csv"));
        for d in &dirs[1..] {
            assert_eq!(costs(&d.join("metrics.csv")), first, "{id}");
            assert!(d.join("model.safetensors").is_file());
            assert!(d.join("reconstruction.png").is_file());
        }
    }
    let summary = std::fs::read_to_string(outs[0].join("summary.csv")).unwrap();
    assert_eq!(
        summary.matches(",done,cpu,pack,2,").count(),
        12,
        "{summary}"
    );
}

#[test]
fn a_packed_sweep_resumes_and_verifies_run_by_run() {
    let dir = tempfile::tempdir().unwrap();
    let exp = sweep(dir.path()).replace("packed.toml", "healthy.toml");
    std::fs::write(&exp, SWEEP.replace("noise_level = [0.6, 0.3]", "")).unwrap();
    let pack = ["--pack", "8", "-q"];
    ok(&runner(
        &[&[exp.as_str(), "--out", "whole"][..], &pack].concat(),
        dir.path(),
    ));
    // A first invocation trains only seed 1; the second packs the four runs left.
    ok(&runner(
        &[
            &[exp.as_str(), "--out", "parts", "--filter", "seed1"][..],
            &pack,
        ]
        .concat(),
        dir.path(),
    ));
    let out = runner(
        &[&[exp.as_str(), "--out", "parts"][..], &pack[..2]].concat(),
        dir.path(),
    );
    let stderr = ok(&out);
    assert_eq!(stderr.matches(": complete results").count(), 2, "{stderr}");
    let (whole, parts) = (
        dir.path().join("whole/packed"),
        dir.path().join("parts/packed"),
    );
    let ids = run_ids(&whole);
    assert_eq!(ids.len(), 6);
    for id in &ids {
        assert_eq!(
            costs(&whole.join(id).join("metrics.csv")),
            costs(&parts.join(id).join("metrics.csv")),
            "{id}"
        );
    }
    // --verify retrains in packs and compares run by run, bit for bit.
    let out = runner(
        &[
            &[exp.as_str(), "--out", "whole", "--verify"][..],
            &pack[..2],
        ]
        .concat(),
        dir.path(),
    );
    let stdout = text(&out.stdout);
    ok(&out);
    assert!(stdout.contains("all runs reproduce"), "{stdout}");
}

#[test]
fn pack_zero_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let exp = sweep(dir.path());
    let out = runner(&[&exp, "--pack", "0"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--pack 0"),
        "{}",
        text(&out.stderr)
    );
}
