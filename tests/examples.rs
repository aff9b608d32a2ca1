//! The cluster examples docs/clusters.md points to. The Slurm script runs for real in
//! scripts/slurm-ci.sh (a one-node Slurm, from .ci/run); here it runs without Slurm, with
//! Slurm's environment set by hand and `sbatch` replaced by a recorder, so that its logic
//! is checked by `cargo test` too.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{ok, text};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

const SBATCH: &str = "examples/slurm/depth_sweep.sbatch";

fn script() -> String {
    std::fs::read_to_string(repo(SBATCH)).expect("script exists")
}

#[test]
fn slurm_script_is_valid_bash() {
    let status = Command::new("bash")
        .arg("-n")
        .arg(repo(SBATCH))
        .status()
        .expect("bash runs");
    assert!(status.success());
}

/// The value of `#SBATCH --NAME=VALUE` in the script.
fn directive(script: &str, name: &str) -> String {
    let prefix = format!("#SBATCH --{name}=");
    script
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no #SBATCH --{name}"))
        .trim()
        .to_string()
}

#[test]
fn slurm_script_declares_the_shard_count_beside_its_array() {
    let script = script();
    let array = directive(&script, "array");
    let (first, last) = array.split_once('-').expect("--array=FIRST-LAST");
    let tasks = last.parse::<usize>().unwrap() - first.parse::<usize>().unwrap() + 1;
    assert!(
        script.contains(&format!("\nexport RUNNER_SHARD_COUNT={tasks}\n")),
        "RUNNER_SHARD_COUNT must equal the {tasks} tasks of --array={array}"
    );
    // Slurm does not create folders for its logs: a log path with a folder fails every
    // task of a fresh clone before the script starts (issue 17, case 1).
    assert!(!directive(&script, "output").contains('/'));
    // The committed results/ would make every shard skip every run (case 2).
    assert!(script.contains("OUT=${OUT:-results-slurm}"));
}

/// Runs the script as Slurm would run array task `id` of job 77 with `--array=min-max`,
/// in `dir`, with `sbatch` recording its arguments (one per line, calls separated by
/// "--end--") in `dir/sbatch.log`.
fn slurm_task(dir: &Path, id: usize, min: usize, max: usize, args: &[&str]) -> Output {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let sbatch = bin.join("sbatch");
    std::fs::write(
        &sbatch,
        "#!/bin/sh\nprintf '%s\\n' \"$@\" --end-- >> sbatch.log\n",
    )
    .unwrap();
    Command::new("chmod")
        .arg("+x")
        .arg(&sbatch)
        .status()
        .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let number = |n: usize| n.to_string();
    Command::new("bash")
        .arg(repo(SBATCH))
        .args(args)
        .current_dir(dir)
        .env("PATH", path)
        .env("RUNNER", env!("CARGO_BIN_EXE_runner"))
        .env("RUNNER_DATA_DIR", common::data_dir())
        .env_remove("OUT")
        .env_remove("RUNNER_SHARD_COUNT")
        .env("SLURM_JOB_NAME", "depth_sweep")
        .env("SLURM_ARRAY_JOB_ID", "77")
        .env("SLURM_ARRAY_TASK_ID", number(id))
        .env("SLURM_ARRAY_TASK_MIN", number(min))
        .env("SLURM_ARRAY_TASK_MAX", number(max))
        .env("SLURM_ARRAY_TASK_STEP", "1")
        .env("SLURM_ARRAY_TASK_COUNT", number(max - min + 1))
        .env("SLURM_CPUS_PER_TASK", "1")
        .output()
        .expect("bash runs")
}

const TINY: &str = r#"
name = "tiny"
[data]
train_examples = 300
[train]
epochs = 1
[sweep]
hidden = [[32], [32, 16]]
seed = [1, 2]
"#;

