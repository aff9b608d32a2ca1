//! Issue 15 through the built binary: several processes on one results folder, closed
//! pipes, huge values, bad flags and hand-edited folders. Each case gets a clear message
//! and the right exit code, loses nothing and mixes nothing.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};

use common::{command, copy_dir, costs, ok, repo, runner, text};

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

const IDS: [&str; 4] = ["h32-16_seed1", "h32-16_seed2", "h32_seed1", "h32_seed2"];

fn experiment(dir: &Path, body: &str) -> String {
    let path = dir.join("tiny.toml");
    std::fs::write(&path, body).unwrap();
    path.to_str().unwrap().to_string()
}

fn spawn(args: &[&str], cwd: &Path) -> Child {
    command(args, cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runner starts")
}

fn learning_rate(run: &Path) -> String {
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    config
        .lines()
        .find(|l| l.starts_with("learning_rate"))
        .unwrap()
        .to_string()
}

fn summary(out: &Path) -> String {
    std::fs::read_to_string(out.join("tiny/summary.csv")).unwrap()
}

/// The summary line of run `id` (the second column).
fn summary_row(summary: &str, id: &str) -> String {
    summary
        .lines()
        .find(|l| l.split(',').nth(1) == Some(id))
        .unwrap_or_else(|| panic!("no row {id} in\n{summary}"))
        .to_string()
}

/// The `N completed` count of a run's last log line.
fn completed(stderr: &str) -> usize {
    stderr
        .lines()
        .filter(|l| l.contains(" completed,"))
        .filter_map(|l| {
            l.split(" completed,")
                .next()?
                .rsplit(' ')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .sum()
}

/// The binary without the shared data folder: for checks that must come before any data.
fn bare(args: &[&str], cwd: &Path) -> Output {
    common::command_without_data_dir(args, cwd)
        .env("RUNNER_PIP", "off")
        .env("RUNNER_DATA_MIRRORS", "http://127.0.0.1:9/")
        .output()
        .unwrap()
}

fn assert_exit_2(out: &Output, fragments: &[&str]) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for f in fragments {
        assert!(stderr.contains(f), "{f:?} not in {stderr}");
    }
}

// Case 1: two processes, two learning rates (a fixed setting, not in the run ids), one
// --out. Every folder holds one config's files only, the processes say so, and a rerun
// never takes the other config's results for its own.
#[test]
fn two_configs_on_one_folder_never_mix() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), TINY);
    let other = ["--set", "train.learning_rate=0.011"];
    ok(&runner(&[&exp, "-q", "--out", "ref_a"], dir.path()));
    ok(&runner(
        &[&[&exp[..], "-q", "--out", "ref_b"][..], &other].concat(),
        dir.path(),
    ));
    for attempt in 0..3 {
        let out = format!("shared{attempt}");
        let a = spawn(&[&exp, "-j1", "--out", &out], dir.path());
        let b = spawn(
            &[&[&exp[..], "-j1", "--out", &out][..], &other].concat(),
            dir.path(),
        );
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        for o in [&a, &b] {
            let code = o.status.code();
            assert!(code == Some(0) || code == Some(2), "{}", text(&o.stderr));
            if code == Some(2) {
                assert!(
                    text(&o.stderr).contains("different config"),
                    "{}",
                    text(&o.stderr)
                );
            }
        }
        assert!(
            !(a.status.success() && b.status.success()),
            "both finished every run into the same folders"
        );
        let root = dir.path().join(&out).join("tiny");
        for id in IDS {
            let run = root.join(id);
            if !run.join("metrics.csv").exists() {
                continue;
            }
            let reference = match learning_rate(&run).as_str() {
                "learning_rate = 0.01" => "ref_a",
                "learning_rate = 0.011" => "ref_b",
                other => panic!("{id}: {other}"),
            };
            assert_eq!(
                costs(&run.join("metrics.csv")),
                costs(
                    &dir.path()
                        .join(reference)
                        .join("tiny")
                        .join(id)
                        .join("metrics.csv")
                ),
                "{id} holds the metrics of another config than its config.toml"
            );
        }
        // The first command again: it either finds only its own results or refuses.
        let again = runner(&[&exp, "-q", "--out", &out], dir.path());
        let foreign = IDS.iter().any(|id| {
            let run = root.join(id);
            run.join("metrics.csv").exists() && learning_rate(&run).ends_with("0.011")
        });
        assert_eq!(
            again.status.code(),
            Some(if foreign { 2 } else { 0 }),
            "{}",
            text(&again.stderr)
        );
    }
}

