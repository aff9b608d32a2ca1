//! The page's data: the tables as the CSV files have them, and the curves and pictures
//! chosen from the runs' rows, bounded so that a huge sweep still makes a page that
//! opens in seconds.

use std::collections::{BTreeMap, HashMap};

use base64::Engine;
use serde::Serialize;

use super::Input;
use crate::report::groups::{decimal, Group};
use crate::report::metrics;
use crate::report::stats;
use crate::report::summary::{Row, Status};

/// The per-epoch costs drawn as curves, one chart each: those of
/// [`metrics::COSTS`] that some run has (results from before the clean test cost have
/// two).
fn curve_costs(rows: &[Row]) -> Vec<metrics::Cost> {
    metrics::COSTS
        .iter()
        .copied()
        .filter(|c| {
            rows.iter()
                .flat_map(|r| &r.metrics)
                .any(|m| (c.get)(m).is_finite())
        })
        .collect()
}

/// At most this many configurations get curves and pictures: more lines than a legend's
/// colours can tell apart say nothing. The best ones by mean final test cost are drawn.
pub const MAX_CURVES: usize = 20;
/// Single seeds' curves are embedded for at most this many runs (of the drawn
/// configurations), which keeps a huge sweep's page small.
pub const MAX_SEED_RUNS: usize = 2000;
/// At most this many reconstruction pictures, one per configuration...
pub const MAX_IMAGES: usize = 60;
/// ...and at most this many bytes of them (one is about 22 kB once [`smaller_png`]).
pub const MAX_IMAGE_BYTES: usize = 3 << 20;

/// At most this many comparisons are embedded: a sweep of thousands of configurations
/// has tens of thousands of pairs (megabytes), and comparisons.csv has them all.
pub const MAX_COMPARISONS: usize = 5000;

/// The index into `groups::COSTS` the configurations are ranked by: final test cost.
const RANK_COST: usize = crate::report::groups::FINAL_TEST;

/// Everything the page's script reads.
#[derive(Serialize)]
pub struct Data<'a> {
    pub experiment: Experiment<'a>,
    pub summary: Table,
    pub stats: Table,
    pub comparisons: Table,
    /// Rows of comparisons.csv, embedded or not.
    pub comparisons_all: usize,
    pub comparisons_explanation: &'static str,
    pub curves: Curves,
    pub images: Images,
    pub search: Option<&'a super::SearchView>,
}

#[derive(Serialize)]
pub struct Experiment<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub axes: &'a [String],
    pub runs: usize,
}

/// A CSV file's header and records, every cell as text, as the file has it; `error`
/// when it does not read as CSV.
#[derive(Serialize, Default)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub error: Option<String>,
}

/// Reads CSV bytes into a [`Table`]; every column the file has comes along.
pub fn table(bytes: &[u8]) -> Table {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let columns = match reader.headers() {
        Ok(h) => h.iter().map(String::from).collect(),
        Err(e) => {
            return Table {
                error: Some(e.to_string()),
                ..Table::default()
            }
        }
    };
    let mut out = Table {
        columns,
        ..Table::default()
    };
    for record in reader.records() {
        match record {
            Ok(r) => out.rows.push(r.iter().map(String::from).collect()),
            Err(e) => {
                out.error = Some(e.to_string());
                break;
            }
        }
    }
    out
}

/// Keeps at most [`MAX_COMPARISONS`] rows: those that involve a drawn configuration
/// (the best ones) first, then the rest in file order.
pub fn bound_comparisons(table: &mut Table, drawn: &[&Group]) {
    if table.rows.len() <= MAX_COMPARISONS {
        return;
    }
    let names: std::collections::HashSet<&str> = drawn.iter().map(|g| g.name.as_str()).collect();
    let sides: Vec<usize> = ["configuration_a", "configuration_b"]
        .iter()
        .filter_map(|c| table.columns.iter().position(|name| name == c))
        .collect();
    let involved = |row: &Vec<String>| {
        sides
            .iter()
            .any(|&i| row.get(i).is_some_and(|v| names.contains(v.as_str())))
    };
    let rows = std::mem::take(&mut table.rows);
    let (mut kept, rest): (Vec<_>, Vec<_>) = rows.into_iter().partition(involved);
    kept.truncate(MAX_COMPARISONS);
    let room = MAX_COMPARISONS - kept.len();
    kept.extend(rest.into_iter().take(room));
    table.rows = kept;
}

