//! `curves.svg`: learning curves per configuration, train cost on the left and test cost
//! on the right: the mean over the seeds as a thick line with a marker at every epoch
//! (so a one-epoch run shows), the min–max band over the seeds, and each seed as a thin
//! line. The y-axis is fitted to the later epochs, where configurations differ, rather
//! than to epoch 1; the legend below the plots names every configuration, finished or
//! not.

use std::path::Path;

use anyhow::Context;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::atomic::write_atomic;
use super::groups::Group;
use super::metrics;
use super::summary::Row;

/// Each cost's panel: the train cost, the test cost, the clean test cost.
const PANEL_WIDTH: u32 = 500;
/// The panels' titles, per cost of [`metrics::COSTS`].
const TITLES: [&str; 3] = [
    "train cost (mean of the epoch's batch costs)",
    "test cost (whole test set, fixed noise)",
    "clean test cost (no noise in)",
];
const PLOTS_HEIGHT: u32 = 500;
const LINE: i32 = 20;
const FONT: (&str, u32) = ("sans-serif", 14);
/// Characters of a legend line that fit the width at [`FONT`]'s size.
const LEGEND_CHARS: usize = 125;

/// Draws the curves of `groups` (from `rows`) and writes them atomically to `path`.
pub fn write(path: &Path, groups: &[Group], rows: &[Row]) -> anyhow::Result<()> {
    let curves: Vec<Curves> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| Curves::new(i, g, rows))
        .collect();
    let mut svg = String::new();
    draw(&mut svg, &curves).map_err(|e| anyhow::anyhow!("cannot draw {}: {e}", path.display()))?;
    write_atomic(path, svg.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
}

/// One epoch's mean, min and max over the seeds.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Point {
    epoch: f64,
    mean: f64,
    min: f64,
    max: f64,
}

/// What one configuration draws.
struct Curves<'g> {
    group: &'g Group,
    colour: RGBAColor,
    /// Per cost of [`metrics::COSTS`]: each seed's `(epoch, cost)` line.
    seeds: Vec<Vec<Vec<(f64, f64)>>>,
    /// Per cost: mean, min and max over the seeds at each epoch.
    points: Vec<Vec<Point>>,
}

impl<'g> Curves<'g> {
    fn new(index: usize, group: &'g Group, rows: &[Row]) -> Self {
        let runs: Vec<&Row> = rows
            .iter()
            .filter(|r| r.configuration == group.name && !r.metrics.is_empty())
            .collect();
        // A cost a run's files lack (NaN) draws no line.
        let line = |cost: &metrics::Cost| -> Vec<Vec<(f64, f64)>> {
            runs.iter()
                .map(|r| {
                    r.metrics
                        .iter()
                        .map(|m| (m.epoch as f64, (cost.get)(m) as f64))
                        .filter(|(_, c)| c.is_finite())
                        .collect::<Vec<_>>()
                })
                .filter(|l| !l.is_empty())
                .collect()
        };
        let seeds: Vec<_> = metrics::COSTS.iter().map(line).collect();
        let points = seeds.iter().map(|s| summarize(s)).collect();
        Curves {
            group,
            colour: Palette99::pick(index).to_rgba(),
            seeds,
            points,
        }
    }
}

/// Mean, min and max over the lines at each epoch that any of them reaches.
fn summarize(lines: &[Vec<(f64, f64)>]) -> Vec<Point> {
    let epochs = lines.iter().map(Vec::len).max().unwrap_or(0);
    (0..epochs)
        .filter_map(|i| {
            let values: Vec<(f64, f64)> = lines.iter().filter_map(|l| l.get(i).copied()).collect();
            let (epoch, _) = *values.first()?;
            let costs = values.iter().map(|v| v.1);
            Some(Point {
                epoch,
                mean: costs.clone().sum::<f64>() / values.len() as f64,
                min: costs.clone().fold(f64::INFINITY, f64::min),
                max: costs.fold(f64::NEG_INFINITY, f64::max),
            })
        })
        .collect()
}

