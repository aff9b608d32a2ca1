//! The cluster examples the README points to are well-formed.

use std::path::Path;
use std::process::Command;

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[test]
fn slurm_script_is_valid_bash() {
    let status = Command::new("bash")
        .arg("-n")
        .arg(repo("examples/slurm/depth_sweep.sbatch"))
        .status()
        .expect("bash runs");
    assert!(status.success());
}

#[test]
fn kubernetes_manifests_parse_as_indexed_jobs() {
    for file in [
        "examples/kubernetes/depth_sweep.yaml",
        "examples/kubernetes/depth_sweep_summary.yaml",
    ] {
        let text = std::fs::read_to_string(repo(file)).expect("manifest exists");
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value = <serde_yaml::Value as serde::Deserialize>::deserialize(doc).expect(file);
            assert_eq!(value["kind"], "Job", "{file}");
        }
    }
    let text = std::fs::read_to_string(repo("examples/kubernetes/depth_sweep.yaml")).unwrap();
    let job: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    let completions = job["spec"]["completions"].as_u64().unwrap().to_string();
    let env = &job["spec"]["template"]["spec"]["containers"][0]["env"];
    let count = env
        .as_sequence()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "RUNNER_SHARD_COUNT")
        .expect("RUNNER_SHARD_COUNT set");
    assert_eq!(count["value"].as_str(), Some(completions.as_str()));
}
