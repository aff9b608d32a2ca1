//! `--verify` against the committed smoke results: they reproduce, and a changed cost is
//! caught with a table that names the run and the size of the drift.

mod common;

use common::{copy_dir, ok, repo, runner, text};

fn line_of<'a>(text: &'a str, start: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line {start:?} in {text}"))
}

#[test]
fn committed_smoke_results_reproduce_and_a_changed_cost_fails() {
    let dir = tempfile::tempdir().unwrap();
    let exp = repo().join("experiments/smoke.toml");
    let exp = exp.to_str().unwrap();
    copy_dir(
        &repo().join("results/smoke"),
        &dir.path().join("results/smoke"),
    );

    let filter = ["--filter", "seed1"];
    let out = runner(
        &[&["--verify", exp, "-q"][..], &filter].concat(),
        dir.path(),
    );
    ok(&out);
    let stdout = text(&out.stdout);
    assert!(
        line_of(&stdout, "h256_noise0.6_lr0.01_seed1 ").contains("identical"),
        "{stdout}"
    );
    assert!(stdout.contains("all runs reproduce"), "{stdout}");

    let metrics = dir
        .path()
        .join("results/smoke/h256_noise0.6_lr0.01_seed1/metrics.csv");
    let text_before = std::fs::read_to_string(&metrics).unwrap();
    let mut lines: Vec<String> = text_before.lines().map(String::from).collect();
    let mut cells: Vec<String> = lines[2].split(',').map(String::from).collect();
    let cost: f32 = cells[1].parse().unwrap();
    cells[1] = (cost + 0.001).to_string();
    lines[2] = cells.join(",");
    std::fs::write(&metrics, lines.join("\n") + "\n").unwrap();

    let out = runner(
        &[&["--verify", exp, "-q"][..], &filter].concat(),
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("1 run did not reproduce"), "{stderr}");
    let row = line_of(&stderr, "smoke/h256_noise0.6_lr0.01_seed1 ");
    assert!(
        row.contains("DRIFTS") && row.contains("1.000e-3"),
        "{stderr}"
    );

    // A tolerance above the drift passes.
    let out = runner(
        &[
            &["--verify", exp, "-q", "--tolerance", "0.002"][..],
            &filter,
        ]
        .concat(),
        dir.path(),
    );
    ok(&out);
    assert!(text(&out.stdout).contains("within"));
}
