//! Experiment files: parse, validate, expand into runs.
//!
//! An experiment file holds fixed settings (`[data]`, `[train]`) and a `[sweep]`; every
//! combination of the sweep's lists (and each row of its zip groups) is one run with a
//! fully resolved [`RunConfig`], written next to its results as `config.toml`.

use serde::{Deserialize, Serialize};

use crate::data::DatasetName;

/// How weights and biases are drawn before training.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Init {
    /// U(-init_scale, init_scale) for weights and biases, as the tutorial did.
    Uniform,
    /// Glorot/Xavier uniform for weights (scaled by init_scale), zero biases.
    Xavier,
}

/// Activation of the hidden layers; the output layer is always sigmoid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Activation {
    Sigmoid,
    Relu,
    Tanh,
}

/// Which Adam update trains the model; the two differ only in where epsilon enters, which
/// matters here because a mean over 78,400 pixels makes many gradients as small as
/// epsilon (see docs/replication.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdamFormula {
    /// TensorFlow 1's `AdamOptimizer`, which the tutorial ran: the bias corrections go
    /// into the step size, `p -= lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps)`.
    Tf1,
    /// dfdx's `optim::Adam` (the Adam paper's Algorithm 1): epsilon is added after the
    /// bias correction, `p -= lr m_hat / (sqrt(v_hat) + eps)`.
    Dfdx,
}

impl AdamFormula {
    /// What a run folder's `config.toml` without an `adam` key was trained with: runner
    /// used dfdx's formula before the setting existed.
    fn before_the_setting() -> Self {
        AdamFormula::Dfdx
    }
}

/// The fully resolved settings of one run: everything its results depend on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    pub data: DataSettings,
    pub train: TrainSettings,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSettings {
    pub dataset: DatasetName,
    /// Cap on the training set (after the 5000 validation images are held out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_examples: Option<usize>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSettings {
    pub epochs: usize,
    pub batch_size: usize,
    pub init: Init,
    pub init_scale: f64,
    pub activation: Activation,
    /// Encoder widths; the decoder mirrors them back to the input size.
    pub hidden: Vec<usize>,
    pub noise_level: f64,
    /// The noise level the test cost is measured at, with one draw shared by every run;
    /// unset, each run's own `noise_level` and draw (how every result before the setting
    /// was measured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_noise_level: Option<f64>,
    pub learning_rate: f64,
    #[serde(default = "AdamFormula::before_the_setting")]
    pub adam: AdamFormula,
    pub seed: u64,
}

impl Default for RunConfig {
    /// The tutorial's settings.
    fn default() -> Self {
        RunConfig {
            data: DataSettings {
                dataset: DatasetName::Mnist,
                train_examples: None,
            },
            train: TrainSettings {
                epochs: 20,
                batch_size: 100,
                init: Init::Uniform,
                init_scale: 1.0,
                activation: Activation::Sigmoid,
                hidden: vec![256],
                noise_level: 0.6,
                eval_noise_level: None,
                learning_rate: 0.01,
                adam: AdamFormula::Tf1,
                seed: 1,
            },
        }
    }
}

mod expand;
mod parse;
pub mod search;
pub mod settings;
mod source;

use std::path::Path;

/// One experiment file, expanded.
#[derive(Clone, Debug)]
pub struct Experiment {
    pub name: String,
    pub description: Option<String>,
    /// Swept and sampled keys, in the order ids and tables show them.
    pub axes: Vec<String>,
    pub runs: Vec<Run>,
    /// The search its runs sample, if any: its trials are `Run::trial`.
    pub search: Option<crate::search::Search>,
}

/// One run of an experiment.
#[derive(Clone, Debug)]
pub struct Run {
    /// Stable, readable and filesystem-safe: built from the swept values.
    pub id: String,
    /// `(axis key, value as shown)` for each swept or sampled key, in
    /// `Experiment::axes` order.
    pub values: Vec<(String, String)>,
    pub config: RunConfig,
    /// The search trial the run belongs to (one per seed or other swept value).
    pub trial: Option<usize>,
}

impl Experiment {
    /// The search's `[search.halving]`, if its trials are cut at rungs.
    pub fn halving(&self) -> Option<crate::search::Halving> {
        self.search.as_ref().and_then(|s| s.halving)
    }

    /// Whether runs differ in `noise_level` while their `test_cost` follows each run's
    /// own level: ranking them by it ranks the easiest task first, not the best model.
    pub fn test_cost_follows_noise(&self) -> bool {
        let mut levels = self
            .runs
            .iter()
            .filter(|r| r.config.train.eval_noise_level.is_none())
            .map(|r| r.config.train.noise_level.to_bits());
        let Some(first) = levels.next() else {
            return false;
        };
        levels.any(|l| l != first)
    }
}

/// Why [`Experiment::test_cost_follows_noise`] matters, and the two fixes.
pub const NOISE_FOLLOWS_RUNS: &str = "noise_level differs between runs while test_cost is measured at each run's own noise level: a run with less noise solves an easier problem, so its test_cost is lower whatever its model. Compare test_cost_clean (the clean test set), or set a fixed eval_noise_level so that every run is scored on the same corrupted test set";

/// Reads, overrides, checks and expands an experiment file. Every problem is an
/// input error (exit code 2) that names the file, the place and the key.
pub fn load(path: &Path, overrides: &[String]) -> anyhow::Result<Experiment> {
    expand::expand(parse::parse(path, overrides)?)
}

/// What to say of an unknown `word`: the likely typo it is of, else every candidate
/// after `listing` ("valid keys here").
pub fn hint(word: &str, candidates: &[&str], listing: &str) -> String {
    match suggest(word, candidates.iter().copied()) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("{listing}: {}", candidates.join(", ")),
    }
}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub fn suggest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

impl RunConfig {
    /// The config with each setting in one spelling, so that two spellings of one
    /// meaning are one config: `train_examples` equal to the whole training set is unset.
    pub fn normalized(mut self) -> Self {
        if self.data.train_examples == Some(self.data.dataset.train_size()) {
            self.data.train_examples = None;
        }
        self
    }

    /// Whether `later` is this run asked for more epochs: it goes on from this one's
    /// checkpoint rather than being another config.
    pub fn continues_to(&self, later: &RunConfig) -> bool {
        self.train.epochs < later.train.epochs && self.same_run_as(later)
    }

    /// Whether `other` is this run in every setting but `epochs`: one run trained for
    /// longer or shorter, whose checkpoints serve both.
    pub fn same_run_as(&self, other: &RunConfig) -> bool {
        let mut same = self.clone();
        same.train.epochs = other.train.epochs;
        same.normalized() == other.clone().normalized()
    }

    /// The resolved settings as written to each run's `config.toml`.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a RunConfig always serializes")
    }
}

#[cfg(test)]
mod tests;
