//! `curves.svg`: train (solid) and test (dashed) cost per epoch of every finished run,
//! one colour per configuration (runs that differ only in their seed share a colour).

use std::path::Path;

use anyhow::Context;
use plotters::prelude::*;

use super::atomic::write_atomic;
use super::summary::{configuration, Row};

/// Draws the curves of the runs that have metrics and writes them atomically to `path`.
pub fn write(path: &Path, rows: &[Row]) -> anyhow::Result<()> {
    let mut svg = String::new();
    draw(&mut svg, rows).map_err(|e| anyhow::anyhow!("cannot draw {}: {e}", path.display()))?;
    write_atomic(path, svg.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
}

fn draw<'a>(svg: &'a mut String, rows: &[Row]) -> Result<(), Box<dyn std::error::Error + 'a>> {
    let runs: Vec<&Row> = rows.iter().filter(|r| !r.metrics.is_empty()).collect();
    let costs = runs
        .iter()
        .flat_map(|r| r.metrics.iter().flat_map(|m| [m.train_cost, m.test_cost]))
        .filter(|c| c.is_finite());
    let (lo, hi) = costs.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), c| {
        (lo.min(c), hi.max(c))
    });
    let (lo, hi) = if lo <= hi {
        (lo as f64, hi as f64)
    } else {
        (0.0, 1.0)
    };
    let pad = ((hi - lo) * 0.05).max(1e-4);
    let epochs = runs
        .iter()
        .map(|r| r.metrics.len())
        .max()
        .unwrap_or(1)
        .max(2) as f64;

    let root = SVGBackend::with_string(svg, (1000, 640)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Cost per epoch (solid: train, dashed: test)",
            ("sans-serif", 22),
        )
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d(1f64..epochs, (lo - pad)..(hi + pad))?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .x_labels((epochs as usize).min(20))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .disable_x_mesh()
        .y_desc("cost (mean squared error)")
        .draw()?;

    let mut configs: Vec<String> = runs.iter().map(|r| configuration(&r.id)).collect();
    configs.dedup();
    configs.sort();
    configs.dedup();
    for run in &runs {
        let config = configuration(&run.id);
        let index = configs.iter().position(|c| *c == config).unwrap_or(0);
        let colour = Palette99::pick(index).to_rgba();
        let train = run
            .metrics
            .iter()
            .map(|m| (m.epoch as f64, m.train_cost as f64));
        let test = run
            .metrics
            .iter()
            .map(|m| (m.epoch as f64, m.test_cost as f64));
        let series = chart.draw_series(LineSeries::new(train, colour.stroke_width(2)))?;
        let first_of_config = runs
            .iter()
            .find(|r| configuration(&r.id) == config)
            .map(|r| &r.id)
            == Some(&run.id);
        if first_of_config {
            series.label(config).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
        }
        chart.draw_series(DashedLineSeries::new(test, 6, 4, colour.stroke_width(1)))?;
    }
    if !runs.is_empty() {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
    }
    root.present()?;
    Ok(())
}
