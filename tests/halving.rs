//! Successive halving and Hyperband (`[search.halving]`) through the built binary: the
//! rungs' cuts are a pure function of the results files, so one process, two workers,
//! two cooperating processes, two shards and a kill -9 in the middle of a rung all leave
//! the same summary; promoted trials continue from their checkpoints, and failed trials
//! rank last.

mod common;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{command, costs, ok, runner, summary_without_seconds, text};

/// Nine trials of three settings, each with two seeds, on 500 images: rungs at epochs 2
/// and 6, so 9 trials reach epoch 2 and the best 3 go on to epoch 6.
const HALVING: &str = r#"
name = "sh"
[data]
train_examples = 500
[train]
epochs = 6

[search]
method = "sobol"
trials = 9
seed = 3
metric = "test_cost_clean"

[search.space]
learning_rate = { log_uniform = [1e-3, 3e-2] }
noise_level = { uniform = [0.0, 1.0] }
hidden = { choice = [[32], [32, 16]] }

[search.halving]
min_epochs = 2
eta = 3

[sweep]
seed = [1, 2]
"#;

fn experiment(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn summary(dir: &Path, out: &str) -> String {
    summary_without_seconds(&dir.join(out).join("sh/summary.csv"))
}

/// Two invocations at once, each with `args` and its own extra arguments.
fn together(exp: &str, dir: &Path, args: &[&str], first: &[&str], second: &[&str]) {
    let spawn = |extra: &[&str]| -> Child {
        let mut all = vec![exp];
        all.extend_from_slice(args);
        all.extend_from_slice(extra);
        command(&all, dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(first), spawn(second));
    for child in [a, b] {
        ok(&child.wait_with_output().unwrap());
    }
}

/// The `status` column of each row, by run id.
fn statuses(summary: &str) -> Vec<(String, String)> {
    let mut lines = summary.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (id, status) = (at("run_id"), at("status"));
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (cells[id].to_string(), cells[status].to_string())
        })
        .collect()
}

#[test]
fn the_same_cuts_whatever_the_workers_processes_shards_and_kills() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), "sh.toml", HALVING);
    ok(&runner(
        &[&exp, "--out", "one", "-q", "-j", "1"],
        dir.path(),
    ));
    let reference = summary(dir.path(), "one");

    // 9 trials at epoch 2, the best 3 (both seeds) at epoch 6, the rest pruned.
    let rows = statuses(&reference);
    assert_eq!(rows.len(), 18, "{reference}");
    let done = rows.iter().filter(|(_, s)| s == "done").count();
    let pruned = rows.iter().filter(|(_, s)| s == "pruned").count();
    assert_eq!((done, pruned), (6, 12), "{reference}");
    assert!(reference.lines().next().unwrap().contains(",trial,"));
    assert!(reference.contains(",done,cpu,kernels,1,6,"), "{reference}");
    assert!(
        reference.contains(",pruned,cpu,kernels,0,2,"),
        "{reference}"
    );

    ok(&runner(
        &[&exp, "--out", "two", "-q", "-j", "2"],
        dir.path(),
    ));
    assert_eq!(summary(dir.path(), "two"), reference, "-j 2");

    together(
        &exp,
        dir.path(),
        &["--out", "procs", "-q", "-j", "1"],
        &[],
        &[],
    );
    assert_eq!(summary(dir.path(), "procs"), reference, "two processes");

    together(
        &exp,
        dir.path(),
        &["--out", "shards", "-q"],
        &["--shard", "0/2"],
        &["--shard", "1/2"],
    );
    assert_eq!(summary(dir.path(), "shards"), reference, "two shards");

    // kill -9 once a promoted run is past its first rung, then rerun.
    let mut child = command(&[&exp, "--out", "killed", "-q", "-j", "1"], dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let folders = dir.path().join("killed/sh");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !past_first_rung(&folders) {
        assert!(Instant::now() < deadline, "no run reached its second rung");
        assert!(child.try_wait().unwrap().is_none(), "ended before the kill");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let rerun = runner(&[&exp, "--out", "killed", "-j", "2"], dir.path());
    let log = ok(&rerun);
    assert!(log.contains("resuming from its checkpoint"), "{log}");
    assert_eq!(summary(dir.path(), "killed"), reference, "killed and rerun");
}

/// Whether a run of the experiment folder `dir` has a checkpoint beyond epoch 2 of a
/// 6-epoch config: it was promoted and is in the middle of its second rung.
fn past_first_rung(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let config = std::fs::read_to_string(e.path().join("config.toml")).unwrap_or_default();
        let checkpoint = std::fs::metadata(e.path().join("checkpoint.safetensors"));
        let promoted = config.contains("epochs = 6");
        // metrics.csv keeps the 2 rows of the first rung while the run goes on.
        let rows = std::fs::read_to_string(e.path().join("metrics.csv"))
            .map_or(0, |t| t.lines().count().saturating_sub(1));
        promoted
            && checkpoint.is_ok()
            && rows == 2
            && !e.path().join("model.safetensors").exists()
            && checkpoint_epoch(&e.path()) > 2
    })
}

