//! Sampled searches (`[search]`) through the built binary: trials are a pure function of
//! the file, so a grown search keeps its first trials, workers and shards give the same
//! summary, a run's config.toml alone reproduces it, and bad input is refused up front.

mod common;

use std::path::Path;

use common::{costs, ok, runner, summary_without_seconds, text};

/// Four trials of five settings, each with two seeds, on 500 images for 2 epochs.
const SEARCH: &str = r#"
name = "search"
[data]
train_examples = 500
[train]
epochs = 2

[search]
method = "sobol"
trials = 4
seed = 3

[search.space]
learning_rate = { log_uniform = [1e-3, 3e-2] }
noise_level = { uniform = [0.0, 1.0] }
batch_size = { log_int = [32, 128] }
hidden = { choice = [[32], [32, 16]] }
activation = { choice = ["sigmoid", "relu"] }

[sweep]
seed = [1, 2]
"#;

fn experiment(dir: &Path, text: &str) -> String {
    let path = dir.join("search.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// `--dry-run`'s table rows, without the budget line (its estimate is measured).
fn dry_run_rows(exp: &str, dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec![exp, "--dry-run"];
    args.extend_from_slice(extra);
    let out = runner(&args, dir);
    ok(&out);
    text(&out.stdout)
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('t'))
        .map(str::to_string)
        .collect()
}

#[test]
fn trials_are_sampled_in_range_and_a_grown_search_keeps_its_first_trials() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), SEARCH);
    let four = dry_run_rows(&exp, dir.path(), &[]);
    assert_eq!(four.len(), 8, "4 trials x 2 seeds: {four:?}");
    assert!(four[0].starts_with("t0000_seed1 "), "{four:?}");
    assert!(four[7].starts_with("t0003_seed2 "), "{four:?}");
    for row in &four {
        let cells: Vec<&str> = row.split_whitespace().collect();
        // id hidden activation noise_level learning_rate batch_size seed
        assert!(["32", "32-16"].contains(&cells[1]), "{row}");
        assert!(["sigmoid", "relu"].contains(&cells[2]), "{row}");
        let noise: f64 = cells[3].parse().unwrap();
        let lr: f64 = cells[4].parse().unwrap();
        let batch: u64 = cells[5].parse().unwrap();
        assert!((0.0..1.0).contains(&noise), "{row}");
        assert!((1e-3..=3e-2).contains(&lr), "{row}");
        assert!((32..=128).contains(&batch), "{row}");
    }
    // Sobol: the first 4 trials fall one in each quarter of the noise range.
    let mut quarters: Vec<usize> = four
        .iter()
        .step_by(2)
        .map(|r| (r.split_whitespace().nth(3).unwrap().parse::<f64>().unwrap() * 4.0) as usize)
        .collect();
    quarters.sort();
    assert_eq!(quarters, [0, 1, 2, 3]);

    let eight = dry_run_rows(&exp, dir.path(), &["--set", "search.trials=8"]);
    assert_eq!(eight.len(), 16);
    assert_eq!(eight[..8], four[..], "the first 4 trials are the same");
    let other_seed = dry_run_rows(&exp, dir.path(), &["--set", "search.seed=4"]);
    assert_ne!(other_seed, four);
    let random = dry_run_rows(&exp, dir.path(), &["--set", "search.method=\"random\""]);
    assert_ne!(random, four);
}

#[test]
fn workers_and_shards_give_one_search_and_config_toml_alone_reproduces_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), SEARCH);
    ok(&runner(
        &[&exp, "--out", "j1", "-q", "--jobs", "1"],
        dir.path(),
    ));
    ok(&runner(
        &[&exp, "--out", "j2", "-q", "--jobs", "2"],
        dir.path(),
    ));
    for shard in ["0/2", "1/2"] {
        ok(&runner(
            &[&exp, "--out", "shards", "-q", "--shard", shard],
            dir.path(),
        ));
    }
    let summary =
        |out: &str| summary_without_seconds(&dir.path().join(out).join("search/summary.csv"));
    assert_eq!(summary("j1"), summary("j2"));
    assert_eq!(summary("j1"), summary("shards"));
    assert_eq!(summary("j1").lines().count(), 9, "{}", summary("j1"));

    // A run's config.toml, as an experiment file of its own, trains the same run.
    let run = dir.path().join("j1/search/t0001_seed2");
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    let alone = dir.path().join("alone.toml");
    std::fs::write(&alone, format!("name = \"alone\"\n{config}")).unwrap();
    ok(&runner(
        &[alone.to_str().unwrap(), "--out", "alone", "-q"],
        dir.path(),
    ));
    assert_eq!(
        costs(&run.join("metrics.csv")),
        costs(&dir.path().join("alone/alone/run/metrics.csv"))
    );
}

