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

/// The view of `experiment`'s search from its rows (none for a grid), and with halving
/// from where it stands. Each trial's metric is the mean over its runs (its seeds) of
/// the metric's last value, at the last rung it reached; a trial is `failed` when any
/// run failed, `pruned` when cut, `done` when all its runs are, else running or pending.
/// The best trial is the best done one: a pruned trial's metric is at fewer epochs.
pub fn view(
    experiment: &crate::config::Experiment,
    rows: &[super::Row],
    standing: Option<&crate::report::rungs::Standing>,
) -> Option<SearchView> {
    use super::Status;
    let search = experiment.search.as_ref()?;
    let cost = crate::report::metrics::cost_named(&search.metric)?;
    let by_id: std::collections::HashMap<&str, &super::Row> =
        rows.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut trials: Vec<TrialView> = Vec::new();
    let (mut spent, mut full) = (0u64, 0u64);
    // A trial's runs stand together, in trial order, as the experiment expands them.
    for runs in experiment.runs.chunk_by(|a, b| a.trial == b.trial) {
        let first = &runs[0];
        let Some(trial) = first.trial else { continue };
        let found: Vec<&super::Row> = runs
            .iter()
            .filter_map(|r| by_id.get(r.id.as_str()).copied())
            .collect();
        let status_of = |s: Status| found.iter().any(|r| r.status == s);
        let done: Vec<f64> = found
            .iter()
            .filter_map(|r| r.metrics.last().map(|m| f64::from((cost.get)(m))))
            .collect();
        let status = if status_of(Status::Failed) {
            "failed"
        } else if status_of(Status::Pruned) {
            "pruned"
        } else if found.iter().all(|r| r.status == Status::Done) && found.len() == runs.len() {
            "done"
        } else if status_of(Status::Running) {
            "running"
        } else {
            "pending"
        };
        spent += found.iter().map(|r| r.metrics.len() as u64).sum::<u64>();
        full += runs
            .iter()
            .map(|r| r.config.train.epochs as u64)
            .sum::<u64>();
        let values = first
            .values
            .iter()
            .filter(|(k, _)| search.samples(k))
            .map(|(k, v)| {
                // A choice is a category even when its items are numbers (`hidden`).
                let chosen = search.space.iter().any(|d| {
                    d.key == *k && matches!(d.distribution, crate::search::Distribution::Choice(_))
                });
                let value = match v.parse() {
                    Ok(n) if !chosen => TrialValue::Number(n),
                    _ => TrialValue::Text(v.clone()),
                };
                (k.clone(), value)
            })
            .collect();
        let scored = matches!(status, "done" | "pruned") && done.len() == runs.len();
        let place = standing.and_then(|s| s.trial(trial));
        trials.push(TrialView {
            trial,
            values,
            metric: scored.then(|| done.iter().sum::<f64>() / done.len() as f64),
            status: status.to_string(),
            rung: place.and_then(|p| p.rung).unwrap_or(0),
            epochs_done: found.iter().map(|r| r.metrics.len()).min().unwrap_or(0),
            bracket: place.map_or(0, |p| p.bracket),
        });
    }
    let best = trials
        .iter()
        .filter(|t| t.status == "done")
        .filter_map(|t| t.metric.filter(|m| m.is_finite()).map(|m| (m, t.trial)))
        .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
        .map(|(_, t)| t);
    Some(SearchView {
        method: search.method.name().to_string(),
        metric: search.metric.clone(),
        params: search
            .space
            .iter()
            .map(|d| SearchParam {
                name: d.key.clone(),
                log_scale: d.distribution.is_log(),
            })
            .collect(),
        trials,
        rungs: standing.map_or_else(Vec::new, rung_views),
        best,
        epochs_spent: spent,
        epochs_full: full,
    })
}

/// Each bracket's rungs so far: the trials that reached each, and those kept (at the last
/// rung, those that finished it).
fn rung_views(standing: &crate::report::rungs::Standing) -> Vec<RungView> {
    let mut out = Vec::new();
    for b in &standing.brackets {
        for level in &b.levels {
            let finished = level
                .scores
                .iter()
                .filter(|(_, s)| s.is_some_and(|m| !m.is_nan()))
                .count();
            out.push(RungView {
                bracket: b.bracket.index,
                rung: level.rung,
                epochs: level.epochs,
                trials: level.scores.len(),
                kept: level.decision.as_ref().map_or(finished, |d| d.kept),
            });
        }
    }
    out
}
