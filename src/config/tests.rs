//! Expansion and validation of experiment files, each invalid case with its message.

use std::path::PathBuf;

use super::*;
use crate::error::exit_code;

fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("exp.toml");
    std::fs::write(&path, text).expect("write experiment");
    (dir, path)
}

fn load_text(text: &str, overrides: &[&str]) -> anyhow::Result<Experiment> {
    let (_dir, path) = write(text);
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    load(&path, &overrides)
}

/// Asserts that loading fails with exit code 2 and a message holding every fragment.
fn fails(text: &str, overrides: &[&str], fragments: &[&str]) {
    let err = load_text(text, overrides).expect_err("should be rejected");
    assert_eq!(exit_code(&err), 2, "{err:#}");
    let msg = format!("{err:#}");
    for f in fragments {
        assert!(msg.contains(f), "message {msg:?} lacks {f:?}");
    }
}

fn ids(e: &Experiment) -> Vec<&str> {
    e.runs.iter().map(|r| r.id.as_str()).collect()
}

const TUTORIAL: &str = r#"
name = "depth_sweep"
[train]
epochs = 20
[sweep]
hidden = [[256], [256, 128]]
noise_level = [0.6]
learning_rate = [0.01]
seed = [1, 2, 3]
"#;

#[test]
fn product_of_axes() {
    let e = load_text(TUTORIAL, &[]).unwrap();
    assert_eq!(e.runs.len(), 6);
    assert_eq!(e.runs[0].id, "h256_noise0.6_lr0.01_seed1");
    assert_eq!(e.runs[5].id, "h256-128_noise0.6_lr0.01_seed3");
    assert_eq!(e.runs[5].config.train.hidden, vec![256, 128]);
    assert_eq!(e.runs[5].config.train.seed, 3);
    assert_eq!(e.axes, ["hidden", "noise_level", "learning_rate", "seed"]);
}

#[test]
fn zip_groups_vary_together() {
    let e = load_text(
        "[sweep]\nseed = [1, 2]\n[[sweep.zip]]\nnoise_level = [0.3, 0.6]\nlearning_rate = [0.001, 0.01]\n",
        &[],
    )
    .unwrap();
    assert_eq!(
        ids(&e),
        [
            "noise0.3_lr0.001_seed1",
            "noise0.6_lr0.01_seed1",
            "noise0.3_lr0.001_seed2",
            "noise0.6_lr0.01_seed2"
        ]
    );
    assert_eq!(e.runs[1].config.train.learning_rate, 0.01);
}

#[test]
fn depth_selects_first_widths() {
    let e = load_text(
        "[train]\nhidden = [256, 128, 64]\n[sweep]\ndepth = [1, 2, 3]\n",
        &[],
    )
    .unwrap();
    let hidden: Vec<_> = e
        .runs
        .iter()
        .map(|r| r.config.train.hidden.clone())
        .collect();
    assert_eq!(hidden, [vec![256], vec![256, 128], vec![256, 128, 64]]);
    assert_eq!(ids(&e), ["depth1", "depth2", "depth3"]);
}

#[test]
fn overrides_change_settings_and_axes() {
    let e = load_text(
        TUTORIAL,
        &[
            "train.epochs=2",
            "sweep.seed=[7]",
            "data.train_examples=500",
        ],
    )
    .unwrap();
    assert_eq!(e.runs.len(), 2);
    assert!(e.runs.iter().all(|r| r.config.train.epochs == 2));
    assert!(e
        .runs
        .iter()
        .all(|r| r.config.data.train_examples == Some(500)));
    assert_eq!(e.runs[0].id, "h256_noise0.6_lr0.01_seed7");
    // Fixing a swept key removes the axis.
    let e = load_text(TUTORIAL, &["train.seed=4"]).unwrap();
    assert_eq!(e.runs.len(), 2);
    assert_eq!(e.runs[0].config.train.seed, 4);
    // A bare word is a string.
    let e = load_text(TUTORIAL, &["data.dataset=fashion-mnist"]).unwrap();
    assert_eq!(
        e.runs[0].config.data.dataset,
        crate::data::DatasetName::FashionMnist
    );
}

