//! Pictures of a run: learning curves and confusion matrix as SVG, and the
//! misclassified test digits as a PNG grid.
//!
//! Nothing here needs a system font: the SVGs hold their text as `<text>`
//! elements for the viewer to render, and the PNG labels are drawn with a
//! built-in 3×5 bitmap font.

use std::io::Cursor;

use anyhow::{anyhow, Result};
use image::{Rgb, RgbImage};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::arch::CLASSES;
use crate::eval::Evaluation;
use crate::train::EpochMetrics;

const FONT: &str = "sans-serif";

fn svg_error<E: std::fmt::Display>(error: E) -> anyhow::Error {
    anyhow!("cannot draw the picture: {error}")
}

/// Learning curves as SVG: training loss on the left; training and `eval_name`
/// (`test` or `val`) accuracy on the right, one point per epoch.
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

/// Side of a confusion-matrix cell in the SVG, in pixels.
const CELL: i32 = 48;

/// The confusion matrix as an annotated SVG heat map: rows are true labels,
/// columns predictions, every non-zero cell shows its count. The diagonal is
/// shaded blue by the class's recall, the errors red by their count; the
/// right-hand column gives each class's accuracy.
pub fn confusion_svg(evaluation: &Evaluation) -> Result<String> {
    let (x0, y0) = (96, 96);
    let width = (x0 + CELL * CLASSES as i32 + 96) as u32;
    let height = (y0 + CELL * CLASSES as i32 + 24) as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(svg_error)?;
        let title = format!(
            "confusion matrix: {} of {} test images right ({:.2}%)",
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
        let grid_mid = x0 + CELL * CLASSES as i32 / 2;
        root.draw(&Text::new(
            "predicted",
            (grid_mid, 56),
            centered(16, &BLACK),
        ))
        .map_err(svg_error)?;
        root.draw(&Text::new("true", (x0 / 2 - 8, 76), centered(16, &BLACK)))
            .map_err(svg_error)?;
        root.draw(&Text::new(
            "accuracy",
            (x0 + CELL * CLASSES as i32 + 48, 76),
            centered(14, &BLACK),
        ))
        .map_err(svg_error)?;
        let max_error = (0..CLASSES)
            .flat_map(|t| (0..CLASSES).filter(move |&p| p != t).map(move |p| (t, p)))
            .map(|(t, p)| evaluation.confusion[t][p])
            .max()
            .unwrap_or(0)
            .max(1);
        let per_class = evaluation.per_class();
        for (t, row) in evaluation.confusion.iter().enumerate() {
            let y = y0 + CELL * t as i32;
            root.draw(&Text::new(
                t.to_string(),
                (x0 - 16, y + CELL / 2),
                centered(16, &BLACK),
            ))
            .map_err(svg_error)?;
            for (p, &count) in row.iter().enumerate() {
                let x = x0 + CELL * p as i32;
                if t == 0 {
                    root.draw(&Text::new(
                        p.to_string(),
                        (x + CELL / 2, y0 - 14),
                        centered(16, &BLACK),
                    ))
                    .map_err(svg_error)?;
                }
                let (fill, dark) = cell_color(t == p, count, per_class[t], max_error);
                root.draw(&Rectangle::new(
                    [(x, y), (x + CELL, y + CELL)],
                    fill.filled(),
                ))
                .map_err(svg_error)?;
                root.draw(&Rectangle::new(
                    [(x, y), (x + CELL, y + CELL)],
                    RGBColor(200, 200, 200).stroke_width(1),
                ))
                .map_err(svg_error)?;
                if count > 0 {
                    let ink = if dark { &WHITE } else { &BLACK };
                    root.draw(&Text::new(
                        count.to_string(),
                        (x + CELL / 2, y + CELL / 2),
                        centered(15, ink),
                    ))
                    .map_err(svg_error)?;
                }
            }
            root.draw(&Text::new(
                format!("{:.1}%", per_class[t] * 100.0),
                (x0 + CELL * CLASSES as i32 + 48, y + CELL / 2),
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
    TextStyle::from((FONT, size).into_font())
        .color(color)
        .pos(Pos::new(HPos::Center, VPos::Center))
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

/// Columns of the misclassified-digit grid.
pub const GRID_COLUMNS: usize = 10;
/// Width of one tile of the grid: the digit at 2× with a 2-pixel margin.
pub const TILE_WIDTH: u32 = 60;
/// Height of one tile: the digit plus a 14-pixel label strip.
pub const TILE_HEIGHT: u32 = 74;

/// A misclassified image: its 28×28 pixels, the true and the predicted class.
#[derive(Clone, Copy, Debug)]
pub struct Misclassified<'a> {
    /// Row-major 28×28 pixels, white ink on black.
    pub pixels: &'a [u8],
    /// The label.
    pub truth: u8,
    /// What the network said.
    pub predicted: u8,
}

/// Size in pixels of the grid [`errors_png`] draws for `count` digits:
/// [`GRID_COLUMNS`] tiles a row (fewer if there are fewer digits).
pub fn error_grid_size(count: usize) -> (u32, u32) {
    let columns = count.clamp(1, GRID_COLUMNS) as u32;
    let rows = count.div_ceil(GRID_COLUMNS).max(1) as u32;
    (columns * TILE_WIDTH, rows * TILE_HEIGHT)
}

/// A PNG grid of misclassified digits, each labelled `true→predicted`
/// (true in green, predicted in red), [`GRID_COLUMNS`] a row.
pub fn errors_png(errors: &[Misclassified<'_>]) -> Result<Vec<u8>> {
    let (w, h) = error_grid_size(errors.len());
    let mut img = RgbImage::from_pixel(w, h, Rgb([48, 48, 48]));
    for (i, e) in errors.iter().enumerate() {
        let tx = (i % GRID_COLUMNS) as u32 * TILE_WIDTH;
        let ty = (i / GRID_COLUMNS) as u32 * TILE_HEIGHT;
        for (j, &p) in e.pixels.iter().take(28 * 28).enumerate() {
            let (x, y) = ((j % 28) as u32, (j / 28) as u32);
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                img.put_pixel(tx + 2 + 2 * x + dx, ty + 2 + 2 * y + dy, Rgb([p, p, p]));
            }
        }
        // Label: 3×5 glyphs at 2×, 1-pixel gaps: digit, arrow, digit = 13 × 2 px.
        let label_width = 2 * (3 + 1 + 5 + 1 + 3);
        let mut x = tx + (TILE_WIDTH - label_width) / 2;
        let y = ty + 2 + 56 + 2;
        for (glyph, width, color) in [
            (DIGITS[usize::from(e.truth % 10)], 3, Rgb([120, 230, 120])),
            (ARROW, 5, Rgb([200, 200, 200])),
            (
                DIGITS[usize::from(e.predicted % 10)],
                3,
                Rgb([255, 110, 110]),
            ),
        ] {
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
    fn grid_size_follows_the_count() {
        assert_eq!(error_grid_size(1), (60, 74));
        assert_eq!(error_grid_size(10), (600, 74));
        assert_eq!(error_grid_size(11), (600, 148));
        assert_eq!(error_grid_size(0), (60, 74));
    }

    #[test]
    fn labels_are_drawn_in_their_colours() {
        let pixels = [0u8; 784];
        let png = errors_png(&[Misclassified {
            pixels: &pixels,
            truth: 8,
            predicted: 1,
        }])
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
    fn confusion_svg_shows_every_non_zero_count() {
        let e = Evaluation::new(&[0, 1, 1, 2, 9, 9], &[0, 1, 2, 2, 9, 9]);
        let svg = confusion_svg(&e).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let texts: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .map(str::trim)
            .collect();
        // Title, "predicted", "true", "accuracy", then per row: the row
        // label, (column labels in row 0,) the non-zero counts, the recall.
        assert!(texts[0].contains("5 of 6 test images"), "{texts:?}");
        let row2 = texts.iter().position(|&t| t == "50.0%").unwrap();
        assert_eq!(texts[row2 - 3..=row2], ["2", "1", "1", "50.0%"]);
        let row9 = texts.len() - 3;
        assert_eq!(texts[row9..], ["9", "2", "100.0%"]);
    }
}