// Case 1: the same command twice at once trains each run once; the two share the work.
#[test]
fn the_same_command_twice_trains_each_run_once() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), TINY);
    let a = spawn(&[&exp, "-j1", "--out", "res"], dir.path());
    let b = spawn(&[&exp, "-j1", "--out", "res"], dir.path());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let (ea, eb) = (ok(&a), ok(&b));
    let started = |s: &str| s.lines().filter(|l| l.ends_with(": started")).count();
    assert_eq!(started(&ea) + started(&eb), 4, "A:\n{ea}\nB:\n{eb}");
    assert_eq!(completed(&ea) + completed(&eb), 4, "A:\n{ea}\nB:\n{eb}");
    assert_eq!(
        summary(&dir.path().join("res")).matches(",done,").count(),
        4
    );
}

// Case 1: shards of one sweep on one folder at the same time do not get in each other's way.
#[test]
fn shards_side_by_side_complete_the_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), TINY);
    let shards: Vec<Child> = ["0/2", "1/2"]
        .iter()
        .map(|s| {
            spawn(
                &[&exp, "-j1", "-q", "--out", "res", "--shard", s],
                dir.path(),
            )
        })
        .collect();
    for shard in shards {
        ok(&shard.wait_with_output().unwrap());
    }
    ok(&runner(&[&exp, "--out", "res", "--summarize"], dir.path()));
    assert_eq!(
        summary(&dir.path().join("res")).matches(",done,").count(),
        4
    );
}

/// Reads the first line of `pipe`, then closes it, as `| head -1` does.
fn read_one_line_and_close(pipe: impl std::io::Read) -> String {
    let mut line = String::new();
    BufReader::new(pipe).read_line(&mut line).unwrap();
    line
}

// Case 2: a reader that goes away ends neither the sweep nor the dry run with a panic.
#[test]
fn a_closed_pipe_kills_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), TINY);
    let mut child = command(&[&exp, "-j2", "--out", "res"], dir.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let first = read_one_line_and_close(child.stderr.take().unwrap());
    assert!(first.contains("tiny"), "{first}");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        summary(&dir.path().join("res")).matches(",done,").count(),
        4
    );

    let mut child = command(&["--dry-run", "--set", "sweep.seed=[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40]", "--set", "sweep.learning_rate=[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.0]", "--set", "sweep.noise_level=[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.0]", &exp], dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let first = read_one_line_and_close(child.stdout.take().unwrap());
    assert!(first.starts_with("tiny ("), "{first}");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("panicked"),
        "{}",
        text(&out.stderr)
    );
}

// Case 3: a trillion epochs is a long run, not an abort; a layer too wide for the
// machine is refused before anything is loaded or written.
#[test]
fn huge_values_never_abort() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), TINY);
    // An absurd budget is refused at once, not trained for ever (tests/robust.rs).
    let out = bare(
        &[&exp, "--out", "res", "--set", "train.epochs=1000000000000"],
        dir.path(),
    );
    assert_exit_2(&out, &["train.epochs", "at most 100000"]);

    let out = bare(
        &[
            &exp,
            "--out",
            "wide",
            "--set",
            "sweep.hidden=[[32], [100000000]]",
            "--data-dir",
            "/nonexistent",
        ],
        dir.path(),
    );
    assert_exit_2(
        &out,
        &[
            "h100000000_seed1",
            "`train.hidden` = [100000000]",
            "needs about",
            "nothing was run",
        ],
    );
    assert!(!dir.path().join("wide").exists(), "nothing written");
}

// Case 4: workers never outnumber the runs; a thread that cannot start is an error.
#[test]
fn jobs_are_capped_and_thread_failures_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), TINY);
    let out = runner(
        &[
            &exp,
            "--out",
            "res",
            "-j",
            "18446744073709551615",
            "--filter",
            "h32_seed1",
        ],
        dir.path(),
    );
    let stderr = ok(&out);
    assert!(
        stderr.contains("1 to do, 0 already complete, 1 at a time"),
        "{stderr}"
    );
    let out = runner(&[&exp, "--out", "res", "-j", "0"], dir.path());
    assert_exit_2(&out, &["at least 1"]);

    // A stack larger than any address space: no thread can start.
    let out = command(&[&exp, "--out", "nothreads", "-j", "2"], dir.path())
        .env("RUST_MIN_STACK", "140737488355328")
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot start a worker thread"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

