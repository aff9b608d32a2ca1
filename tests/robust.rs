//! The binary against what a hostile folder, a scheduler's signals and careless input do:
//! no link planted under `--out` is followed, a check that selected nothing fails, every
//! file is checked before anything trains, a setting the arithmetic cannot take is named,
//! signals stop cleanly, and every path keeps to the documented exit codes.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use common::{command, ok, runner, text};

/// Four quick runs: 500 training images, two epochs.
const TINY: &str = r#"
name = "tiny"
[data]
train_examples = 500
[train]
epochs = 2
[sweep]
hidden = [[32], [32, 16]]
seed = [1, 2]
"#;

fn write(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path.to_str().unwrap().to_string()
}

fn exit(out: &Output) -> (Option<i32>, String) {
    (out.status.code(), text(&out.stderr))
}

fn assert_exit(out: &Output, code: i32, fragments: &[&str]) -> String {
    let (got, stderr) = exit(out);
    assert_eq!(got, Some(code), "{stderr}");
    for f in fragments {
        assert!(stderr.contains(f), "{f:?} not in {stderr}");
    }
    stderr
}

/// Every file under `dir`, relative, sorted: what a command wrote.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

#[cfg(unix)]
fn link(target: &Path, at: &Path) {
    std::os::unix::fs::symlink(target, at).unwrap();
}

// A link planted at any file or folder runner writes under --out is refused before
// anything trains, named in the message, and what it points to stays as it was.
#[cfg(unix)]
#[test]
fn links_planted_under_out_are_never_followed() {
    let cases: [(&str, bool); 6] = [
        ("tiny/h32_seed1/.lock", false),
        ("tiny/h32_seed1/metrics.csv", false),
        ("tiny/h32_seed1/config.toml", false),
        ("tiny/summary.csv", false),
        ("tiny/h32_seed1", true),
        ("tiny", true),
    ];
    for (planted, is_dir) in cases {
        let dir = tempfile::tempdir().unwrap();
        let exp = write(dir.path(), "tiny.toml", TINY);
        let victim = dir.path().join("victim");
        if is_dir {
            std::fs::create_dir(&victim).unwrap();
            std::fs::write(victim.join("keep.txt"), "keep").unwrap();
        } else {
            std::fs::write(&victim, "keep").unwrap();
        }
        let at = dir.path().join("res").join(planted);
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        link(&victim, &at);
        let out = runner(&[&exp, "--out", "res", "-q"], dir.path());
        let stderr = assert_exit(&out, 2, &["symbolic link", planted]);
        if is_dir {
            assert_eq!(tree(&victim), [PathBuf::from("keep.txt")], "{planted}");
        } else {
            assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        }
        assert!(
            !dir.path().join("res/tiny/h32_seed2/metrics.csv").exists(),
            "{planted}: nothing trains ({stderr})"
        );
    }
}

// A verify, a filter, a shard or a summarize that selects nothing says so and exits 3.
#[test]
fn a_selection_of_nothing_fails_with_its_own_code() {
    let dir = tempfile::tempdir().unwrap();
    let exp = write(dir.path(), "tiny.toml", TINY);
    let committed = common::repo().join("results");
    let smoke = common::repo().join("experiments/smoke.toml");
    let smoke = smoke.to_str().unwrap();
    let cases: [&[&str]; 5] = [
        &[
            smoke,
            "--verify",
            "--filter",
            "no_such_run",
            "--out",
            committed.to_str().unwrap(),
        ],
        &[&exp, "--filter", "no_such_run", "--out", "res"],
        &[&exp, "--shard", "5/6", "--out", "res"],
        &[&exp, "--summarize", "--out", "typo"],
        &[&exp, "--dry-run", "--filter", "no_such_run"],
    ];
    for args in cases {
        let out = runner(args, dir.path());
        let stderr = assert_exit(&out, 3, &["no run"]);
        assert!(
            !text(&out.stdout).contains("reproduce"),
            "{args:?}: {stderr}"
        );
    }
    assert!(
        !dir.path().join("typo").exists(),
        "--summarize creates nothing"
    );
    assert!(
        !dir.path().join("res/tiny/h32_seed1").exists(),
        "no run folder for an empty selection"
    );
}

