//! Property tests of the config reader and the sweep expander (issue 15): random and
//! mutated experiment files and `--set` arguments never panic; each is either accepted,
//! with runs that keep the expander's promises, or refused with exit code 2 and a
//! message; and the binary writes nothing for a refused one.
//!
//! Inputs per run of the suite (new random ones every run): 2048 mutated documents with
//! random overrides, 1024 random texts, 1024 random sweeps, and 100 mutated documents
//! through the binary: 4196 in all, in a few seconds.

mod common;

use std::collections::HashSet;
use std::path::Path;

use proptest::prelude::*;
use runner::config::{self, Experiment};
use runner::error::exit_code;

/// Valid documents the mutations start from.
const SEEDS: &[&str] = &[
    include_str!("../experiments/depth_sweep.toml"),
    include_str!("../experiments/smoke.toml"),
    r#"
name = "zipped"
[data]
train_examples = 1000
[train]
hidden = [256, 128, 64]
epochs = 2
[sweep]
depth = [1, 2, 3]
seed = [1, 2]
[[sweep.zip]]
noise_level = [0.3, 0.6]
learning_rate = [0.001, 0.01]
"#,
    "[train]\nepochs = 1\n",
    "",
];

/// Pieces of TOML and of trouble that mutations insert.
const FRAGMENTS: &[&str] = &[
    "[",
    "]",
    "[[",
    "]]",
    "=",
    "\"",
    "'",
    ",",
    ".",
    "\n",
    " ",
    "#",
    "{",
    "}",
    "0",
    "-1",
    "1e400",
    "nan",
    "inf",
    "-inf",
    "1e-300",
    "99999999999999999999",
    "18446744073709551615",
    "\"x\"",
    "[]",
    "[[256]]",
    "[100000000]",
    "{a=1}",
    "true",
    "1979-05-27",
    "\u{1b}[31m",
    "\u{0}",
    "é",
    "[sweep]",
    "[train]",
    "[data]",
    "[[sweep.zip]]",
    "seed = [1, 1]",
    "epochs = 0",
    "batch_size = 100000",
    "train_examples = 100000",
    "depth = 9",
    "hidden = []",
    "name = \"../x\"",
    "dataset = \"cifar\"",
    "learning_rat = 1",
];

/// Keys `--set` may be given, sensible and not.
const KEYS: &[&str] = &[
    "train.epochs",
    "train.batch_size",
    "train.hidden",
    "train.depth",
    "train.seed",
    "train.learning_rate",
    "train.noise_level",
    "train.init",
    "train.activation",
    "train.init_scale",
    "data.dataset",
    "data.train_examples",
    "sweep.seed",
    "sweep.hidden",
    "sweep.depth",
    "sweep.learning_rate",
    "sweep.zip",
    "sweep.zip.0.seed",
    "sweep",
    "train",
    "data",
    "name",
    "description",
    "unknown.key",
    "train..epochs",
    ".x",
    "",
];

/// Values for those keys.
const VALUES: &[&str] = &[
    "1",
    "2",
    "0",
    "-3",
    "1e39",
    "0.01",
    "nan",
    "[1,2,3]",
    "[1,1]",
    "[]",
    "[[32],[32,16]]",
    "[[100000000]]",
    "\"xavier\"",
    "relu",
    "fashion-mnist",
    "{epochs=2}",
    "{}",
    "[{seed=[1]}]",
    "[1e-300]",
    "\"\u{1b}[2J\"",
    "true",
    "=",
    "[",
    "99999999999999999999",
];

#[derive(Clone, Debug)]
enum Edit {
    Delete { at: f64, len: usize },
    Insert { at: f64, fragment: usize },
    DuplicateLine { at: f64 },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (0.0..1.0, 1usize..12).prop_map(|(at, len)| Edit::Delete { at, len }),
        (0.0..1.0, 0..FRAGMENTS.len()).prop_map(|(at, fragment)| Edit::Insert { at, fragment }),
        (0.0..1.0).prop_map(|at| Edit::DuplicateLine { at }),
    ]
}