// Case 6: a failed run's folder does not block the corrected config.
#[test]
fn a_failed_run_does_not_block_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), TINY);
    let args = [&exp[..], "-q", "--out", "res", "--filter", "h32_seed1"];
    let out = runner(
        &[&args[..], &["--set", "train.learning_rate=1e38"]].concat(),
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("diverged"));
    ok(&runner(
        &[&args[..], &["--set", "train.learning_rate=0.01"]].concat(),
        dir.path(),
    ));
    let summary = summary(&dir.path().join("res"));
    assert!(
        summary_row(&summary, "h32_seed1").contains(",done,"),
        "{summary}"
    );
}

// Case 7: what validation can know it says before loading data; a folder that cannot
// be created is a failed run that says why.
#[test]
fn validation_errors_come_before_data_and_folders_that_cannot_exist_fail() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), TINY);
    let nodata = ["--data-dir", "/nonexistent", "--out", "res"];
    let out = bare(
        &[&[&exp[..], "--set", "train.batch_size=1000"][..], &nodata].concat(),
        dir.path(),
    );
    assert_exit_2(
        &out,
        &["`train.batch_size` is 1000", "500 training examples"],
    );
    let long = format!("name={}", "n".repeat(300));
    let out = bare(
        &[&[&exp[..], "--set", &long][..], &nodata].concat(),
        dir.path(),
    );
    assert_exit_2(&out, &["`name` is 300 bytes", "255"]);
    let widths = (1..=100)
        .map(|w| w.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let hidden = format!("sweep.hidden=[[{widths}]]");
    let out = bare(
        &[&[&exp[..], "--set", &hidden][..], &nodata].concat(),
        dir.path(),
    );
    assert_exit_2(&out, &["`sweep.hidden`", "bytes long", "255"]);
    assert!(!dir.path().join("res").exists());

    // A file where a run's folder should be.
    std::fs::create_dir_all(dir.path().join("res/tiny")).unwrap();
    std::fs::write(dir.path().join("res/tiny/h32_seed1"), "in the way").unwrap();
    let out = runner(
        &[&exp, "--out", "res", "-q", "--filter", "h32_seed"],
        dir.path(),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("tiny/h32_seed1: cannot create"), "{stderr}");
    assert!(stderr.contains("no error.txt"), "{stderr}");
    let summary = summary(&dir.path().join("res"));
    let row = summary_row(&summary, "h32_seed1");
    assert!(
        row.contains(",failed,") && row.contains("cannot create"),
        "{row}"
    );
    assert!(
        summary_row(&summary, "h32_seed2").contains(",done,"),
        "{summary}"
    );
}

// Case 8: a damaged config.toml is named as such.
#[test]
fn a_damaged_config_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), TINY);
    let args = [&exp[..], "-q", "--out", "res", "--filter", "h32_seed1"];
    ok(&runner(&args, dir.path()));
    std::fs::write(
        dir.path().join("res/tiny/h32_seed1/config.toml"),
        "garbage [[[",
    )
    .unwrap();
    let out = runner(&args, dir.path());
    assert_exit_2(
        &out,
        &[
            "h32_seed1: results with a config.toml that does not parse",
            "--force",
        ],
    );
}

// Cases 9 and 10: flags are checked, and --set is blamed for what it wrote.
#[test]
fn bad_flags_exit_2_and_name_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), TINY);
    let out = runner(&[&exp, "--dry-run", "--set", "unknown.key=1"], dir.path());
    assert_exit_2(&out, &["(--set unknown.key=1)"]);
    let out = runner(
        &[&exp, "--dry-run", "--set", "sweep.zip.0.seed=[1]"],
        dir.path(),
    );
    assert_exit_2(&out, &["--set sweep.zip.0.seed=[1]", "[[sweep.zip]]"]);
    for bad in ["-1", "nan", "inf"] {
        let out = runner(
            &[&exp, "--verify", &format!("--tolerance={bad}")],
            dir.path(),
        );
        assert_exit_2(&out, &["--tolerance"]);
    }
    let out = runner(&[&exp, "--dry-run", "--device", "tpu"], dir.path());
    assert_exit_2(&out, &["--device tpu"]);
    assert!(out.stdout.is_empty());
}

