//! `reconstruction.png`: clean, noisy and reconstructed test images side by side.
//!
//! The tutorial meant to show this but drew the clean image three times; this draws what
//! it meant. Rows are images of one kind, columns are the same test image.

use anyhow::{ensure, Context};

/// Each pixel becomes a `SCALE` x `SCALE` block so a 28 x 28 digit is clearly visible.
pub const SCALE: usize = 4;
/// Grey lines between (and around) the cells.
pub const GAP: usize = 2;
const GAP_GREY: u8 = 128;

/// Width and height in pixels of a grid of `rows` x `cols` square images of side `side`.
pub fn size(rows: usize, cols: usize, side: usize) -> (usize, usize) {
    let cell = side * SCALE;
    (
        cols * cell + (cols + 1) * GAP,
        rows * cell + (rows + 1) * GAP,
    )
}

/// The side of a square image of `dim` pixels, if it is square.
pub fn side_of(dim: usize) -> Option<usize> {
    let s = (dim as f64).sqrt().round() as usize;
    (s * s == dim && s > 0).then_some(s)
}

/// Encodes a grey-scale PNG with one row per slice of `rows`; each slice holds `cols`
/// images of `dim` pixels one after another. Values are clipped to [0, 1] for display.
pub fn render(rows: &[&[f32]], cols: usize, dim: usize) -> anyhow::Result<Vec<u8>> {
    let side = side_of(dim).with_context(|| format!("images of {dim} pixels are not square"))?;
    ensure!(!rows.is_empty() && cols > 0, "nothing to draw");
    for r in rows {
        ensure!(r.len() >= cols * dim, "a row has fewer than {cols} images");
    }
    let (width, height) = size(rows.len(), cols, side);
    let cell = side * SCALE;
    let mut pixels = vec![GAP_GREY; width * height];
    for (r, row) in rows.iter().enumerate() {
        for c in 0..cols {
            let image = &row[c * dim..(c + 1) * dim];
            let (x0, y0) = (GAP + c * (cell + GAP), GAP + r * (cell + GAP));
            for y in 0..cell {
                let src = &image[(y / SCALE) * side..(y / SCALE + 1) * side];
                let dst = &mut pixels[(y0 + y) * width + x0..(y0 + y) * width + x0 + cell];
                for (x, d) in dst.iter_mut().enumerate() {
                    *d = (src[x / SCALE].clamp(0.0, 1.0) * 255.0).round() as u8;
                }
            }
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width as u32, height as u32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().context("encoding the PNG header")?;
        writer
            .write_image_data(&pixels)
            .context("encoding the PNG image")?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_land_where_expected() {
        let ones = vec![1.0f32; 2 * 4];
        let zeros = vec![-0.5f32; 2 * 4];
        let png = render(&[&ones, &zeros], 2, 4).unwrap();
        let decoder = png::Decoder::new(png.as_slice());
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width as usize, info.height as usize), size(2, 2, 2));
        let w = info.width as usize;
        assert_eq!(buf[0], GAP_GREY);
        assert_eq!(buf[GAP * w + GAP], 255);
        let second_row = GAP * 2 + 2 * SCALE;
        assert_eq!(buf[second_row * w + GAP], 0);
    }
}