#[test]
fn name_defaults_to_file_stem() {
    let e = load_text("[train]\nepochs = 1\n", &[]).unwrap();
    assert_eq!(e.name, "exp");
    assert_eq!(ids(&e), ["run"]);
}

#[test]
fn resolved_config_round_trips() {
    let e = load_text(TUTORIAL, &[]).unwrap();
    let text = e.runs[3].config.to_toml();
    let back: RunConfig = toml::from_str(&text).unwrap();
    assert_eq!(back, e.runs[3].config);
}

#[test]
fn unknown_keys_suggest_the_nearest() {
    fails(
        "[train]\nepoch = 2\n",
        &[],
        &["exp.toml:2:1", "`train.epoch`", "did you mean `epochs`"],
    );
    fails(
        "[sweep]\nlearning_rat = [0.1]\n",
        &[],
        &["`sweep.learning_rat`", "`learning_rate`"],
    );
    fails("[trian]\nepochs = 2\n", &[], &["`trian`", "`train`"]);
    fails(
        "[[sweep.zip]]\nsed = [1]\n",
        &[],
        &["`sweep.zip[0].sed`", "`seed`"],
    );
}

#[test]
fn wrong_types() {
    fails(
        "[train]\nepochs = \"20\"\n",
        &[],
        &["exp.toml:2:1", "`train.epochs`", "positive integer"],
    );
    fails(
        "[sweep]\nlearning_rate = [0.1, \"fast\"]\n",
        &[],
        &["`sweep.learning_rate`", "value 2", "number"],
    );
    fails("train = 3\n", &[], &["`train`", "must be a table"]);
    fails(
        "[data]\ndataset = \"mnits\"\n",
        &[],
        &["did you mean \"mnist\""],
    );
}

#[test]
fn empty_axes() {
    fails(
        "[sweep]\nseed = []\n",
        &[],
        &["exp.toml:2:1", "`sweep.seed`", "empty list"],
    );
}

#[test]
fn zero_or_negative_values() {
    fails(
        "[train]\nbatch_size = 0\n",
        &[],
        &["`train.batch_size`", "at least 1"],
    );
    fails(
        "[train]\nepochs = -3\n",
        &[],
        &["`train.epochs`", "at least 1"],
    );
    fails(
        "[sweep]\nlearning_rate = [0.0]\n",
        &[],
        &["`sweep.learning_rate`", "greater than 0"],
    );
    fails(
        "[sweep]\nhidden = [[256, 0]]\n",
        &[],
        &["`sweep.hidden`", "at least 1"],
    );
    fails(
        "[train]\nnoise_level = -0.5\n",
        &[],
        &["`train.noise_level`", "0 or more"],
    );
}

#[test]
fn zip_lengths_must_match() {
    fails(
        "[[sweep.zip]]\nnoise_level = [0.3, 0.6]\nlearning_rate = [0.1]\n",
        &[],
        &[
            "exp.toml:3:1",
            "`sweep.zip[0].learning_rate`",
            "has 1 values",
            "equal lengths",
        ],
    );
}

#[test]
fn axis_in_sweep_and_zip() {
    fails(
        "[sweep]\nseed = [1]\n[[sweep.zip]]\nseed = [2]\nnoise_level = [0.1]\n",
        &[],
        &["`sweep.zip[0].seed`", "swept twice", "`sweep.seed`"],
    );
    fails(
        "[train]\nseed = 1\n[sweep]\nseed = [2]\n",
        &[],
        &["`sweep.seed`", "also fixed at `train.seed`"],
    );
}

#[test]
fn duplicate_run_ids() {
    fails(
        "[sweep]\nseed = [1, 1]\n",
        &[],
        &["exp.toml", "runs 1 and 2", "`seed1`"],
    );
    fails(
        "[sweep]\nlearning_rate = [0.1, 0.10]\n",
        &[],
        &["both get the id `lr0.1`"],
    );
}

#[test]
fn names_that_escape_the_output_folder() {
    fails(
        "name = \"../x\"\n",
        &[],
        &["exp.toml:1:1", "`name`", "cannot be a folder name"],
    );
    fails("name = \"/tmp/x\"\n", &[], &["`name`"]);
    fails("name = \"..\"\n", &[], &["`name`"]);
}

