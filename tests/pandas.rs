//! The result files as pandas reads them: the analysis lines of docs/results.md run on the
//! committed depth sweep, and a sweep with failed runs gives every column its documented
//! type.
//!
//! Needs Python 3 with pandas (`pip install pandas`); `RUNNER_PYTHON` names another
//! interpreter. `.ci/run` installs pandas where it is missing.

mod common;

use std::path::Path;

use common::{python, repo, run_failing_sweep, text};

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
