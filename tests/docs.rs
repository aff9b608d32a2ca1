//! The replication's tables (docs/replication.md) are generated from committed results,
//! never typed in: each table between `<!-- table:NAME -->` markers must equal what the
//! results give.

mod common;

use common::repo;
use runner::report::stats;

/// The text between `<!-- table:name -->` and `<!-- /table -->` in docs/replication.md.
fn readme_block(name: &str) -> String {
    let readme = std::fs::read_to_string(repo().join("docs/replication.md")).unwrap();
    let start_marker = format!("<!-- table:{name} -->\n");
    let start = readme
        .find(&start_marker)
        .unwrap_or_else(|| panic!("docs/replication.md lacks {start_marker}"))
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

/// Final train costs of one architecture's finished runs in `results/<experiment>/summary.csv`.
fn runner_finals(experiment: &str, hidden: &str) -> Vec<f64> {
    let path = repo().join("results").join(experiment).join("summary.csv");
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (h, status, cost) = (col("hidden"), col("status"), col("final_train_cost"));
    reader
        .records()
        .map(|r| r.unwrap())
        .filter(|r| &r[h] == hidden && &r[status] == "done")
        .map(|r| r[cost].parse().unwrap())
        .collect()
}

/// Final train costs of `results/tensorflow/<program>_<arch>_s<seed>.log`.
fn tensorflow_program_finals(program: &str, arch: &str) -> Vec<f64> {
    let dir = repo().join("results/tensorflow");
    let prefix = format!("{program}_{arch}_s");
    let mut finals = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let seed = name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".log"));
        if seed.is_some_and(|s| s.chars().all(|c| c.is_ascii_digit())) {
            let log = std::fs::read_to_string(dir.join(&name)).unwrap();
            finals.push(tensorflow_finals(&log).0);
        }
    }
    finals
}

/// The replication in one table: per depth, runner (each Adam formula) and the tutorial's
/// program with runner's draws against the tutorial's program; then, per program, two
/// hidden layers against one. Each row: the difference of the mean final train costs
/// (b − a) with its 95% interval and Welch's p-value.
fn replication_table() -> String {
    use runner::report::compare::welch;
    let mut out = String::from(
        "| depth | a | b | runs | a: mean | b: mean | b − a | 95% CI | p |\n|---|---|---|---:|---:|---:|---:|---|---:|\n",
    );
    let mut row = |depth: &str, a_name: &str, a: &[f64], b_name: &str, b: &[f64]| {
        if a.is_empty() || b.is_empty() {
            return;
        }
        let w = welch(a, b);
        let mean = |v: &[f64]| stats::show(stats::describe(v).map(|d| d.mean));
        out.push_str(&format!(
            "| {depth} | {a_name} | {b_name} | {}, {} | {} | {} | {} | {} | {} |\n",
            a.len(),
            b.len(),
            mean(a),
            mean(b),
            stats::show(w.map(|w| w.diff)),
            stats::show_interval(w.map(|w| w.ci95)),
            match w.map(|w| w.p) {
                None => "–".to_string(),
                Some(p) if p < 0.001 => "< 0.001".to_string(),
                Some(p) => format!("{p:.3}"),
            },
        ));
    };
    const TF: &str = "TF program";
    const TF1: &str = "runner, TF1's Adam (`depth_sweep`)";
    const DFDX: &str = "runner, dfdx's Adam (`adam_dfdx`)";
    const SWAP: &str = "TF program with runner's draws";
    let depths = [
        ("1", "784-256-784", "h256"),
        ("2", "784-256-128-256-784", "h256x128"),
    ];
    let per_depth: Vec<[Vec<f64>; 4]> = depths
        .iter()
        .map(|(_, arch, hidden)| {
            [
                tensorflow_program_finals("tf", arch),
                runner_finals("depth_sweep", hidden),
                runner_finals("adam_dfdx", hidden),
                tensorflow_program_finals("swap-init-order-noise", arch),
            ]
        })
        .collect();
    for ((depth, _, _), [tf, tf1, dfdx, swap]) in depths.iter().zip(&per_depth) {
        row(depth, TF, tf, TF1, tf1);
        row(depth, TF, tf, DFDX, dfdx);
        row(depth, TF, tf, SWAP, swap);
    }
    for (i, name) in [TF, TF1, DFDX].into_iter().enumerate() {
        let (one, two) = (&per_depth[0][i], &per_depth[1][i]);
        row("1 → 2", &format!("{name}, 1 layer"), one, "2 layers", two);
    }
    out
}

#[test]
fn replication_table_is_the_committed_results() {
    assert_eq!(readme_block("replication"), replication_table());
}

/// The table of a committed replay report, `results/replay/<run id>.md` (its first line,
/// which names the run, stays out).
fn replay_table(run: &str) -> String {
    let path = repo().join("results/replay").join(format!("{run}.md"));
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text.find("| replay").expect("a replay table");
    text[start..].to_string()
}

#[test]
fn replay_tables_are_the_committed_reports() {
    for (block, run) in [
        ("replay_h256", "h256_noise0.6_lr0.01_seed1"),
        ("replay_h256-128", "h256-128_noise0.6_lr0.01_seed1"),
    ] {
        assert_eq!(
            readme_block(block),
            replay_table(run),
            "scripts/reference/replay_report.sh writes {run}.md"
        );
    }
}
