//! Search methods compared on one space: `cargo bench --bench search`.
//!
//! The question a user of `[search]` asks: for a budget of training epochs, which method
//! finds the lowest test_cost_clean? One five-setting space (learning rate, noise level,
//! batch size, width, activation) on 1,000 MNIST training images, 9 epochs a full run,
//! searched by a grid, random search, Sobol search, successive halving (SH) and Hyperband
//! (HB, 3 brackets), rungs 1, 3, 9 at eta 3, each repeated for 10 seeds:
//!
//! - random and Sobol: search seed `s`, 16 trials trained to 9 epochs; the curve is the
//!   best final cost so far against cumulative epochs, in trial order.
//! - grid: 2 values of four settings (batch size fixed at the space's middle) in the
//!   runner's order; a grid has no search seed, so only the runs' seed varies.
//! - SH and HB (Sobol points, search seed `s`): one search per budget (1/8 to 1 of the
//!   full methods' 144 epochs), with the most trials whose planned epochs fit; the point
//!   is (epochs spent = sum of `epochs_done`, best final cost of the trials that reached
//!   the last rung).
//!
//! Repetition `s` uses the runs' `seed = s + 1` in every method, so SH's first 16 trials
//! are exactly Sobol's 16. Every search is one `runner` process with `--jobs 1`, as many
//! side by side as there are cores, so a rung of one trial leaves no core idle.
//!
//! Writes the points to `target/tmp/search-bench.csv` and the figure (median over the
//! seeds, quartile band or whiskers) to `docs/images/search-bench.svg`, and prints the
//! table of medians and quartiles at 25, 50 and 100% of the budget and how well epoch 1
//! ranks the trials that win at epoch 9. `-- --seeds N` runs fewer repetitions (then the
//! figure goes to `target/tmp`). MNIST from `$RUNNER_DATA_DIR`, else `data/`. 130 runner
//! processes, 11,720 epochs: 17 minutes on a 2-core Xeon shared with other work (1,300 s
//! of CPU); every epoch also evaluates all 10,000 test images, whatever train_examples.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use runner::search::{halving, Halving};

const SEEDS: usize = 10;
const EPOCHS: usize = 9;
/// Trials of each full-training method: its budget is `TRIALS * EPOCHS` epochs.
const TRIALS: usize = 16;
/// The budgets, as fractions of the full methods' one, at which SH and HB run a search.
const FRACTIONS: [f64; 5] = [0.125, 0.25, 0.5, 0.75, 1.0];
/// The fractions the table shows.
const TABLE: [usize; 3] = [1, 2, 4];

const SPACE: &str = r#"[search.space]
learning_rate = { log_uniform = [3e-4, 3e-2] }
noise_level = { uniform = [0.0, 1.0] }
batch_size = { log_int = [16, 128] }
hidden = { choice = [[16], [32], [64]] }
activation = { choice = ["sigmoid", "relu"] }
"#;

/// The grid over the same space: the quartiles of the two ranges, the ends of the width
/// choice, both activations; batch size at the middle of its log range.
const GRID: &str = r#"batch_size = 45

[sweep]
learning_rate = [1e-3, 1e-2]
noise_level = [0.25, 0.75]
hidden = [[16], [64]]
activation = ["sigmoid", "relu"]
"#;

#[derive(Clone, Copy, PartialEq)]
enum Method {
    Grid,
    Random,
    Sobol,
    Sh,
    Hb,
}

const METHODS: [Method; 5] = [
    Method::Grid,
    Method::Random,
    Method::Sobol,
    Method::Sh,
    Method::Hb,
];

impl Method {
    fn label(self) -> &'static str {
        match self {
            Method::Grid => "grid",
            Method::Random => "random",
            Method::Sobol => "sobol",
            Method::Sh => "SH",
            Method::Hb => "HB",
        }
    }

    fn color(self) -> &'static str {
        match self {
            Method::Grid => "#7f7f7f",
            Method::Random => "#1f77b4",
            Method::Sobol => "#2ca02c",
            Method::Sh => "#d62728",
            Method::Hb => "#9467bd",
        }
    }

    fn halving(self) -> Option<Halving> {
        let brackets = match self {
            Method::Sh => 1,
            Method::Hb => 3,
            _ => return None,
        };
        Some(Halving {
            min_epochs: 1,
            eta: 3,
            brackets,
            epochs: EPOCHS,
        })
    }
}

/// One runner process: one experiment file.
struct Job {
    method: Method,
    seed: usize,
    trials: usize,
    name: String,
}

