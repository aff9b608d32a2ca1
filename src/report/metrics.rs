//! `metrics.csv`: one row per epoch.

use std::path::Path;

use anyhow::Context;

use super::cells;
/// Costs after one epoch: one row of `metrics.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochMetrics {
    pub epoch: usize,
    /// Mean of the batch costs computed before each update (the tutorial's number).
    pub train_cost: f32,
    /// MSE on the whole test set with a noise draw fixed per run.
    pub test_cost: f32,
    /// Wall time of the epoch: its training steps and the test cost.
    pub seconds: f64,
}

pub const HEADER: &str = "epoch,train_cost,test_cost,seconds";

/// The file's text. Costs use f32's shortest round-trip decimal form, so parsing them
/// back gives the same bits; cells are written as [`super::cells`] says, so that no
/// spreadsheet locale reads a different number.
pub fn to_csv(rows: &[EpochMetrics]) -> String {
    let mut out = String::with_capacity(HEADER.len() + 1 + rows.len() * 48);
    out.push_str(HEADER);
    out.push('\n');
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{}\n",
            r.epoch,
            cells::cost(r.train_cost),
            cells::cost(r.test_cost),
            cells::seconds(r.seconds)
        ));
    }
    out
}

/// Reads a `metrics.csv` back, for resuming, summaries and `--verify`.
pub fn read(path: &Path) -> anyhow::Result<Vec<EpochMetrics>> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record =
            record.with_context(|| format!("{}: bad CSV row {}", path.display(), i + 2))?;
        let field = |n: usize| -> anyhow::Result<&str> {
            record
                .get(n)
                .with_context(|| format!("{}: row {} has too few columns", path.display(), i + 2))
        };
        let bad = || {
            format!(
                "{}: row {} holds a value that is not a number",
                path.display(),
                i + 2
            )
        };
        out.push(EpochMetrics {
            epoch: field(0)?.parse().with_context(bad)?,
            train_cost: field(1)?.parse().with_context(bad)?,
            test_cost: field(2)?.parse().with_context(bad)?,
            seconds: field(3)?.parse().with_context(bad)?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_round_trip() {
        let rows = [EpochMetrics {
            epoch: 1,
            train_cost: 0.1 + f32::EPSILON,
            test_cost: 1.0e-7,
            seconds: 2.34567,
        }];
        let csv = to_csv(&rows);
        let line = csv.lines().nth(1).unwrap();
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields[0], "1");
        assert_eq!(fields[1].parse::<f32>().unwrap(), rows[0].train_cost);
        assert_eq!(fields[2], "0.0000001");
        assert_eq!(fields[3], "2.35");
        assert!(csv.starts_with("epoch,train_cost,test_cost,seconds\n"));
    }
}