/// The y-range: from the lowest cost to the highest from `from_epoch` on, padded. Epoch 1
/// often costs twice the final value and would squash the later epochs, where the
/// configurations differ, so the first quarter of the epochs is left out of the top.
fn y_range(curves: &[Curves], epochs: usize) -> (f64, f64, usize) {
    let from_epoch = epochs / 4 + 1;
    let values = || {
        curves
            .iter()
            .flat_map(|c| c.seeds.iter().flatten().flatten().copied())
    };
    let lo = values().map(|v| v.1).fold(f64::INFINITY, f64::min);
    let hi = values()
        .filter(|v| v.0 >= from_epoch as f64)
        .map(|v| v.1)
        .fold(f64::NEG_INFINITY, f64::max);
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0, 1);
    }
    let pad = ((hi - lo) * 0.05).max(1e-4);
    (lo - pad, hi + pad, from_epoch)
}

/// The pieces of a polyline that lie at or below `top`, cut where it crosses `top`.
fn clip_line(points: &[(f64, f64)], top: f64) -> Vec<Vec<(f64, f64)>> {
    let mut pieces = vec![Vec::new()];
    for (i, &p) in points.iter().enumerate() {
        if i > 0 {
            let q = points[i - 1];
            if (q.1 > top) != (p.1 > top) {
                let crossing = (q.0 + (p.0 - q.0) * (top - q.1) / (p.1 - q.1), top);
                if let Some(piece) = pieces.last_mut() {
                    piece.push(crossing);
                }
                if p.1 > top {
                    pieces.push(Vec::new());
                }
            }
        }
        if p.1 <= top {
            if let Some(piece) = pieces.last_mut() {
                piece.push(p);
            }
        }
    }
    pieces.retain(|p| !p.is_empty());
    pieces
}

