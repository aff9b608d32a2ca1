//! report.html in a real browser: a small sweep trained by the binary, with failed runs,
//! a damaged, a conflicting and a missing folder, and a description that tries to add a
//! script, rebuilt by `runner --summarize` and loaded from file:// in headless Chromium
//! with the network off; and a page with a search section and more runs than one page
//! of the table holds, made from synthetic rows. Each load must end with every chart
//! drawing marks, the run table holding one row per run over all its pages, and nothing
//! logged to the console.

mod common;
mod html_browser;

use std::path::{Path, PathBuf};

use common::{ok, runner, text};
use html_browser::{fetchable_urls, load, Load};
use runner::report::html::{self, synthetic, Input, Meta, Pictures};

const HOSTILE: &str = "</script><script>window.__pwned=1</script>";

/// Nine runs of a second or two: three seeds of a one-layer and a two-layer network at
/// learning rate 0.01, and of the two-layer one at 1e30, which diverges in the first
/// epoch.
fn experiment(dir: &Path) -> PathBuf {
    let path = dir.join("html.toml");
    let toml = format!(
        r#"name = "html"
description = "Report test {HOSTILE} & <b>not bold</b>"

[data]
train_examples = 200

[train]
epochs = 2
batch_size = 50
activation = "relu"

[sweep]
seed = [1, 2, 3]

[[sweep.zip]]
hidden = [[8], [8, 4], [8, 4]]
learning_rate = [0.01, 0.01, 1e30]
"#
    );
    std::fs::write(&path, toml).unwrap();
    path
}

/// The one run folder whose id contains every part.
fn run_dir(root: &Path, parts: &[&str]) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            parts.iter().all(|part| name.contains(part))
        })
        .collect();
    assert_eq!(found.len(), 1, "{parts:?}: {found:?}");
    found.into_iter().next().unwrap()
}

/// Asserts what every load must give: done, every chart drawn, nothing logged.
fn assert_clean(load: &Load, charts: usize) {
    let s = &load.status;
    let get = |k: &str| s.get(k).map(String::as_str).unwrap_or("");
    let problems = load
        .dom
        .split("<pre id=\"problems\"")
        .nth(1)
        .and_then(|p| p.split("</pre>").next())
        .unwrap_or("");
    assert_eq!(get("data-state"), "done", "{s:?}\n{problems}");
    assert_eq!(get("data-errors"), "0", "{problems}");
    assert_eq!(get("data-warnings"), "0", "{problems}");
    assert!(
        load.console.is_empty(),
        "the page logged to the console:\n{}",
        load.console.join("\n")
    );
    assert_eq!(get("data-charts"), charts.to_string(), "{s:?}");
    assert_eq!(get("data-rendered"), charts.to_string(), "{s:?}");
    // Each chart element says how many marks it drew.
    let per_chart: Vec<u64> = load
        .dom
        .match_indices("data-chart=\"")
        .filter_map(|(i, _)| {
            let tag = &load.dom[i..i + load.dom[i..].find('>')?];
            let marks = tag.split("data-marks=\"").nth(1)?.split('"').next()?;
            marks.parse().ok()
        })
        .collect();
    assert_eq!(per_chart.len(), charts, "{per_chart:?}");
    assert!(per_chart.iter().all(|&n| n > 0), "{per_chart:?}");
    assert_eq!(get("data-injected"), "false", "a script from the data ran");
}

