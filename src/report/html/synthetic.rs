//! Made-up sweeps and searches of any size, with no training, for the page's tests and
//! `cargo bench --bench report`: the page must stay quick and small for sweeps far
//! bigger than any committed one, and show a search before the search exists.

use crate::config::{Experiment, Run, RunConfig};
use crate::report::metrics::EpochMetrics;
use crate::report::summary::{configuration, Row, Status};

use super::search::{RungView, SearchParam, SearchView, TrialValue, TrialView};

/// A number in [0, 1) from `i`, the same on every machine.
fn hash(i: u64) -> f64 {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// A sweep of `configurations` × `seeds` runs over widths, noise levels and learning
/// rates, `epochs` each, as if trained: nearly all done, a few failed, running, pending
/// and damaged, so that every status shows.
pub fn sweep(configurations: usize, seeds: usize, epochs: usize) -> (Experiment, Vec<Row>) {
    let mut runs = Vec::with_capacity(configurations * seeds);
    let mut rows = Vec::with_capacity(configurations * seeds);
    for c in 0..configurations {
        let width = 16 << (c % 6);
        let noise = 0.1 * ((c / 6) % 10) as f64;
        let lr = 0.001 * (1 + c / 60) as f64;
        for s in 1..=seeds {
            let mut config = RunConfig::default();
            config.train.hidden = vec![width];
            config.train.noise_level = noise;
            config.train.learning_rate = lr;
            config.train.epochs = epochs;
            config.train.seed = s as u64;
            let id = format!("h{width}_noise{noise:.1}_lr{lr}_seed{s}");
            let values = vec![
                ("hidden".to_string(), format!("h{width}")),
                ("noise_level".to_string(), format!("{noise:.1}")),
                ("learning_rate".to_string(), lr.to_string()),
                ("seed".to_string(), s.to_string()),
            ];
            let n = (c * seeds + s) as u64;
            rows.push(row(&id, &config, n, c, epochs));
            runs.push(Run {
                id,
                values,
                config,
                trial: None,
            });
        }
    }
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    let experiment = Experiment {
        name: "synthetic".into(),
        description: Some(format!(
            "{configurations} made-up configurations × {seeds} seeds, no training"
        )),
        axes: ["hidden", "noise_level", "learning_rate", "seed"]
            .map(String::from)
            .to_vec(),
        runs,
        search: None,
    };
    (experiment, rows)
}

fn row(id: &str, config: &RunConfig, n: u64, c: usize, epochs: usize) -> Row {
    let status = match n % 97 {
        13 => Status::Failed,
        29 => Status::Running,
        41 => Status::Pending,
        53 => Status::Damaged,
        _ => Status::Done,
    };
    let floor = 0.02 + 0.02 * hash(c as u64);
    let metrics = match status {
        Status::Done => (1..=epochs)
            .map(|e| {
                let jitter = 1.0 + 0.05 * (hash(n * 1000 + e as u64) - 0.5);
                let test = (floor + 0.05 / e as f64) * jitter;
                EpochMetrics {
                    epoch: e,
                    train_cost: (test * 1.02) as f32,
                    test_cost: test as f32,
                    test_cost_clean: (test * 0.8) as f32,
                    seconds: 1.0 + hash(n + e as u64),
                }
            })
            .collect(),
        _ => Vec::new(),
    };
    let error = match status {
        Status::Failed => "diverged at epoch 1, batch 3: cost is NaN; try a lower learning_rate",
        Status::Damaged => "metrics.csv row 3 holds a cost that is not a finite number (NaN, 0.1)",
        _ => "",
    };
    Row {
        id: id.to_string(),
        configuration: configuration(id),
        config: config.clone(),
        status,
        device: if status == Status::Pending {
            String::new()
        } else {
            "cpu".to_string()
        },
        engine: if status == Status::Pending {
            String::new()
        } else {
            "kernels".to_string()
        },
        metrics,
        error: error.to_string(),
        trial: None,
        rung: None,
    }
}

/// A successive-halving search of `trials` trials over a log-scale learning rate, a
/// noise level and an activation, in two brackets of three rungs (1, 3 and 9 epochs).
pub fn search(trials: usize) -> SearchView {
    let activations = ["relu", "sigmoid", "tanh"];
    let mut out = Vec::with_capacity(trials);
    for t in 0..trials {
        let lr = 10f64.powf(-4.0 + 3.0 * hash(t as u64));
        let noise = 0.1 + 0.8 * hash(t as u64 + 7_000);
        let activation = activations[t % 3];
        let quality = (lr.log10() + 2.5).abs() * 0.01 + noise * 0.01;
        let rung = match t % 9 {
            0 => 2,
            1..=3 => 1,
            _ => 0,
        };
        let status = match t {
            _ if t % 11 == 5 => "failed",
            _ if t + 2 >= trials => "running",
            _ if rung == 2 => "done",
            _ => "pruned",
        };
        let epochs_done = [1, 3, 9][rung];
        out.push(TrialView {
            trial: t,
            values: vec![
                ("learning_rate".into(), TrialValue::Number(lr)),
                ("noise_level".into(), TrialValue::Number(noise)),
                ("activation".into(), TrialValue::Text(activation.into())),
            ],
            metric: (status != "failed" && status != "running")
                .then(|| 0.025 + quality + 0.03 / epochs_done as f64),
            status: status.into(),
            rung,
            epochs_done,
            bracket: t % 2,
        });
    }
    let best = out
        .iter()
        .filter(|t| t.status == "done")
        .filter_map(|t| t.metric.map(|m| (m, t.trial)))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, t)| t);
    let mut rungs = Vec::new();
    for bracket in 0..2 {
        let mine: Vec<&TrialView> = out.iter().filter(|t| t.bracket == bracket).collect();
        for (rung, epochs) in [1, 3, 9].into_iter().enumerate() {
            let reached = mine.iter().filter(|t| t.rung >= rung).count();
            let kept = mine.iter().filter(|t| t.rung > rung).count();
            rungs.push(RungView {
                bracket,
                rung,
                epochs,
                trials: reached,
                kept,
            });
        }
    }
    SearchView {
        method: "successive halving (η = 3)".into(),
        metric: "test_cost".into(),
        params: vec![
            SearchParam {
                name: "learning_rate".into(),
                log_scale: true,
            },
            SearchParam {
                name: "noise_level".into(),
                log_scale: false,
            },
            SearchParam {
                name: "activation".into(),
                log_scale: false,
            },
        ],
        epochs_spent: out.iter().map(|t| t.epochs_done as u64).sum(),
        epochs_full: 9 * trials as u64,
        trials: out,
        rungs,
        best,
    }
}

/// What [`crate::report::rebuild::write_rows`] renders before the page, for callers that
/// make a page from rows of their own.
pub struct Rendered {
    pub groups: Vec<crate::report::groups::Group>,
    pub summary: Vec<u8>,
    pub stats: Vec<u8>,
    pub comparisons: Vec<u8>,
}

pub fn rendered(experiment: &Experiment, rows: &[Row]) -> anyhow::Result<Rendered> {
    use crate::report::{compare, groups, stats, summary};
    let groups = groups::groups(experiment, rows);
    Ok(Rendered {
        summary: summary::render(experiment, rows)?,
        stats: stats::csv(experiment, &groups)?,
        comparisons: compare::csv(experiment, &groups)?,
        groups,
    })
}
