//! The report files of a small sweep with failed runs, read as an analyst would: every
//! column present, every cell of the type docs/results.md gives it, one row per run, per
//! finished epoch, per configuration and per comparison.

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::run_failing_sweep;
use runner::report::cells::looks_thousands_grouped;

/// A CSV as its header and rows of cells by column name.
struct Table {
    header: Vec<String>,
    rows: Vec<HashMap<String, String>>,
}

fn read(path: &Path) -> Table {
    let mut reader = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{e}"));
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .cloned()
                .zip(r.iter().map(String::from))
                .collect()
        })
        .collect();
    Table { header, rows }
}

fn int(cell: &str, what: &str) -> u64 {
    cell.parse()
        .unwrap_or_else(|_| panic!("{what}: {cell:?} is not an integer"))
}

fn real(cell: &str, what: &str) -> f64 {
    cell.parse()
        .unwrap_or_else(|_| panic!("{what}: {cell:?} is not a number"))
}

/// No cell anywhere has a shape that some spreadsheet locale reads as another number.
fn assert_locale_safe(table: &Table, file: &str) {
    for row in &table.rows {
        for (column, cell) in row {
            assert!(
                !looks_thousands_grouped(cell),
                "{file}: {column} = {cell} reads as a thousands-grouped integer in German"
            );
            assert!(
                !cell.contains('e') || cell.parse::<f64>().is_err(),
                "{file}: {column} = {cell} uses exponent notation"
            );
        }
    }
}

const SETTINGS: [&str; 14] = [
    "dataset",
    "train_examples",
    "hidden",
    "depth",
    "activation",
    "init",
    "init_scale",
    "noise_level",
    "eval_noise_level",
    "learning_rate",
    "adam",
    "batch_size",
    "epochs",
    "seed",
];

