//! The misclassified images as a PNG grid, each labelled true→predicted.

use std::io::Cursor;

use anyhow::Result;
use image::{Rgb, RgbImage};

/// Columns of the misclassified-image grid.
pub const GRID_COLUMNS: usize = 10;
/// Pixels the image of a tile spans, about (the scale is a whole number).
const TILE_IMAGE: usize = 56;
/// Height of the label strip under each image.
const LABEL_STRIP: u32 = 14;

/// A misclassified image: its pixels, the true and the predicted class.
#[derive(Clone, Copy, Debug)]
pub struct Misclassified<'a> {
    /// Row-major pixels, white ink on black.
    pub pixels: &'a [u8],
    /// The true class index.
    pub truth: usize,
    /// The class the network gave.
    pub predicted: usize,
}

/// How the images of a grid are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tiles {
    /// Image size `(rows, cols)`.
    pub image: (usize, usize),
    /// Whole-number magnification: `56 / max(rows, cols)`, at least 1
    /// (2 for 28x28, 7 for 8x8).
    pub scale: u32,
    /// Tile width in pixels: the image and a 2-pixel margin each side, or
    /// the widest label.
    pub width: u32,
    /// Tile height: the image, margins and a 14-pixel label strip.
    pub height: u32,
}

impl Tiles {
    /// The layout for images of `(rows, cols)` labelled with class indices
    /// of at most `digits` digits: 60x74 for 28x28 and one-digit labels.
    pub fn new((rows, cols): (usize, usize), digits: usize) -> Self {
        let scale = (TILE_IMAGE / rows.max(cols).max(1)).max(1) as u32;
        let label = label_width(digits, digits);
        Self {
            image: (rows, cols),
            scale,
            width: (scale * cols as u32 + 4).max(label + 4),
            height: scale * rows as u32 + 4 + LABEL_STRIP,
        }
    }

    /// Size in pixels of the grid for `count` images: [`GRID_COLUMNS`] tiles
    /// a row (fewer if there are fewer images).
    pub fn grid_size(&self, count: usize) -> (u32, u32) {
        let columns = count.clamp(1, GRID_COLUMNS) as u32;
        let rows = count.div_ceil(GRID_COLUMNS).max(1) as u32;
        (columns * self.width, rows * self.height)
    }
}

/// Width of the label `truth→predicted`: 3×5 digits and a 5×5 arrow at 2×
/// with 1-pixel gaps.
fn label_width(truth_digits: usize, predicted_digits: usize) -> u32 {
    2 * (4 * (truth_digits + predicted_digits) as u32 + 6) - 2
}

/// A PNG grid of misclassified `image`-sized (`(rows, cols)`) images, each
/// labelled `true→predicted` with class indices (true in green, predicted
/// in red), [`GRID_COLUMNS`] a row. Images are magnified by a whole number
/// (see [`Tiles`]); for 28x28 the tiles are 60x74 pixels.
pub fn errors_png(errors: &[Misclassified<'_>], image: (usize, usize)) -> Result<Vec<u8>> {
    let digits = errors
        .iter()
        .flat_map(|e| [e.truth, e.predicted])
        .map(|c| c.to_string().len())
        .max()
        .unwrap_or(1);
    let tiles = Tiles::new(image, digits);
    let (rows, cols) = image;
    let s = tiles.scale;
    let (w, h) = tiles.grid_size(errors.len());
    let mut img = RgbImage::from_pixel(w, h, Rgb([48, 48, 48]));
    for (i, e) in errors.iter().enumerate() {
        let tx = (i % GRID_COLUMNS) as u32 * tiles.width;
        let ty = (i / GRID_COLUMNS) as u32 * tiles.height;
        let ix = tx + (tiles.width - s * cols as u32) / 2;
        for (j, &p) in e.pixels.iter().take(rows * cols).enumerate() {
            let (x, y) = ((j % cols) as u32, (j / cols) as u32);
            for dy in 0..s {
                for dx in 0..s {
                    img.put_pixel(ix + s * x + dx, ty + 2 + s * y + dy, Rgb([p, p, p]));
                }
            }
        }
        let (truth, predicted) = (e.truth.to_string(), e.predicted.to_string());
        let mut x = tx + (tiles.width - label_width(truth.len(), predicted.len())) / 2;
        let y = ty + 2 + s * rows as u32 + 2;
        let mut glyphs: Vec<([u8; 5], u32, Rgb<u8>)> = Vec::new();
        for d in truth.bytes() {
            glyphs.push((DIGITS[usize::from(d - b'0')], 3, Rgb([120, 230, 120])));
        }
        glyphs.push((ARROW, 5, Rgb([200, 200, 200])));
        for d in predicted.bytes() {
            glyphs.push((DIGITS[usize::from(d - b'0')], 3, Rgb([255, 110, 110])));
        }
        for (glyph, width, color) in glyphs {
            draw_glyph(&mut img, glyph, width, x, y, color);
            x += 2 * (width + 1);
        }
    }
    let mut bytes = Vec::new();
    img.write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)?;
    Ok(bytes)
}