// Runs trained with --pack record their engine; --verify recomputes with it by default,
// and the summary shows it.
#[test]
fn results_say_which_engine_computed_them() {
    let dir = tempfile::tempdir().unwrap();
    let exp = write(dir.path(), "tiny.toml", TINY);
    ok(&runner(
        &[
            &exp, "--out", "res", "-q", "--pack", "2", "--filter", "h32_",
        ],
        dir.path(),
    ));
    let summary = std::fs::read_to_string(dir.path().join("res/tiny/summary.csv")).unwrap();
    let header: Vec<&str> = summary.lines().next().unwrap().split(',').collect();
    let engine = header
        .iter()
        .position(|h| *h == "engine")
        .expect("engine column");
    let rows: Vec<Vec<&str>> = summary
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    for row in &rows {
        let expected = if row[1].starts_with("h32_") {
            "pack"
        } else {
            ""
        };
        assert_eq!(row[engine], expected, "{summary}");
    }
    let out = runner(
        &[&exp, "--out", "res", "--verify", "--filter", "h32_"],
        dir.path(),
    );
    ok(&out);
    assert!(
        text(&out.stdout).contains("all runs reproduce"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(text(&out.stdout).matches("identical").count(), 2);
    // Training more runs alone into the folder says that it now mixes engines.
    let out = runner(
        &[&exp, "--out", "res", "--filter", "h32-16_seed1"],
        dir.path(),
    );
    let stderr = ok(&out);
    assert!(stderr.contains("engine"), "{stderr}");
}

// Every experiment file is checked (names, memory, results in the way) before the
// first one trains.
#[test]
fn every_file_is_checked_before_any_trains() {
    let dir = tempfile::tempdir().unwrap();
    let first = write(dir.path(), "tiny.toml", TINY);
    let huge = write(
        dir.path(),
        "huge.toml",
        &TINY
            .replace("\"tiny\"", "\"huge\"")
            .replace("[[32], [32, 16]]", "[[32], [100000000]]"),
    );
    let out = runner(&[&first, &huge, "--out", "res", "-q"], dir.path());
    assert_exit(&out, 2, &["huge/h100000000_seed1", "needs about"]);
    assert!(!dir.path().join("res/tiny/h32_seed1/metrics.csv").exists());

    let twin = write(
        dir.path(),
        "twin.toml",
        &TINY.replace("epochs = 2", "epochs = 1"),
    );
    let out = runner(&[&first, &twin, "--out", "res", "-q"], dir.path());
    assert_exit(&out, 2, &["tiny.toml", "twin.toml", "name", "\"tiny\""]);
    assert!(!dir.path().join("res/tiny/h32_seed1/metrics.csv").exists());
}

// Values the arithmetic cannot take are named before anything trains, never panics.
#[test]
fn settings_beyond_the_arithmetic_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let exp = write(dir.path(), "tiny.toml", TINY);
    let cases: [(&str, &[&str]); 7] = [
        ("train.init_scale=2e38", &["init_scale", "at most"]),
        ("train.noise_level=1e300", &["noise_level", "at most"]),
        ("train.epochs=1000000000000", &["epochs", "at most"]),
        (
            "train.learning_rate=1e-400",
            &["learning_rate", "1e-400", "0"],
        ),
        ("train.learning_rate=1e-50", &["learning_rate", "32-bit"]),
        ("sweep.zip=[]", &["zip", "--set"]),
        ("train.epochs=[1,", &["VALUE", "TOML"]),
    ];
    for (set, fragments) in cases {
        let out = runner(&[&exp, "--out", "res", "--set", set], dir.path());
        let stderr = assert_exit(&out, 2, fragments);
        assert!(!stderr.contains("panicked"), "{set}: {stderr}");
        assert!(!dir.path().join("res").exists(), "{set}: nothing written");
    }
    // init_scale at the limit's other side with --pack: a healthy pack-mate is not failed.
    let out = runner(
        &[
            &exp,
            "--out",
            "res",
            "--pack",
            "2",
            "--set",
            "sweep.init_scale=[1.0, 3e38]",
        ],
        dir.path(),
    );
    assert_exit(&out, 2, &["init_scale"]);
    // -0.0 and 0.0 are one value.
    let out = runner(
        &[&exp, "--dry-run", "--set", "sweep.noise_level=[0.0, -0.0]"],
        dir.path(),
    );
    assert_exit(&out, 2, &["noise_level", "same"]);
}

// `train_examples` set to the whole training set means the same as leaving it unset.
#[test]
fn the_whole_training_set_is_one_config_however_it_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let exp = write(
        dir.path(),
        "whole.toml",
        "name = \"whole\"\n[train]\nepochs = 1\nbatch_size = 5000\nhidden = [8]\n",
    );
    ok(&runner(&[&exp, "--out", "res", "-q"], dir.path()));
    let out = runner(
        &[&exp, "--out", "res", "--set", "data.train_examples=55000"],
        dir.path(),
    );
    let stderr = ok(&out);
    assert!(stderr.contains("nothing to train"), "{stderr}");
}

