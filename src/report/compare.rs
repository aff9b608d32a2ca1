//! `comparisons.csv` (and the last section of `stats.md`): for every pair of
//! configurations that differ in exactly one setting, how much their mean final costs
//! differ, with a 95% confidence interval and Welch's t-test, which does not assume the
//! two configurations' seeds spread equally.

use super::cells;
use super::columns;
use super::groups::{Group, COSTS, FINAL_TEST, FINAL_TEST_CLEAN, FINAL_TRAIN};
use super::stats::{self, UNDEFINED};
use crate::config::Experiment;

/// Welch's two-sample comparison of means: b − a.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Welch {
    pub diff: f64,
    /// 95% confidence interval of the difference: diff ± t(0.975, df) · se.
    pub ci95: (f64, f64),
    /// Welch–Satterthwaite degrees of freedom.
    pub df: f64,
    pub t: f64,
    /// Two-sided p-value.
    pub p: f64,
}

/// Compares the mean of `b` with the mean of `a`. `None` when either has fewer than two
/// values or both have no spread, where the test is undefined.
pub fn welch(a: &[f64], b: &[f64]) -> Option<Welch> {
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let (da, db) = (stats::describe(a)?, stats::describe(b)?);
    let va = stats::variance(a, da.mean) / a.len() as f64;
    let vb = stats::variance(b, db.mean) / b.len() as f64;
    let se = (va + vb).sqrt();
    if se <= 0.0 || !se.is_finite() {
        return None;
    }
    let df =
        (va + vb).powi(2) / (va.powi(2) / (a.len() - 1) as f64 + vb.powi(2) / (b.len() - 1) as f64);
    let diff = db.mean - da.mean;
    let t = diff / se;
    let q = stats::t_quantile(0.975, df)?;
    Some(Welch {
        diff,
        ci95: (diff - q * se, diff + q * se),
        df,
        t,
        p: stats::two_sided_p(t, df)?,
    })
}

/// Two configurations that differ in one setting; `a` comes first in the sweep.
pub struct Pair<'g> {
    pub setting: String,
    pub a: &'g Group,
    pub b: &'g Group,
}

/// Every pair of configurations whose swept settings (the seed aside) differ in exactly
/// one. Rows of a zip group are compared only where they share all values but one.
pub fn pairs(groups: &[Group]) -> Vec<Pair<'_>> {
    let mut out = Vec::new();
    for (i, a) in groups.iter().enumerate() {
        for b in &groups[i + 1..] {
            let differing: Vec<&String> = a
                .values
                .iter()
                .zip(&b.values)
                .filter(|(x, y)| x != y)
                .map(|((key, _), _)| key)
                .collect();
            if let [setting] = differing[..] {
                out.push(Pair {
                    setting: setting.clone(),
                    a,
                    b,
                });
            }
        }
    }
    out
}

/// The final costs compared: indices into [`COSTS`].
const COMPARED: [usize; 3] = [FINAL_TRAIN, FINAL_TEST, FINAL_TEST_CLEAN];

/// The value of the pair's differing setting, as the summary writes it (`depth` sweeps
/// show the depth, not the widths it selects).
fn value(pair: &Pair, group: &Group) -> String {
    columns::setting(&group.config, &pair.setting)
}

/// `comparisons.csv`: one row per pair, figures at full precision, empty where undefined.
pub fn csv(experiment: &Experiment, groups: &[Group]) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = [
        "experiment",
        "setting",
        "value_a",
        "value_b",
        "configuration_a",
        "configuration_b",
        "runs_a",
        "runs_b",
    ]
    .map(String::from)
    .to_vec();
    for cost in COMPARED.map(|i| COSTS[i]) {
        for figure in [
            "mean_a",
            "mean_b",
            "diff",
            "diff_ci95_low",
            "diff_ci95_high",
            "welch_df",
            "welch_t",
            "p",
        ] {
            header.push(format!("{cost}_{figure}"));
        }
    }
    w.write_record(&header)?;
    for pair in pairs(groups) {
        let mut record = vec![
            experiment.name.clone(),
            pair.setting.clone(),
            value(&pair, pair.a),
            value(&pair, pair.b),
            pair.a.name.clone(),
            pair.b.name.clone(),
            pair.a.done().to_string(),
            pair.b.done().to_string(),
        ];
        for i in COMPARED {
            let (a, b) = (&pair.a.costs[i], &pair.b.costs[i]);
            let mean = |v: &[f64]| stats::describe(v).map(|d| d.mean);
            let test = welch(a, b);
            record.extend(
                [
                    mean(a),
                    mean(b),
                    diff(a, b),
                    test.map(|t| t.ci95.0),
                    test.map(|t| t.ci95.1),
                    test.map(|t| t.df),
                    test.map(|t| t.t),
                    test.map(|t| t.p),
                ]
                .map(cells::real),
            );
        }
        w.write_record(&record)?;
    }
    Ok(w.into_inner()?)
}

/// What the comparison table shows, said once above it.
pub const EXPLANATION: &str = "Pairs of configurations that differ in exactly one setting: the \
difference of their mean final costs (b − a; negative: b ends lower), its 95% confidence \
interval and the two-sided p-value of Welch's t-test (unequal variances). Each needs two or \
more finished runs on both sides.";

/// A p-value for reading: three significant digits, or `< 0.0001`.
fn show_p(p: Option<f64>) -> String {
    match p {
        Some(p) if p < 1e-4 => "< 0.0001".to_string(),
        Some(p) => {
            let decimals = (2 - p.log10().floor() as i32).max(2) as usize;
            format!("{p:.decimals$}")
        }
        None => UNDEFINED.to_string(),
    }
}

