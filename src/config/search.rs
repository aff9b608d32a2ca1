//! An experiment file's `[search]`, `[search.space]` and `[search.halving]`: read and
//! checked against the rest of the file before anything trains, every problem an input
//! error naming the place and the fix.

use toml::{Table, Value};

use super::settings::{self, axis_keys, axis_value, Draft, MAX_RUNS};
use super::source::{bad, KeyPath, Source};
use crate::report::metrics::{cost_named, COSTS};
use crate::search::{halving, sampler, Dimension, Distribution, Halving, Method, Search};

pub const SEARCH_KEYS: &[&str] = &["method", "trials", "seed", "metric", "space", "halving"];
pub const HALVING_KEYS: &[&str] = &["metric", "min_epochs", "eta", "brackets"];

/// The metric a search ranks by when none is named.
pub const DEFAULT_METRIC: &str = "test_cost";

/// A sweep axis: its key, and where it was written.
pub type Swept<'a> = (&'a str, &'a KeyPath);

/// Reads `[search]` where the file has one. `swept` are the sweep's axes: a key lives in
/// one place only.
pub fn read(
    table: &Table,
    base: &Draft,
    swept: &[Swept],
    source: &Source,
) -> anyhow::Result<Option<Search>> {
    let Some(value) = table.get("search") else {
        return Ok(None);
    };
    let root = KeyPath::parse("search");
    let t = value
        .as_table()
        .ok_or_else(|| bad(source, &root, "must be a table: a [search] section"))?;
    let method = match t.get("method") {
        None => Method::Sobol,
        Some(Value::String(s)) => Method::parse(s).ok_or_else(|| {
            bad(
                source,
                &root.key("method"),
                &format!("\"{s}\" is not a method: use \"random\" or \"sobol\" (a grid is [sweep] alone)"),
            )
        })?,
        Some(other) => {
            return Err(bad(
                source,
                &root.key("method"),
                &format!("must be \"random\" or \"sobol\", got {other}"),
            ))
        }
    };
    let trials = count(t, "trials", &root, source)?.ok_or_else(|| {
        bad(
            source,
            &root,
            "has no `trials`: say how many trials to sample, e.g. trials = 64",
        )
    })?;
    let limit = sampler::max_trials(method).min(MAX_RUNS as u64) as usize;
    if trials == 0 || trials > limit {
        return Err(bad(
            source,
            &root.key("trials"),
            &format!("is {trials}: a search samples 1 to {limit} trials"),
        ));
    }
    let seed = match t.get("seed") {
        None => 0,
        Some(Value::Integer(n)) if *n >= 0 => *n as u64,
        Some(other) => {
            return Err(bad(
                source,
                &root.key("seed"),
                &format!("must be a whole number of at least 0, got {other}"),
            ))
        }
    };
    let space = read_space(table, t, base, swept, source)?;
    let metric = read_metric(t, &root, source)?;
    let halving = read_halving(t, base, &space, swept, &metric, &root, source)?;
    let search = Search {
        method,
        trials,
        seed,
        space,
        metric: metric.map_or_else(|| DEFAULT_METRIC.to_string(), |(m, _)| m),
        halving,
    };
    Ok(Some(search))
}

fn count(t: &Table, key: &str, at: &KeyPath, source: &Source) -> anyhow::Result<Option<usize>> {
    match t.get(key) {
        None => Ok(None),
        Some(Value::Integer(n)) if *n >= 0 => Ok(Some(*n as usize)),
        Some(other) => Err(bad(
            source,
            &at.key(key),
            &format!("must be a whole number, got {other}"),
        )),
    }
}

/// `[search.space]` of the `[search]` table `t` in the file's `table`.
fn read_space(
    table: &Table,
    t: &Table,
    base: &Draft,
    swept: &[Swept],
    source: &Source,
) -> anyhow::Result<Vec<Dimension>> {
    let root = KeyPath::parse("search");
    let at = root.key("space");
    let Some(value) = t.get("space") else {
        return Err(bad(
            source,
            &root,
            "has no [search.space]: name the settings to sample, e.g. learning_rate = { log_uniform = [1e-4, 3e-2] }",
        ));
    };
    let space = value
        .as_table()
        .ok_or_else(|| bad(source, &at, "must be a table: a [search.space] section"))?;
    if space.is_empty() {
        return Err(bad(
            source,
            &at,
            "is empty: name at least one setting to sample",
        ));
    }
    let keys: Vec<&str> = axis_keys().collect();
    let mut dims = Vec::new();
    for (index, key) in keys.iter().enumerate() {
        let Some(spec) = space.get(*key) else {
            continue;
        };
        let path = at.key(key);
        check_one_place(table, key, &path, swept, source)?;
        let distribution = Distribution::parse(spec).map_err(|e| bad(source, &path, &e))?;
        check_values(base, key, &distribution).map_err(|e| bad(source, &path, &e))?;
        dims.push(Dimension {
            key: key.to_string(),
            distribution,
            index: index as u32,
        });
    }
    if let Some(unknown) = space.keys().find(|k| !keys.contains(&k.as_str())) {
        let hint = super::hint(unknown, &keys, "settings that can be sampled");
        return Err(bad(
            source,
            &at.key(unknown),
            &format!("is not a setting; {hint}"),
        ));
    }
    Ok(dims)
}

