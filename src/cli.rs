//! Command-line arguments.

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

    /// Runs trained at the same time (default: the number of cores).
    #[arg(short, long, value_name = "N")]
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
    /// curves.svg) from the run folders; train nothing.
    #[arg(long, conflicts_with_all = ["dry_run", "verify"])]
    pub summarize: bool,

    /// Rerun the selected runs into a temporary folder and compare their costs with the
    /// results under --out; exit 1 if any drifts beyond --tolerance.
    #[arg(long, conflicts_with = "dry_run")]
    pub verify: bool,

    /// Largest accepted absolute difference of a cost in --verify (default 0: bit for bit).
    #[arg(long, value_name = "ABS", default_value_t = 0.0, requires = "verify")]
    pub tolerance: f64,

    /// Print only errors.
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print more (repeat for even more).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}