/// Difference of the means (b − a), defined as soon as each side has a finished run.
fn diff(a: &[f64], b: &[f64]) -> Option<f64> {
    let mean = |v: &[f64]| stats::describe(v).map(|d| d.mean);
    Some(mean(b)? - mean(a)?)
}

/// The comparisons as a markdown table (or a sentence when there are none).
pub fn markdown(pairs: &[Pair]) -> String {
    if pairs.is_empty() {
        return "No two configurations differ in exactly one setting.\n".to_string();
    }
    let figures = "b − a | 95% CI | p";
    // The clean cost's columns where results have it (not those from before it existed).
    let clean = pairs
        .iter()
        .any(|p| !p.a.costs[FINAL_TEST_CLEAN].is_empty());
    let shown = if clean { 3 } else { 2 };
    let mut out = format!(
        "| setting | a | b | runs | final train cost: {figures} | final test cost: {figures} |{}\n|---|---|---|---:|{}\n",
        if clean { format!(" final clean test cost: {figures} |") } else { String::new() },
        "---:|---|---:|".repeat(shown)
    );
    for pair in pairs {
        let mut cells = vec![
            format!(
                "{}: {} → {}",
                pair.setting,
                value(pair, pair.a),
                value(pair, pair.b)
            ),
            pair.a.name.clone(),
            pair.b.name.clone(),
            format!("{}, {}", pair.a.done(), pair.b.done()),
        ];
        for i in COMPARED.into_iter().take(shown) {
            let (a, b) = (&pair.a.costs[i], &pair.b.costs[i]);
            let test = welch(a, b);
            cells.extend([
                stats::show(diff(a, b)),
                stats::show_interval(test.map(|t| t.ci95)),
                show_p(test.map(|t| t.p)),
            ]);
        }
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values from scipy 1.17.1 (b − a, Welch):
    /// python3 -c "from scipy import stats; import numpy as np;
    ///   a=[0.035291743,0.0335522,0.032324743,0.03146631,0.035324];
    ///   b=[0.030527506,0.033343833,0.030039977,0.032725014,0.031457912];
    ///   r=stats.ttest_ind(b, a, equal_var=False); ci=r.confidence_interval(0.95);
    ///   print(repr(np.mean(b)-np.mean(a)), repr(r.statistic), repr(r.df), repr(r.pvalue),
    ///         repr(ci.low), repr(ci.high))"
    const DIFF: f64 = -0.001972950800000005;
    const T: f64 = -1.9767115999750846;
    const DF: f64 = 7.6740645746658025;
    const P: f64 = 0.08499972415245141;
    const LOW: f64 = -0.004291694762112341;
    const HIGH: f64 = 0.000345793162112331;

    #[test]
    fn welch_matches_scipy() {
        let a = [0.035291743, 0.0335522, 0.032324743, 0.03146631, 0.035324];
        let b = [
            0.030527506,
            0.033343833,
            0.030039977,
            0.032725014,
            0.031457912,
        ];
        let w = welch(&a, &b).unwrap();
        let close = |x: f64, y: f64| (x - y).abs() <= 1e-12 * y.abs().max(1e-3);
        assert!(close(w.diff, DIFF), "{}", w.diff);
        assert!(close(w.t, T), "{}", w.t);
        assert!(close(w.df, DF), "{}", w.df);
        assert!(close(w.p, P), "{}", w.p);
        assert!(close(w.ci95.0, LOW), "{}", w.ci95.0);
        assert!(close(w.ci95.1, HIGH), "{}", w.ci95.1);
    }

    #[test]
    fn welch_is_undefined_without_two_runs_or_spread() {
        assert!(welch(&[1.0], &[1.0, 2.0]).is_none());
        assert!(welch(&[1.0, 1.0], &[2.0, 2.0]).is_none());
        assert!(welch(&[1.0, 1.0], &[2.0, 3.0]).is_some());
    }

    #[test]
    fn p_values_show_three_significant_digits() {
        assert_eq!(show_p(Some(0.0813456)), "0.0813");
        assert_eq!(show_p(Some(0.51234)), "0.512");
        assert_eq!(show_p(Some(1.0)), "1.00");
        assert_eq!(show_p(Some(0.00012345)), "0.000123");
        assert_eq!(show_p(Some(0.00001)), "< 0.0001");
        assert_eq!(show_p(None), "–");
    }

    fn group(name: &str, values: &[(&str, &str)], train: &[f64]) -> Group {
        Group {
            name: name.into(),
            values: values
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            config: Default::default(),
            planned: train.len(),
            failed: 0,
            costs: std::array::from_fn(|_| train.to_vec()),
        }
    }

    #[test]
    fn pairs_differ_in_exactly_one_setting() {
        let groups = [
            group("h1_lr1", &[("hidden", "1"), ("learning_rate", "1")], &[1.0]),
            group("h1_lr2", &[("hidden", "1"), ("learning_rate", "2")], &[1.0]),
            group("h2_lr1", &[("hidden", "2"), ("learning_rate", "1")], &[1.0]),
            group("h2_lr2", &[("hidden", "2"), ("learning_rate", "2")], &[1.0]),
        ];
        let found: Vec<(String, &str, &str)> = pairs(&groups)
            .iter()
            .map(|p| (p.setting.clone(), p.a.name.as_str(), p.b.name.as_str()))
            .collect();
        let expect = [
            ("learning_rate", "h1_lr1", "h1_lr2"),
            ("hidden", "h1_lr1", "h2_lr1"),
            ("hidden", "h1_lr2", "h2_lr2"),
            ("learning_rate", "h2_lr1", "h2_lr2"),
        ];
        assert_eq!(
            found,
            expect.map(|(s, a, b)| (s.to_string(), a, b)).to_vec()
        );
    }
}
