//! Pictures of a run: learning curves and the confusion matrix (any number
//! of classes, with their names) as SVG, and the misclassified images (any
//! image size) as a PNG grid.
//!
//! Nothing here needs a system font: the SVGs hold their text as `<text>`
//! elements for the viewer to render, and the PNG labels are drawn with a
//! built-in 3×5 bitmap font.

use std::io::Cursor;

use anyhow::{anyhow, Result};
use image::{Rgb, RgbImage};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::eval::Evaluation;
use crate::train::EpochMetrics;

const FONT: &str = "sans-serif";

fn svg_error<E: std::fmt::Display>(error: E) -> anyhow::Error {
    anyhow!("cannot draw the picture: {error}")
}

/// Learning curves as SVG: training loss on the left; training and `eval_name`
/// (`test` or `validation`) accuracy on the right, one point per epoch.
pub fn curves_svg(history: &[EpochMetrics], eval_name: &str) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (960, 400)).into_drawing_area();
        root.fill(&WHITE).map_err(svg_error)?;
        let (left, right) = root.split_horizontally(480);
        let epochs = history.len() as u32;
        let x_range = 0u32..epochs + 1;
        let x_labels = (epochs as usize + 1).min(11);

        let max_loss = history
            .iter()
            .map(|m| m.train_loss)
            .fold(0.0f64, f64::max)
            .max(1e-3)
            * 1.1;
        let mut chart = ChartBuilder::on(&left)
            .caption("training loss", (FONT, 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(x_range.clone(), 0f64..max_loss)
            .map_err(svg_error)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("cross-entropy")
            .x_labels(x_labels)
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 15))
            .draw()
            .map_err(svg_error)?;
        let loss: Vec<(u32, f64)> = history
            .iter()
            .map(|m| (m.epoch as u32, m.train_loss))
            .collect();
        draw_series(&mut chart, &loss, RED, "train loss")?;

        let percent = |a: f64| a * 100.0;
        let lowest = history
            .iter()
            .flat_map(|m| [m.train_accuracy, m.eval_accuracy])
            .map(percent)
            .fold(100.0f64, f64::min);
        let y_min = ((lowest - 1.0) / 5.0).floor().max(0.0) * 5.0;
        let mut chart = ChartBuilder::on(&right)
            .caption("accuracy (%)", (FONT, 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(x_range, y_min..100.0)
            .map_err(svg_error)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("% correct")
            .x_labels(x_labels)
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 15))
            .draw()
            .map_err(svg_error)?;
        let train: Vec<(u32, f64)> = history
            .iter()
            .map(|m| (m.epoch as u32, percent(m.train_accuracy)))
            .collect();
        let eval: Vec<(u32, f64)> = history
            .iter()
            .map(|m| (m.epoch as u32, percent(m.eval_accuracy)))
            .collect();
        draw_series(&mut chart, &train, RED, "train")?;
        draw_series(&mut chart, &eval, BLUE, eval_name)?;
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font((FONT, 15))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .draw()
            .map_err(svg_error)?;
        root.present().map_err(svg_error)?;
    }
    Ok(svg)
}

type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordu32, plotters::coord::types::RangedCoordf64>,
>;

fn draw_series(
    chart: &mut Chart<'_, '_>,
    points: &[(u32, f64)],
    color: RGBColor,
    label: &str,
) -> Result<()> {
    chart
        .draw_series(LineSeries::new(
            points.iter().copied(),
            color.stroke_width(2),
        ))
        .map_err(svg_error)?
        .label(label)
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    chart
        .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
        .map_err(svg_error)?;
    Ok(())
}

/// Side of a confusion-matrix cell in the SVG for up to 12 classes, in
/// pixels; more classes get smaller cells (at least [`MIN_CELL`]).
const CELL: i32 = 48;
/// Smallest cell side.
const MIN_CELL: i32 = 16;
/// Approximate width of a character of the 16-pixel font.
const CHAR_WIDTH: i32 = 9;

