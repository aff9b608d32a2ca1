//! `runner-trace`: records one run's first steps for a step-for-step replay.
//!
//! See `runner::train::trace` for what is written and `scripts/reference/replay.py` for
//! the replay.

use std::path::PathBuf;

use clap::Parser;
use runner::config;
use runner::data::{self, DataOptions};
use runner::error::{exit_code, input_error};

/// Trains one run of an experiment for STEPS steps on the CPU and writes its trace
/// (initial parameters, every batch, every step's cost, final parameters) as NumPy files.
#[derive(Debug, Parser)]
#[command(name = "runner-trace", version)]
struct Args {
    /// Experiment file (TOML).
    #[arg(value_name = "EXPERIMENT")]
    experiment: PathBuf,

    /// The run to record, by id (`runner --dry-run EXPERIMENT` lists them); may be left
    /// out when the experiment has one run.
    #[arg(long, value_name = "RUN_ID")]
    run: Option<String>,

    /// Training steps to record (550 is one epoch of the tutorial's MNIST setup).
    #[arg(long, value_name = "K", default_value_t = 550)]
    steps: usize,

    /// Folder that receives the trace's files.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,

    /// Override a setting, as runner's --set.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,

    /// Where data sets are looked for and stored (default: $RUNNER_DATA_DIR, else data/).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

fn main() {
    let args = Args::parse();
    if let Err(err) = trace(&args) {
        eprintln!("error: {err:#}");
        std::process::exit(exit_code(&err));
    }
}

fn trace(args: &Args) -> anyhow::Result<()> {
    let experiment = config::load(&args.experiment, &args.set)?;
    let run = match (&args.run, experiment.runs.as_slice()) {
        (None, [only]) => only,
        (None, runs) => {
            return Err(input_error(format!(
                "{} has {} runs; pick one with --run (one of: {})",
                args.experiment.display(),
                runs.len(),
                ids(&experiment.runs)
            )))
        }
        (Some(id), runs) => runs.iter().find(|r| &r.id == id).ok_or_else(|| {
            input_error(format!(
                "{} has no run `{id}`; its runs are: {}",
                args.experiment.display(),
                ids(&experiment.runs)
            ))
        })?,
    };
    if args.steps == 0 {
        return Err(input_error("--steps must be at least 1"));
    }
    let data = data::load(
        run.config.data.dataset,
        &DataOptions::from_env(args.data_dir.clone()),
    )?;
    let costs = runner::train::trace::record(&run.config, &data, args.steps, &args.out)?;
    eprintln!(
        "{}: {} steps recorded in {} (first cost {:.6}, last {:.6})",
        run.id,
        costs.len(),
        args.out.display(),
        costs[0],
        costs[costs.len() - 1]
    );
    Ok(())
}

fn ids(runs: &[config::Run]) -> String {
    runs.iter()
        .map(|r| r.id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
