//! The IDX format of the MNIST files: a big-endian header (magic, then one u32 per
//! dimension) followed by the raw `u8` values.
//!
//! Checksums already guard the pinned files, so these checks matter for files that pass
//! a substituted table (tests, future data sets) and to turn any surprise into a message
//! that names the file instead of a panic deep inside training.

use std::path::Path;
use std::sync::Arc;

use crate::data::{Images, VALIDATION_SIZE};
use crate::error::input_error;

/// Magic of an unsigned-byte IDX file with three dimensions (count, rows, columns).
const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic of an unsigned-byte IDX file with one dimension (count).
const LABELS_MAGIC: u32 = 0x0000_0801;
const IMAGES_HEADER: usize = 16;
const LABELS_HEADER: usize = 8;
/// Both MNIST and Fashion-MNIST have ten classes.
const CLASSES: u8 = 10;

/// Parses an images file; `bytes` is consumed so that only the pixels stay alive.
pub fn parse_images(path: &Path, bytes: Vec<u8>) -> anyhow::Result<Images> {
    let header = header(path, &bytes, IMAGES_MAGIC, IMAGES_HEADER)?;
    let (count, rows, cols) = (header[0], header[1], header[2]);
    let dim = rows
        .checked_mul(cols)
        .filter(|&d| d > 0)
        .ok_or_else(|| bad(path, format!("has impossible image size {rows}x{cols}")))?;
    check_length(path, bytes.len(), IMAGES_HEADER, count, dim)?;
    let pixels: Arc<[u8]> = Arc::from(&bytes[IMAGES_HEADER..]);
    Ok(Images::new(pixels, dim))
}

/// Parses a labels file and checks every label is a class index.
pub fn parse_labels(path: &Path, bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let header = header(path, bytes, LABELS_MAGIC, LABELS_HEADER)?;
    check_length(path, bytes.len(), LABELS_HEADER, header[0], 1)?;
    let labels = &bytes[LABELS_HEADER..];
    if let Some(i) = labels.iter().position(|&l| l >= CLASSES) {
        return Err(bad(
            path,
            format!("has label {} at index {i}; labels must be 0-9", labels[i]),
        ));
    }
    Ok(labels.to_vec())
}

/// Checks that a labels file describes exactly the images of its images file.
pub fn check_pair(
    images_path: &Path,
    images: &Images,
    labels_path: &Path,
    labels: &[u8],
) -> anyhow::Result<()> {
    if images.len() == labels.len() {
        return Ok(());
    }
    Err(input_error(format!(
        "{} holds {} labels but {} holds {} images; they must match one to one",
        labels_path.display(),
        labels.len(),
        images_path.display(),
        images.len()
    )))
}

/// Checks the training file leaves something to train on after the validation hold-out.
pub fn check_train_count(path: &Path, images: &Images) -> anyhow::Result<()> {
    if images.len() > VALIDATION_SIZE {
        return Ok(());
    }
    Err(bad(
        path,
        format!(
            "holds {} images; need more than {VALIDATION_SIZE} (the first {VALIDATION_SIZE} are held out for validation)",
            images.len()
        ),
    ))
}

/// Reads the magic and the dimensions that follow it.
fn header(path: &Path, bytes: &[u8], magic: u32, len: usize) -> anyhow::Result<Vec<usize>> {
    if bytes.len() < len {
        return Err(bad(
            path,
            format!(
                "is truncated: {} bytes, shorter than its {len}-byte header",
                bytes.len()
            ),
        ));
    }
    let words: Vec<u32> = bytes[..len]
        .chunks_exact(4)
        .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
        .collect();
    if words[0] != magic {
        return Err(bad(
            path,
            format!(
                "has wrong magic number 0x{:08x}, expected 0x{magic:08x}; is it an IDX {} file?",
                words[0],
                if magic == IMAGES_MAGIC {
                    "images"
                } else {
                    "labels"
                }
            ),
        ));
    }
    Ok(words[1..].iter().map(|&w| w as usize).collect())
}