/// One row of a summary.csv, in the experiment's order.
struct Row {
    status: String,
    epochs: usize,
    cost: f64,
    /// activation, learning rate and noise level, to name a trial in the diagnostics.
    settings: String,
}

/// What one job left: its rows, and for Sobol each trial's test_cost_clean per epoch.
struct Outcome {
    rows: Vec<Row>,
    epochs: Vec<Vec<f64>>,
}

/// Epochs a halving search of `trials` trials plans, as `--dry-run` counts them.
fn planned(h: Halving, trials: usize) -> usize {
    let plans = h.plans(trials);
    plans.iter().map(|(_, p)| halving::epochs_spent(p)).sum()
}

/// The most trials whose planned epochs fit `budget`.
fn trials_within(h: Halving, budget: usize) -> usize {
    (1..)
        .take_while(|&n| planned(h, n) <= budget)
        .last()
        .unwrap_or(1)
}

fn experiment(job: &Job) -> String {
    let mut t = format!(
        "name = \"{}\"\n\n[data]\ntrain_examples = 1000\n\n[train]\nepochs = {EPOCHS}\nseed = {}\n",
        job.name,
        job.seed + 1
    );
    if job.method == Method::Grid {
        t.push_str(GRID);
        return t;
    }
    let method = if job.method == Method::Random {
        "random"
    } else {
        "sobol"
    };
    let _ = write!(
        t,
        "\n[search]\nmethod = \"{method}\"\ntrials = {}\nseed = {}\nmetric = \"test_cost_clean\"\n\n{SPACE}",
        job.trials, job.seed
    );
    if let Some(h) = job.method.halving() {
        let _ = write!(
            t,
            "\n[search.halving]\nmin_epochs = {}\neta = {}\nbrackets = {}\n",
            h.min_epochs, h.eta, h.brackets
        );
    }
    t
}

/// Runs the job's experiment and reads its summary (and, for Sobol, its epochs.csv);
/// the run folders are deleted afterwards so that 2,000 runs' checkpoints never pile up.
fn run(job: &Job, dir: &Path, data: &Path) -> Outcome {
    let file = dir.join(format!("{}.toml", job.name));
    std::fs::write(&file, experiment(job)).expect("write the experiment file");
    let out = dir.join("out");
    let status = Command::new(env!("CARGO_BIN_EXE_runner"))
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .arg("--data-dir")
        .arg(data)
        .args(["-q", "--jobs", "1"])
        .status()
        .expect("runner starts");
    assert!(
        status.success(),
        "runner {} failed: {status}",
        file.display()
    );
    let folder = out.join(&job.name);
    let mut summary = csv::Reader::from_path(folder.join("summary.csv")).expect("summary.csv");
    let h = summary.headers().expect("its header").clone();
    let col = |name: &str| h.iter().position(|c| c == name).expect(name);
    let (status, epochs, cost) = (
        col("status"),
        col("epochs_done"),
        col("final_test_cost_clean"),
    );
    let settings = [col("activation"), col("learning_rate"), col("noise_level")];
    let rows = summary
        .records()
        .map(|r| {
            let r = r.expect("a summary row");
            Row {
                status: r[status].to_string(),
                epochs: r[epochs].parse().expect("epochs_done"),
                cost: r[cost].parse().unwrap_or(f64::NAN),
                settings: format!(
                    "{} lr {:.2e} noise {:.2}",
                    &r[settings[0]],
                    r[settings[1]].parse::<f64>().unwrap_or(f64::NAN),
                    r[settings[2]].parse::<f64>().unwrap_or(f64::NAN)
                ),
            }
        })
        .collect();
    let mut per_epoch: Vec<(String, Vec<f64>)> = Vec::new();
    if job.method == Method::Sobol {
        let mut e = csv::Reader::from_path(folder.join("epochs.csv")).expect("epochs.csv");
        let h = e.headers().expect("its header").clone();
        let (id, cost) = (
            h.iter().position(|c| c == "run_id").expect("run_id"),
            h.iter().position(|c| c == "test_cost_clean").expect("cost"),
        );
        for r in e.records() {
            let r = r.expect("an epochs row");
            let c = r[cost].parse().unwrap_or(f64::NAN);
            match per_epoch.last_mut() {
                Some((last, costs)) if *last == r[id] => costs.push(c),
                _ => per_epoch.push((r[id].to_string(), vec![c])),
            }
        }
    }
    std::fs::remove_dir_all(&folder).expect("remove the run folders");
    Outcome {
        rows,
        epochs: per_epoch.into_iter().map(|(_, c)| c).collect(),
    }
}