#[test]
fn the_report_of_a_damaged_sweep_renders_everything_offline() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path());
    let exp = exp.to_str().unwrap();
    let out = runner(&[exp, "--out", "res", "-q", "--jobs", "2"], dir.path());
    assert_eq!(
        out.status.code(),
        Some(1),
        "failed runs: {}",
        text(&out.stderr)
    );
    let root = dir.path().join("res/html");

    // Hand-made damage: a cost edited to NaN, another config's settings, a missing run.
    let damaged = run_dir(&root, &["h8_", "lr0.01", "seed2"]);
    let metrics = std::fs::read_to_string(damaged.join("metrics.csv")).unwrap();
    let edited: Vec<String> = metrics
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 1 {
                let mut cells: Vec<&str> = l.split(',').collect();
                cells[2] = "NaN";
                cells.join(",")
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(damaged.join("metrics.csv"), edited.join("\n") + "\n").unwrap();
    let conflict = run_dir(&root, &["h8-4", "lr0.01", "seed1"]);
    let config = std::fs::read_to_string(conflict.join("config.toml")).unwrap();
    std::fs::write(
        conflict.join("config.toml"),
        config.replace("batch_size = 50", "batch_size = 25"),
    )
    .unwrap();
    std::fs::remove_dir_all(run_dir(&root, &["h8-4", "lr0.01", "seed2"])).unwrap();

    ok(&runner(&[exp, "--out", "res", "--summarize"], dir.path()));
    let page_path = root.join("report.html");
    let page = std::fs::read_to_string(&page_path).unwrap();
    assert!(
        fetchable_urls(&page).is_empty(),
        "URLs a browser would fetch: {:?}",
        fetchable_urls(&page)
    );
    assert!(!page.contains(HOSTILE), "the description went in unescaped");

    let load = load(&page_path, "#check", 30_000);
    // One curve chart per per-epoch cost: train, test, clean test.
    assert_clean(&load, 3);
    let s = &load.status;
    assert_eq!(s["data-rows"], "9", "{s:?}");
    assert_eq!(s["data-rows-walked"], "9", "{s:?}");
    for status in ["done", "failed", "damaged", "conflict", "pending"] {
        assert!(
            load.dom.contains(&format!("class=\"status st-{status}\"")),
            "no {status} cell"
        );
    }
    assert!(
        load.dom.contains("title=\"diverged at epoch 1"),
        "a failed run's reason is its status cell's title"
    );
    // The description shows as text, and no element came of it.
    assert!(load.dom.contains(
        "Report test &lt;/script&gt;&lt;script&gt;window.__pwned=1&lt;/script&gt; &amp; &lt;b&gt;not bold&lt;/b&gt;"
    ));
    assert!(!load.dom.contains("<script>window.__pwned"));
    assert!(!load.dom.contains("<b>not bold</b>"));
    // Two configurations finished a run: two pictures.
    assert_eq!(
        load.dom
            .matches("<img src=\"data:image/png;base64,")
            .count(),
        2
    );
}

/// A page with a search and 300 runs (three pages of the table, more configurations
/// than the curves draw), from synthetic rows.
#[test]
fn a_search_and_a_paged_table_render_in_the_browser() {
    let (experiment, rows) = synthetic::sweep(60, 5, 3);
    let r = synthetic::rendered(&experiment, &rows).unwrap();
    let search = synthetic::search(40);
    let meta = Meta::now(&rows);
    let pictures = Pictures::default();
    let page = html::render(&Input {
        experiment: &experiment,
        rows: &rows,
        groups: &r.groups,
        summary_csv: &r.summary,
        stats_csv: &r.stats,
        comparisons_csv: &r.comparisons,
        pictures: &pictures,
        meta: &meta,
        search: Some(&search),
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.html");
    std::fs::write(&path, &page).unwrap();
    assert!(fetchable_urls(&page).is_empty());
    // To look at it: RUNNER_KEEP_REPORT=folder.
    if let Some(keep) = std::env::var_os("RUNNER_KEEP_REPORT") {
        std::fs::copy(&path, Path::new(&keep).join("search.html")).unwrap();
    }

    let load = load(&path, "#check", 30_000);
    // Curves: train and test; search: parallel coordinates, a scatter per setting, rungs.
    assert_clean(&load, 3 + 1 + search.params.len() + 1);
    let s = &load.status;
    assert_eq!(s["data-rows"], "300");
    assert_eq!(s["data-rows-walked"], "300");
    assert_eq!(s["data-dom-rows"], "100", "one page of rows in the DOM");
    assert!(load.dom.contains("rows 1–100 of 300"));
    assert_eq!(s["data-trials"], "40");
    for name in [
        "search-parallel",
        "search-rungs",
        "search-scatter-learning_rate",
    ] {
        assert!(
            load.dom.contains(&format!("data-chart=\"{name}\"")),
            "{name}"
        );
    }
    let best = search.best.expect("a best trial");
    assert!(load.dom.contains(&format!("Best trial: #{best},")));
    assert!(load
        .dom
        .contains("Drawn: the 20 configurations with the lowest mean final test cost, of"));
}

#[test]
fn urls_in_attributes_and_css_are_found_and_mentions_are_not() {
    let page = r#"<img src="https://a.example/x.png"><a href='http://b.example'>
        <style>p { background: url( "//c.example/y.png") }</style>
        <!-- see https://example.org/licence --> "$schema": "https://vega.github.io/schema""#;
    let found = fetchable_urls(page);
    assert_eq!(found.len(), 3, "{found:?}");
}
