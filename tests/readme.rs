//! The README's replication tables are generated from committed results, never typed in:
//! each table between `<!-- table:NAME -->` markers must equal what the results give.

mod common;

use common::repo;
use runner::report::stats;

/// The text between `<!-- table:name -->` and `<!-- /table -->` in the README.
fn readme_block(name: &str) -> String {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let start_marker = format!("<!-- table:{name} -->\n");
    let start = readme
        .find(&start_marker)
        .unwrap_or_else(|| panic!("README lacks {start_marker}"))
        + start_marker.len();
    let end = start
        + readme[start..]
            .find("<!-- /table -->")
            .expect("closing marker");
    readme[start..end].to_string()
}

/// A table of the committed `results/<experiment>/stats.md`, found by its heading.
fn stats_table(experiment: &str, heading: &str) -> String {
    let path = repo().join("results").join(experiment).join("stats.md");
    let text = std::fs::read_to_string(&path).unwrap();
    stats::section_table(&text, heading)
        .unwrap_or_else(|| panic!("{} has no table under {heading:?}", path.display()))
        .to_string()
}

#[test]
fn depth_sweep_tables_are_the_committed_stats() {
    assert_eq!(
        readme_block("depth_sweep"),
        stats_table("depth_sweep", stats::FINAL_HEADING),
        "regenerate with runner --summarize and paste the table of stats.md"
    );
    assert_eq!(
        readme_block("depth_sweep_comparisons"),
        stats_table("depth_sweep", stats::COMPARISONS_HEADING),
        "regenerate with runner --summarize and paste the table of stats.md"
    );
}

/// Final train cost (last `Epoch:` line) and `test_cost` of one TensorFlow log.
fn tensorflow_finals(log: &str) -> (f64, f64) {
    let value = |prefix: &str| -> f64 {
        log.lines()
            .rev()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|v| v.split_whitespace().last())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix:?} line"))
    };
    (value("Epoch: "), value("test_cost: "))
}

/// The TensorFlow table from `results/tensorflow/<variant>d<depth>_s<seed>.log`.
fn tensorflow_table() -> String {
    let dir = repo().join("results/tensorflow");
    let mut groups: std::collections::BTreeMap<String, Vec<(f64, f64)>> = Default::default();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".log") else {
            continue;
        };
        let Some((group, _seed)) = stem.rsplit_once("_s") else {
            continue;
        };
        let log = std::fs::read_to_string(dir.join(&name)).unwrap();
        groups
            .entry(group.to_string())
            .or_default()
            .push(tensorflow_finals(&log));
    }
    let columns: Vec<(String, Vec<f64>, Vec<f64>)> = groups
        .into_iter()
        .map(|(group, finals)| {
            let train = finals.iter().map(|f| f.0).collect();
            let test = finals.iter().map(|f| f.1).collect();
            (group, train, test)
        })
        .collect();
    let lines: Vec<stats::Line> = columns
        .iter()
        .map(|(name, train, test)| stats::Line {
            name,
            planned: train.len(),
            failed: 0,
            train,
            test,
        })
        .collect();
    stats::table("program", &lines)
}

#[test]
fn tensorflow_table_is_the_committed_logs() {
    assert_eq!(readme_block("tensorflow"), tensorflow_table());
}