/// A key is fixed, swept or sampled: in one place only.
fn check_one_place(
    table: &Table,
    key: &str,
    path: &KeyPath,
    swept: &[Swept],
    source: &Source,
) -> anyhow::Result<()> {
    if let Some((_, axis)) = swept.iter().find(|(k, _)| *k == key) {
        return Err(bad(
            source,
            path,
            &format!(
                "is sampled but also swept at `{}` ({}): give each setting in one place only",
                axis,
                source.locate(axis)
            ),
        ));
    }
    let section = settings::section(key);
    let fixed = KeyPath::parse(section).key(key);
    let is_fixed = table
        .get(section)
        .and_then(Value::as_table)
        .is_some_and(|t| t.contains_key(key));
    if is_fixed {
        return Err(bad(
            source,
            path,
            &format!(
                "is sampled but also fixed at `{fixed}` ({}): remove one of them",
                source.locate(&fixed)
            ),
        ));
    }
    Ok(())
}

/// The values a distribution can give must be values of its setting: its ends, and
/// each choice.
fn check_values(base: &Draft, key: &str, distribution: &Distribution) -> Result<(), String> {
    let candidates: Vec<Value> = match distribution {
        Distribution::Choice(items) => items.iter().map(|v| axis_value(key, v)).collect(),
        _ => vec![
            distribution.value(0.0),
            distribution.value(1.0 - f64::EPSILON),
        ],
    };
    for value in candidates {
        let mut draft = base.clone();
        settings::apply(&mut draft, key, &value).map_err(|e| format!("the value {value}: {e}"))?;
    }
    Ok(())
}

fn read_metric(
    t: &Table,
    root: &KeyPath,
    source: &Source,
) -> anyhow::Result<Option<(String, KeyPath)>> {
    let in_search = metric_at(t, root, source)?;
    let halving_at = root.key("halving");
    let in_halving = match t.get("halving").and_then(Value::as_table) {
        Some(h) => metric_at(h, &halving_at, source)?,
        None => None,
    };
    match (in_search, in_halving) {
        (Some(a), Some(b)) if a.0 != b.0 => Err(bad(
            source,
            &b.1,
            &format!(
                "is \"{}\" but `search.metric` is \"{}\": a search ranks by one metric; give it once",
                b.0, a.0
            ),
        )),
        (a, b) => Ok(b.or(a)),
    }
}

fn metric_at(
    t: &Table,
    at: &KeyPath,
    source: &Source,
) -> anyhow::Result<Option<(String, KeyPath)>> {
    let path = at.key("metric");
    let names: Vec<&str> = COSTS.iter().map(|c| c.name).collect();
    match t.get("metric") {
        None => Ok(None),
        Some(Value::String(s)) if cost_named(s).is_some() => Ok(Some((s.clone(), path))),
        Some(other) => Err(bad(
            source,
            &path,
            &format!(
                "{other} is not a metric: use one of the per-epoch costs, {} (lower is better)",
                names.join(", ")
            ),
        )),
    }
}

/// Reads `[search.halving]` and checks it as a whole: rungs need a fixed `epochs`, and
/// a cost that follows each trial's own noise would rank the easiest task first.
fn read_halving(
    t: &Table,
    base: &Draft,
    space: &[Dimension],
    swept: &[Swept],
    metric: &Option<(String, KeyPath)>,
    root: &KeyPath,
    source: &Source,
) -> anyhow::Result<Option<Halving>> {
    let at = root.key("halving");
    let Some(value) = t.get("halving") else {
        return Ok(None);
    };
    let h = value
        .as_table()
        .ok_or_else(|| bad(source, &at, "must be a table: a [search.halving] section"))?;
    let varied =
        |key: &str| space.iter().any(|d| d.key == key) || swept.iter().any(|(k, _)| *k == key);
    if varied("epochs") {
        return Err(bad(
            source,
            &at,
            "rungs give trials their epochs, so `epochs` cannot be sampled or swept with halving: fix train.epochs (the last rung) and remove it from [search.space] or [sweep]",
        ));
    }
    let epochs = base.config.train.epochs;
    let min_epochs = count(h, "min_epochs", &at, source)?.unwrap_or(1);
    let eta = count(h, "eta", &at, source)?.unwrap_or(3);
    let brackets = count(h, "brackets", &at, source)?.unwrap_or(1);
    halving::check(min_epochs, epochs, eta, brackets)
        .map_err(|(key, e)| bad(source, &at.key(key), &e))?;
    let metric_name = metric.as_ref().map_or(DEFAULT_METRIC, |(m, _)| m.as_str());
    let eval_fixed = base.config.train.eval_noise_level.is_some();
    if metric_name == "test_cost" && varied("noise_level") && !eval_fixed {
        let path = metric
            .as_ref()
            .map_or_else(|| at.clone(), |(_, p)| p.clone());
        return Err(bad(
            source,
            &path,
            &format!(
                "ranks trials by test_cost while noise_level varies: {}. Set metric = \"test_cost_clean\", or fix train.eval_noise_level",
                super::NOISE_FOLLOWS_RUNS
            ),
        ));
    }
    Ok(Some(Halving {
        min_epochs,
        eta,
        brackets,
        epochs,
    }))
}
