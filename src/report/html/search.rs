//! What report.html shows of a hyperparameter search: plain data that a search fills in,
//! so that the page does not depend on how the search is run. Serialized as it is into
//! the page's data block.

use serde::Serialize;

/// A search over sampled settings, with successive-halving rungs.
#[derive(Clone, Debug, Serialize)]
pub struct SearchView {
    /// How trials were sampled and pruned, as the experiment file names it.
    pub method: String,
    /// The cost trials are ranked by (`test_cost`); lower is better.
    pub metric: String,
    pub params: Vec<SearchParam>,
    pub trials: Vec<TrialView>,
    pub rungs: Vec<RungView>,
    /// The `trial` number of the best trial, if any finished.
    pub best: Option<usize>,
    /// Epochs trained over all trials, against those of training every trial in full.
    pub epochs_spent: u64,
    pub epochs_full: u64,
}

/// A sampled setting.
#[derive(Clone, Debug, Serialize)]
pub struct SearchParam {
    pub name: String,
    /// Sampled on a log scale: its axes are logarithmic.
    pub log_scale: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct TrialView {
    pub trial: usize,
    /// `(param name, value)` for each sampled setting.
    pub values: Vec<(String, TrialValue)>,
    /// The metric at the last rung it reached; `None` when it has none yet (failed,
    /// running, pending).
    pub metric: Option<f64>,
    /// `done`, `pruned`, `failed`, `running` or `pending`.
    pub status: String,
    pub rung: usize,
    pub epochs_done: usize,
    pub bracket: usize,
}

/// A sampled value: a number, or a choice among texts (`relu`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum TrialValue {
    Number(f64),
    Text(String),
}

/// One rung of one bracket: how many trials reached it and how many went on.
#[derive(Clone, Debug, Serialize)]
pub struct RungView {
    pub bracket: usize,
    pub rung: usize,
    pub epochs: usize,
    pub trials: usize,
    pub kept: usize,
}
