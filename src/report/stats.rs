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

/// The markdown table: one line per configuration with completed runs.
pub fn render(rows: &[Row]) -> String {
    let mut configs: Vec<String> = rows
        .iter()
        .filter(|r| !r.metrics.is_empty())
        .map(|r| configuration(&r.id))
        .collect();
    configs.sort();
    configs.dedup();
    let mut out = String::from(
        "| configuration | runs | final train cost: mean ± sd | min | max | final test cost: mean ± sd | min | max |\n|---|---|---|---|---|---|---|---|\n",
    );
    for config in configs {
        let finals: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| configuration(&r.id) == config)
            .filter_map(|r| r.metrics.last())
            .map(|m| (m.train_cost as f64, m.test_cost as f64))
            .collect();
        let train: Vec<f64> = finals.iter().map(|f| f.0).collect();
        let test: Vec<f64> = finals.iter().map(|f| f.1).collect();
        let (Some(a), Some(b)) = (spread(&train), spread(&test)) else {
            continue;
        };
        out.push_str(&format!(
            "| {config} | {} | {:.5} ± {:.5} | {:.5} | {:.5} | {:.5} ± {:.5} | {:.5} | {:.5} |\n",
            finals.len(),
            a.mean,
            a.sd,
            a.min,
            a.max,
            b.mean,
            b.sd,
            b.min,
            b.max
        ));
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
