//! The result files as pandas reads them: the analysis lines of docs/results.md run on the
//! committed depth sweep, and a sweep with failed runs and a halving search (pruned runs,
//! `trial` and `rung`) give every column its documented type.
//!
//! Needs Python 3 with pandas (`pip install pandas`); `RUNNER_PYTHON` names another
//! interpreter. `.ci/run` installs pandas where it is missing.

mod common;

use std::path::Path;

use common::{ok, python, repo, run_failing_sweep, runner, text};

fn run_python(script: &str, args: &[&Path], cwd: &Path) -> String {
    let out = python("pandas")
        .arg(repo().join("tests/python").join(script))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("python starts");
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "{script} failed:\n{}\n{stdout}",
        text(&out.stderr)
    );
    stdout
}

#[test]
fn the_pandas_lines_of_docs_results_run_on_the_committed_depth_sweep() {
    let out = run_python(
        "docs_pandas.py",
        &[&repo().join("docs/results.md"), Path::new("depth_sweep")],
        repo(),
    );
    assert!(out.contains(">>> "), "{out}");
}

#[test]
fn pandas_gives_every_column_its_documented_type_despite_failed_runs() {
    let dir = tempfile::tempdir().unwrap();
    let root = run_failing_sweep(dir.path());
    run_python("report_dtypes.py", &[&root], dir.path());
    // The committed results too, which have no failed run.
    for experiment in ["depth_sweep", "smoke"] {
        run_python(
            "report_dtypes.py",
            &[&repo().join("results").join(experiment)],
            repo(),
        );
    }
}

/// Four sampled trials of two seeds, halved at epoch 1 of 3: pruned runs have fewer
/// epochs than their `epochs` column, and the summary gains `trial` and `rung`.
const HALVING: &str = r#"
name = "halving"
[data]
train_examples = 300
[train]
epochs = 3
[search]
trials = 4
metric = "test_cost_clean"
[search.space]
learning_rate = { log_uniform = [1e-3, 3e-2] }
hidden = { choice = [[16], [16, 8]] }
[search.halving]
min_epochs = 1
eta = 3
[sweep]
seed = [1, 2]
"#;

#[test]
fn pandas_reads_a_halving_search_with_its_documented_types() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("halving.toml");
    std::fs::write(&exp, HALVING).unwrap();
    ok(&runner(
        &[exp.to_str().unwrap(), "--out", "res", "-q"],
        dir.path(),
    ));
    let root = dir.path().join("res/halving");
    let summary = std::fs::read_to_string(root.join("summary.csv")).unwrap();
    assert!(summary.contains(",pruned,"), "{summary}");
    run_python("report_dtypes.py", &[&root], dir.path());
}