// --dry-run states the training budget and a time estimate from a measured step.
#[test]
fn dry_run_states_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let exp = write(dir.path(), "tiny.toml", TINY);
    let out = runner(&[&exp, "--dry-run"], dir.path());
    ok(&out);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("4 runs"), "{stdout}");
    assert!(stdout.contains("8 epochs"), "{stdout}");
    assert!(stdout.contains("4,000 examples"), "{stdout}");
    assert!(stdout.contains("estimated"), "{stdout}");
}

fn spawn(args: &[&str], cwd: &Path) -> Child {
    command(args, cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runner starts")
}

fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !path.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(path.exists(), "{} never appeared", path.display());
}

fn signal(child: &Child, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

const LONG: &str = r#"
name = "long"
[data]
train_examples = 20000
[train]
epochs = 50
hidden = [32]
[sweep]
seed = [1, 2]
"#;

// SIGTERM (preemption) and SIGHUP stop like Ctrl-C: the summary says what is true, the
// temporary folder of --verify goes, and the exit code is 128 + the signal's number.
#[cfg(unix)]
#[test]
fn scheduler_and_terminal_signals_stop_cleanly() {
    for (name, code) in [("TERM", 143), ("HUP", 129)] {
        let dir = tempfile::tempdir().unwrap();
        let exp = write(dir.path(), "long.toml", LONG);
        let child = spawn(&[&exp, "--jobs", "2", "--out", "res"], dir.path());
        wait_for(&dir.path().join("res/long/seed1/config.toml"));
        std::thread::sleep(Duration::from_millis(300));
        signal(&child, name);
        let out = child.wait_with_output().unwrap();
        assert_exit(&out, code, &["interrupted"]);
        let summary = std::fs::read_to_string(dir.path().join("res/long/summary.csv")).unwrap();
        assert!(!summary.contains(",running,"), "{name}: {summary}");

        // --verify trains into a temporary folder, which must not outlive the signal.
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        let committed = dir.path().join("committed");
        common::copy_dir(
            &common::repo().join("results/smoke"),
            &committed.join("smoke"),
        );
        let smoke = common::repo().join("experiments/smoke.toml");
        let args = [
            smoke.to_str().unwrap(),
            "--verify",
            "-j",
            "1",
            "--out",
            committed.to_str().unwrap(),
        ];
        let child = command(&args, dir.path())
            .env("TMPDIR", &tmp)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while tree(&tmp).len() < 3 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        signal(&child, name);
        let out = child.wait_with_output().unwrap();
        assert_exit(&out, code, &["interrupted"]);
        assert!(tree(&tmp).is_empty(), "{name}: {:?} left", tree(&tmp));
    }
}

// The experiment file is read with a cap; devices are refused at once, pipes work.
#[cfg(unix)]
#[test]
fn experiment_files_are_read_with_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = runner(&["/dev/zero", "--dry-run"], dir.path());
    assert_exit(&out, 2, &["/dev/zero", "not a regular file"]);
    assert!(started.elapsed() < Duration::from_secs(10));
    let big = dir.path().join("big.toml");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(100 << 20).unwrap();
    let out = runner(&[big.to_str().unwrap(), "--dry-run"], dir.path());
    assert_exit(&out, 2, &["big.toml", "MB"]);
    // A pipe, as `runner <(generate-experiment)` gives one.
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "{} --dry-run <(printf '[sweep]\\nseed = [1, 2]\\n')",
            env!("CARGO_BIN_EXE_runner")
        ))
        .current_dir(dir.path())
        .output()
        .unwrap();
    ok(&out);
    assert!(
        text(&out.stdout).contains("2 runs"),
        "{}",
        text(&out.stdout)
    );
}