/// The part of a polygon at or below `top` (Sutherland–Hodgman against one edge).
fn clip_polygon(points: &[(f64, f64)], top: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for (i, &p) in points.iter().enumerate() {
        let q = points[(i + points.len() - 1) % points.len()];
        let (p_in, q_in) = (p.1 <= top, q.1 <= top);
        if p_in != q_in {
            out.push((q.0 + (p.0 - q.0) * (top - q.1) / (p.1 - q.1), top));
        }
        if p_in {
            out.push(p);
        }
    }
    out
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type DrawResult<'a> = Result<(), Box<dyn std::error::Error + 'a>>;

fn draw<'a>(svg: &'a mut String, curves: &[Curves]) -> DrawResult<'a> {
    let epochs = curves
        .iter()
        .flat_map(|c| c.points[0].last())
        .map(|p| p.epoch as usize)
        .max()
        .unwrap_or(1);
    let (lo, hi, from_epoch) = y_range(curves, epochs);
    let clipped = curves
        .iter()
        .flat_map(|c| c.seeds.iter().flatten().flatten())
        .any(|v| v.1 > hi);
    let legend = legend_lines(curves, clipped.then_some((from_epoch, epochs)));
    // A panel per cost that some run has (results from before the clean test cost have
    // two).
    let shown: Vec<usize> = (0..metrics::COSTS.len())
        .filter(|&i| i < 2 || curves.iter().any(|c| !c.seeds[i].is_empty()))
        .collect();
    let height = PLOTS_HEIGHT + (legend.len() as i32 * LINE + LINE) as u32;
    let width = PANEL_WIDTH * shown.len() as u32;
    let root = SVGBackend::with_string(svg, (width, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let (plots, legend_area) = root.split_vertically(PLOTS_HEIGHT);
    let panels = plots.split_evenly((1, shown.len()));
    let x = if epochs > 1 {
        1.0..epochs as f64
    } else {
        0.5..1.5
    };
    for (&cost, panel) in shown.iter().zip(&panels) {
        let title = TITLES[cost];
        let mut chart = ChartBuilder::on(panel)
            .caption(title, ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(x.clone(), lo..hi)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .x_labels(epochs.clamp(2, 20))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .disable_x_mesh()
            .light_line_style(TRANSPARENT)
            .y_labels(8)
            .y_desc("mean squared error")
            .y_label_formatter(&|y| format!("{y:.4}"))
            .draw()?;
        for c in curves {
            draw_configuration(&mut chart, c, cost, hi)?;
        }
    }
    draw_legend(&legend_area, &legend)?;
    root.present()?;
    Ok(())
}

type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// Band, seed lines, then the mean with its markers, so the mean stays on top.
fn draw_configuration<'b>(
    chart: &mut Chart<'_, 'b>,
    c: &Curves,
    cost: usize,
    top: f64,
) -> DrawResult<'b> {
    let points = &c.points[cost];
    if c.seeds[cost].len() > 1 && points.len() > 1 {
        let band: Vec<(f64, f64)> = points
            .iter()
            .map(|p| (p.epoch, p.max))
            .chain(points.iter().rev().map(|p| (p.epoch, p.min)))
            .collect();
        let band = clip_polygon(&band, top);
        if band.len() > 2 {
            chart.draw_series(std::iter::once(Polygon::new(
                band,
                c.colour.mix(0.15).filled(),
            )))?;
        }
    }
    if let ([p], true) = (&points[..], c.seeds[cost].len() > 1) {
        // One epoch: the band is the spread at that epoch.
        let bar: Vec<(f64, f64)> = vec![(p.epoch, p.min), (p.epoch, p.max.min(top))];
        chart.draw_series(std::iter::once(PathElement::new(
            bar,
            c.colour.mix(0.4).stroke_width(6),
        )))?;
    }
    for seed in &c.seeds[cost] {
        for piece in clip_line(seed, top) {
            chart.draw_series(LineSeries::new(piece, c.colour.mix(0.5).stroke_width(1)))?;
        }
    }
    let mean: Vec<(f64, f64)> = points.iter().map(|p| (p.epoch, p.mean)).collect();
    for piece in clip_line(&mean, top) {
        chart.draw_series(LineSeries::new(piece, c.colour.stroke_width(3)))?;
    }
    chart.draw_series(
        mean.iter()
            .filter(|p| p.1 <= top)
            .map(|&p| Circle::new(p, 4, c.colour.filled())),
    )?;
    Ok(())
}

/// A legend line: what to draw in front of the text.
#[derive(Clone, Debug, PartialEq)]
enum Mark {
    None,
    /// A configuration's colour; `false`: it has no finished run, so nothing is drawn.
    Colour(RGBAColor, bool),
    /// The key: what the mean, band and seed lines are.
    Key,
}

/// The legend's lines: the key, then one line per configuration, then any note.
fn legend_lines(curves: &[Curves], clipped: Option<(usize, usize)>) -> Vec<(Mark, String)> {
    let mut lines = vec![(Mark::Key, String::new())];
    for c in curves {
        let g = c.group;
        let mut text = format!("{}: {} of {} runs finished", g.name, g.done(), g.planned);
        if g.failed > 0 {
            text.push_str(&format!(", {} failed", g.failed));
        }
        if g.done() == 0 {
            text.push_str(" (no curve)");
        }
        lines.push((Mark::Colour(c.colour, g.done() > 0), text));
    }
    if curves.is_empty() {
        lines.push((Mark::None, "no runs".to_string()));
    }
    if let Some((from, to)) = clipped {
        lines.push((
            Mark::None,
            format!(
                "y-axis fitted to epochs {from} to {to}; earlier costs above it run off the top (epochs.csv has every value)"
            ),
        ));
    }
    for (_, text) in &mut lines {
        if text.chars().count() > LEGEND_CHARS {
            *text = text.chars().take(LEGEND_CHARS - 1).collect::<String>() + "…";
        }
    }
    lines
}

