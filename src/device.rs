//! Where runs compute: the CPU, or CUDA GPUs (one pack of runs per GPU at a time).

use crate::error::input_error;

/// What `--device` asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceSpec {
    Cpu,
    /// `cuda` (every visible GPU) or `cuda:0,2` (those ordinals).
    Cuda(Option<Vec<usize>>),
}

/// The device one worker computes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    Cpu,
    Cuda(usize),
}

impl Slot {
    /// As recorded in `summary.csv`.
    pub fn label(self) -> String {
        match self {
            Slot::Cpu => "cpu".to_string(),
            Slot::Cuda(i) => format!("cuda:{i}"),
        }
    }
}

/// Parses `cpu`, `cuda` or `cuda:0,2`.
pub fn parse(arg: &str) -> anyhow::Result<DeviceSpec> {
    let usage = || {
        input_error(format!(
            "--device {arg}: expected cpu, cuda (every visible GPU) or cuda:LIST (e.g. cuda:0,2)"
        ))
    };
    match arg.trim() {
        "cpu" => Ok(DeviceSpec::Cpu),
        "cuda" => Ok(DeviceSpec::Cuda(None)),
        other => {
            let list = other.strip_prefix("cuda:").ok_or_else(usage)?;
            let mut ordinals = list
                .split(',')
                .map(|s| s.trim().parse::<usize>().map_err(|_| usage()))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let n = ordinals.len();
            ordinals.sort_unstable();
            ordinals.dedup();
            if ordinals.len() != n {
                return Err(input_error(format!(
                    "--device {arg}: a GPU is listed twice"
                )));
            }
            Ok(DeviceSpec::Cuda(Some(ordinals)))
        }
    }
}

/// Refuses a device this build cannot use, without opening any (for `--dry-run`, which
/// may plan a GPU job on a machine without a GPU, but not with a binary without CUDA).
pub fn check_build(spec: &DeviceSpec) -> anyhow::Result<()> {
    match spec {
        DeviceSpec::Cuda(_) if !cfg!(feature = "cuda") => Err(input_error(NO_CUDA)),
        _ => Ok(()),
    }
}

const NO_CUDA: &str = "--device cuda: this runner was built without CUDA; build it with `cargo build --release --features cuda` (needs the CUDA toolkit and nvidia-smi; see docs/gpu.md)";

/// The devices workers take runs to: one slot for the CPU (every worker shares it), or
/// one per GPU.
pub fn slots(spec: &DeviceSpec) -> anyhow::Result<Vec<Slot>> {
    match spec {
        DeviceSpec::Cpu => Ok(vec![Slot::Cpu]),
        DeviceSpec::Cuda(wanted) => cuda_slots(wanted.as_deref()),
    }
}

#[cfg(not(feature = "cuda"))]
fn cuda_slots(_wanted: Option<&[usize]>) -> anyhow::Result<Vec<Slot>> {
    Err(input_error(NO_CUDA))
}

#[cfg(feature = "cuda")]
fn cuda_slots(wanted: Option<&[usize]>) -> anyhow::Result<Vec<Slot>> {
    use cudarc::driver::result;
    fix_cublas_workspace();
    let count = result::init()
        .and_then(|_| result::device::get_count())
        .map_err(|e| {
            input_error(format!(
                "--device cuda: cannot talk to the NVIDIA driver ({e:?}); is a GPU and its driver installed? `nvidia-smi` should list it"
            ))
        })? as usize;
    if count == 0 {
        return Err(input_error("--device cuda: the driver sees no GPU"));
    }
    match wanted {
        None => Ok((0..count).map(Slot::Cuda).collect()),
        Some(list) => {
            if let Some(bad) = list.iter().find(|&&i| i >= count) {
                return Err(input_error(format!(
                    "--device cuda:{bad}: only {count} GPU(s) visible (ordinals 0 to {})",
                    count - 1
                )));
            }
            Ok(list.iter().copied().map(Slot::Cuda).collect())
        }
    }
}

/// What cuBLAS needs to give the same bits on every launch. cuBLAS is reproducible on
/// one GPU model only while a single stream uses a handle; dfdx 0.13 computes a
/// product's two gradients on two streams of one handle, and cuBLAS may then pick its
/// internal workspace differently from launch to launch. A fixed workspace configuration
/// makes it deterministic even so (cuBLAS documentation, "Results reproducibility").
/// Set before the first handle exists; a value the user set is kept.
pub const CUBLAS_WORKSPACE: (&str, &str) = ("CUBLAS_WORKSPACE_CONFIG", ":4096:8");

#[cfg(feature = "cuda")]
fn fix_cublas_workspace() {
    let (key, value) = CUBLAS_WORKSPACE;
    if std::env::var_os(key).is_none() {
        std::env::set_var(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::exit_code;

    #[test]
    fn parses_device_arguments() {
        assert_eq!(parse("cpu").unwrap(), DeviceSpec::Cpu);
        assert_eq!(parse("cuda").unwrap(), DeviceSpec::Cuda(None));
        assert_eq!(
            parse("cuda:2,0").unwrap(),
            DeviceSpec::Cuda(Some(vec![0, 2]))
        );
        for bad in ["gpu", "cuda:", "cuda:x", "cuda:1,1"] {
            assert_eq!(exit_code(&parse(bad).unwrap_err()), 2, "{bad}");
        }
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn without_the_feature_cuda_says_how_to_build_it() {
        let err = slots(&DeviceSpec::Cuda(None)).unwrap_err();
        assert_eq!(exit_code(&err), 2);
        assert!(format!("{err}").contains("--features cuda"));
    }
}