/// Checks the body holds exactly `count` items of `item` bytes.
fn check_length(
    path: &Path,
    actual: usize,
    header: usize,
    count: usize,
    item: usize,
) -> anyhow::Result<()> {
    let expected = count.checked_mul(item).and_then(|b| b.checked_add(header));
    match expected {
        Some(e) if e == actual => Ok(()),
        Some(e) if e > actual => Err(bad(
            path,
            format!("is truncated: {actual} bytes, but its header promises {count} items, {e} bytes"),
        )),
        Some(e) => Err(bad(
            path,
            format!("has the wrong size: {actual} bytes, but its header promises {count} items, {e} bytes"),
        )),
        None => Err(bad(path, format!("has an impossible item count {count}"))),
    }
}

fn bad(path: &Path, what: String) -> anyhow::Error {
    input_error(format!("{} {what}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::exit_code;

    /// An images file of `count` images of `rows`x`cols`, pixel values cycling.
    fn images_file(count: u32, rows: u32, cols: u32) -> Vec<u8> {
        let mut out = Vec::new();
        for w in [IMAGES_MAGIC, count, rows, cols] {
            out.extend_from_slice(&w.to_be_bytes());
        }
        out.extend((0..count * rows * cols).map(|i| (i % 256) as u8));
        out
    }

    fn labels_file(count: u32) -> Vec<u8> {
        let mut out = Vec::new();
        for w in [LABELS_MAGIC, count] {
            out.extend_from_slice(&w.to_be_bytes());
        }
        out.extend((0..count).map(|i| (i % 10) as u8));
        out
    }

    fn message(err: anyhow::Error) -> String {
        assert_eq!(exit_code(&err), 2, "{err}");
        err.to_string()
    }

    #[test]
    fn parses_generated_files() {
        let p = Path::new("x");
        let imgs = parse_images(p, images_file(3, 2, 2)).unwrap();
        assert_eq!((imgs.len(), imgs.dim()), (3, 4));
        assert_eq!(imgs.image(1), &[4, 5, 6, 7]);
        let labels = parse_labels(p, &labels_file(3)).unwrap();
        assert_eq!(labels, vec![0, 1, 2]);
        check_pair(p, &imgs, p, &labels).unwrap();
    }

    #[test]
    fn truncated_file_names_itself() {
        let mut f = images_file(3, 2, 2);
        f.pop();
        let m = message(parse_images(Path::new("data/a-idx3"), f).unwrap_err());
        assert!(m.starts_with("data/a-idx3 is truncated: 27 bytes"), "{m}");
        let m = message(parse_labels(Path::new("l"), &[0, 0, 8]).unwrap_err());
        assert!(m.contains("shorter than its 8-byte header"), "{m}");
    }

    #[test]
    fn extra_bytes_are_wrong_size() {
        let mut f = labels_file(3);
        f.push(0);
        let m = message(parse_labels(Path::new("l"), &f).unwrap_err());
        assert!(m.contains("wrong size: 12 bytes"), "{m}");
    }

    #[test]
    fn wrong_magic_is_reported() {
        let m = message(parse_images(Path::new("i"), labels_file(20)).unwrap_err());
        assert!(
            m.contains("wrong magic number 0x00000801, expected 0x00000803"),
            "{m}"
        );
    }

    #[test]
    fn count_mismatch_between_labels_and_images() {
        let p = Path::new("imgs");
        let imgs = parse_images(p, images_file(3, 1, 1)).unwrap();
        let labels = parse_labels(Path::new("lbls"), &labels_file(4)).unwrap();
        let m = message(check_pair(p, &imgs, Path::new("lbls"), &labels).unwrap_err());
        assert_eq!(
            m,
            "lbls holds 4 labels but imgs holds 3 images; they must match one to one"
        );
    }

    #[test]
    fn out_of_range_label_and_zero_size_images() {
        let mut f = labels_file(2);
        f[9] = 11;
        let m = message(parse_labels(Path::new("l"), &f).unwrap_err());
        assert!(m.contains("label 11 at index 1"), "{m}");
        let m = message(parse_images(Path::new("i"), images_file(0, 0, 5)).unwrap_err());
        assert!(m.contains("impossible image size 0x5"), "{m}");
    }

    #[test]
    fn huge_header_counts_do_not_overflow() {
        let mut f = images_file(0, 1, 1);
        f[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        f[8..16].copy_from_slice(&[0xff; 8]);
        assert!(parse_images(Path::new("i"), f).is_err());
    }
}
