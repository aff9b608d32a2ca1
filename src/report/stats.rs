//! `stats.csv`: the costs of each configuration over its seeds (mean, spread, 95%
//! confidence interval of the mean), and the figures and tables that `stats.md` and the
//! comparisons build on, generated so that no figure is typed by hand.

use statrs::distribution::{ContinuousCDF, StudentsT};

use super::cells;
use super::columns;
use super::groups::{Group, COSTS};
use crate::config::Experiment;

/// Mean and spread of one cost over a configuration's finished runs. Figures that need
/// two or more values are `None` for one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Describe {
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (n − 1 in the denominator).
    pub sd: Option<f64>,
    /// Standard error of the mean, sd / √n.
    pub se: Option<f64>,
    /// 95% confidence interval of the mean: mean ± t(0.975, n − 1) · se.
    pub ci95: Option<(f64, f64)>,
    pub min: f64,
    pub max: f64,
}

/// Describes `values`; `None` when there are none.
pub fn describe(values: &[f64]) -> Option<Describe> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let sd = (n > 1).then(|| variance(values, mean).sqrt());
    let se = sd.map(|sd| sd / (n as f64).sqrt());
    let ci95 = se
        .zip(t_quantile(0.975, (n - 1) as f64))
        .map(|(se, q)| (mean - q * se, mean + q * se));
    Some(Describe {
        n,
        mean,
        sd,
        se,
        ci95,
        min: values.iter().copied().fold(f64::INFINITY, f64::min),
        max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    })
}

/// Sample variance around `mean`; needs two or more values.
pub fn variance(values: &[f64], mean: f64) -> f64 {
    values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (values.len() - 1) as f64
}

/// The `p` quantile of Student's t distribution with `df` degrees of freedom.
pub fn t_quantile(p: f64, df: f64) -> Option<f64> {
    let t = StudentsT::new(0.0, 1.0, df).ok()?;
    Some(t.inverse_cdf(p)).filter(|q| q.is_finite())
}

/// The two-sided p-value of `t` under Student's t with `df` degrees of freedom.
pub fn two_sided_p(t: f64, df: f64) -> Option<f64> {
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    Some((2.0 * dist.sf(t.abs())).min(1.0)).filter(|p| p.is_finite())
}

/// The swept settings of stats.csv: those of the summary but the seed.
fn setting_columns(experiment: &Experiment) -> Vec<&'static str> {
    columns::swept(experiment)
        .into_iter()
        .filter(|k| *k != "seed")
        .collect()
}

/// `stats.csv`: one row per configuration, figures at full precision, empty where
/// undefined.
pub fn csv(experiment: &Experiment, groups: &[Group]) -> anyhow::Result<Vec<u8>> {
    let settings = setting_columns(experiment);
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = ["experiment", "configuration"].map(String::from).to_vec();
    header.extend(settings.iter().map(|s| s.to_string()));
    header.extend(["runs_planned", "runs_done", "runs_failed"].map(String::from));
    for cost in COSTS {
        for figure in ["mean", "sd", "se", "ci95_low", "ci95_high", "min", "max"] {
            header.push(format!("{cost}_{figure}"));
        }
    }
    w.write_record(&header)?;
    for g in groups {
        let mut record = vec![experiment.name.clone(), g.name.clone()];
        record.extend(settings.iter().map(|k| columns::setting(&g.config, k)));
        record.extend([g.planned, g.done(), g.failed].map(|n| n.to_string()));
        for values in &g.costs {
            let d = describe(values);
            record.extend(
                [
                    d.map(|d| d.mean),
                    d.and_then(|d| d.sd),
                    d.and_then(|d| d.se),
                    d.and_then(|d| d.ci95).map(|c| c.0),
                    d.and_then(|d| d.ci95).map(|c| c.1),
                    d.map(|d| d.min),
                    d.map(|d| d.max),
                ]
                .map(cells::real),
            );
        }
        w.write_record(&record)?;
    }
    Ok(w.into_inner()?)
}

/// Written where a figure is undefined.
pub const UNDEFINED: &str = "–";

/// A cost for reading: five decimals.
pub fn show(x: Option<f64>) -> String {
    x.filter(|x| x.is_finite())
        .map_or(UNDEFINED.to_string(), |x| format!("{x:.5}"))
}

/// An interval for reading: `[low, high]`.
pub fn show_interval(ci: Option<(f64, f64)>) -> String {
    match ci {
        Some((a, b)) => format!("[{}, {}]", show(Some(a)), show(Some(b))),
        None => UNDEFINED.to_string(),
    }
}

/// One line of a markdown cost table.
pub struct Line<'a> {
    pub name: &'a str,
    pub planned: usize,
    pub failed: usize,
    pub train: &'a [f64],
    pub test: &'a [f64],
    /// The clean test cost's values; the table has its columns when any line has some.
    pub clean: &'a [f64],
}