/// The learning curves: per drawn configuration, the mean over its finished seeds at each
/// epoch with the 95% t interval of that mean (as stats.csv computes it), and optionally
/// each seed. Points are columns of equal length, which is half the size of objects.
#[derive(Serialize, Default)]
pub struct Curves {
    pub costs: Vec<&'static str>,
    /// Drawn configurations, in legend order.
    pub configurations: Vec<String>,
    /// Configurations with at least one finished run, drawn or not.
    pub finished_configurations: usize,
    pub all_configurations: usize,
    pub band: Band,
    pub seeds: Seeds,
    /// Finished runs of the drawn configurations whose single curves are not embedded.
    pub seeds_left_out: usize,
}

#[derive(Serialize, Default)]
pub struct Band {
    pub configuration: Vec<usize>,
    pub cost: Vec<usize>,
    pub epoch: Vec<usize>,
    pub mean: Vec<f64>,
    pub low: Vec<Option<f64>>,
    pub high: Vec<Option<f64>>,
    pub n: Vec<usize>,
}

#[derive(Serialize, Default)]
pub struct Seeds {
    pub runs: Vec<String>,
    pub run: Vec<usize>,
    pub configuration: Vec<usize>,
    pub cost: Vec<usize>,
    pub epoch: Vec<usize>,
    pub value: Vec<f64>,
}

/// Configurations with a finished run: all in sweep order when they are few, else the
/// best [`MAX_CURVES`] (lowest mean final test cost, sweep order among equals).
pub fn drawn(groups: &[Group], max: usize) -> Vec<&Group> {
    let finished: Vec<&Group> = groups.iter().filter(|g| g.done() > 0).collect();
    if finished.len() <= max {
        return finished;
    }
    let mean = |g: &Group| stats::describe(&g.costs[RANK_COST]).map_or(f64::INFINITY, |d| d.mean);
    let mut ranked: Vec<(f64, &Group)> = finished.into_iter().map(|g| (mean(g), g)).collect();
    ranked.sort_by(|a, b| a.0.total_cmp(&b.0));
    ranked.into_iter().take(max).map(|(_, g)| g).collect()
}

/// Finished runs by configuration, in `rows` order.
fn finished_by_configuration(rows: &[Row]) -> HashMap<&str, Vec<&Row>> {
    let mut by: HashMap<&str, Vec<&Row>> = HashMap::new();
    for row in rows.iter().filter(|r| !r.metrics.is_empty()) {
        by.entry(row.configuration.as_str()).or_default().push(row);
    }
    by
}

pub fn curves(groups: &[Group], rows: &[Row]) -> Curves {
    let drawn = drawn(groups, MAX_CURVES);
    let by = finished_by_configuration(rows);
    let costs = curve_costs(rows);
    let mut out = Curves {
        costs: costs.iter().map(|c| c.name).collect(),
        configurations: drawn.iter().map(|g| g.name.clone()).collect(),
        finished_configurations: groups.iter().filter(|g| g.done() > 0).count(),
        all_configurations: groups.len(),
        ..Curves::default()
    };
    for (c, group) in drawn.iter().enumerate() {
        let runs = by.get(group.name.as_str()).map_or(&[][..], Vec::as_slice);
        band(&mut out.band, &costs, c, runs);
        for run in runs {
            if out.seeds.runs.len() < MAX_SEED_RUNS {
                seed(&mut out.seeds, &costs, c, run);
            } else {
                out.seeds_left_out += 1;
            }
        }
    }
    out
}

/// Appends configuration `c`'s mean and interval per cost and epoch over `runs`. Costs
/// go through the decimal the CSVs write, so the last epoch's mean is stats.csv's.
fn band(out: &mut Band, costs: &[metrics::Cost], c: usize, runs: &[&Row]) {
    for (k, cost) in costs.iter().enumerate() {
        let mut by_epoch: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
        for run in runs {
            for m in &run.metrics {
                let value = (cost.get)(m);
                if value.is_finite() {
                    by_epoch.entry(m.epoch).or_default().push(decimal(value));
                }
            }
        }
        for (epoch, values) in by_epoch {
            let Some(d) = stats::describe(&values) else {
                continue;
            };
            out.configuration.push(c);
            out.cost.push(k);
            out.epoch.push(epoch);
            out.mean.push(d.mean);
            out.low.push(d.ci95.map(|ci| ci.0));
            out.high.push(d.ci95.map(|ci| ci.1));
            out.n.push(d.n);
        }
    }
}

fn seed(out: &mut Seeds, costs: &[metrics::Cost], c: usize, run: &Row) {
    let r = out.runs.len();
    out.runs.push(run.id.clone());
    for (k, cost) in costs.iter().enumerate() {
        for m in run.metrics.iter().filter(|m| (cost.get)(m).is_finite()) {
            out.run.push(r);
            out.configuration.push(c);
            out.cost.push(k);
            out.epoch.push(m.epoch);
            out.value.push(decimal((cost.get)(m)));
        }
    }
}