#[test]
fn the_report_of_a_sweep_with_failed_runs_has_stable_columns_and_types() {
    let dir = tempfile::tempdir().unwrap();
    let root = run_failing_sweep(dir.path());

    // summary.csv: one row per run, every setting, failures located.
    let summary = read(&root.join("summary.csv"));
    let mut expected: Vec<&str> = vec!["experiment", "run_id", "configuration"];
    expected.extend(SETTINGS);
    expected.extend([
        "status",
        "device",
        "engine",
        "epochs_done",
        "final_train_cost",
        "final_test_cost",
        "final_test_cost_clean",
        "best_train_cost",
        "best_train_epoch",
        "best_test_cost",
        "best_test_epoch",
        "best_test_cost_clean",
        "best_test_clean_epoch",
        "seconds",
        "failed_epoch",
        "failed_batch",
        "error",
    ]);
    assert_eq!(summary.header, expected);
    assert_eq!(summary.rows.len(), 12);
    assert_locale_safe(&summary, "summary.csv");
    for row in &summary.rows {
        let id = &row["run_id"];
        assert_eq!(row["experiment"], "failing");
        for column in [
            "train_examples",
            "depth",
            "batch_size",
            "epochs",
            "seed",
            "epochs_done",
            "best_train_epoch",
            "best_test_epoch",
            "best_test_clean_epoch",
            "failed_epoch",
            "failed_batch",
        ] {
            int(&row[column], &format!("{id} {column}"));
        }
        for column in ["init_scale", "noise_level", "learning_rate"] {
            real(&row[column], &format!("{id} {column}"));
        }
        let hidden = &row["hidden"];
        assert!(
            hidden.starts_with('h') && hidden.parse::<f64>().is_err(),
            "{id}: hidden = {hidden}"
        );
        assert_eq!(
            hidden.matches('x').count() + 1,
            int(&row["depth"], "depth") as usize
        );
        assert_eq!(row["train_examples"], "500");
        assert_eq!(row["activation"], "relu");
        assert_eq!(
            row["device"], "cpu",
            "{id}: done and failed runs keep their device"
        );
        assert_eq!(row["engine"], "kernels", "{id}: and their engine");
        assert_eq!(row["eval_noise_level"], "", "{id}: unset, the run's own");
        let costs = [
            "final_train_cost",
            "final_test_cost",
            "final_test_cost_clean",
            "best_train_cost",
            "best_test_cost",
            "best_test_cost_clean",
            "seconds",
        ];
        match row["status"].as_str() {
            "done" => {
                assert_eq!(row["epochs_done"], "2");
                for column in costs {
                    real(&row[column], &format!("{id} {column}"));
                }
                assert!(["1", "2"].contains(&row["best_test_epoch"].as_str()));
                assert_eq!(
                    (row["failed_epoch"].as_str(), row["error"].as_str()),
                    ("0", "")
                );
            }
            "failed" => {
                assert_eq!(row["epochs_done"], "0");
                for column in costs {
                    assert_eq!(row[column], "", "{id} {column}");
                }
                assert!(!row["error"].is_empty());
            }
            other => panic!("{id}: status {other}"),
        }
    }
    let status = |id: &str| {
        summary
            .rows
            .iter()
            .find(|r| r["run_id"] == id)
            .unwrap_or_else(|| panic!("no row {id}"))
    };
    // A divergence names its epoch and batch.
    for (bs, batches) in [(100, 5), (250, 2)] {
        for seed in [1, 2] {
            let row = status(&format!("h32-16_lr1e20_bs{bs}_seed{seed}"));
            assert_eq!(row["status"], "failed");
            assert_eq!(row["failed_epoch"], "1");
            let batch = int(&row["failed_batch"], "failed_batch");
            assert!(
                (1..=batches).contains(&batch),
                "500 images make {batches} batches: {batch}"
            );
            assert!(
                row["error"].starts_with(&format!("diverged at epoch 1, batch {batch}:")),
                "{}",
                row["error"]
            );
        }
    }
    let done: Vec<&HashMap<String, String>> = summary
        .rows
        .iter()
        .filter(|r| r["status"] == "done")
        .collect();
    assert!(done.len() >= 4, "the 0.01 runs all finish");

    // epochs.csv: one row per finished run and epoch, its swept settings beside it, the
    // same costs as the run's metrics.csv.
    let epochs = read(&root.join("epochs.csv"));
    assert_eq!(
        epochs.header,
        [
            "experiment",
            "run_id",
            "configuration",
            "hidden",
            "depth",
            "learning_rate",
            "batch_size",
            "seed",
            "epoch",
            "train_cost",
            "test_cost",
            "test_cost_clean",
            "seconds"
        ]
    );
    assert_eq!(epochs.rows.len(), 2 * done.len());
    assert_locale_safe(&epochs, "epochs.csv");
    for row in &epochs.rows {
        let id = &row["run_id"];
        let run = status(id);
        assert_eq!(run["status"], "done", "{id}");
        for column in [
            "hidden",
            "depth",
            "learning_rate",
            "batch_size",
            "seed",
            "configuration",
        ] {
            assert_eq!(row[column], run[column], "{id} {column}");
        }
        let epoch = int(&row["epoch"], "epoch");
        let metrics = std::fs::read_to_string(root.join(id).join("metrics.csv")).unwrap();
        let line: Vec<&str> = metrics
            .lines()
            .nth(epoch as usize)
            .unwrap()
            .split(',')
            .collect();
        for (i, column) in [(1, "train_cost"), (2, "test_cost"), (3, "test_cost_clean")] {
            let a: f32 = row[column].parse().unwrap();
            let b: f32 = line[i].parse().unwrap();
            assert_eq!(a.to_bits(), b.to_bits(), "{id} epoch {epoch} {column}");
        }
        real(&row["seconds"], "seconds");
        if epoch == 2 {
            assert_eq!(row["train_cost"], run["final_train_cost"], "{id}");
        }
    }

    // stats.csv: one row per configuration, also those without a finished run.
    let stats_csv = read(&root.join("stats.csv"));
    let mut expected: Vec<String> = [
        "experiment",
        "configuration",
        "hidden",
        "depth",
        "learning_rate",
        "batch_size",
        "runs_planned",
        "runs_done",
        "runs_failed",
    ]
    .map(String::from)
    .to_vec();
    for cost in runner::report::groups::COSTS {
        for figure in ["mean", "sd", "se", "ci95_low", "ci95_high", "min", "max"] {
            expected.push(format!("{cost}_{figure}"));
        }
    }
    assert_eq!(stats_csv.header, expected);
    assert_eq!(stats_csv.rows.len(), 6);
    assert_locale_safe(&stats_csv, "stats.csv");
    for row in &stats_csv.rows {
        let config = &row["configuration"];
        let runs: Vec<_> = summary
            .rows
            .iter()
            .filter(|r| &r["configuration"] == config)
            .collect();
        assert_eq!(int(&row["runs_planned"], "runs_planned"), runs.len() as u64);
        let finals: Vec<f64> = runs
            .iter()
            .filter(|r| r["status"] == "done")
            .map(|r| real(&r["final_train_cost"], "final_train_cost"))
            .collect();
        assert_eq!(int(&row["runs_done"], "runs_done"), finals.len() as u64);
        let failed = runs.iter().filter(|r| r["status"] == "failed").count() as u64;
        assert_eq!(int(&row["runs_failed"], "runs_failed"), failed);
        match finals.len() {
            0 => assert!(
                runner::report::groups::COSTS
                    .iter()
                    .all(|c| row[&format!("{c}_mean")].is_empty()),
                "{config}: no figure without a finished run"
            ),
            n => {
                let mean = real(&row["final_train_cost_mean"], "mean");
                let expected = finals.iter().sum::<f64>() / n as f64;
                assert!(
                    (mean - expected).abs() <= 1e-15,
                    "{config}: {mean} {expected}"
                );
                let (lo, hi) = (
                    real(&row["final_train_cost_ci95_low"], "ci95_low"),
                    real(&row["final_train_cost_ci95_high"], "ci95_high"),
                );
                assert!(lo < mean && mean < hi, "{config}: {lo} {mean} {hi}");
            }
        }
    }
    assert!(
        stats_csv
            .rows
            .iter()
            .any(|r| r["runs_done"] == "0" && r["batch_size"] == "250"),
        "a configuration whose runs all failed keeps its row"
    );

    // comparisons.csv: pairs that differ in one setting: the depths within each zip row,
    // and zip rows that share one of their two values; the first and second zip rows
    // differ in both and are not compared.
    let comparisons = read(&root.join("comparisons.csv"));
    assert_locale_safe(&comparisons, "comparisons.csv");
    let pairs: Vec<(&str, &str, &str)> = comparisons
        .rows
        .iter()
        .map(|r| {
            (
                r["setting"].as_str(),
                r["value_a"].as_str(),
                r["value_b"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [
            ("learning_rate", "0.01", "100000000000000000000.0"),
            ("hidden", "h32", "h32x16"),
            ("batch_size", "250", "100"),
            ("hidden", "h32", "h32x16"),
            ("hidden", "h32", "h32x16"),
            ("learning_rate", "0.01", "100000000000000000000.0"),
            ("batch_size", "250", "100"),
        ],
        "in sweep order"
    );
    for row in &comparisons.rows {
        let defined = row["runs_a"] != "0" && row["runs_b"] != "0";
        for cost in [
            "final_train_cost",
            "final_test_cost",
            "final_test_cost_clean",
        ] {
            let cells: Vec<&str> = ["diff", "diff_ci95_low", "diff_ci95_high", "p"]
                .iter()
                .map(|f| row[&format!("{cost}_{f}")].as_str())
                .collect();
            if defined {
                let [diff, lo, hi, p] = cells[..] else {
                    unreachable!()
                };
                let (diff, lo, hi, p) = (
                    real(diff, "diff"),
                    real(lo, "lo"),
                    real(hi, "hi"),
                    real(p, "p"),
                );
                assert!(
                    lo < diff && diff < hi && (0.0..=1.0).contains(&p),
                    "{row:?}"
                );
            } else {
                assert!(cells.iter().all(|c| c.is_empty()), "{row:?}");
            }
        }
    }

    // stats.md and curves.svg name the configurations without a finished run.
    let md = std::fs::read_to_string(root.join("stats.md")).unwrap();
    assert!(
        md.contains("| h32-16_lr1e20_bs250 | 2 | 0 | 2 | – |"),
        "{md}"
    );
    let svg = std::fs::read_to_string(root.join("curves.svg")).unwrap();
    assert!(
        svg.contains("h32-16_lr1e20_bs250: 0 of 2 runs finished, 2 failed (no curve)"),
        "the curves list failed configurations"
    );
    assert!(svg.contains("one panel per cost, titled above it"));
    for title in ["train cost", "test cost (whole test set", "clean test cost"] {
        assert!(svg.contains(title), "{title}");
    }
}