/// Each job on its own runner process, as many at a time as there are cores.
fn run_all(jobs: &[Job], dir: &Path, data: &Path) -> Vec<Outcome> {
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<Option<Outcome>>> = Mutex::new(jobs.iter().map(|_| None).collect());
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(job) = jobs.get(i) else { break };
                let outcome = run(job, dir, data);
                done.lock().expect("not poisoned")[i] = Some(outcome);
            });
        }
    });
    let done = done.into_inner().expect("not poisoned");
    done.into_iter()
        .map(|o| o.expect("every job ran"))
        .collect()
}

/// Best-so-far of the finished rows in order, against cumulative epochs.
fn curve(rows: &[Row]) -> Vec<(usize, f64)> {
    let (mut spent, mut best) = (0, f64::INFINITY);
    rows.iter()
        .map(|r| {
            spent += r.epochs;
            if r.status == "done" && r.cost < best {
                best = r.cost;
            }
            (spent, best)
        })
        .collect()
}

/// The best found within `budget` epochs of a curve: infinity before its first run ends.
fn within(curve: &[(usize, f64)], budget: usize) -> f64 {
    let fit = curve.iter().take_while(|(x, _)| *x <= budget).last();
    fit.map_or(f64::INFINITY, |p| p.1)
}

/// The `q`-quantile (linear between order statistics) of the finite values.
fn quantile(values: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let at = q * (v.len() - 1) as f64;
    let (lo, hi) = (at.floor() as usize, at.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (at - lo as f64)
}

fn quartiles(values: &[f64]) -> [f64; 3] {
    [0.25, 0.5, 0.75].map(|q| quantile(values, q))
}

/// One line of the figure: x, then the quartiles of y over the seeds.
struct Line {
    method: Method,
    points: Vec<(f64, [f64; 3])>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seeds = match args.iter().position(|a| a == "--seeds") {
        Some(i) => args[i + 1].parse().expect("--seeds N"),
        None => SEEDS,
    };
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data: PathBuf = std::env::var_os("RUNNER_DATA_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| repo.join("data"), PathBuf::from);
    let budget = TRIALS * EPOCHS;
    let budgets: Vec<usize> = FRACTIONS
        .iter()
        .map(|f| (f * budget as f64).round() as usize)
        .collect();

    let mut jobs = Vec::new();
    for seed in 0..seeds {
        for method in METHODS {
            let counts = match method.halving() {
                Some(h) => budgets.iter().map(|&b| trials_within(h, b)).collect(),
                None => vec![TRIALS],
            };
            for trials in counts {
                let name = format!("{}_s{seed}_n{trials}", method.label().to_lowercase());
                jobs.push(Job {
                    method,
                    seed,
                    trials,
                    name,
                });
            }
        }
    }
    // The longest first, so that the last job to start is a short one.
    jobs.sort_by_key(|j| std::cmp::Reverse(j.trials));
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let started = Instant::now();
    let outcomes = run_all(&jobs, dir.path(), &data);
    let wall = started.elapsed().as_secs_f64();

    let mut csv = String::from("method,seed,trials,epochs,best_test_cost_clean\n");
    let mut lines = Vec::new();
    let mut table = String::new();
    let _ = writeln!(
        table,
        "| method | {} |\n|---|{}",
        TABLE
            .iter()
            .map(|&i| format!("{} epochs ({:.0}%)", budgets[i], FRACTIONS[i] * 100.0))
            .collect::<Vec<_>>()
            .join(" | "),
        "---|".repeat(TABLE.len())
    );
    let of = |m: Method, s: usize| {
        jobs.iter()
            .zip(&outcomes)
            .filter(move |(j, _)| j.method == m && j.seed == s)
    };
    for method in METHODS {
        let mut points = Vec::new();
        let mut cells = Vec::new();
        if method.halving().is_none() {
            let curves: Vec<Vec<(usize, f64)>> = (0..seeds)
                .map(|s| of(method, s).next().map(|(_, o)| curve(&o.rows)).unwrap())
                .collect();
            for (s, c) in curves.iter().enumerate() {
                for (k, (x, y)) in c.iter().enumerate() {
                    let _ = writeln!(csv, "{},{s},{},{x},{y}", method.label(), k + 1);
                }
            }
            for k in 1..=TRIALS {
                let best: Vec<f64> = curves.iter().map(|c| within(c, k * EPOCHS)).collect();
                points.push(((k * EPOCHS) as f64, quartiles(&best)));
            }
            for &i in &TABLE {
                let best: Vec<f64> = curves.iter().map(|c| within(c, budgets[i])).collect();
                let [q1, m, q3] = quartiles(&best);
                let n = budgets[i] / EPOCHS;
                cells.push(format!("{m:.4} [{q1:.4}, {q3:.4}] ({n} trials)"));
            }
        } else {
            let mut at: Vec<(Vec<f64>, Vec<f64>, usize)> = vec![(vec![], vec![], 0); budgets.len()];
            for s in 0..seeds {
                for (i, (job, o)) in of(method, s).enumerate() {
                    let spent: usize = o.rows.iter().map(|r| r.epochs).sum();
                    let done = o.rows.iter().filter(|r| r.status == "done");
                    let best = done.map(|r| r.cost).fold(f64::INFINITY, f64::min);
                    let _ = writeln!(csv, "{},{s},{},{spent},{best}", method.label(), job.trials);
                    at[i].0.push(spent as f64);
                    at[i].1.push(best);
                    at[i].2 = job.trials;
                }
            }
            // Jobs were sorted by trials, most first: put the budgets back in order.
            at.sort_by_key(|a| a.2);
            for (spent, best, _) in &at {
                points.push((quantile(spent, 0.5), quartiles(best)));
            }
            for &i in &TABLE {
                let (spent, best, n) = &at[i];
                let [q1, m, q3] = quartiles(best);
                let e = quantile(spent, 0.5);
                cells.push(format!("{m:.4} [{q1:.4}, {q3:.4}] ({n} trials, {e:.0} ep)"));
            }
        }
        let label = match method {
            Method::Grid => "grid (init seed varies)",
            Method::Sh => "SH (sobol, eta 3)",
            Method::Hb => "HB (sobol, 3 brackets)",
            m => m.label(),
        };
        let _ = writeln!(table, "| {label} | {} |", cells.join(" | "));
        lines.push(Line { method, points });
    }

    let csv_path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("search-bench.csv");
    std::fs::write(&csv_path, csv).expect("write the CSV");
    let svg_path = if seeds == SEEDS {
        repo.join("docs/images/search-bench.svg")
    } else {
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("search-bench.svg")
    };
    std::fs::write(&svg_path, svg(&lines, seeds, budget)).expect("write the SVG");

    let epochs: usize = outcomes
        .iter()
        .flat_map(|o| &o.rows)
        .map(|r| r.epochs)
        .sum();
    println!(
        "{} runner processes, {epochs} epochs trained, {wall:.0} s wall; best test_cost_clean over {seeds} seeds: median [quartiles]\n",
        jobs.len()
    );
    print!("{table}");
    println!("\nHow epoch 1 ranks the 9-epoch winner of each Sobol search (16 trials; SH keeps the first 5):");
    for s in 0..seeds {
        let (_, o) = of(Method::Sobol, s).next().unwrap();
        println!("  seed {s}: {}", ranks(o));
    }
    println!(
        "\npoints: {}\nfigure: {}",
        csv_path.display(),
        svg_path.display()
    );
}

/// The 9-epoch winner's rank at epochs 1 and 3 (1 = best), and its settings.
fn ranks(o: &Outcome) -> String {
    let at = |e: usize| -> Vec<f64> {
        o.epochs
            .iter()
            .map(|c| c.get(e - 1).copied().unwrap_or(f64::INFINITY))
            .collect()
    };
    let rank = |v: &[f64], i: usize| 1 + v.iter().filter(|x| **x < v[i]).count();
    let last = at(EPOCHS);
    let Some(win) = (0..last.len()).min_by(|&a, &b| last[a].total_cmp(&last[b])) else {
        return "no trial".into();
    };
    format!(
        "rank {:>2} at epoch 1, {:>2} at epoch 3 (t{win:04}: {})",
        rank(&at(1), win),
        rank(&at(3), win),
        o.rows[win].settings
    )
}

/// The figure: x = cumulative epochs, y = best test_cost_clean; a median line with a
/// quartile band for the full-training methods, points with quartile whiskers for SH
/// and HB (one search per budget).
fn svg(lines: &[Line], seeds: usize, budget: usize) -> String {
    let (w, h, left, right, top, bottom) = (800.0, 470.0, 70.0, 230.0, 50.0, 50.0);
    let ys: Vec<f64> = lines
        .iter()
        .flat_map(|l| &l.points)
        .filter(|(x, _)| *x >= budget as f64 / 8.0)
        .flat_map(|(_, q)| [q[0], q[2]])
        .filter(|y| y.is_finite())
        .collect();
    let lo = ys.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = ys.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let pad = (hi - lo) * 0.05;
    let (lo, hi) = (lo - pad, hi + pad);
    let x_max = budget as f64 * 1.05;
    let px = |x: f64| left + x / x_max * (w - left - right);
    let py = |y: f64| top + (hi - y) / (hi - lo) * (h - top - bottom);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>\n\
         <text x=\"{left}\" y=\"20\" font-size=\"14\">Best test_cost_clean found against training epochs spent</text>\n\
         <text x=\"{left}\" y=\"38\" fill=\"#555\">median over {seeds} seeds; band and whiskers: quartiles; 1,000 MNIST images, 9 epochs a full run</text>\n\
         <clipPath id=\"plot\"><rect x=\"{left}\" y=\"{top}\" width=\"{}\" height=\"{}\"/></clipPath>\n",
        w - left - right,
        h - top - bottom
    );
    for i in 0..=5 {
        let y = lo + (hi - lo) * i as f64 / 5.0;
        let _ = writeln!(
            s,
            "<line x1=\"{left}\" x2=\"{x2:.1}\" y1=\"{at:.1}\" y2=\"{at:.1}\" stroke=\"#e5e5e5\"/><text x=\"{tx:.1}\" y=\"{ty:.1}\" text-anchor=\"end\">{y:.4}</text>",
            x2 = w - right,
            at = py(y),
            tx = left - 6.0,
            ty = py(y) + 4.0
        );
    }
    for f in FRACTIONS.iter().chain(&[0.0]) {
        let x = f * budget as f64;
        let _ = writeln!(
            s,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{top}\" y2=\"{1:.1}\" stroke=\"#e5e5e5\"/><text x=\"{0:.1}\" y=\"{2:.1}\" text-anchor=\"middle\">{x:.0}</text>",
            px(x),
            h - bottom,
            h - bottom + 16.0
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">cumulative training epochs (sum of epochs_done)</text>\n\
         <text transform=\"translate(16 {:.1}) rotate(-90)\" text-anchor=\"middle\">best test_cost_clean</text>\n\
         <rect x=\"{left}\" y=\"{top}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"none\" stroke=\"#999\"/>\n<g clip-path=\"url(#plot)\">",
        (left + w - right) / 2.0,
        h - 12.0,
        (top + h - bottom) / 2.0,
        w - left - right,
        h - top - bottom
    );
    let pts = |p: &[(f64, f64)]| {
        p.iter()
            .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    for l in lines {
        let c = l.method.color();
        if l.method.halving().is_none() {
            // Best-so-far is a step function: it changes only when a trial ends.
            let step = |q: usize| -> Vec<(f64, f64)> {
                let mut v = Vec::new();
                for (i, (x, y)) in l.points.iter().enumerate() {
                    let end = l.points.get(i + 1).map_or(*x, |p| p.0);
                    v.extend([(*x, y[q]), (end, y[q])]);
                }
                v
            };
            let mut band = step(0);
            band.extend(step(2).into_iter().rev());
            let _ = writeln!(
                s,
                "<polygon points=\"{}\" fill=\"{c}\" fill-opacity=\"0.12\"/>\n<polyline points=\"{}\" fill=\"none\" stroke=\"{c}\" stroke-width=\"2\"/>",
                pts(&band),
                pts(&step(1))
            );
        } else {
            let med: Vec<(f64, f64)> = l.points.iter().map(|(x, q)| (*x, q[1])).collect();
            let _ = writeln!(
                s,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{c}\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/>",
                pts(&med)
            );
            for (x, q) in &l.points {
                let _ = writeln!(
                    s,
                    "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{1:.1}\" y2=\"{2:.1}\" stroke=\"{c}\" stroke-width=\"1.5\"/><circle cx=\"{0:.1}\" cy=\"{3:.1}\" r=\"4\" fill=\"{c}\"/>",
                    px(*x),
                    py(q[0]),
                    py(q[2]),
                    py(q[1])
                );
            }
        }
    }
    s.push_str("</g>\n");
    for (i, l) in lines.iter().enumerate() {
        let (x, y) = (w - right + 16.0, top + 14.0 + 22.0 * i as f64);
        let name = match l.method {
            Method::Grid => "grid (16 points)",
            Method::Random => "random (16 trials)",
            Method::Sobol => "Sobol (16 trials)",
            Method::Sh => "SH (one per budget)",
            Method::Hb => "Hyperband (one per budget)",
        };
        let _ = writeln!(
            s,
            "<line x1=\"{x}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"{}\" stroke-width=\"3\"/><text x=\"{}\" y=\"{}\">{name}</text>",
            x + 20.0,
            l.method.color(),
            x + 26.0,
            y + 4.0
        );
    }
    s.push_str("</svg>\n");
    s
}