// Two identical --force commands share the work as two plain commands do.
#[test]
fn two_forced_commands_share_the_runs() {
    let dir = tempfile::tempdir().unwrap();
    let exp = write(dir.path(), "tiny.toml", TINY);
    ok(&runner(&[&exp, "--out", "res", "-q"], dir.path()));
    let args = [exp.as_str(), "--out", "res", "--force", "-j", "1"];
    let a = spawn(&args, dir.path());
    let b = spawn(&args, dir.path());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let trained = |o: &Output| {
        let stderr = ok(o);
        stderr
            .lines()
            .filter_map(|l| {
                l.split(" completed,")
                    .next()?
                    .rsplit(' ')
                    .next()?
                    .parse::<usize>()
                    .ok()
            })
            .sum::<usize>()
    };
    assert_eq!(trained(&a) + trained(&b), 4, "each run retrained once");
}

// One table of exit codes, kept by every path.
#[test]
fn every_path_keeps_to_the_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let exp = write(dir.path(), "tiny.toml", TINY);
    // An --out that cannot be made is bad input, whichever step finds it.
    std::fs::write(dir.path().join("file"), "").unwrap();
    for out_dir in ["file/sub", "/proc/runner-test"] {
        let out = runner(&[&exp, "--out", out_dir, "-q"], dir.path());
        assert_exit(&out, 2, &[out_dir]);
    }
    let cases: [(&[&str], &[&str]); 6] = [
        (&[&exp, "--summarize", "--jobs", "2"], &["--jobs"]),
        (&[&exp, "--summarize", "--force"], &["--force"]),
        (&[&exp, "--summarize", "--filter", "x"], &["--filter"]),
        (&[&exp, "--dry-run", "--device", "cuda"], &["cuda"]),
        (
            &[&exp, "--dry-run", "--shard", "0/2", "--shard-count", "2"],
            &["--shard-count"],
        ),
        (
            &[&exp, "--dry-run", "--shard-count", "2"],
            &["--shard-count"],
        ),
    ];
    for (args, fragments) in cases {
        assert_exit(&runner(args, dir.path()), 2, fragments);
    }
    // Slurm variables that disagree with each other.
    let out = command(
        &[&exp, "--dry-run", "--shard", "auto", "--shard-count", "2"],
        dir.path(),
    )
    .env("SLURM_JOB_ID", "7")
    .env("SLURM_ARRAY_TASK_ID", "5")
    .env("SLURM_ARRAY_TASK_MIN", "0")
    .env("SLURM_ARRAY_TASK_MAX", "1")
    .env("SLURM_ARRAY_TASK_STEP", "1")
    .env("SLURM_ARRAY_TASK_COUNT", "2")
    .output()
    .unwrap();
    assert_exit(&out, 2, &["SLURM_ARRAY_TASK_ID", "5"]);
}

// A run that another process is training shows as running in a summary rebuilt meanwhile.
#[test]
fn a_run_in_another_process_shows_as_running() {
    let dir = tempfile::tempdir().unwrap();
    let exp = write(dir.path(), "long.toml", LONG);
    let mut child = spawn(
        &[&exp, "--jobs", "1", "--out", "res", "--filter", "seed1"],
        dir.path(),
    );
    wait_for(&dir.path().join("res/long/seed1/config.toml"));
    let out = runner(&[&exp, "--summarize", "--out", "res"], dir.path());
    child.kill().unwrap();
    child.wait().unwrap();
    ok(&out);
    let summary = std::fs::read_to_string(dir.path().join("res/long/summary.csv")).unwrap();
    let row = summary.lines().find(|l| l.contains(",seed1,")).unwrap();
    assert!(row.contains(",running,"), "{summary}");
    let row = summary.lines().find(|l| l.contains(",seed2,")).unwrap();
    assert!(row.contains(",pending,"), "{summary}");
}