/// 3×5 glyphs of the digits, one row per entry, the top bit (`0b100`) leftmost.
const DIGITS: [[u8; 5]; 10] = [
    [0b111, 0b101, 0b101, 0b101, 0b111],
    [0b010, 0b110, 0b010, 0b010, 0b111],
    [0b111, 0b001, 0b111, 0b100, 0b111],
    [0b111, 0b001, 0b111, 0b001, 0b111],
    [0b101, 0b101, 0b111, 0b001, 0b001],
    [0b111, 0b100, 0b111, 0b001, 0b111],
    [0b111, 0b100, 0b111, 0b101, 0b111],
    [0b111, 0b001, 0b010, 0b010, 0b010],
    [0b111, 0b101, 0b111, 0b101, 0b111],
    [0b111, 0b101, 0b111, 0b001, 0b111],
];
/// A 5×5 right arrow.
const ARROW: [u8; 5] = [0b00100, 0b00010, 0b11111, 0b00010, 0b00100];

fn draw_glyph(img: &mut RgbImage, glyph: [u8; 5], width: u32, x: u32, y: u32, color: Rgb<u8>) {
    for (row, bits) in glyph.iter().enumerate() {
        for col in 0..width {
            if bits >> (width - 1 - col) & 1 == 1 {
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let (px, py) = (x + 2 * col + dx, y + 2 * row as u32 + dy);
                    if px < img.width() && py < img.height() {
                        img.put_pixel(px, py, color);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_size_follows_the_count_and_the_image_size() {
        let mnist = Tiles::new((28, 28), 1);
        assert_eq!((mnist.width, mnist.height, mnist.scale), (60, 74, 2));
        assert_eq!(mnist.grid_size(1), (60, 74));
        assert_eq!(mnist.grid_size(10), (600, 74));
        assert_eq!(mnist.grid_size(11), (600, 148));
        assert_eq!(mnist.grid_size(0), (60, 74));
        let small = Tiles::new((8, 8), 1);
        assert_eq!((small.scale, small.width, small.height), (7, 60, 74));
        let wide = Tiles::new((10, 100), 3);
        assert_eq!((wide.scale, wide.width, wide.height), (1, 104, 28));
    }

    #[test]
    fn labels_are_drawn_in_their_colours() {
        let pixels = [0u8; 784];
        let png = errors_png(
            &[Misclassified {
                pixels: &pixels,
                truth: 8,
                predicted: 1,
            }],
            (28, 28),
        )
        .unwrap();
        let img = image::load_from_memory(&png).unwrap().into_rgb8();
        assert_eq!(img.dimensions(), (60, 74));
        let count = |c: [u8; 3]| img.pixels().filter(|p| p.0 == c).count();
        // An 8 has 13 of 15 cells lit, a 1 has 8; each cell is 2×2 pixels.
        assert_eq!(count([120, 230, 120]), 13 * 4);
        assert_eq!(count([255, 110, 110]), 8 * 4);
        assert_eq!(count([200, 200, 200]), 9 * 4);
    }

    #[test]
    fn any_image_size_and_multi_digit_classes() {
        let pixels = [255u8; 5 * 3];
        let e = Misclassified {
            pixels: &pixels,
            truth: 12,
            predicted: 3,
        };
        let png = errors_png(&[e, e], (5, 3)).unwrap();
        let img = image::load_from_memory(&png).unwrap().into_rgb8();
        let tiles = Tiles::new((5, 3), 2);
        assert_eq!(img.dimensions(), tiles.grid_size(2));
        let white = img.pixels().filter(|p| p.0 == [255, 255, 255]).count() as u32;
        assert_eq!(white, 2 * 15 * tiles.scale * tiles.scale);
    }
}
