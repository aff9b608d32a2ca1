//! From axes to runs: every combination of the product axes, times each row of each zip
//! group, with an id built from the swept values.

use std::collections::HashMap;

use toml::Value;

use super::parse::{Axis, Parsed, MAX_NAME_BYTES};
use super::settings::{self, axis_keys, axis_value, id_prefix, Draft, MAX_RUNS};
use super::source::{bad, KeyPath};
use super::{Experiment, Run, RunConfig};
use crate::error::input_error;
use crate::search::{self, Search};

/// Expands the parsed experiment into its runs, in sweep order (first axis outermost);
/// with a search, every trial (in order) with every combination of the sweep.
pub fn expand(parsed: Parsed) -> anyhow::Result<Experiment> {
    let dims = dimensions(&parsed);
    let swept = axis_order(&dims);
    let count = run_count(&parsed, &dims)?;
    let columns = columns(&dims, &swept);
    check_distinct(&parsed, &dims, &columns)?;
    let axes = all_axes(&parsed, &swept);
    let trials = parsed.search.as_ref().map_or(1, |s| s.trials);
    let mut runs = Vec::with_capacity(count.saturating_mul(trials));
    for trial in 0..trials {
        let (base, sampled) = match &parsed.search {
            Some(search) => sample_trial(&parsed, search, trial)?,
            None => (parsed.base.clone(), Vec::new()),
        };
        for choice in Combinations::new(&dims) {
            let assignment: Vec<(&Axis, Value)> = dims
                .iter()
                .zip(&choice)
                .flat_map(|(group, &row)| {
                    group
                        .iter()
                        .map(move |a| (a, axis_value(&a.key, &a.values[row])))
                })
                .collect();
            let mut values: Vec<(String, String)> = columns
                .iter()
                .map(|c| (c.key.clone(), c.shown[choice[c.dim]].clone()))
                .chain(sampled.iter().cloned())
                .collect();
            values.sort_by_key(|(k, _)| axes.iter().position(|a| a == k));
            let grid_id = (!columns.is_empty()).then(|| run_id(&columns, &choice));
            let id = match (&parsed.search, grid_id) {
                (Some(_), Some(grid)) => format!("{}_{grid}", search::trial_id(trial)),
                (Some(_), None) => search::trial_id(trial),
                (None, grid) => grid.unwrap_or_else(|| "run".to_string()),
            };
            let run = Run {
                id,
                values,
                config: build_config(&parsed, &base, &assignment)?,
                trial: parsed.search.as_ref().map(|_| trial),
            };
            check_id_length(&parsed, &assignment, &run, runs.len())?;
            runs.push(run);
        }
    }
    Ok(Experiment {
        name: parsed.name,
        description: parsed.description,
        axes,
        runs,
        search: parsed.search,
    })
}

/// Swept and sampled keys together, in the canonical order.
fn all_axes(parsed: &Parsed, swept: &[String]) -> Vec<String> {
    axis_keys()
        .filter(|k| {
            swept.iter().any(|s| s == k) || parsed.search.as_ref().is_some_and(|s| s.samples(k))
        })
        .map(str::to_string)
        .collect()
}

/// Trial `trial`'s settings before the sweep: the fixed ones with its sampled values,
/// and those values as shown (full precision: a run's config.toml alone reproduces it).
fn sample_trial(
    parsed: &Parsed,
    search: &Search,
    trial: usize,
) -> anyhow::Result<(Draft, Vec<(String, String)>)> {
    let mut draft = parsed.base.clone();
    let mut shown = Vec::new();
    for (key, value) in search.values(trial) {
        let path = KeyPath::parse("search.space").key(&key);
        let value = axis_value(&key, &value);
        settings::apply(&mut draft, &key, &value).map_err(|e| {
            bad(
                &parsed.source,
                &path,
                &format!("trial {trial} samples {value}: {e}"),
            )
        })?;
        shown.push((key.clone(), settings::display(&key, &value)));
    }
    Ok((draft, shown))
}

/// One swept key as runs show it, in the order of [`axis_order`]: its values as shown in
/// tables and as parts of run ids, computed once per value rather than once per run.
struct Column {
    key: String,
    /// The dimension whose row chooses the value.
    dim: usize,
    shown: Vec<String>,
    id_part: Vec<String>,
}

fn columns(dims: &[Vec<Axis>], axes: &[String]) -> Vec<Column> {
    axes.iter()
        .filter_map(|key| {
            let (dim, axis) = dims
                .iter()
                .enumerate()
                .find_map(|(d, group)| group.iter().find(|a| a.key == *key).map(|a| (d, a)))?;
            let shown: Vec<String> = axis
                .values
                .iter()
                .map(|v| settings::display(key, &axis_value(key, v)))
                .collect();
            let id_part = shown
                .iter()
                .map(|s| format!("{}{s}", id_prefix(key)))
                .collect();
            Some(Column {
                key: key.clone(),
                dim,
                shown,
                id_part,
            })
        })
        .collect()
}

