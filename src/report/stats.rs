//! `stats.md`: final costs per configuration over its seeds (mean, standard deviation,
//! min, max), the numbers a replication reports, generated so none is typed by hand.

use std::path::Path;

use anyhow::Context;

use super::atomic::write_atomic;
use super::summary::{configuration, Row};

/// Mean, sample standard deviation, min and max.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    pub mean: f64,
    pub sd: f64,
    pub min: f64,
    pub max: f64,
}

pub fn spread(values: &[f64]) -> Option<Spread> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let var = if n > 1 {
        values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64
    } else {
        0.0
    };
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some(Spread {
        mean,
        sd: var.sqrt(),
        min,
        max,
    })
}

/// The header of a stats table whose first column is `label`.
pub fn header(label: &str) -> String {
    format!(
        "| {label} | runs | final train cost: mean ± sd | min | max | final test cost: mean ± sd | min | max |\n|---|---|---|---|---|---|---|---|\n"
    )
}

/// One line of a stats table from the final costs of some runs.
pub fn line(name: &str, train: &[f64], test: &[f64]) -> Option<String> {
    let (a, b) = (spread(train)?, spread(test)?);
    Some(format!(
        "| {name} | {} | {:.5} ± {:.5} | {:.5} | {:.5} | {:.5} ± {:.5} | {:.5} | {:.5} |\n",
        train.len(),
        a.mean,
        a.sd,
        a.min,
        a.max,
        b.mean,
        b.sd,
        b.min,
        b.max
    ))
}

/// The markdown table: one line per configuration with completed runs.
pub fn render(rows: &[Row]) -> String {
    let mut configs: Vec<String> = rows
        .iter()
        .filter(|r| !r.metrics.is_empty())
        .map(|r| configuration(&r.id))
        .collect();
    configs.sort();
    configs.dedup();
    let mut out = header("configuration");
    for config in configs {
        let finals: Vec<_> = rows
            .iter()
            .filter(|r| configuration(&r.id) == config)
            .filter_map(|r| r.metrics.last())
            .collect();
        let train: Vec<f64> = finals.iter().map(|m| m.train_cost as f64).collect();
        let test: Vec<f64> = finals.iter().map(|m| m.test_cost as f64).collect();
        out.extend(line(&config, &train, &test));
    }
    out
}

pub fn write(path: &Path, rows: &[Row]) -> anyhow::Result<()> {
    write_atomic(path, render(rows).as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_of_values() {
        let s = spread(&[1.0, 2.0, 3.0]).unwrap();
        assert_eq!((s.mean, s.sd, s.min, s.max), (2.0, 1.0, 1.0, 3.0));
        assert_eq!(spread(&[5.0]).unwrap().sd, 0.0);
        assert!(spread(&[]).is_none());
    }
}
