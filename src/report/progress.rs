//! What the user sees while runs go on, kept apart from the scheduler that produces the
//! events: bars on a terminal, one log line per finished epoch elsewhere, nothing with -q.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::metrics::EpochMetrics;
use crate::train::Progress;

/// More skipped runs than this are reported in one line.
const MANY: usize = 20;

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A bar per active run and an overall bar (stderr is a terminal).
    Bars,
    /// One tracing line per finished epoch (CI, logs).
    Lines,
    Quiet,
}

impl Mode {
    /// Bars on a terminal, lines elsewhere, nothing when quiet.
    pub fn detect(quiet: bool) -> Mode {
        use std::io::IsTerminal;
        if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Bars
        } else {
            Mode::Lines
        }
    }
}

/// Receives the scheduler's events and shows them.
pub struct Reporter {
    mode: Mode,
    multi: MultiProgress,
    overall: ProgressBar,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    bars: HashMap<String, ProgressBar>,
    /// Steps each run has reported, so the overall bar advances by the difference.
    steps: HashMap<String, u64>,
    finished: usize,
    failed: usize,
    total: usize,
}

impl Reporter {
    /// `total_steps` is the number of training steps of the runs to do, for the ETA.
    pub fn new(mode: Mode, experiment: &str, total_runs: usize, total_steps: u64) -> Reporter {
        let multi = MultiProgress::with_draw_target(match mode {
            Mode::Bars => ProgressDrawTarget::stderr(),
            _ => ProgressDrawTarget::hidden(),
        });
        let overall = multi.add(ProgressBar::new(total_steps.max(1)));
        overall.set_style(
            ProgressStyle::with_template("{prefix:.bold} [{bar:30}] {percent:>3}% {msg} ETA {eta}")
                .expect("static template")
                .progress_chars("=> "),
        );
        overall.set_prefix(experiment.to_string());
        // The ticker is a thread; only a visible bar needs one (and spawning it panics
        // where threads cannot start).
        if mode == Mode::Bars {
            overall.enable_steady_tick(Duration::from_millis(500));
        }
        let reporter = Reporter {
            mode,
            multi,
            overall,
            state: Mutex::new(State {
                total: total_runs,
                ..State::default()
            }),
        };
        reporter.update_overall(&reporter.lock());
        reporter
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update_overall(&self, s: &State) {
        self.overall.set_message(format!(
            "{}/{} runs finished, {} failed",
            s.finished, s.total, s.failed
        ));
    }

    pub fn skipped(&self, id: &str) {
        if self.mode != Mode::Quiet {
            self.multi.suspend(|| {
                tracing::info!(
                    "{id}: complete results for this config found, skipped (--force reruns it)"
                )
            });
        }
    }

    /// A line per skipped run, or one line for them all when there are many, so a big
    /// sweep that resumes does not bury its output.
    pub fn skipped_runs<'a>(&self, ids: impl ExactSizeIterator<Item = &'a str>) {
        let n = ids.len();
        if n <= MANY || self.mode == Mode::Quiet {
            ids.for_each(|id| self.skipped(id));
        } else {
            self.multi.suspend(|| {
                tracing::info!(
                    "{n} runs have complete results for their config and are skipped (--force reruns them)"
                )
            });
        }
    }

    pub fn started(&self, id: &str) {
        let bar = self.multi.insert_before(&self.overall, ProgressBar::new(1));
        bar.set_style(
            ProgressStyle::with_template("  {prefix} [{bar:20}] {msg}")
                .expect("static template")
                .progress_chars("=> "),
        );
        bar.set_prefix(id.to_string());
        bar.set_message("starting");
        self.lock().bars.insert(id.to_string(), bar);
        if self.mode == Mode::Lines {
            tracing::info!("{id}: started");
        }
    }

    pub fn progress(&self, id: &str, p: &Progress) {
        let mut s = self.lock();
        let done = (p.epoch.saturating_sub(1))
            .saturating_mul(p.batches)
            .saturating_add(p.batch) as u64;
        let before = s.steps.insert(id.to_string(), done).unwrap_or(0);
        self.overall.inc(done.saturating_sub(before));
        if let Some(bar) = s.bars.get(id) {
            bar.set_length(p.epochs.saturating_mul(p.batches) as u64);
            bar.set_position(done);
            bar.set_message(format!(
                "epoch {}/{} batch {}/{} cost {:.5}",
                p.epoch, p.epochs, p.batch, p.batches, p.cost
            ));
        }
    }

    pub fn epoch(&self, id: &str, epochs: usize, m: &EpochMetrics) {
        if self.mode == Mode::Lines {
            tracing::info!(
                "{id}: epoch {}/{epochs} train_cost {} test_cost {} test_cost_clean {} ({:.1} s)",
                m.epoch,
                m.train_cost,
                m.test_cost,
                m.test_cost_clean,
                m.seconds
            );
        }
    }

    /// A run ended: `error` is `None` when it completed.
    pub fn finished(&self, id: &str, error: Option<&str>) {
        let mut s = self.lock();
        s.finished += 1;
        s.steps.remove(id);
        if let Some(bar) = s.bars.remove(id) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        match error {
            Some(e) => {
                s.failed += 1;
                if self.mode != Mode::Quiet {
                    self.multi.suspend(|| tracing::error!("{id}: failed: {e}"));
                }
            }
            None if self.mode == Mode::Lines => tracing::info!("{id}: done"),
            None => {}
        }
        self.update_overall(&s);
    }

    /// Clears the bars once every run has ended.
    pub fn close(&self) {
        self.overall.finish_and_clear();
    }
}