/// Each bad search is refused before anything trains (exit 2), naming the place and the
/// fix.
#[test]
fn bad_searches_are_refused_naming_the_place_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let space = "learning_rate = { log_uniform = [1e-3, 3e-2] }";
    let batch = "batch_size = { log_int = [32, 128] }";
    let activation = "activation = { choice = [\"sigmoid\", \"relu\"] }";
    let cases: &[(&str, &str, &[&str])] = &[
        (
            space,
            "learning_rate = { log_uniform = [3e-2, 1e-3] }",
            &["search.space.learning_rate", "reversed"],
        ),
        (
            space,
            "learning_rate = { log_uniform = [0, 1e-3] }",
            &["search.space.learning_rate", "above 0"],
        ),
        (
            space,
            "learning_rate = { uniform = [1e-3, 1e-3] }",
            &["search.space.learning_rate"],
        ),
        (
            batch,
            "batch_size = { int = [2.5, 100] }",
            &["search.space.batch_size", "2 or 3"],
        ),
        (
            activation,
            "activation = { choice = [] }",
            &["search.space.activation"],
        ),
        (
            space,
            "learning_rate = { log_uniformm = [1e-3, 1e-2] }",
            &["log_uniform"],
        ),
        (
            space,
            "seed = { int = [1, 3] }",
            &["search.space.seed", "also swept"],
        ),
        (
            activation,
            "activation = { choice = [\"sigmoid\", \"swish\"] }",
            &["search.space.activation", "swish"],
        ),
        (
            space,
            "learning_rate = { log_uniform = [1e-3, 1e40] }",
            &["search.space.learning_rate"],
        ),
        (
            space,
            "lerning_rate = { log_uniform = [1e-3, 1e-2] }",
            &["learning_rate"],
        ),
        (
            "method = \"sobol\"",
            "method = \"grid\"",
            &["search.method", "random"],
        ),
        ("trials = 4", "trials = 0", &["search.trials"]),
        ("trials = 4", "trials = 100000", &["search.trials", "65536"]),
        (
            "[sweep]",
            "[search.halving]\neta = 1\n[sweep]",
            &["search.halving.eta", "eta >= 2"],
        ),
        (
            "[sweep]",
            "[search.halving]\nmin_epochs = 5\n[sweep]",
            &["search.halving.min_epochs"],
        ),
        (
            "[sweep]",
            "[search.halving]\nmetric = \"accuracy\"\n[sweep]",
            &["search.halving.metric", "test_cost_clean"],
        ),
        (
            "[sweep]",
            "[search.halving]\nmin_epochs = 1\n[sweep]",
            &[
                "search.halving",
                "noise_level varies",
                "test_cost_clean",
                "eval_noise_level",
            ],
        ),
        (
            "[sweep]",
            "[search.halving]\nmetric = \"test_cost_clean\"\nbrackets = 2\n[sweep]",
            &["search.halving.brackets"],
        ),
    ];
    for (from, to, wanted) in cases {
        assert!(SEARCH.contains(from), "{from}");
        let exp = experiment(dir.path(), &SEARCH.replacen(from, to, 1));
        let out = runner(&[&exp, "--dry-run"], dir.path());
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{to}: {stderr}");
        assert!(
            stderr.contains("search.toml:"),
            "{to}: no file:line: {stderr}"
        );
        for w in *wanted {
            assert!(stderr.contains(w), "{to}: {w:?} not in {stderr}");
        }
    }
    // A key fixed and sampled lives in two places.
    let exp = experiment(
        dir.path(),
        &SEARCH.replace("epochs = 2", "epochs = 2\nnoise_level = 0.5"),
    );
    let out = runner(&[&exp, "--dry-run"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("also fixed at `train.noise_level`"));
}
