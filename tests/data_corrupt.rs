//! Each kind of corrupt file stops with exit code 2 and a message naming the file.

mod data_support;

use std::path::Path;

use data_support::*;
use runner::data::load_plan;
use runner::data::sources::sha256_hex;
use runner::error::exit_code;

/// Loads `files` from a local folder with pins computed from `pinned`; returns the
/// error message, checking it exits 2.
fn load_error(root: &Path, files: &[(String, Vec<u8>)], pinned: &[(String, Vec<u8>)]) -> String {
    write_all(&root.join("mnist"), files);
    let err = load_plan(&plan(root, pins(pinned), vec![])).expect_err("load must fail");
    assert_eq!(exit_code(&err), 2, "{err}");
    err.to_string()
}

#[test]
fn truncated_file_against_real_pins_is_named_with_sizes() {
    let root = tempfile::tempdir().unwrap();
    let good = tiny_files();
    let mut files = good.clone();
    files[0].1.truncate(100);
    let msg = load_error(root.path(), &files, &good);
    let path = root.path().join("mnist/train-images-idx3-ubyte");
    let expected = format!(
        "{} is truncated or the wrong file: 100 bytes, expected {}",
        path.display(),
        good[0].1.len()
    );
    assert!(msg.contains(&expected), "{msg}");
}

#[test]
fn truncated_file_that_matches_its_pin_is_caught_by_the_parser() {
    let root = tempfile::tempdir().unwrap();
    let mut files = tiny_files();
    files[2].1.truncate(20);
    let msg = load_error(root.path(), &files, &files);
    let path = root.path().join("mnist/t10k-images-idx3-ubyte");
    assert!(
        msg.starts_with(&format!("{} is truncated: 20 bytes", path.display())),
        "{msg}"
    );
}

#[test]
fn wrong_magic_is_named() {
    let root = tempfile::tempdir().unwrap();
    let mut files = tiny_files();
    files[3].1[3] = 0x03;
    let msg = load_error(root.path(), &files, &files);
    let path = root.path().join("mnist/t10k-labels-idx1-ubyte");
    assert!(msg.starts_with(&path.display().to_string()), "{msg}");
    assert!(
        msg.contains("wrong magic number 0x00000803, expected 0x00000801"),
        "{msg}"
    );
}

#[test]
fn label_count_must_match_image_count() {
    let root = tempfile::tempdir().unwrap();
    let mut files = tiny_files();
    files[1].1 = labels_file(TRAIN - 1);
    let msg = load_error(root.path(), &files, &files);
    assert!(
        msg.contains(&format!("holds {} labels but", TRAIN - 1)),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("train-images-idx3-ubyte holds {TRAIN} images")),
        "{msg}"
    );
}

#[test]
fn checksum_mismatch_gives_expected_and_actual() {
    let root = tempfile::tempdir().unwrap();
    let good = tiny_files();
    let mut files = good.clone();
    let last = files[0].1.len() - 1;
    files[0].1[last] ^= 0xff;
    let msg = load_error(root.path(), &files, &good);
    let path = root.path().join("mnist/train-images-idx3-ubyte");
    let expected = format!(
        "{} checksum mismatch: expected sha256 {}, actual {}",
        path.display(),
        sha256_hex(&good[0].1),
        sha256_hex(&files[0].1)
    );
    assert!(msg.contains(&expected), "{msg}");
}

#[test]
fn too_few_training_images_for_the_validation_split() {
    let root = tempfile::tempdir().unwrap();
    let mut files = tiny_files();
    files[0].1 = images_file(5000, 1, 2);
    files[1].1 = labels_file(5000);
    let msg = load_error(root.path(), &files, &files);
    assert!(
        msg.contains("holds 5000 images; need more than 5000"),
        "{msg}"
    );
}
