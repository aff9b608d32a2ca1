//! report.html's size and speed: `cargo bench --bench report`.
//!
//! - `depth_sweep`: the page of the committed results/depth_sweep (experiments/
//!   depth_sweep.toml, rows read from results/): its size and the time to render it.
//!   Aim: under 2 MB.
//! - `synthetic`: a made-up 10,000-run sweep (2,000 configurations × 5 seeds × 20
//!   epochs, no training, the depth sweep's first reconstruction.png for every picture):
//!   size, time to render, and time to open in headless Chromium (file://, network off)
//!   until the page's #status element says done, median of 3, beside the time Chromium
//!   takes for an empty page. Aim: a few seconds.
//!
//! `REPORT_BENCH_KEEP=folder` keeps the synthetic page there, to look at. Render times
//! are medians of 5. Prints a table; exits 1 when a page did not finish or
//! logged an error.

#[path = "../tests/html_browser/mod.rs"]
mod html_browser;

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use runner::config;
use runner::report::html::{self, synthetic, Input, Meta, Pictures};
use runner::report::summary::{self, Row};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Renders the page `times` times; the page and the median time.
fn render(
    experiment: &config::Experiment,
    rows: &[Row],
    pictures: &Pictures,
    times: usize,
) -> (String, Duration) {
    let r = synthetic::rendered(experiment, rows).expect("the CSVs render");
    let meta = Meta::now(rows);
    let input = Input {
        experiment,
        rows,
        groups: &r.groups,
        summary_csv: &r.summary,
        stats_csv: &r.stats,
        comparisons_csv: &r.comparisons,
        pictures,
        meta: &meta,
        search: None,
    };
    let mut took = Vec::new();
    let mut page = String::new();
    for _ in 0..times {
        let started = Instant::now();
        page = html::render(&input);
        took.push(started.elapsed());
    }
    (page, median(took))
}

/// Opens `path` three times; the median wall time, or why the page failed.
fn open(path: &Path) -> Result<Duration, String> {
    let mut walls = Vec::new();
    for _ in 0..3 {
        let load = html_browser::load(path, "", 60_000);
        let s = &load.status;
        let get = |k: &str| s.get(k).cloned().unwrap_or_default();
        if get("data-state") != "done" || get("data-errors") != "0" || !load.console.is_empty() {
            return Err(format!("status {s:?}, console {:?}", load.console));
        }
        if get("data-charts") != get("data-rendered") {
            return Err(format!("not every chart drew marks: {s:?}"));
        }
        walls.push(load.wall);
    }
    Ok(median(walls))
}

fn cpu() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().expect("temporary folder");
    let mut failed = false;
    println!("report.html benchmark on {} ({} cores)", cpu(), num_cpus());

    // The committed depth sweep.
    let experiment = config::load(&repo.join("experiments/depth_sweep.toml"), &[])
        .expect("experiments/depth_sweep.toml loads");
    let results = repo.join("results");
    let rows = summary::collect(&results, &experiment, &HashSet::new());
    let dir = results.join(&experiment.name);
    let r = synthetic::rendered(&experiment, &rows).expect("the CSVs render");
    // As report.html's writer reads them.
    let read = |id: &str| {
        let bytes = std::fs::read(dir.join(id).join("reconstruction.png")).ok()?;
        Some(html::data::smaller_png(bytes))
    };
    let pictures = html::data::pictures(&experiment, &r.groups, &rows, read);
    let (page, took) = render(&experiment, &rows, &pictures, 5);
    let path = tmp.path().join("depth_sweep.html");
    std::fs::write(&path, &page).expect("page written");
    let opened = open(&path);
    let first_png = pictures.shown.first().map(|i| i.png.clone());

    let mut table = vec![(
        format!("depth_sweep ({} runs)", rows.len()),
        page.len(),
        took,
        opened,
    )];

    // A synthetic 10,000-run sweep.
    let (experiment, rows) = synthetic::sweep(2000, 5, 20);
    let r = synthetic::rendered(&experiment, &rows).expect("the CSVs render");
    let png = first_png.unwrap_or_default();
    let pictures = html::data::pictures(&experiment, &r.groups, &rows, |_| Some(png.clone()));
    let (page, took) = render(&experiment, &rows, &pictures, 5);
    let path = match std::env::var_os("REPORT_BENCH_KEEP") {
        Some(dir) => Path::new(&dir).join("synthetic.html"),
        None => tmp.path().join("synthetic.html"),
    };
    std::fs::write(&path, &page).expect("page written");
    let opened = open(&path);
    table.push((
        format!(
            "synthetic ({} runs, {} pictures)",
            rows.len(),
            pictures.shown.len()
        ),
        page.len(),
        took,
        opened,
    ));

    let empty = tmp.path().join("empty.html");
    std::fs::write(&empty, "<!DOCTYPE html><div id=\"status\" data-state=\"done\" data-errors=\"0\" data-charts=\"0\" data-rendered=\"0\"></div>")
        .expect("page written");
    let baseline = open(&empty);

    println!("| page | size | render (median of 5) | open in Chromium until done (median of 3) |");
    println!("|---|---:|---:|---:|");
    for (name, size, took, opened) in &table {
        let open = match opened {
            Ok(d) => format!("{:.2} s", d.as_secs_f64()),
            Err(e) => {
                failed = true;
                format!("FAILED: {e}")
            }
        };
        println!(
            "| {name} | {:.2} MB ({size} bytes) | {:.1} ms | {open} |",
            *size as f64 / 1e6,
            took.as_secs_f64() * 1e3
        );
    }
    match baseline {
        Ok(d) => println!(
            "| (an empty page, Chromium's own start and exit) | | | {:.2} s |",
            d.as_secs_f64()
        ),
        Err(e) => println!("| (an empty page) | | | FAILED: {e} |"),
    }
    if failed {
        std::process::exit(1);
    }
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