#[test]
fn depth_beyond_widths() {
    fails(
        "[train]\nhidden = [256]\n[sweep]\ndepth = [1, 2]\n",
        &[],
        &["`sweep.depth`", "depth = 2"],
    );
}

#[test]
fn bad_overrides() {
    fails(TUTORIAL, &["train.epochs"], &["expected KEY=VALUE"]);
    fails(
        TUTORIAL,
        &["train.epochs=0"],
        &["--set train.epochs=0", "at least 1"],
    );
    fails(
        TUTORIAL,
        &["train.nosie_level=0.1"],
        &["did you mean `noise_level`"],
    );
}

#[test]
fn invalid_toml_names_the_file_line_and_column() {
    fails(
        "[train\nepochs = 2\n",
        &[],
        &["exp.toml:1:7: not valid TOML"],
    );
    fails(
        "name = \"x\"\n[train]\nepochs = = 3\n",
        &[],
        &["exp.toml:3:10: not valid TOML"],
    );
}

// Issue 15, case 7: what validation can know is found there, not at run time.
#[test]
fn batch_larger_than_the_training_set_is_refused_up_front() {
    fails(
        "[data]\ntrain_examples = 500\n[train]\nbatch_size = 1000\n",
        &[],
        &[
            "exp.toml:4:1",
            "`train.batch_size` is 1000",
            "500 training examples",
        ],
    );
    fails(
        "[data]\ntrain_examples = 500\n[sweep]\nbatch_size = [100, 1000]\n",
        &[],
        &["exp.toml:4:1", "`sweep.batch_size`", "at most 500"],
    );
}

#[test]
fn names_and_ids_too_long_for_a_folder_are_refused() {
    let long = "a".repeat(300);
    fails(
        &format!("name = \"{long}\"\n"),
        &[],
        &["exp.toml:1:1", "`name` is 300 bytes", "255"],
    );
    let widths: Vec<String> = (1..=100).map(|w| w.to_string()).collect();
    let hidden = format!("sweep.hidden=[[{}]]", widths.join(","));
    fails(
        "",
        &[&hidden],
        &[
            "(--set sweep.hidden=",
            "`sweep.hidden`",
            "bytes long",
            "255",
        ],
    );
}

#[test]
fn tiny_and_huge_floats_get_short_ids() {
    let e = load_text("", &["sweep.learning_rate=[1e-30, 0.01, 1e30]"]).unwrap();
    assert_eq!(ids(&e), ["lr1e-30", "lr0.01", "lr1e30"]);
}

#[test]
fn sweeps_too_big_to_hold_are_refused_before_expanding() {
    // 1000^3 = a billion runs.
    let thousand = format!(
        "[{}]",
        (1..=1000)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    fails(
        &format!("[sweep]\nseed = {thousand}\nepochs = {thousand}\nbatch_size = {thousand}\n"),
        &[],
        &["`sweep`", "more than 2000000 runs", "`sweep.seed` 1000"],
    );
}

// Issue 15, case 9: a key that only --set wrote is blamed on the --set.
#[test]
fn overrides_are_blamed_for_what_they_wrote() {
    fails(
        TUTORIAL,
        &["unknown.key=1"],
        &["(--set unknown.key=1)", "`unknown`"],
    );
    fails(
        TUTORIAL,
        &["sweep.zip.0.seed=[1]"],
        &[
            "--set sweep.zip.0.seed=[1]",
            "[[sweep.zip]]",
            "--set sweep.seed=[...]",
        ],
    );
}

// Issue 15, case 13: nothing is silently capped or reset.
#[test]
fn more_training_examples_than_the_data_set_has_are_refused() {
    fails(
        "[data]\ntrain_examples = 100000\n",
        &[],
        &[
            "exp.toml:2:1",
            "`data.train_examples` is 100000",
            "mnist has 55000",
        ],
    );
    assert!(load_text("[data]\ntrain_examples = 55000\n", &[]).is_ok());
}

#[test]
fn a_table_override_sets_its_keys_and_keeps_the_rest() {
    let e = load_text(
        "[train]\nepochs = 5\nbatch_size = 50\nlearning_rate = 0.1\n",
        &["train={epochs=2}"],
    )
    .unwrap();
    let t = &e.runs[0].config.train;
    assert_eq!((t.epochs, t.batch_size, t.learning_rate), (2, 50, 0.1));
}