#[test]
fn slurm_script_without_slurm_runs_its_shard_and_queues_one_summary_with_the_same_arguments() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.toml"), TINY).unwrap();
    let args = ["tiny.toml", "--set", "train.epochs=2"];
    // Task 2 resubmitted alone (--array=2): shard 2 of 5 is h32_seed1 (runs sorted by id),
    // not the whole sweep (case 3). It is the first task to start, so it queues the summary.
    ok(&slurm_task(dir.path(), 2, 2, 2, &args));
    // Task 3 of the full array: another shard, and no second summary.
    ok(&slurm_task(dir.path(), 3, 0, 4, &args));
    let runs = dir.path().join("results-slurm/tiny");
    for id in ["h32_seed1", "h32_seed2"] {
        let metrics = std::fs::read_to_string(runs.join(id).join("metrics.csv")).unwrap();
        assert_eq!(
            metrics.lines().count(),
            3,
            "{id}: header and the 2 epochs of the override"
        );
    }
    for id in ["h32-16_seed1", "h32-16_seed2"] {
        assert!(!runs.join(id).exists(), "{id} belongs to another shard");
    }
    let log = std::fs::read_to_string(dir.path().join("sbatch.log")).unwrap();
    let calls: Vec<Vec<&str>> = log
        .split_terminator("--end--\n")
        .map(|c| c.lines().collect())
        .collect();
    assert_eq!(calls.len(), 1, "one summary job: {log}");
    let call = &calls[0];
    assert!(call.contains(&"--dependency=afterany:77"), "{log}");
    // The summary job is this script again with exactly the tasks' arguments (case 5).
    let at = call
        .iter()
        .position(|a| a.ends_with(SBATCH))
        .expect("script");
    assert_eq!(call[at + 1..], args, "{log}");
    let export = call
        .iter()
        .find_map(|a| a.strip_prefix("--export="))
        .unwrap();
    assert!(export.contains("SWEEP_STEP=summary"), "{export}");

    // The summary step, as the queued job runs it: the two runs done with the override
    // applied (not `conflict`), the other two pending.
    let summary = Command::new("bash")
        .arg(repo(SBATCH))
        .args(args)
        .current_dir(dir.path())
        .env("RUNNER", env!("CARGO_BIN_EXE_runner"))
        .env_remove("OUT")
        .env("SWEEP_STEP", "summary")
        .env("SWEEP_ARRAY_JOB", "77")
        .output()
        .unwrap();
    ok(&summary);
    let csv = std::fs::read_to_string(runs.join("summary.csv")).unwrap();
    let column = csv
        .lines()
        .next()
        .and_then(|h| h.split(',').position(|c| c == "status"))
        .expect("status column");
    let mut status: Vec<(&str, &str)> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (cells[1], cells[column])
        })
        .collect();
    status.sort();
    assert_eq!(
        status,
        [
            ("h32-16_seed1", "pending"),
            ("h32-16_seed2", "pending"),
            ("h32_seed1", "done"),
            ("h32_seed2", "done")
        ],
        "{csv}"
    );
    assert!(!dir.path().join("results-slurm/.summary-queued-77").exists());
}

#[test]
fn slurm_script_refuses_an_array_that_disagrees_before_queuing_anything() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.toml"), TINY).unwrap();
    // --array=0-9 on the command line, while the script says 5 shards.
    let out = slurm_task(dir.path(), 7, 0, 9, &["tiny.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("Slurm runs 10 array tasks (0-9) but the shard count is 5"));
    assert!(!dir.path().join("sbatch.log").exists());
    assert!(!dir.path().join("results-slurm").exists());
}

/// The first container and the volumes of a Job manifest.
fn job(file: &str) -> serde_yaml::Value {
    let text = std::fs::read_to_string(repo(file)).expect("manifest exists");
    let job: serde_yaml::Value = serde_yaml::from_str(&text).expect(file);
    assert_eq!(job["kind"], "Job", "{file}");
    job
}

/// The manifests' schema is checked by scripts/kubernetes-validate.sh (from .ci/run); this
/// checks what a schema cannot: that the two Jobs and the count agree.
#[test]
fn kubernetes_jobs_agree_on_count_experiment_and_output() {
    let sweep = job("examples/kubernetes/depth_sweep.yaml");
    let summary = job("examples/kubernetes/depth_sweep_summary.yaml");
    assert_eq!(sweep["spec"]["completionMode"], "Indexed");
    let completions = sweep["spec"]["completions"].as_u64().unwrap().to_string();
    let container =
        |job: &serde_yaml::Value| job["spec"]["template"]["spec"]["containers"][0].clone();
    let env = container(&sweep)["env"].clone();
    let count = env
        .as_sequence()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "RUNNER_SHARD_COUNT")
        .expect("RUNNER_SHARD_COUNT set")
        .clone();
    assert_eq!(count["value"].as_str(), Some(completions.as_str()));

    let command = |job: &serde_yaml::Value| -> Vec<String> {
        container(job)["command"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect()
    };
    let (train, rebuild) = (command(&sweep), command(&summary));
    assert!(
        train.windows(2).any(|w| w == ["--shard", "auto"]),
        "{train:?}"
    );
    assert!(rebuild.contains(&"--summarize".to_string()), "{rebuild:?}");
    // Same experiment file (last argument), same output folder, and no overrides on either
    // command line: the ConfigMap holds the whole experiment.
    assert_eq!(train.last(), rebuild.last());
    let out = |c: &[String]| c.windows(2).find(|w| w[0] == "--out").map(|w| w[1].clone());
    assert_eq!(out(&train), out(&rebuild));
    assert_ne!(out(&train).as_deref(), Some("results"));
    assert!(!train.contains(&"--set".to_string()) && !rebuild.contains(&"--set".to_string()));
    let config_map = |job: &serde_yaml::Value| {
        job["spec"]["template"]["spec"]["volumes"]
            .as_sequence()
            .unwrap()
            .iter()
            .find_map(|v| v["configMap"]["name"].as_str().map(str::to_string))
            .expect("experiment ConfigMap")
    };
    assert_eq!(config_map(&sweep), config_map(&summary));
    assert!(train.last().unwrap().starts_with("/experiment/"));
}