fn draw_legend<'a>(area: &Area<'a>, lines: &[(Mark, String)]) -> DrawResult<'a> {
    let font = FONT.into_font();
    for (i, (mark, text)) in lines.iter().enumerate() {
        let y = i as i32 * LINE + LINE / 2 + 4;
        match mark {
            Mark::Key => {
                let grey = RGBColor(90, 90, 90);
                area.draw(&PathElement::new(
                    vec![(20, y), (50, y)],
                    grey.stroke_width(3),
                ))?;
                area.draw(&Circle::new((35, y), 4, grey.filled()))?;
                area.draw(&Text::new("mean over the seeds", (58, y - 7), font.clone()))?;
                area.draw(&Rectangle::new(
                    [(250, y - 6), (280, y + 6)],
                    grey.mix(0.15).filled(),
                ))?;
                area.draw(&Text::new(
                    "min to max over the seeds",
                    (288, y - 7),
                    font.clone(),
                ))?;
                area.draw(&PathElement::new(
                    vec![(500, y), (530, y)],
                    grey.mix(0.5).stroke_width(1),
                ))?;
                area.draw(&Text::new("one seed", (538, y - 7), font.clone()))?;
                area.draw(&Text::new(
                    "one panel per cost, titled above it",
                    (660, y - 7),
                    font.clone(),
                ))?;
            }
            Mark::Colour(colour, drawn) => {
                let style = if *drawn {
                    colour.stroke_width(3)
                } else {
                    colour.stroke_width(1)
                };
                area.draw(&PathElement::new(vec![(20, y), (50, y)], style))?;
                area.draw(&Text::new(text.clone(), (58, y - 7), font.clone()))?;
            }
            Mark::None => {
                area.draw(&Text::new(text.clone(), (20, y - 7), font.clone()))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_cut_where_they_leave_the_range() {
        let line = [(1.0, 3.0), (2.0, 1.0), (3.0, 0.5)];
        assert_eq!(
            clip_line(&line, 2.0),
            vec![vec![(1.5, 2.0), (2.0, 1.0), (3.0, 0.5)]]
        );
        let dip = [(1.0, 3.0), (2.0, 1.0), (3.0, 3.0)];
        assert_eq!(
            clip_line(&dip, 2.0),
            vec![vec![(1.5, 2.0), (2.0, 1.0), (2.5, 2.0)]]
        );
        let bump = [(1.0, 1.0), (2.0, 3.0), (3.0, 1.0)];
        assert_eq!(
            clip_line(&bump, 2.0),
            vec![vec![(1.0, 1.0), (1.5, 2.0)], vec![(2.5, 2.0), (3.0, 1.0)]]
        );
        assert!(clip_line(&[(1.0, 5.0)], 2.0).is_empty());
    }

    #[test]
    fn bands_are_cut_at_the_top() {
        let band = [(1.0, 3.0), (2.0, 1.0), (2.0, 0.0), (1.0, 1.0)];
        assert_eq!(
            clip_polygon(&band, 2.0),
            vec![(1.0, 2.0), (1.5, 2.0), (2.0, 1.0), (2.0, 0.0), (1.0, 1.0)]
        );
    }

    #[test]
    fn the_top_of_the_range_skips_the_first_quarter_of_the_epochs() {
        let seeds = vec![(1..=8)
            .map(|e| (e as f64, 1.0 / e as f64))
            .collect::<Vec<_>>()];
        let group = Group {
            name: "g".into(),
            values: Vec::new(),
            config: Default::default(),
            planned: 1,
            failed: 0,
            costs: Default::default(),
        };
        let c = Curves {
            group: &group,
            colour: BLACK.to_rgba(),
            points: vec![summarize(&seeds), summarize(&seeds)],
            seeds: vec![seeds.clone(), seeds],
        };
        let (lo, hi, from) = y_range(&[c], 8);
        assert_eq!(from, 3);
        let pad = (1.0 / 3.0 - 0.125) * 0.05;
        assert!((hi - (1.0 / 3.0 + pad)).abs() < 1e-12, "{hi}");
        assert!((lo - (0.125 - pad)).abs() < 1e-12, "{lo}");
    }
}