/// A byte position near `at` (a fraction of the text) on a character boundary.
fn position(text: &str, at: f64) -> usize {
    let mut i = ((text.len() as f64) * at) as usize;
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn mutate(seed: &str, edits: &[Edit]) -> String {
    let mut text = seed.to_string();
    for e in edits {
        match *e {
            Edit::Delete { at, len } => {
                let start = position(&text, at);
                let mut end = (start + len).min(text.len());
                while !text.is_char_boundary(end) {
                    end += 1;
                }
                text.replace_range(start..end, "");
            }
            Edit::Insert { at, fragment } => {
                let i = position(&text, at);
                text.insert_str(i, FRAGMENTS[fragment]);
            }
            Edit::DuplicateLine { at } => {
                let lines: Vec<&str> = text.lines().collect();
                if !lines.is_empty() {
                    let i = ((lines.len() as f64) * at) as usize % lines.len();
                    let mut out = lines.clone();
                    out.insert(i, lines[i]);
                    text = out.join("\n");
                }
            }
        }
    }
    text
}

fn overrides() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop_oneof![
            4 => (0..KEYS.len(), 0..VALUES.len())
                .prop_map(|(k, v)| format!("{}={}", KEYS[k], VALUES[v])),
            1 => "[a-z.=\\[\\]0-9]{0,16}",
        ],
        0..4,
    )
}

/// Loads `text` as an experiment file with `overrides`; a panic fails the property.
fn load(text: &str, overrides: &[String]) -> (tempfile::TempDir, anyhow::Result<Experiment>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exp.toml");
    std::fs::write(&path, text).unwrap();
    let result = config::load(&path, overrides);
    (dir, result)
}

