//! Command-line arguments.
//!
//! The doc comments below are `runner --help`'s text, written for a terminal: the
//! brackets and angle brackets there are the user's, not rustdoc's links or HTML.
#![allow(rustdoc::invalid_html_tags, rustdoc::broken_intra_doc_links)]

use std::path::PathBuf;

use clap::Parser;

/// Runs sweeps of denoising autoencoders described by TOML experiment files.
///
/// Each EXPERIMENT file expands into runs (every combination of its [sweep] lists);
/// results go to OUT/<experiment>/<run_id>/.
#[derive(Debug, Parser)]
#[command(name = "runner", version, about, long_about = None)]
pub struct Args {
    /// Experiment files (TOML) to run, in order.
    #[arg(value_name = "EXPERIMENT", required = true)]
    pub experiments: Vec<PathBuf>,

    /// Print the expanded runs as a table and their count; write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Override a setting or sweep axis, e.g. `train.epochs=2` or `sweep.seed=[1,2]`.
    /// Repeatable; VALUE is TOML (a bare word is taken as a string).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,

    /// Folder that receives OUT/<experiment>/...
    #[arg(long, value_name = "DIR", default_value = "results")]
    pub out: PathBuf,

    /// Runs trained at the same time (default: the number of cores; never more than there
    /// are runs to do).
    #[arg(short, long, value_name = "N", value_parser = at_least_one)]
    pub jobs: Option<usize>,

    /// Where runs compute: cpu, cuda (every visible GPU, one pack of runs per GPU at a
    /// time) or cuda:LIST (e.g. cuda:0,2). CUDA needs a build with `--features cuda`.
    #[arg(long, value_name = "DEVICE", default_value = "cpu")]
    pub device: String,

    /// Train up to N runs that share their shapes and optimizer settings (the seeds of a
    /// configuration) together as one batched computation, each with its own results
    /// (default: 32 on CUDA, 1 = each run alone on the CPU).
    #[arg(long, value_name = "N")]
    pub pack: Option<usize>,

    /// Where data sets are looked for and stored (default: $RUNNER_DATA_DIR, else data/).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Rerun runs whose complete results exist, and overwrite results of other configs.
    #[arg(long)]
    pub force: bool,

    /// Keep the epoch checkpoints of finished runs (`keep`: a later run with more epochs
    /// continues them; `drop`: delete each when its run finishes). Default `auto`: keep
    /// them for experiments of at most 1000 runs and for searches.
    #[arg(long, value_name = "keep|drop|auto", default_value = "auto", value_parser = ["keep", "drop", "auto"])]
    pub checkpoints: String,

    /// Only runs whose id contains PATTERN.
    #[arg(long, value_name = "PATTERN")]
    pub filter: Option<String>,

    /// Only shard INDEX (0-based) of COUNT: runs sorted by id, dealt round-robin. `auto`
    /// takes INDEX from Slurm's SLURM_ARRAY_TASK_ID (mod COUNT) or Kubernetes'
    /// JOB_COMPLETION_INDEX, and COUNT from --shard-count.
    #[arg(long, value_name = "INDEX/COUNT|auto")]
    pub shard: Option<String>,

    /// Shard count for `--shard auto`: the number of array tasks or completions, fixed
    /// where the array is declared (else $RUNNER_SHARD_COUNT).
    #[arg(long, value_name = "N")]
    pub shard_count: Option<usize>,

    /// Rebuild the report (summary.csv, epochs.csv, stats.csv, stats.md, comparisons.csv,
    /// curves.svg, report.html) from the run folders; train nothing.
    #[arg(long, conflicts_with_all = ["dry_run", "verify", "jobs", "force", "filter", "shard", "shard_count", "pack", "device", "checkpoints"])]
    pub summarize: bool,

    /// Rerun the selected runs into a temporary folder and compare their costs with the
    /// results under --out; exit 1 if any drifts beyond --tolerance.
    #[arg(long, conflicts_with = "dry_run")]
    pub verify: bool,

    /// Largest accepted absolute difference of a cost in --verify (default 0: bit for bit).
    #[arg(long, value_name = "ABS", default_value_t = 0.0, requires = "verify", value_parser = tolerance)]
    pub tolerance: f64,

    /// Print only errors.
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print more (repeat for even more).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

fn at_least_one(arg: &str) -> Result<usize, String> {
    match arg.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!(
            "expected a whole number of at least 1, got {arg:?}"
        )),
    }
}

fn tolerance(arg: &str) -> Result<f64, String> {
    match arg.trim().parse::<f64>() {
        Ok(t) if t.is_finite() && t >= 0.0 => Ok(t),
        Ok(t) => Err(format!("must be a finite number of 0 or more, got {t}")),
        Err(_) => Err(format!("expected a number such as 1e-4, got {arg:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_and_tolerance_reject_nonsense() {
        assert!(at_least_one("0").unwrap_err().contains("at least 1"));
        assert!(at_least_one("-3").is_err());
        assert_eq!(at_least_one("18446744073709551615"), Ok(usize::MAX));
        for bad in ["-1", "nan", "inf", "-0.5", "x"] {
            assert!(tolerance(bad).is_err(), "{bad}");
        }
        assert_eq!(tolerance("1e-4"), Ok(1e-4));
        assert_eq!(tolerance("0"), Ok(0.0));
    }
}
