//! `report.html`: one page per experiment that opens from disk with no network (every
//! script, style and picture inlined; a Content-Security-Policy forbids any fetch and
//! any `eval`), rebuilt with the other report files.
//!
//! Charts are Vega-Lite 5 specs drawn by vega-embed (`vendor/`, written by
//! `scripts/vendor-vega.sh`). Vega-Lite rather than a lighter library such as uPlot
//! (about 50 kB against Vega's 830 kB): its specs are the format Altair, DVC and W&B
//! custom charts share, so a user lifts a chart out with its "View Source" action; its
//! transforms (fold, joinaggregate) draw parallel coordinates and bands without
//! hand-built geometry; its SVG renderer makes every mark a DOM element, which the
//! browser test counts; and with vega-embed's `ast` option expressions are interpreted,
//! so the page needs no `unsafe-eval`. uPlot draws on a canvas and has none of these.
//!
//! The run table, statistics and comparisons are the records of summary.csv, stats.csv
//! and comparisons.csv as rendered for the same rebuild, so a column those files gain
//! shows here with no change; the curves come from the same rows' per-epoch costs
//! (every cost of [`crate::report::metrics::COSTS`] that some run has), with stats.csv's t interval computed here, not in the page.
//! All data sits in `<script type="application/json">` blocks that the page reads with
//! `JSON.parse` and shows through `textContent`, never as markup.
//!
//! `cargo bench --bench report` measures its size and its time to render and to open in
//! headless Chromium: for the depth sweep about 1 MB and 2 ms; for a synthetic 10,000-run
//! sweep about 9 MB, 0.2 s and 3 s (2 Xeon cores). At 0.2 s the rewrites every few
//! seconds during a sweep skip this page ([`crate::report::rebuild::write_rows_during_sweep`]);
//! the sweep's last rebuild and `--summarize` write it.
//!
//! The page's `#check` (file:///…/report.html#check) is for the browser test: it also
//! redraws the curves with single seeds on a log scale and walks every page of the run
//! table before the `#status` element says done.

pub mod data;
pub mod page;
pub mod search;
pub mod synthetic;

use std::path::Path;

use anyhow::Context;

pub use data::{Image, Pictures};
pub use search::{RungView, SearchParam, SearchView, TrialValue, TrialView};

use super::atomic::write_atomic;
use super::groups::Group;
use super::summary::{Row, Status};
use crate::config::Experiment;
use crate::layout;

const TEMPLATE: &str = include_str!("template.html");
const CSS: &str = include_str!("report.css");
const JS: &str = include_str!("report.js");
const VEGA: &str = include_str!("vendor/vega.min.js");
const VEGA_LITE: &str = include_str!("vendor/vega-lite.min.js");
const VEGA_EMBED: &str = include_str!("vendor/vega-embed.min.js");

/// What the page is made of: what [`super::rebuild::write_rows`] has at hand.
pub struct Input<'a> {
    pub experiment: &'a Experiment,
    pub rows: &'a [Row],
    pub groups: &'a [Group],
    pub summary_csv: &'a [u8],
    pub stats_csv: &'a [u8],
    pub comparisons_csv: &'a [u8],
    pub pictures: &'a Pictures,
    pub meta: &'a Meta,
    pub search: Option<&'a SearchView>,
}

/// Where and when the page was made, for a reader who finds the file later.
#[derive(Clone, Debug)]
pub struct Meta {
    /// The command line of the process that rebuilt it.
    pub command: Vec<String>,
    pub version: String,
    /// Devices the runs computed on, in order of first appearance.
    pub devices: Vec<String>,
    /// UTC, RFC 3339.
    pub date: String,
}

impl Meta {
    pub fn now(rows: &[Row]) -> Meta {
        let mut devices: Vec<String> = Vec::new();
        for row in rows.iter().filter(|r| !r.device.is_empty()) {
            if !devices.contains(&row.device) {
                devices.push(row.device.clone());
            }
        }
        Meta {
            // args() would panic on an argument that is not UTF-8.
            command: std::env::args_os()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            devices,
            date: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        }
    }
}

