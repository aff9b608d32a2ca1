//! Writing result files so that a reader never sees half of one.
//!
//! The scheduler takes a present `metrics.csv` as "run complete", and a killed process
//! must not leave a truncated file behind that looks finished.

use std::cell::Cell;
use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use tempfile::NamedTempFile;

use crate::error::input_error;

thread_local! {
    /// Set inside [`unsynced`]: writes are still atomic but not flushed to disk.
    static UNSYNCED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with this thread's [`write_atomic`]s renamed into place without syncing them
/// to disk: for files that are rewritten again soon and rebuilt at the end anyway (the
/// summary during a sweep), where a sync per rewrite (milliseconds each) would be most
/// of their cost and a crash loses nothing that is not rebuilt.
pub fn unsynced<T>(f: impl FnOnce() -> T) -> T {
    let before = UNSYNCED.with(|u| u.replace(true));
    let result = f();
    UNSYNCED.with(|u| u.set(before));
    result
}

/// Temporary files and folders that exist right now, so that quitting at once (a second
/// Ctrl-C or SIGTERM) can remove them instead of leaving `.summary.csv.*.tmp` files or
/// `--verify`'s scratch folder behind for good.
static PENDING: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

fn pending() -> std::sync::MutexGuard<'static, Option<HashSet<PathBuf>>> {
    PENDING.lock().unwrap_or_else(|p| p.into_inner())
}

/// Creates a temporary file in `dir` and records it until the returned guard is dropped
/// (after the file was renamed into place or deleted). Creating and recording happen
/// under one lock, so [`exit_removing_temporaries`] never misses a file.
pub fn temporary(
    builder: &tempfile::Builder,
    dir: &Path,
) -> std::io::Result<(NamedTempFile, Recorded)> {
    let mut set = pending();
    let tmp = builder.tempfile_in(dir)?;
    let path = tmp.path().to_path_buf();
    set.get_or_insert_with(HashSet::new).insert(path.clone());
    Ok((tmp, Recorded(path)))
}

/// A temporary folder (`--verify` trains into one), recorded like [`temporary`] files
/// until it is removed: the fields drop in order, the folder first.
pub struct TemporaryDir {
    pub dir: tempfile::TempDir,
    _recorded: Recorded,
}

/// Creates a [`TemporaryDir`] in the system's temporary folder.
pub fn temporary_dir(prefix: &str) -> std::io::Result<TemporaryDir> {
    let mut set = pending();
    let dir = tempfile::Builder::new().prefix(prefix).tempdir()?;
    let path = dir.path().to_path_buf();
    set.get_or_insert_with(HashSet::new).insert(path.clone());
    Ok(TemporaryDir {
        dir,
        _recorded: Recorded(path),
    })
}

/// Keeps a temporary file or folder on the list while it lives.
pub struct Recorded(PathBuf);

impl Drop for Recorded {
    fn drop(&mut self) {
        if let Some(set) = pending().as_mut() {
            set.remove(&self.0);
        }
    }
}

/// Removes the temporary files being written and exits: holding the list's lock until
/// the end, so no new one appears meanwhile.
pub fn exit_removing_temporaries(code: i32) -> ! {
    let _set = remove_temporaries(None);
    std::process::exit(code)
}

/// Removes the listed temporary files (those under `root`, if given); the returned lock
/// keeps new ones from appearing.
fn remove_temporaries(
    root: Option<&Path>,
) -> std::sync::MutexGuard<'static, Option<HashSet<PathBuf>>> {
    let set = pending();
    let chosen = |p: &&PathBuf| root.is_none_or(|r| p.starts_with(r));
    for path in set.iter().flatten().filter(chosen) {
        match fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => {
                let _ = fs::remove_dir_all(path);
            }
            _ => {
                let _ = fs::remove_file(path);
            }
        }
    }
    set
}

/// Writes `bytes` to `path` through a temporary file in the same folder, synced to disk
/// and then renamed over `path`; the folder must exist. A link at `path` is refused: it
/// was planted (runner writes none), and replacing it would hide that.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(link_error(path));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("{} has no file name", path.display()))?;
    let (mut tmp, _recorded) = temporary(
        tempfile::Builder::new()
            .prefix(&format!(".{}.", name.to_string_lossy()))
            .suffix(".tmp"),
        dir,
    )
    .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    // Temporary files are created private (0600); results are for everyone to read.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o644))
            .with_context(|| format!("setting permissions of {}", tmp.path().display()))?;
    }
    let sync = !UNSYNCED.with(Cell::get);
    tmp.write_all(bytes)
        .and_then(|()| {
            if sync {
                tmp.as_file().sync_all()
            } else {
                Ok(())
            }
        })
        .with_context(|| format!("writing {}", tmp.path().display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("renaming a temporary file to {}", path.display()))?;
    // Makes the rename itself durable; not every platform can open a folder for this.
    #[cfg(unix)]
    if sync {
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// The error for a link found where runner writes.
pub fn link_error(path: &Path) -> anyhow::Error {
    input_error(format!(
        "{} is a symbolic link: runner never writes through links under its results folder, so that nothing outside it is touched; remove the link (or give --out a folder of your own)",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(!pending()
            .iter()
            .flatten()
            .any(|p| p.starts_with(dir.path())));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o644);
        }
    }

    #[test]
    fn temporaries_are_listed_while_they_live() {
        let dir = tempfile::tempdir().unwrap();
        let (tmp, recorded) = temporary(&tempfile::Builder::new(), dir.path()).unwrap();
        assert!(pending().iter().flatten().any(|p| p == tmp.path()));
        drop(recorded);
        assert!(!pending().iter().flatten().any(|p| p == tmp.path()));
    }

    #[test]
    fn unsynced_writes_are_still_atomic_and_the_setting_ends_with_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.csv");
        unsynced(|| {
            assert!(UNSYNCED.with(Cell::get));
            write_atomic(&path, b"rows").unwrap();
        });
        assert!(!UNSYNCED.with(Cell::get));
        assert_eq!(fs::read(&path).unwrap(), b"rows");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    // Issue 15, case 12: quitting at once leaves no temporary file behind.
    #[test]
    fn quitting_removes_the_temporaries_being_written() {
        let dir = tempfile::tempdir().unwrap();
        let (tmp, _recorded) = temporary(&tempfile::Builder::new(), dir.path()).unwrap();
        let path = tmp.path().to_path_buf();
        // As if the process ended here: destructors would not run.
        std::mem::forget(tmp);
        assert!(path.exists());
        drop(remove_temporaries(Some(dir.path())));
        assert!(!path.exists());
    }
}
