//! From axes to runs: every combination of the product axes, times each row of each zip
//! group, with an id built from the swept values.

use std::collections::HashMap;

use toml::Value;

use super::parse::{axis_value, bad, Axis, Parsed};
use super::settings::{self, axis_keys, id_prefix};
use super::{Experiment, Run};
use crate::error::input_error;

/// Expands the parsed experiment into its runs, in sweep order (first axis outermost).
pub fn expand(parsed: Parsed) -> anyhow::Result<Experiment> {
    let dims = dimensions(&parsed);
    let axes = axis_order(&dims);
    let mut runs = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for choice in combinations(&dims) {
        let assignment: Vec<(&Axis, Value)> = dims
            .iter()
            .zip(&choice)
            .flat_map(|(group, &row)| {
                group
                    .iter()
                    .map(move |a| (a, axis_value(&a.key, &a.values[row])))
            })
            .collect();
        let run = build_run(&parsed, &axes, &assignment)?;
        if let Some(first) = seen.insert(run.id.clone(), runs.len()) {
            return Err(input_error(format!(
                "{}: runs {} and {} both get the id `{}`: two combinations of the sweep give the same settings; remove the repeated value",
                parsed.source.file,
                first + 1,
                runs.len() + 1,
                run.id
            )));
        }
        runs.push(run);
    }
    Ok(Experiment {
        name: parsed.name,
        description: parsed.description,
        axes,
        runs,
    })
}

/// Each dimension is a set of axes that advance together: a product axis alone, or a
/// zip group.
fn dimensions(parsed: &Parsed) -> Vec<Vec<Axis>> {
    parsed
        .product
        .iter()
        .map(|a| vec![a.clone()])
        .chain(parsed.zips.iter().cloned())
        .collect()
}

/// Swept keys in the canonical order used by ids and tables.
fn axis_order(dims: &[Vec<Axis>]) -> Vec<String> {
    axis_keys()
        .filter(|k| dims.iter().flatten().any(|a| a.key == *k))
        .map(str::to_string)
        .collect()
}

/// Every choice of one row per dimension, the last dimension varying fastest.
fn combinations(dims: &[Vec<Axis>]) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new()];
    for dim in dims {
        let rows = dim.first().map_or(1, |a| a.values.len());
        out = out
            .into_iter()
            .flat_map(|prefix| {
                (0..rows).map(move |r| {
                    let mut c = prefix.clone();
                    c.push(r);
                    c
                })
            })
            .collect();
    }
    out
}

fn build_run(
    parsed: &Parsed,
    axes: &[String],
    assignment: &[(&Axis, Value)],
) -> anyhow::Result<Run> {
    let mut draft = parsed.base.clone();
    for (axis, value) in assignment {
        settings::apply(&mut draft, &axis.key, value)
            .map_err(|e| bad(&parsed.source, &axis.path, &e))?;
    }
    let config = settings::finish(draft).map_err(|e| {
        let at = assignment
            .iter()
            .find(|(a, _)| a.key == "depth")
            .map(|(a, _)| a.path.clone())
            .unwrap_or_else(|| super::source::KeyPath::parse("train.depth"));
        bad(&parsed.source, &at, &e)
    })?;
    let values: Vec<(String, String)> = axes
        .iter()
        .filter_map(|k| {
            assignment
                .iter()
                .find(|(a, _)| &a.key == k)
                .map(|(_, v)| (k.clone(), settings::display(k, v)))
        })
        .collect();
    Ok(Run {
        id: run_id(&values),
        values,
        config,
    })
}

fn run_id(values: &[(String, String)]) -> String {
    if values.is_empty() {
        return "run".to_string();
    }
    let parts: Vec<String> = values
        .iter()
        .map(|(k, v)| format!("{}{v}", id_prefix(k)))
        .collect();
    parts.join("_")
}