/// A markdown table of train, test (and clean test) costs, one line per configuration (or program):
/// runs planned, done and failed, then mean, 95% CI, sd, se, min and max of each cost.
pub fn table(label: &str, lines: &[Line]) -> String {
    let figures = "mean | 95% CI | sd | se | min | max";
    let clean = lines.iter().any(|l| !l.clean.is_empty());
    let mut out = format!(
        "| {label} | planned | done | failed | train: {figures} | test: {figures} |{}\n|---|---:|---:|---:|{}\n",
        if clean { format!(" test (clean): {figures} |") } else { String::new() },
        "---:|---|---:|---:|---:|---:|".repeat(if clean { 3 } else { 2 })
    );
    for line in lines {
        let mut cells = vec![
            line.name.to_string(),
            line.planned.to_string(),
            line.train.len().to_string(),
            line.failed.to_string(),
        ];
        let shown = if clean { 3 } else { 2 };
        for values in [line.train, line.test, line.clean].into_iter().take(shown) {
            let d = describe(values);
            cells.extend([
                show(d.map(|d| d.mean)),
                show_interval(d.and_then(|d| d.ci95)),
                show(d.and_then(|d| d.sd)),
                show(d.and_then(|d| d.se)),
                show(d.map(|d| d.min)),
                show(d.map(|d| d.max)),
            ]);
        }
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

/// Headings of `stats.md`'s tables, which docs/replication.md's tables are checked against.
pub const FINAL_HEADING: &str = "## Final costs (after the last epoch)";
pub const BEST_HEADING: &str = "## Best costs (lowest over the epochs)";
pub const COMPARISONS_HEADING: &str = "## Comparisons";

/// The markdown table that follows `heading` in a `stats.md`.
pub fn section_table<'a>(stats_md: &'a str, heading: &str) -> Option<&'a str> {
    let start = stats_md.find(&format!("{heading}\n"))?;
    let rest = &stats_md[start..];
    let table = rest.find("\n|")? + 1;
    let end = rest[table..]
        .find("\n\n")
        .map_or(rest.len(), |e| table + e + 1);
    Some(&rest[table..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_values() {
        let d = describe(&[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(
            (d.n, d.mean, d.sd, d.min, d.max),
            (3, 2.0, Some(1.0), 1.0, 3.0)
        );
        assert_eq!(d.se, Some(1.0 / 3f64.sqrt()));
        let one = describe(&[5.0]).unwrap();
        assert_eq!((one.sd, one.se, one.ci95), (None, None, None));
        assert!(describe(&[]).is_none());
    }

    /// Reference values from scipy 1.17.1:
    /// python3 -c "from scipy import stats; import numpy as np;
    ///   x=[0.030527506,0.033343833,0.030039977,0.032725014,0.031457912];
    ///   print(repr(stats.t.interval(0.95, len(x)-1, loc=np.mean(x), scale=stats.sem(x))));
    ///   print(repr(stats.t.ppf(0.975, 4)), repr(stats.t.ppf(0.975, 7.3)));
    ///   print(repr(2*stats.t.sf(2.1, 7.3)))"
    #[test]
    fn t_figures_match_scipy() {
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);
        let x = [
            0.030527506,
            0.033343833,
            0.030039977,
            0.032725014,
            0.031457912,
        ];
        let (lo, hi) = describe(&x).unwrap().ci95.unwrap();
        assert!(close(lo, 0.02987289288140762), "{lo}");
        assert!(close(hi, 0.033364803918592374), "{hi}");
        assert!(close(t_quantile(0.975, 4.0).unwrap(), 2.7764451051977934));
        assert!(close(t_quantile(0.975, 7.3).unwrap(), 2.345066736547703));
        assert!(close(two_sided_p(2.1, 7.3).unwrap(), 0.0722467134248534));
        assert!(close(two_sided_p(-2.1, 7.3).unwrap(), 0.0722467134248534));
    }

    #[test]
    fn tables_show_undefined_figures_as_a_dash() {
        let t = table(
            "configuration",
            &[
                Line {
                    name: "a",
                    planned: 2,
                    failed: 1,
                    train: &[0.5],
                    test: &[0.25],
                    clean: &[],
                },
                Line {
                    name: "b",
                    planned: 1,
                    failed: 1,
                    train: &[],
                    test: &[],
                    clean: &[],
                },
            ],
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[2],
            "| a | 2 | 1 | 1 | 0.50000 | – | – | – | 0.50000 | 0.50000 | 0.25000 | – | – | – | 0.25000 | 0.25000 |"
        );
        assert_eq!(
            lines[3],
            "| b | 1 | 0 | 1 | – | – | – | – | – | – | – | – | – | – | – | – |"
        );
    }
}