/// The page, complete.
pub fn render(input: &Input) -> String {
    let json = serde_json::to_string(&data::data(input))
        .unwrap_or_else(|e| format!("{{\"error\":{:?}}}", e.to_string()));
    let experiment = input.experiment;
    let header = header(input);
    page::fill(
        TEMPLATE,
        &[
            ("title", &page::escape(&experiment.name)),
            ("css", CSS),
            ("header", &header),
            ("data", &page::json_block(&json)),
            ("vega", page::without_source_map(VEGA)),
            ("vega_lite", page::without_source_map(VEGA_LITE)),
            ("vega_embed", page::without_source_map(VEGA_EMBED)),
            ("js", JS),
        ],
    )
}

/// The experiment and where the page came from, written into the markup (escaped), so
/// that it reads even where scripts do not run.
fn header(input: &Input) -> String {
    let (experiment, meta) = (input.experiment, input.meta);
    let e = page::escape;
    let description = experiment
        .description
        .as_deref()
        .map_or(String::new(), |d| {
            format!("<p class=\"description\">{}</p>\n", e(d))
        });
    let devices = if meta.devices.is_empty() {
        "none recorded".to_string()
    } else {
        meta.devices.join(", ")
    };
    format!(
        "<h1>{name}</h1>\n{description}<dl class=\"meta\">\n\
         <dt>runs</dt><dd id=\"counts\">{counts}</dd>\n\
         <dt>command</dt><dd><code>{command}</code></dd>\n\
         <dt>runner</dt><dd>{version}</dd>\n\
         <dt>devices</dt><dd>{devices}</dd>\n\
         <dt>built</dt><dd><time>{date}</time></dd>\n</dl>\n",
        name = e(&experiment.name),
        counts = e(&counts(input.rows)),
        command = e(&page::shell_words(&meta.command)),
        version = e(&meta.version),
        devices = e(&devices),
        date = e(&meta.date),
    )
}

/// "40 runs: 38 done, 1 failed, 1 damaged".
fn counts(rows: &[Row]) -> String {
    let all = [
        Status::Done,
        Status::Pruned,
        Status::Failed,
        Status::Running,
        Status::Pending,
        Status::Damaged,
        Status::Conflict,
    ];
    let parts: Vec<String> = all
        .iter()
        .map(|s| (s, rows.iter().filter(|r| r.status == *s).count()))
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{n} {}", s.as_str()))
        .collect();
    let plural = if rows.len() == 1 { "" } else { "s" };
    format!("{} run{plural}: {}", rows.len(), parts.join(", "))
}

/// The CSV files the page shows, as this rebuild rendered them.
pub struct Csvs<'a> {
    pub summary: &'a [u8],
    pub stats: &'a [u8],
    pub comparisons: &'a [u8],
}

/// Renders the page of the experiment in `dir` (reading the pictures from its run
/// folders) and writes it atomically.
pub fn write(
    dir: &Path,
    experiment: &Experiment,
    rows: &[Row],
    groups: &[Group],
    csvs: &Csvs,
) -> anyhow::Result<()> {
    let read = |id: &str| {
        let bytes = std::fs::read(dir.join(id).join(layout::RECONSTRUCTION)).ok()?;
        Some(data::smaller_png(bytes))
    };
    let pictures = data::pictures(experiment, groups, rows, read);
    let meta = Meta::now(rows);
    let standing = crate::report::rungs::read_in(dir, experiment);
    let search = search::view(experiment, rows, standing.as_ref());
    let page = render(&Input {
        experiment,
        rows,
        groups,
        summary_csv: csvs.summary,
        stats_csv: csvs.stats,
        comparisons_csv: csvs.comparisons,
        pictures: &pictures,
        meta: &meta,
        search: search.as_ref(),
    });
    let path = dir.join(layout::REPORT_HTML);
    write_atomic(&path, page.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests;