/// A run's reconstruction picture, read from its folder.
#[derive(Clone, Debug)]
pub struct Image {
    pub configuration: String,
    pub run_id: String,
    pub png: Vec<u8>,
}

/// The pictures the page shows, and how many configurations with a finished run have
/// none there (over the caps, or unreadable).
#[derive(Clone, Debug, Default)]
pub struct Pictures {
    pub shown: Vec<Image>,
    pub left_out: usize,
}

#[derive(Serialize, Default)]
pub struct Images {
    pub shown: Vec<ImageData>,
    pub left_out: usize,
}

#[derive(Serialize)]
pub struct ImageData {
    pub configuration: String,
    pub run_id: String,
    pub png_base64: String,
}

/// The same picture, pixel for pixel, compressed harder: training writes its pictures
/// fast (about 100 kB), the page embeds them at about a fifth of that. The bytes as
/// they are when they do not decode or do not shrink.
pub fn smaller_png(bytes: Vec<u8>) -> Vec<u8> {
    let recompress = || -> Option<Vec<u8>> {
        let mut reader = png::Decoder::new(bytes.as_slice()).read_info().ok()?;
        let mut pixels = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut pixels).ok()?;
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, info.width, info.height);
        encoder.set_color(info.color_type);
        encoder.set_depth(info.bit_depth);
        encoder.set_compression(png::Compression::Best);
        encoder.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
        let mut writer = encoder.write_header().ok()?;
        writer
            .write_image_data(&pixels[..info.buffer_size()])
            .ok()?;
        writer.finish().ok()?;
        Some(out)
    };
    match recompress() {
        Some(smaller) if smaller.len() < bytes.len() => smaller,
        _ => bytes,
    }
}

pub fn images(pictures: &Pictures) -> Images {
    let engine = base64::engine::general_purpose::STANDARD;
    Images {
        shown: pictures
            .shown
            .iter()
            .map(|i| ImageData {
                configuration: i.configuration.clone(),
                run_id: i.run_id.clone(),
                png_base64: engine.encode(&i.png),
            })
            .collect(),
        left_out: pictures.left_out,
    }
}

/// Which run's picture each configuration shows: its first finished seed in sweep order.
/// `read` fetches a run's PNG (`None` when it cannot).
pub fn pictures(
    experiment: &crate::config::Experiment,
    groups: &[Group],
    rows: &[Row],
    read: impl Fn(&str) -> Option<Vec<u8>>,
) -> Pictures {
    let done: HashMap<&str, &Row> = rows
        .iter()
        .filter(|r| r.status == Status::Done)
        .map(|r| (r.id.as_str(), r))
        .collect();
    let mut first: HashMap<&str, &str> = HashMap::new();
    for row in experiment
        .runs
        .iter()
        .filter_map(|run| done.get(run.id.as_str()))
    {
        first
            .entry(row.configuration.as_str())
            .or_insert(row.id.as_str());
    }
    let mut out = Pictures::default();
    let mut bytes = 0;
    for group in drawn(groups, MAX_IMAGES) {
        let Some(id) = first.get(group.name.as_str()) else {
            continue;
        };
        let Some(png) = read(id) else {
            continue;
        };
        if bytes + png.len() > MAX_IMAGE_BYTES {
            break;
        }
        bytes += png.len();
        out.shown.push(Image {
            configuration: group.name.clone(),
            run_id: id.to_string(),
            png,
        });
    }
    let finished = groups.iter().filter(|g| g.done() > 0).count();
    out.left_out = finished.saturating_sub(out.shown.len());
    out
}

pub fn data<'a>(input: &'a Input) -> Data<'a> {
    let experiment = input.experiment;
    let mut comparisons = table(input.comparisons_csv);
    let comparisons_all = comparisons.rows.len();
    bound_comparisons(&mut comparisons, &drawn(input.groups, MAX_CURVES));
    Data {
        experiment: Experiment {
            name: &experiment.name,
            description: experiment.description.as_deref(),
            axes: &experiment.axes,
            runs: input.rows.len(),
        },
        summary: table(input.summary_csv),
        stats: table(input.stats_csv),
        comparisons,
        comparisons_all,
        comparisons_explanation: crate::report::compare::EXPLANATION,
        curves: curves(input.groups, input.rows),
        images: images(input.pictures),
        search: input.search,
    }
}