/// A class name shortened to about `max` characters (with `…`).
fn short(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        name.to_owned()
    } else {
        let mut s: String = name.chars().take(max.saturating_sub(1).max(1)).collect();
        s.push('…');
        s
    }
}

/// The confusion matrix as an annotated SVG heat map, for any number of
/// classes: rows are true classes, columns predictions, both labelled with
/// the class names; every non-zero cell shows its count. The diagonal is
/// shaded blue by the class's recall, the errors red by their count; the
/// right-hand column gives each class's accuracy.
pub fn confusion_svg(evaluation: &Evaluation) -> Result<String> {
    let k = evaluation.classes_len().max(1) as i32;
    let names = evaluation.classes.names();
    let longest = names.iter().map(|n| n.chars().count()).max().unwrap_or(1);
    // Wider cells for long names (up to 96 pixels), smaller ones for many classes.
    let cell = if k <= 12 {
        CELL.max((8 * longest as i32 + 8).min(96))
    } else {
        (576 / k).max(MIN_CELL)
    };
    let count_font = (cell.min(CELL) * 15 / CELL).clamp(8, 15) as u32;
    let col_font = match (cell < CELL, longest <= 4) {
        (true, _) => 12,
        (false, true) => 16,
        (false, false) => 14,
    };
    let row_label_chars = longest.min(24);
    let col_label_chars = (((cell - 6) / 8) as usize).max(3);
    let x0 = (CHAR_WIDTH * row_label_chars as i32 + 40).max(96);
    let y0 = 96;
    let grid = cell * k;
    let width = (x0 + grid + 96).max(480) as u32;
    let height = (y0 + grid + 24) as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(svg_error)?;
        let title = format!(
            "confusion matrix: {} of {} test samples right ({:.2}%)",
            evaluation.correct(),
            evaluation.total(),
            evaluation.accuracy() * 100.0
        );
        root.draw(&Text::new(
            title,
            (width as i32 / 2, 24),
            centered(19, &BLACK),
        ))
        .map_err(svg_error)?;
        root.draw(&Text::new(
            "predicted",
            (x0 + grid / 2, 56),
            centered(16, &BLACK),
        ))
        .map_err(svg_error)?;
        root.draw(&Text::new("true", (x0 / 2 - 8, 76), centered(16, &BLACK)))
            .map_err(svg_error)?;
        root.draw(&Text::new(
            "accuracy",
            (x0 + grid + 48, 76),
            centered(14, &BLACK),
        ))
        .map_err(svg_error)?;
        let k = evaluation.classes_len();
        let max_error = (0..k)
            .flat_map(|t| (0..k).filter(move |&p| p != t).map(move |p| (t, p)))
            .map(|(t, p)| evaluation.confusion[t][p])
            .max()
            .unwrap_or(0)
            .max(1);
        let per_class = evaluation.per_class();
        for (t, row) in evaluation.confusion.iter().enumerate() {
            let y = y0 + cell * t as i32;
            root.draw(&Text::new(
                short(&names[t], row_label_chars),
                (x0 - 8, y + cell / 2),
                aligned(16, &BLACK, HPos::Right),
            ))
            .map_err(svg_error)?;
            for (p, &count) in row.iter().enumerate() {
                let x = x0 + cell * p as i32;
                if t == 0 {
                    root.draw(&Text::new(
                        short(&names[p], col_label_chars),
                        (x + cell / 2, y0 - 14),
                        centered(col_font, &BLACK),
                    ))
                    .map_err(svg_error)?;
                }
                let (fill, dark) = cell_color(t == p, count, per_class[t], max_error);
                root.draw(&Rectangle::new(
                    [(x, y), (x + cell, y + cell)],
                    fill.filled(),
                ))
                .map_err(svg_error)?;
                root.draw(&Rectangle::new(
                    [(x, y), (x + cell, y + cell)],
                    RGBColor(200, 200, 200).stroke_width(1),
                ))
                .map_err(svg_error)?;
                if count > 0 {
                    let ink = if dark { &WHITE } else { &BLACK };
                    root.draw(&Text::new(
                        count.to_string(),
                        (x + cell / 2, y + cell / 2),
                        centered(count_font, ink),
                    ))
                    .map_err(svg_error)?;
                }
            }
            root.draw(&Text::new(
                format!("{:.1}%", per_class[t] * 100.0),
                (x0 + grid + 48, y + cell / 2),
                centered(14, &RGBColor(60, 60, 60)),
            ))
            .map_err(svg_error)?;
        }
        root.present().map_err(svg_error)?;
    }
    Ok(svg)
}

