//! One writer per run folder, across threads, processes and machines.
//!
//! Each run folder has a lock file, `.lock`, held (an advisory `flock` through the
//! `fd-lock` crate) for as long as a process prepares, trains and writes that run. Shards
//! and other processes training other runs of the same experiment never wait for each
//! other; a second process that reaches a run someone else is training either finds that
//! the other writes a different config there (a conflict, refused) or waits and then finds
//! the run complete. The lock file is never deleted: deleting a lock file that another
//! process has open would let two processes hold "the" lock on two different files.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use fd_lock::RwLock;

use crate::layout::LOCK;

/// A run folder's lock, open but not necessarily held.
pub struct RunLock {
    path: PathBuf,
    file: RwLock<File>,
}

/// Whether [`RunLock::try_hold`] got the lock.
pub enum Attempt<'a> {
    Held(fd_lock::RwLockWriteGuard<'a, File>),
    /// Another process (or another open file in this one) holds it; the text says who,
    /// as the holder wrote it.
    Busy(String),
}

impl RunLock {
    /// Opens (creating) the lock file of the run folder `dir`, which must exist. It is
    /// opened for writing: NFS emulates `flock` with byte-range locks, and an exclusive
    /// one needs a file open for writing. A link planted at it is refused, not followed
    /// (`O_NOFOLLOW`): the holder's name is written into the file.
    pub fn open(dir: &Path) -> anyhow::Result<RunLock> {
        let path = dir.join(LOCK);
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        let file = crate::layout::open_no_follow(&mut options, &path).map_err(|e| {
            if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
                crate::layout::link_error(&path)
            } else {
                anyhow::anyhow!("cannot open the lock file {}: {e}", path.display())
            }
        })?;
        Ok(RunLock {
            path,
            file: RwLock::new(file),
        })
    }

    /// Takes the lock if it is free, without waiting.
    pub fn try_hold(&mut self) -> anyhow::Result<Attempt<'_>> {
        let path = self.path.clone();
        match self.file.try_write() {
            Ok(mut guard) => {
                // Who holds it, for the message another process shows; best effort.
                let _ = guard.set_len(0);
                let _ = guard.write_all(holder().as_bytes());
                Ok(Attempt::Held(guard))
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(Attempt::Busy(
                std::fs::read_to_string(&path)
                    .ok()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "another process".to_string()),
            )),
            Err(e) => Err(anyhow::anyhow!(
                "cannot lock {}: {e}; the filesystem may not support file locks (see docs/reliability.md, \"Several processes on one results folder\")",
                path.display()
            )),
        }
    }
}

/// `pid N on HOST`, as far as this platform tells.
fn holder() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty());
    match host {
        Some(h) => format!("pid {} on {h}\n", std::process::id()),
        None => format!("pid {}\n", std::process::id()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = RunLock::open(dir.path()).unwrap();
        let mut second = RunLock::open(dir.path()).unwrap();
        let Attempt::Held(guard) = first.try_hold().unwrap() else {
            panic!("a free lock is taken")
        };
        match second.try_hold().unwrap() {
            Attempt::Busy(who) => assert!(who.contains(&format!("pid {}", std::process::id()))),
            Attempt::Held(_) => panic!("two holders of one run folder"),
        }
        drop(guard);
        assert!(matches!(second.try_hold().unwrap(), Attempt::Held(_)));
    }
}