/// Ids join the shown values with `_`, which no shown value contains, so two runs share
/// an id exactly when one dimension has two rows that show the same: checked here per
/// dimension instead of per run.
fn check_distinct(parsed: &Parsed, dims: &[Vec<Axis>], columns: &[Column]) -> anyhow::Result<()> {
    let sizes: Vec<usize> = dims
        .iter()
        .map(|d| d.first().map_or(1, |a| a.values.len()))
        .collect();
    for (d, &rows) in sizes.iter().enumerate() {
        let mut seen: HashMap<Vec<&str>, usize> = HashMap::with_capacity(rows);
        for row in 0..rows {
            let shown: Vec<&str> = columns
                .iter()
                .filter(|c| c.dim == d)
                .map(|c| c.shown[row].as_str())
                .collect();
            let Some(&first) = seen.get(&shown) else {
                seen.insert(shown, row);
                continue;
            };
            let stride: usize = sizes[d + 1..].iter().product();
            let mut choice = vec![0; dims.len()];
            choice[d] = row;
            let keys: Vec<String> = dims[d].iter().map(|a| format!("`{}`", a.path)).collect();
            return Err(input_error(format!(
                "{}: runs {} and {} both get the id `{}`: values {} and {} of {} give the same settings (-0.0 is 0.0, 1e-3 is 0.001); remove the repeated value",
                parsed.source.file,
                first * stride + 1,
                row * stride + 1,
                run_id(columns, &choice),
                first + 1,
                row + 1,
                keys.join(" and ")
            )));
        }
    }
    Ok(())
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

/// The number of runs, checked before any is built, so a sweep too large for memory is
/// an input error instead of an abort.
fn run_count(parsed: &Parsed, dims: &[Vec<Axis>]) -> anyhow::Result<usize> {
    let count = dims
        .iter()
        .map(|d| d.first().map_or(1, |a| a.values.len()))
        .try_fold(1usize, |n, len| n.checked_mul(len))
        .and_then(|n| n.checked_mul(parsed.search.as_ref().map_or(1, |s| s.trials)))
        .filter(|&n| n <= MAX_RUNS);
    count.ok_or_else(|| {
        let lengths: Vec<String> = dims
            .iter()
            .filter_map(|d| d.first())
            .map(|a| format!("`{}` {}", a.path, a.values.len()))
            .collect();
        bad(
            &parsed.source,
            &KeyPath::parse("sweep"),
            &format!(
                "expands to more than {MAX_RUNS} runs (values per axis: {}): split the sweep into several experiment files or use fewer values",
                lengths.join(", ")
            ),
        )
    })
}

/// Every choice of one row per dimension, the last dimension varying fastest, one at a
/// time (an odometer), so a big sweep holds no list of all its combinations.
struct Combinations {
    sizes: Vec<usize>,
    next: Option<Vec<usize>>,
}

impl Combinations {
    fn new(dims: &[Vec<Axis>]) -> Self {
        let sizes: Vec<usize> = dims
            .iter()
            .map(|d| d.first().map_or(1, |a| a.values.len()))
            .collect();
        let next = sizes.iter().all(|&n| n > 0).then(|| vec![0; sizes.len()]);
        Combinations { sizes, next }
    }
}

impl Iterator for Combinations {
    type Item = Vec<usize>;

    fn next(&mut self) -> Option<Vec<usize>> {
        let current = self.next.take()?;
        let mut following = current.clone();
        for d in (0..following.len()).rev() {
            following[d] += 1;
            if following[d] < self.sizes[d] {
                self.next = Some(following);
                break;
            }
            following[d] = 0;
        }
        Some(current)
    }
}

/// A run id names a folder, so it must fit in one file name.
fn check_id_length(
    parsed: &Parsed,
    assignment: &[(&Axis, Value)],
    run: &Run,
    index: usize,
) -> anyhow::Result<()> {
    if run.id.len() <= MAX_NAME_BYTES {
        return Ok(());
    }
    let longest = assignment
        .iter()
        .max_by_key(|(a, v)| settings::display(&a.key, v).len())
        .map(|(a, _)| a.path.clone())
        .unwrap_or_else(|| KeyPath::parse("sweep"));
    let shown: String = run.id.chars().take(60).collect();
    Err(bad(
        &parsed.source,
        &longest,
        &format!(
            "makes the id of run {} ({shown}...) {} bytes long, more than the {MAX_NAME_BYTES} a folder name may have: the id joins the run's swept values, so use shorter values here (fewer layers, rounder numbers) or sweep fewer keys",
            index + 1,
            run.id.len()
        ),
    ))
}

/// The run's resolved settings: the fixed ones with its swept values applied.
fn build_config(
    parsed: &Parsed,
    base: &Draft,
    assignment: &[(&Axis, Value)],
) -> anyhow::Result<RunConfig> {
    let mut draft = base.clone();
    for (axis, value) in assignment {
        settings::apply(&mut draft, &axis.key, value)
            .map_err(|e| bad(&parsed.source, &axis.path, &e))?;
    }
    let config = settings::finish(draft)
        .map_err(|e| bad(&parsed.source, &key_path(assignment, "depth"), &e))?;
    settings::check_run(&config)
        .map_err(|(key, e)| bad(&parsed.source, &key_path(assignment, key), &e))?;
    Ok(config)
}

/// Where `key` was given for this run: its sweep axis, else its fixed setting.
fn key_path(assignment: &[(&Axis, Value)], key: &str) -> KeyPath {
    assignment
        .iter()
        .find(|(a, _)| a.key == key)
        .map(|(a, _)| a.path.clone())
        .unwrap_or_else(|| KeyPath::parse(settings::section(key)).key(key))
}

fn run_id(columns: &[Column], choice: &[usize]) -> String {
    if columns.is_empty() {
        return "run".to_string();
    }
    let mut id = String::new();
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            id.push('_');
        }
        id.push_str(&c.id_part[choice[c.dim]]);
    }
    id
}