/// What an accepted experiment must hold, and what a refusal must be.
fn check(result: &anyhow::Result<Experiment>) -> Result<(), TestCaseError> {
    match result {
        Ok(e) => {
            prop_assert!(!e.runs.is_empty());
            let mut ids = HashSet::new();
            for run in &e.runs {
                prop_assert!(ids.insert(run.id.as_str()), "duplicate id {}", run.id);
                prop_assert!(run.id.len() <= 255, "id of {} bytes", run.id.len());
                prop_assert!(
                    run.id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)),
                    "unsafe id {:?}",
                    run.id
                );
                prop_assert!(run.config.train.batch_size <= 55_000);
                prop_assert!(run.config.data.train_examples.is_none_or(|n| n <= 55_000));
                prop_assert_eq!(run.values.len(), e.axes.len());
            }
            prop_assert!(e.name.len() <= 255 && !e.name.contains('/'));
        }
        Err(err) => {
            prop_assert_eq!(exit_code(err), 2, "{:#}", err);
            let message = format!("{err:#}");
            prop_assert!(!message.trim().is_empty());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn mutated_documents_and_overrides_are_accepted_or_refused_with_exit_2(
        seed in 0..SEEDS.len(),
        edits in prop::collection::vec(edit(), 0..6),
        sets in overrides(),
    ) {
        let (_dir, result) = load(&mutate(SEEDS[seed], &edits), &sets);
        check(&result)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn random_text_is_accepted_or_refused_with_exit_2(text in "\\PC{0,200}") {
        let (_dir, result) = load(&text, &[]);
        check(&result)?;
    }

    /// Random sweeps of valid values: the expander gives one run per combination, each
    /// with the values its id and row name.
    #[test]
    fn sweeps_expand_to_every_combination(
        seeds in prop::collection::vec(0u64..1000, 1..5),
        widths in prop::collection::vec(prop::collection::vec(1usize..600, 1..4), 1..4),
        rates in prop::collection::vec(1u32..1000, 1..4),
        zipped in prop::bool::ANY,
    ) {
        let list = |v: Vec<String>| format!("[{}]", v.join(", "));
        let seeds_toml = list(seeds.iter().map(u64::to_string).collect());
        let widths_toml = list(widths.iter().map(|w| list(w.iter().map(usize::to_string).collect())).collect());
        let rates_toml = list(rates.iter().map(|r| format!("{}", f64::from(*r) / 1e4)).collect());
        let text = if zipped && seeds.len() == rates.len() {
            format!("[sweep]\nhidden = {widths_toml}\n[[sweep.zip]]\nseed = {seeds_toml}\nlearning_rate = {rates_toml}\n")
        } else {
            format!("[sweep]\nhidden = {widths_toml}\nseed = {seeds_toml}\nlearning_rate = {rates_toml}\n")
        };
        let (_dir, result) = load(&text, &[]);
        check(&result)?;
        let distinct = |n: usize, v: Vec<String>| v.iter().collect::<HashSet<_>>().len() == n;
        let repeats = !distinct(seeds.len(), seeds.iter().map(u64::to_string).collect())
            || !distinct(widths.len(), widths.iter().map(|w| format!("{w:?}")).collect())
            || !distinct(rates.len(), rates.iter().map(u32::to_string).collect());
        let e = match result {
            Ok(e) => e,
            Err(err) => {
                prop_assert!(repeats, "a sweep without repeats was refused: {:#}", err);
                return Ok(());
            }
        };
        let expected = if zipped && seeds.len() == rates.len() {
            widths.len() * seeds.len()
        } else {
            widths.len() * seeds.len() * rates.len()
        };
        prop_assert_eq!(e.runs.len(), expected);
        for run in &e.runs {
            let seed = format!("seed{}", run.config.train.seed);
            prop_assert!(run.id.ends_with(&seed), "{} vs {}", run.id, seed);
            prop_assert!(widths.contains(&run.config.train.hidden));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// Through the binary: a refused input exits 2 with a message and writes nothing; an
    /// accepted one exits 3 (with a filter that selects no run, so nothing trains) and
    /// writes nothing either.
    #[test]
    fn the_binary_writes_nothing_for_refused_input(
        seed in 0..SEEDS.len(),
        edits in prop::collection::vec(edit(), 0..6),
        sets in overrides(),
    ) {
        let text = mutate(SEEDS[seed], &edits);
        let (dir, result) = load(&text, &sets);
        let mut args = vec!["--out".to_string(), "res".into(), "--filter".into(), "no run has this id".into()];
        for s in &sets {
            args.push(format!("--set={s}"));
        }
        args.push("exp.toml".into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = common::command_without_data_dir(&args, dir.path())
            .env("RUNNER_DATA_DIR", Path::new("/nonexistent"))
            .env("RUNNER_PIP", "off")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        match result {
            Ok(_) => {
                prop_assert_eq!(out.status.code(), Some(3), "{}", stderr);
                prop_assert!(!dir.path().join("res").exists(), "wrote results: {}", stderr);
            }
            Err(_) => {
                prop_assert_eq!(out.status.code(), Some(2), "{}", stderr);
                prop_assert!(stderr.starts_with("error: "), "{}", stderr);
                prop_assert!(!dir.path().join("res").exists(), "wrote results: {}", stderr);
            }
        }
        prop_assert!(!stderr.contains("panicked"), "{}", stderr);
    }
}

/// Every file under `dir` but those under `except`, relative.
fn files_outside(dir: &Path, except: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.starts_with(except) {
                continue;
            }
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p.clone());
            }
            out.push(p.strip_prefix(dir).unwrap_or(&p).to_path_buf());
        }
    }
    out.sort();
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Random bytes, mutated TOML and random `--set` lines through the binary, trained
    /// for real where they are accepted (capped to one epoch of 200 images and one
    /// run): never a panic, only the documented exit codes, and nothing written outside
    /// `--out`.
    #[test]
    fn random_input_never_panics_or_writes_outside_out(
        bytes in prop::collection::vec(any::<u8>(), 0..200),
        raw in any::<bool>(),
        seed in 0..SEEDS.len(),
        edits in prop::collection::vec(edit(), 0..4),
        sets in overrides(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let exp = dir.path().join("exp.toml");
        if raw {
            std::fs::write(&exp, &bytes).unwrap();
        } else {
            std::fs::write(&exp, mutate(SEEDS[seed], &edits)).unwrap();
        }
        let mut sets = sets;
        sets.extend(["train.epochs=1", "data.train_examples=200", "train.batch_size=100"].map(String::from));
        let mut args = vec!["exp.toml".to_string(), "--out".into(), "res".into(), "-q".into()];
        if let Ok(e) = config::load(&exp, &sets) {
            args.extend(["--filter".to_string(), e.runs[0].id.clone()]);
        }
        args.extend(sets.iter().map(|s| format!("--set={s}")));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = common::runner(&args, dir.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        prop_assert!(!stderr.contains("panicked"), "{}", stderr);
        prop_assert!(matches!(out.status.code(), Some(0..=3)), "{:?} {}", out.status.code(), stderr);
        let outside = files_outside(dir.path(), &dir.path().join("res"));
        prop_assert_eq!(outside, vec![std::path::PathBuf::from("exp.toml")], "{}", stderr);
    }
}
