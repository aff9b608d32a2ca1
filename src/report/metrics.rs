//! `metrics.csv`: one row per epoch, and the per-epoch costs every other file is built
//! from (the list in [`COSTS`] is the one place a new per-epoch cost is added).

use std::path::Path;

use anyhow::Context;

use super::cells;

/// Costs after one epoch: one row of `metrics.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochMetrics {
    pub epoch: usize,
    /// Mean of the batch costs computed before each update (the tutorial's number).
    pub train_cost: f32,
    /// MSE on the whole test set, corrupted with a noise draw fixed per run (at the run's
    /// noise level), or with one draw fixed for every run (at `eval_noise_level`).
    pub test_cost: f32,
    /// MSE on the clean test set (no noise in): the one cost that means the same in runs
    /// trained at different noise levels. NaN in results from before it was measured.
    pub test_cost_clean: f32,
    /// Wall time of the epoch: its training steps and the test costs.
    pub seconds: f64,
}

/// A per-epoch cost: its column name and where it is in an [`EpochMetrics`].
#[derive(Clone, Copy, Debug)]
pub struct Cost {
    pub name: &'static str,
    /// How plots and tables title it.
    pub title: &'static str,
    pub get: fn(&EpochMetrics) -> f32,
}

/// Every per-epoch cost, in the order of the files' columns.
pub const COSTS: [Cost; 3] = [
    Cost {
        name: "train_cost",
        title: "train",
        get: |m| m.train_cost,
    },
    Cost {
        name: "test_cost",
        title: "test",
        get: |m| m.test_cost,
    },
    Cost {
        name: "test_cost_clean",
        title: "test (clean)",
        get: |m| m.test_cost_clean,
    },
];

/// The names a `metric` setting (a search's, halving's) may take: the per-epoch costs.
pub fn cost_named(name: &str) -> Option<Cost> {
    COSTS.iter().copied().find(|c| c.name == name)
}

/// Whether the rows are epochs 1, 2, 3, ... in order, as training writes them: rows
/// otherwise were edited or damaged.
pub fn numbered(rows: &[EpochMetrics]) -> bool {
    rows.iter().enumerate().all(|(i, m)| m.epoch == i + 1)
}

pub const HEADER: &str = "epoch,train_cost,test_cost,test_cost_clean,seconds";

/// The file's text. Costs use f32's shortest round-trip decimal form, so parsing them
/// back gives the same bits; cells are written as [`super::cells`] says, so that no
/// spreadsheet locale reads a different number.
pub fn to_csv(rows: &[EpochMetrics]) -> String {
    let mut out = String::with_capacity(HEADER.len() + 1 + rows.len() * 64);
    out.push_str(HEADER);
    out.push('\n');
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{}\n",
            r.epoch,
            cells::cost(r.train_cost),
            cells::cost(r.test_cost),
            cells::cost(r.test_cost_clean),
            cells::seconds(r.seconds)
        ));
    }
    out
}

/// Reads a `metrics.csv` back, for resuming, summaries and `--verify`. Columns are found
/// by name; a file without `test_cost_clean` (written before it was measured) reads it as
/// NaN.
pub fn read(path: &Path) -> anyhow::Result<Vec<EpochMetrics>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse(file, path)
}

/// [`read`] of text from anywhere (a checkpoint holds it); `path` names it in messages.
pub fn parse(text: impl std::io::Read, path: &Path) -> anyhow::Result<Vec<EpochMetrics>> {
    let mut reader = csv::Reader::from_reader(text);
    let headers = reader
        .headers()
        .with_context(|| format!("{}: no header line", path.display()))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let need =
        |name: &str| column(name).with_context(|| format!("{}: no column {name}", path.display()));
    let (epoch, train, test, seconds) = (
        need("epoch")?,
        need("train_cost")?,
        need("test_cost")?,
        need("seconds")?,
    );
    let clean = column("test_cost_clean");
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
            epoch: field(epoch)?.parse().with_context(bad)?,
            train_cost: field(train)?.parse().with_context(bad)?,
            test_cost: field(test)?.parse().with_context(bad)?,
            test_cost_clean: match clean {
                Some(n) => field(n)?.parse().with_context(bad)?,
                None => f32::NAN,
            },
            seconds: field(seconds)?.parse().with_context(bad)?,
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
            test_cost_clean: 0.25,
            seconds: 2.34567,
        }];
        let csv = to_csv(&rows);
        let line = csv.lines().nth(1).unwrap();
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields[0], "1");
        assert_eq!(fields[1].parse::<f32>().unwrap(), rows[0].train_cost);
        assert_eq!(fields[2], "0.0000001");
        assert_eq!(fields[3], "0.25");
        assert_eq!(fields[4], "2.35");
        assert!(csv.starts_with("epoch,train_cost,test_cost,test_cost_clean,seconds\n"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        std::fs::write(&path, &csv).unwrap();
        let back = read(&path).unwrap();
        assert_eq!(back[0].test_cost_clean, rows[0].test_cost_clean);
        assert_eq!(back[0].train_cost, rows[0].train_cost);
    }

    #[test]
    fn files_from_before_the_clean_cost_read_it_as_nan() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        std::fs::write(&path, "epoch,train_cost,test_cost,seconds\n1,0.5,0.4,1.0\n").unwrap();
        let rows = read(&path).unwrap();
        assert_eq!((rows[0].train_cost, rows[0].test_cost), (0.5, 0.4));
        assert!(rows[0].test_cost_clean.is_nan());
    }
}
