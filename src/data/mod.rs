//! Datasets and where they come from.
//!
//! Pixels stay `u8` in memory behind an `Arc`, shared read-only by every concurrent run,
//! and are converted to `f32` one batch at a time: ten runs must not hold ten copies of a
//! 172 MB float array.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The data sets the runner knows how to fetch and verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetName {
    Mnist,
    FashionMnist,
}

impl DatasetName {
    /// The name as written in experiment files and used for the data sub-folder.
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetName::Mnist => "mnist",
            DatasetName::FashionMnist => "fashion-mnist",
        }
    }
}

/// A read-only view of consecutive images from one IDX file.
#[derive(Clone)]
pub struct Images {
    pixels: Arc<[u8]>,
    start: usize,
    count: usize,
    dim: usize,
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
#[derive(Clone)]
pub struct Dataset {
    pub name: DatasetName,
    pub train: Images,
    pub test: Images,
}

/// Training images the tutorial's loader held out for validation.
pub const VALIDATION_SIZE: usize = 5000;

impl Dataset {
    /// Applies the tutorial's split (the first 5000 training images are held out) and the
    /// optional cap on the number of training examples.
    pub fn split(
        name: DatasetName,
        all_train: Images,
        test: Images,
        train_examples: Option<usize>,
    ) -> Self {
        let rest = all_train.len().saturating_sub(VALIDATION_SIZE);
        let count = train_examples.map_or(rest, |cap| cap.min(rest));
        Dataset {
            name,
            train: all_train.slice(VALIDATION_SIZE, count),
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
    fn split_holds_out_the_first_5000_and_caps() {
        let all = images(5010, 2);
        let test = images(3, 2);
        let d = Dataset::split(DatasetName::Mnist, all.clone(), test, None);
        assert_eq!(d.train.len(), 10);
        assert_eq!(d.train.image(0), all.image(5000));
        let capped = Dataset::split(DatasetName::Mnist, all, images(3, 2), Some(4));
        assert_eq!(capped.train.len(), 4);
    }

    #[test]
    fn fill_f32_scales_to_unit_interval() {
        let imgs = Images::new(vec![0u8, 255, 51, 102].into(), 2);
        let mut out = [0f32; 4];
        imgs.fill_f32(&[1, 0], &mut out);
        assert_eq!(out, [0.2, 0.4, 0.0, 1.0]);
    }
}