/// Centred text of `size` pixels.
fn centered(size: u32, color: &'static RGBColor) -> TextStyle<'static> {
    aligned(size, color, HPos::Center)
}

/// Text of `size` pixels, vertically centred, aligned by `h`.
fn aligned(size: u32, color: &'static RGBColor, h: HPos) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font())
        .color(color)
        .pos(Pos::new(h, VPos::Center))
}

/// Fill of a cell and whether it is dark (wants white text).
fn cell_color(diagonal: bool, count: usize, recall: f64, max_error: usize) -> (RGBColor, bool) {
    let mix = |strength: f64, (r, g, b): (u8, u8, u8)| {
        let s = strength.clamp(0.0, 1.0);
        let channel = |c: u8| (255.0 + (f64::from(c) - 255.0) * s).round() as u8;
        RGBColor(channel(r), channel(g), channel(b))
    };
    if count == 0 {
        (WHITE, false)
    } else if diagonal {
        // Recall is 0.9..1 for any decent model: spread that range out.
        let s = 0.35 + 0.65 * ((recall - 0.8) / 0.2).clamp(0.0, 1.0);
        (mix(s, (33, 102, 172)), s > 0.5)
    } else {
        let s = 0.12 + 0.88 * (count as f64 / max_error as f64).sqrt();
        (mix(s, (203, 24, 29)), s > 0.6)
    }
}

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
    use crate::data::Classes;

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

    fn texts(svg: &str) -> Vec<String> {
        let doc = roxmltree::Document::parse(svg).unwrap();
        doc.descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .map(|t| t.trim().to_owned())
            .collect()
    }

    #[test]
    fn confusion_svg_shows_every_non_zero_count() {
        let e = Evaluation::new(
            Classes::numeric(10),
            &[0, 1, 1, 2, 9, 9],
            &[0, 1, 2, 2, 9, 9],
        );
        let shown = texts(&confusion_svg(&e).unwrap());
        // Title, "predicted", "true", "accuracy", then per row: the row
        // label, (column labels in row 0,) the non-zero counts, the recall.
        assert!(shown[0].contains("5 of 6 test samples"), "{shown:?}");
        let row2 = shown.iter().position(|t| t == "50.0%").unwrap();
        assert_eq!(shown[row2 - 3..=row2], ["2", "1", "1", "50.0%"]);
        let row9 = shown.len() - 3;
        assert_eq!(shown[row9..], ["9", "2", "100.0%"]);
    }

    #[test]
    fn confusion_svg_names_the_classes_for_any_count() {
        let names = ["setosa", "versicolor", "virginica"];
        let e = Evaluation::new(
            Classes::new(names.iter().map(|s| s.to_string()).collect()),
            &[0, 1, 1],
            &[0, 1, 2],
        );
        let shown = texts(&confusion_svg(&e).unwrap());
        for name in names {
            assert_eq!(
                shown.iter().filter(|t| *t == name).count(),
                2,
                "{name} as row and column: {shown:?}"
            );
        }
        let many = Evaluation::new(Classes::numeric(40), &[39], &[39]);
        let svg = confusion_svg(&many).unwrap();
        assert!(texts(&svg).iter().any(|t| t == "39"));
        assert!(svg.len() < 400_000);
    }
}
