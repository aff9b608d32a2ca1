//! From axes to runs: every combination of the product axes, times each row of each zip
//! group, with an id built from the swept values.

use std::collections::HashMap;

use toml::Value;

use super::parse::{axis_value, bad, Axis, Parsed, MAX_NAME_BYTES};
use super::settings::{self, axis_keys, id_prefix};
use super::source::KeyPath;
use super::{Experiment, Run};
use crate::error::input_error;

/// Expands the parsed experiment into its runs, in sweep order (first axis outermost).
pub fn expand(parsed: Parsed) -> anyhow::Result<Experiment> {
    let dims = dimensions(&parsed);
    let axes = axis_order(&dims);
    let count = run_count(&parsed, &dims)?;
    let mut runs = Vec::with_capacity(count);
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(count);
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
        let run = build_run(&parsed, &axes, &assignment)?;
        check_id_length(&parsed, &assignment, &run, runs.len())?;
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

/// Most runs one experiment may expand to: a million-run sweep expands in seconds and
/// about a gigabyte; beyond ten million, memory and time are better spent on several
/// experiment files.
pub const MAX_RUNS: usize = 10_000_000;

/// The number of runs, checked before any is built, so a sweep too large for memory is
/// an input error instead of an abort.
fn run_count(parsed: &Parsed, dims: &[Vec<Axis>]) -> anyhow::Result<usize> {
    let count = dims
        .iter()
        .map(|d| d.first().map_or(1, |a| a.values.len()))
        .try_fold(1usize, |n, len| n.checked_mul(len))
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
    let config = settings::finish(draft)
        .map_err(|e| bad(&parsed.source, &key_path(assignment, "depth"), &e))?;
    settings::check_run(&config)
        .map_err(|(key, e)| bad(&parsed.source, &key_path(assignment, key), &e))?;
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

/// Where `key` was given for this run: its sweep axis, else its fixed setting.
fn key_path(assignment: &[(&Axis, Value)], key: &str) -> KeyPath {
    assignment
        .iter()
        .find(|(a, _)| a.key == key)
        .map(|(a, _)| a.path.clone())
        .unwrap_or_else(|| KeyPath::parse(settings::section(key)).key(key))
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
