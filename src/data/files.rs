//! Reading candidate files, checking them against their pins, and writing good ones into
//! the data folder.
//!
//! Every source hands over bytes in memory and only verified bytes are written, through
//! a temporary file renamed into place, so a fetch that dies midway leaves nothing that
//! looks like a complete data file.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};

use crate::data::specs::FileSpec;

/// Verified bytes from a source, and the file they are in when the source is a folder.
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub in_place: Option<PathBuf>,
}

/// One file's outcome from one source: its bytes, or what went wrong.
pub type Outcome = Result<Fetched, String>;

/// The first two bytes of every gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Lower-case hex sha256, the form the pins are written in.
pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Checks size, then checksum; the error says what is wrong, for the caller to prefix
/// with where the bytes came from.
pub fn verify(spec: &FileSpec, bytes: &[u8]) -> Result<(), String> {
    let size = bytes.len() as u64;
    if size > spec.size {
        return Err(format!(
            "has the wrong size: more than the expected {} bytes",
            spec.size
        ));
    }
    if size < spec.size {
        return Err(format!(
            "is truncated or the wrong file: {size} bytes, expected {}",
            spec.size
        ));
    }
    let actual = sha256_hex(bytes);
    if actual != spec.sha256 {
        return Err(format!(
            "checksum mismatch: expected sha256 {}, actual {actual}",
            spec.sha256
        ));
    }
    Ok(())
}

/// Reads everything from `input`, gunzipping it if it starts like gzip, stopping one byte
/// past `limit` so that a wrong or hostile file cannot fill memory.
pub fn read_maybe_gzip(mut input: impl Read, limit: u64) -> io::Result<Vec<u8>> {
    let mut head = [0u8; 2];
    let got = read_up_to(&mut input, &mut head)?;
    let whole = io::Cursor::new(head[..got].to_vec()).chain(input);
    let mut out = Vec::with_capacity(limit.min(1 << 27) as usize);
    if head[..got] == GZIP_MAGIC {
        GzDecoder::new(whole)
            .take(limit + 1)
            .read_to_end(&mut out)?;
    } else {
        whole.take(limit + 1).read_to_end(&mut out)?;
    }
    Ok(out)
}

fn read_up_to(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

/// Reads a file on disk and checks it against `spec`.
pub fn read_verified(spec: &FileSpec, path: &Path) -> Result<Vec<u8>, String> {
    let file = fs::File::open(path).map_err(|e| format!("cannot be read: {e}"))?;
    let bytes = read_maybe_gzip(io::BufReader::new(file), spec.size)
        .map_err(|e| format!("cannot be read or unpacked: {e}"))?;
    verify(spec, &bytes)?;
    Ok(bytes)
}

/// What a search of some folders found for one file.
#[derive(Default)]
pub struct Lookup {
    /// The first candidate that matched its pin, with its bytes.
    pub good: Option<(PathBuf, Vec<u8>)>,
    /// Candidates that exist but do not match, with what is wrong.
    pub bad: Vec<(PathBuf, String)>,
}

/// Looks for `spec` under any of its names in `dirs`, in order, stopping at a good one.
pub fn find_in(dirs: &[PathBuf], spec: &FileSpec) -> Lookup {
    let mut lookup = Lookup::default();
    for dir in dirs {
        for name in spec.candidate_names() {
            let path = dir.join(name);
            if let Some(problem) = not_a_file(&path) {
                lookup.bad.push((path, problem));
                continue;
            }
            if !path.is_file() {
                continue;
            }
            match read_verified(spec, &path) {
                Ok(bytes) => {
                    lookup.good = Some((path, bytes));
                    return lookup;
                }
                Err(problem) => lookup.bad.push((path, problem)),
            }
        }
    }
    lookup
}

/// Why something under a data file's name is not a file to read (a folder, a link to
/// nothing, a loop of links), or `None` when it is a file or nothing is there.
fn not_a_file(path: &Path) -> Option<String> {
    let link = fs::symlink_metadata(path).ok()?;
    match fs::metadata(path) {
        Ok(m) if m.is_file() => None,
        Ok(m) if m.is_dir() => Some("is a folder, not a data file".to_string()),
        Ok(_) => Some("is not a regular file".to_string()),
        Err(e) if link.file_type().is_symlink() => {
            Some(format!("is a symbolic link that cannot be followed: {e}"))
        }
        Err(e) => Some(format!("cannot be read: {e}")),
    }
}

/// Writes `bytes` to `dir/name` so that the name appears only once the content is complete.
pub fn store_atomically(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<PathBuf> {
    fs::create_dir_all(dir)?;
    let (mut tmp, _recorded) = crate::report::atomic::temporary(
        tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".part"),
        dir,
    )?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    let path = dir.join(name);
    tmp.persist(&path).map_err(|e| e.error)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{write::GzEncoder, Compression};

    fn spec_for(bytes: &[u8]) -> FileSpec {
        FileSpec::new("f-idx1-ubyte", &sha256_hex(bytes), bytes.len() as u64)
    }

    pub fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn verify_reports_size_then_checksum() {
        let spec = spec_for(b"hello");
        assert!(verify(&spec, b"hello").is_ok());
        assert!(verify(&spec, b"hell").unwrap_err().contains("truncated"));
        assert!(verify(&spec, b"hello!").unwrap_err().contains("wrong size"));
        let m = verify(&spec, b"jello").unwrap_err();
        assert!(
            m.contains(&format!("expected sha256 {}", spec.sha256)),
            "{m}"
        );
        assert!(
            m.contains(&format!("actual {}", sha256_hex(b"jello"))),
            "{m}"
        );
    }

    #[test]
    fn gzip_is_detected_by_content_and_capped() {
        let data = vec![7u8; 1000];
        assert_eq!(read_maybe_gzip(&gzip(&data)[..], 1000).unwrap(), data);
        assert_eq!(read_maybe_gzip(&data[..], 1000).unwrap(), data);
        assert_eq!(read_maybe_gzip(&gzip(&data)[..], 10).unwrap().len(), 11);
        assert_eq!(read_maybe_gzip(&b"x"[..], 10).unwrap(), b"x");
    }

    #[test]
    fn finds_either_spelling_and_reports_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec_for(b"payload");
        fs::write(dir.path().join("f-idx1-ubyte"), b"garbage").unwrap();
        fs::write(dir.path().join("f.idx1-ubyte.gz"), gzip(b"payload")).unwrap();
        let found = find_in(&[dir.path().to_path_buf()], &spec);
        let (path, bytes) = found.good.unwrap();
        assert!(path.ends_with("f.idx1-ubyte.gz"));
        assert_eq!(bytes, b"payload");
        assert_eq!(found.bad.len(), 1);
        assert!(found.bad[0].1.contains("checksum mismatch"));
    }

    #[cfg(unix)]
    #[test]
    fn folders_and_link_loops_are_named_not_missing() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec_for(b"payload");
        fs::create_dir(dir.path().join("f-idx1-ubyte")).unwrap();
        std::os::unix::fs::symlink("f.idx1-ubyte", dir.path().join("f.idx1-ubyte")).unwrap();
        let found = find_in(&[dir.path().to_path_buf()], &spec);
        assert!(found.good.is_none());
        let problems: Vec<&str> = found.bad.iter().map(|(_, p)| p.as_str()).collect();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("is a folder"), "{problems:?}");
        assert!(problems[1].contains("symbolic link"), "{problems:?}");
    }

    #[test]
    fn store_leaves_only_the_final_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sub");
        let path = store_atomically(&target, "f", b"abc").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"abc");
        let names: Vec<_> = fs::read_dir(&target)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["f"]);
    }
}