/// The epoch of a run's checkpoint, from the JSON in its safetensors header.
fn checkpoint_epoch(run: &Path) -> usize {
    let Ok(bytes) = std::fs::read(run.join("checkpoint.safetensors")) else {
        return 0;
    };
    let Ok((_, meta)) = safetensors::SafeTensors::read_metadata(&bytes) else {
        return 0;
    };
    let runner = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get("runner").cloned())
        .unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(&runner).unwrap_or_default();
    json["epoch"].as_u64().unwrap_or(0) as usize
}

#[test]
fn promoted_trials_continue_from_their_checkpoints_and_the_plan_bounds_the_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), "sh.toml", HALVING);
    let plan = runner(&[&exp, "--dry-run"], dir.path());
    ok(&plan);
    let plan = text(&plan.stdout);
    assert!(
        plan.contains("bracket 0: rung 0: 9 trials to epoch 2, rung 1: 3 trials to epoch 6"),
        "{plan}"
    );
    assert!(
        plan.contains("at most 60 epochs in all (2 runs a trial), against 108"),
        "{plan}"
    );
    let log = ok(&runner(&[&exp, "--out", "res", "-j", "2"], dir.path()));
    // Promoted runs went on from epoch 2 rather than training again.
    assert_eq!(
        log.matches("resuming from its checkpoint after epoch 2 of 6")
            .count(),
        6,
        "{log}"
    );
    let summary = std::fs::read_to_string(dir.path().join("res/sh/summary.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(summary.as_bytes());
    let header = reader.headers().unwrap().clone();
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let spent: usize = reader
        .records()
        .map(|r| r.unwrap()[at("epochs_done")].parse::<usize>().unwrap())
        .sum();
    assert_eq!(spent, 60, "12 pruned runs x 2 epochs + 6 done x 6");

    // The report shows the rung: 9 trials reached epoch 2 and 3 were kept.
    let page = std::fs::read_to_string(dir.path().join("res/sh/report.html")).unwrap();
    assert!(
        page.contains(r#""rungs":[{"bracket":0,"rung":0,"epochs":2,"trials":9,"kept":3},{"bracket":0,"rung":1,"epochs":6,"trials":3,"kept":3}]"#),
        "report.html lacks the rungs"
    );
    // --verify recomputes every run as far as it was trained, pruned ones included.
    let verified = runner(&[&exp, "--out", "res", "--verify"], dir.path());
    ok(&verified);
    let table = text(&verified.stdout);
    assert_eq!(table.matches(" identical ").count(), 18, "{table}");

    // A promoted run's config.toml alone, as an experiment, trains it bit for bit.
    let done = dir.path().join("res/sh/t0001_seed1");
    let config = std::fs::read_to_string(done.join("config.toml")).unwrap();
    assert!(config.contains("epochs = 6"), "{config}");
    let alone = experiment(
        dir.path(),
        "alone.toml",
        &format!("name = \"alone\"\n{config}"),
    );
    ok(&runner(&[&alone, "--out", "alone", "-q"], dir.path()));
    assert_eq!(
        costs(&dir.path().join("alone/alone/run/metrics.csv")),
        costs(&done.join("metrics.csv"))
    );
}

#[test]
fn failed_trials_rank_last_and_are_never_promoted() {
    let dir = tempfile::tempdir().unwrap();
    // ReLU at a learning rate of 1e30 diverges in its first epoch.
    let text = HALVING
        .replace(
            "learning_rate = { log_uniform = [1e-3, 3e-2] }",
            "learning_rate = { choice = [0.003, 0.01, 1e30] }",
        )
        .replace("hidden = { choice = [[32], [32, 16]] }\n", "")
        .replace(
            "epochs = 6",
            "epochs = 6\nactivation = \"relu\"\nhidden = [32, 16]",
        );
    let exp = experiment(dir.path(), "sh.toml", &text);
    let out = runner(&[&exp, "--out", "res", "-q", "-j", "2"], dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", common::text(&out.stderr));
    let summary = summary(dir.path(), "res");
    let rows = statuses(&summary);
    let failed: Vec<&str> = rows
        .iter()
        .filter(|(_, s)| s == "failed")
        .map(|(id, _)| id.as_str())
        .collect();
    assert!(!failed.is_empty(), "{summary}");
    for line in summary.lines().filter(|l| l.contains(",failed,")) {
        assert!(line.contains("diverged"), "{line}");
    }
    let done = rows.iter().filter(|(_, s)| s == "done").count();
    assert_eq!(done, 6, "3 healthy trials still go on: {summary}");
    // A rerun trains nothing again and reports the same failures.
    let again = runner(&[&exp, "--out", "res", "-j", "2"], dir.path());
    assert_eq!(again.status.code(), Some(1));
    let log = common::text(&again.stderr);
    assert!(!log.contains("started"), "{log}");
    for id in failed {
        assert!(log.contains(id), "{id} not in {log}");
    }
}

#[test]
fn hyperband_brackets_follow_li_et_al_and_shards_agree() {
    let dir = tempfile::tempdir().unwrap();
    let text = HALVING
        .replace("trials = 9", "trials = 10")
        .replace("eta = 3", "eta = 3\nbrackets = 2");
    let exp = experiment(dir.path(), "sh.toml", &text);
    let plan = runner(&[&exp, "--dry-run"], dir.path());
    ok(&plan);
    let plan = common::text(&plan.stdout);
    // s_max = 1: bracket 0 weighs ceil(2 * 3 / 2) = 3, bracket 1 ceil(2 / 1) = 2; ten
    // trials are two blocks of five.
    assert!(plan.contains("Hyperband, 2 brackets"), "{plan}");
    assert!(
        plan.contains("bracket 0: rung 0: 6 trials to epoch 2, rung 1: 2 trials to epoch 6"),
        "{plan}"
    );
    assert!(
        plan.contains("bracket 1: rung 1: 4 trials to epoch 6"),
        "{plan}"
    );
    ok(&runner(
        &[&exp, "--out", "one", "-q", "-j", "2"],
        dir.path(),
    ));
    let mut three = Vec::new();
    for shard in ["0/3", "1/3", "2/3"] {
        three.push(
            command(
                &[&exp, "--out", "three", "-q", "--shard", shard],
                dir.path(),
            )
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        );
    }
    for child in three {
        ok(&child.wait_with_output().unwrap());
    }
    let reference = summary(dir.path(), "one");
    assert_eq!(summary(dir.path(), "three"), reference);
    let done = statuses(&reference)
        .iter()
        .filter(|(_, s)| s == "done")
        .count();
    assert_eq!(done, (2 + 4) * 2, "{reference}");
}

/// Runs the binary and returns its output, failing with `hang` (and killing it) when it
/// has not ended within two minutes: what is tested is that it does not wait or loop.
fn ended_within(args: &[&str], dir: &Path, hang: &str) -> std::process::Output {
    let mut child = command(args, dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("{hang}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_filter_trains_its_share_and_does_not_wait_for_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), "sh.toml", HALVING);
    let out = ended_within(
        &[&exp, "--out", "res", "--filter", "t0004"],
        dir.path(),
        "--filter waited for runs outside it",
    );
    let log = ok(&out);
    assert!(log.contains("outside --filter"), "{log}");
    let rows = statuses(&summary(dir.path(), "res"));
    let pending = rows.iter().filter(|(_, s)| s == "pending").count();
    assert_eq!(pending, 18, "all wait for the cut: {rows:?}");
}

#[test]
fn a_run_that_cannot_be_written_stops_the_search_instead_of_looping() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), "sh.toml", HALVING);
    // A folder where the lock file should be: the run fails with no error.txt.
    std::fs::create_dir_all(dir.path().join("res/sh/t0000_seed1/.lock/x")).unwrap();
    let out = ended_within(
        &[&exp, "--out", "res", "-q"],
        dir.path(),
        "the search kept retrying a run it cannot write",
    );
    assert_eq!(out.status.code(), Some(1));
    let log = text(&out.stderr);
    assert_eq!(
        log.matches("sh/t0000_seed1: cannot open the lock file")
            .count(),
        1,
        "{log}"
    );
    assert!(log.contains("failed here and left no error.txt"), "{log}");
}

#[test]
fn force_with_shards_is_refused_for_a_halving_search() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), "sh.toml", HALVING);
    let out = runner(
        &[&exp, "--out", "res", "--force", "--shard", "0/2"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let log = text(&out.stderr);
    assert!(log.contains("--force with --shard"), "{log}");
    assert!(!dir.path().join("res/sh").exists(), "nothing was written");
}
