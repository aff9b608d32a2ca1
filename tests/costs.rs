//! The costs a run reports, through the binary: the clean test cost in every file, and
//! the warning when a sweep's test costs follow their runs' noise levels.

mod common;

use common::{ok, runner, text};

const NOISY: &str = r#"
name = "noisy"
[data]
train_examples = 300
[train]
epochs = 2
batch_size = 50
hidden = [16]
[sweep]
noise_level = [0.2, 0.8]
seed = [1, 2]
"#;

#[test]
fn a_sweep_over_noise_is_warned_about_unless_the_evaluation_noise_is_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("noisy.toml");
    std::fs::write(&exp, NOISY).unwrap();
    let exp = exp.to_str().unwrap();
    let stderr = ok(&runner(&[exp, "--out", "own"], dir.path()));
    assert!(stderr.contains("test_cost_clean"), "{stderr}");
    let md = std::fs::read_to_string(dir.path().join("own/noisy/stats.md")).unwrap();
    assert!(md.contains("**Warning:** noise_level differs"), "{md}");
    assert!(
        md.contains("eval_noise_level") && md.contains("test_cost_clean"),
        "{md}"
    );
    assert!(md.contains("test (clean): mean"), "{md}");
    let comparisons =
        std::fs::read_to_string(dir.path().join("own/noisy/comparisons.csv")).unwrap();
    assert!(comparisons
        .lines()
        .next()
        .unwrap()
        .contains("final_test_cost_clean_p"));

    let out = runner(
        &[exp, "--out", "fixed", "--set", "train.eval_noise_level=0.5"],
        dir.path(),
    );
    let stderr = ok(&out);
    assert!(
        !stderr.contains("noise_level differs"),
        "{}",
        text(&out.stderr)
    );
    let md = std::fs::read_to_string(dir.path().join("fixed/noisy/stats.md")).unwrap();
    assert!(!md.contains("Warning"), "{md}");
    // Same runs, same training: the clean cost and the train cost do not depend on how
    // the test cost is measured, the test cost does.
    for id in ["noise0.2_seed1", "noise0.8_seed2"] {
        let read = |out: &str| {
            runner::report::metrics::read(
                &dir.path()
                    .join(out)
                    .join("noisy")
                    .join(id)
                    .join("metrics.csv"),
            )
            .unwrap()
        };
        let (own, fixed) = (read("own"), read("fixed"));
        for (a, b) in own.iter().zip(&fixed) {
            assert_eq!(a.train_cost.to_bits(), b.train_cost.to_bits(), "{id}");
            assert_eq!(
                a.test_cost_clean.to_bits(),
                b.test_cost_clean.to_bits(),
                "{id}"
            );
            assert_ne!(a.test_cost.to_bits(), b.test_cost.to_bits(), "{id}");
            assert!(b.test_cost_clean.is_finite() && b.test_cost_clean > 0.0);
        }
    }
    let summary = std::fs::read_to_string(dir.path().join("fixed/noisy/summary.csv")).unwrap();
    let header: Vec<&str> = summary.lines().next().unwrap().split(',').collect();
    let col = header
        .iter()
        .position(|h| *h == "eval_noise_level")
        .unwrap();
    for line in summary.lines().skip(1) {
        assert_eq!(line.split(',').nth(col), Some("0.5"), "{summary}");
    }
}
