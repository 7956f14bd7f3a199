//! The confusion matrix as an SVG heat map, for any number of named classes.

use anyhow::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::HPos;

use super::{aligned, centered, svg_error};
use crate::eval::Evaluation;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Classes;

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