// Case 11: --out and --data-dir naming files, and a folder or a link loop in place of a
// data file, are named for what they are.
#[test]
fn files_where_folders_belong_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), TINY);
    std::fs::write(dir.path().join("afile"), "x").unwrap();
    let out = command(&[&exp, "--out", "afile"], dir.path())
        .env("RUNNER_PIP", "off")
        .output()
        .unwrap();
    assert_exit_2(&out, &["--out afile: is a file, not a folder"]);
    assert!(!text(&out.stderr).contains("mnist"), "no data was loaded");

    let out = common::command_without_data_dir(
        &[&exp, "--out", "res", "--data-dir", "afile"],
        dir.path(),
    )
    .env("RUNNER_PIP", "off")
    .output()
    .unwrap();
    assert_exit_2(&out, &["data folder afile", "is a file, not a folder"]);

    let data = dir.path().join("data/mnist");
    std::fs::create_dir_all(data.join("train-images-idx3-ubyte")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(
        "t10k-images-idx3-ubyte",
        data.join("t10k-images-idx3-ubyte"),
    )
    .unwrap();
    let out =
        common::command_without_data_dir(&[&exp, "--out", "res", "--data-dir", "data"], dir.path())
            .env("RUNNER_PIP", "off")
            .env("RUNNER_DATA_MIRRORS", "http://127.0.0.1:9/")
            .output()
            .unwrap();
    let mut expected = vec!["train-images-idx3-ubyte is a folder, not a data file"];
    if cfg!(unix) {
        expected.push("t10k-images-idx3-ubyte is a symbolic link that cannot be followed");
    }
    assert_exit_2(&out, &expected);
}

// Case 12: an interrupted --verify says what happened; --verify does not train runs it
// cannot compare; control characters from a config are not printed raw.
#[test]
fn verify_is_honest_and_messages_are_printable() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), TINY);
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let out = runner(&[&exp, "--verify", "--out", "empty"], dir.path());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        !stderr.contains("started"),
        "trained runs with nothing to compare: {stderr}"
    );
    assert_eq!(
        text(&out.stdout).matches("MISSING").count(),
        4,
        "{}",
        text(&out.stdout)
    );

    let smoke = repo().join("experiments/smoke.toml");
    copy_dir(
        &repo().join("results/smoke"),
        &dir.path().join("results/smoke"),
    );
    let mut child = spawn(&["--verify", smoke.to_str().unwrap(), "-j1"], dir.path());
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    assert!(lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.ends_with(": started")));
    // SAFETY: signalling a child process that we started and have not reaped.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    let rest = rest.join("\n");
    assert_eq!(status.code(), Some(130), "{rest}");
    assert!(rest.contains("--verify stopped before comparing"), "{rest}");
    assert!(!rest.contains("to resume"), "{rest}");

    let out = runner(
        &[&exp, "--dry-run", "--set", "data.dataset=\"\u{1b}[31mred\""],
        dir.path(),
    );
    assert_exit_2(&out, &["\\u{1b}[31mred"]);
    assert!(
        !out.stderr.contains(&0x1b),
        "a raw escape reached the terminal"
    );
}

// Case 13: an edited cost or a deleted picture is not "done": those runs train again.
#[test]
fn damaged_results_are_trained_again() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), TINY);
    ok(&runner(&[&exp, "-q", "--out", "res"], dir.path()));
    let root = dir.path().join("res/tiny");
    let metrics = root.join("h32_seed1/metrics.csv");
    let edited: Vec<String> = std::fs::read_to_string(&metrics)
        .unwrap()
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let mut fields: Vec<&str> = line.split(',').collect();
            if i == 1 {
                fields[1] = "NaN";
            }
            fields.join(",")
        })
        .collect();
    std::fs::write(&metrics, edited.join("\n") + "\n").unwrap();
    std::fs::remove_file(root.join("h32_seed2/reconstruction.png")).unwrap();
    let out = runner(&[&exp, "-j1", "--out", "res"], dir.path());
    let stderr = ok(&out);
    assert!(
        stderr.contains("h32_seed1: metrics.csv row 2 holds a cost that is not a finite number"),
        "{stderr}"
    );
    assert!(
        stderr.contains("h32_seed2: reconstruction.png is missing"),
        "{stderr}"
    );
    assert!(stderr.contains("2 completed, 2 skipped"), "{stderr}");
    assert!(root.join("h32_seed2/reconstruction.png").is_file());
}

// A newcomer's first command on committed results says what it did and what to do.
#[test]
fn committed_results_are_explained_not_silently_skipped() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &repo().join("results/smoke"),
        &dir.path().join("results/smoke"),
    );
    let smoke: PathBuf = repo().join("experiments/smoke.toml");
    let out = runner(&[smoke.to_str().unwrap()], dir.path());
    let stderr = ok(&out);
    for f in [
        "nothing to train",
        "committed reference results",
        "--force",
        "--out DIR",
        "--verify",
    ] {
        assert!(stderr.contains(f), "{f:?} not in {stderr}");
    }
}
