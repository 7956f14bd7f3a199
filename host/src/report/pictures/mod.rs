//! Pictures of a run: learning curves and the confusion matrix (any number
//! of classes, with their names) as SVG, and the misclassified images (any
//! image size) as a PNG grid.
//!
//! Nothing here needs a system font: the SVGs hold their text as `<text>`
//! elements for the viewer to render, and the PNG labels are drawn with a
//! built-in 3×5 bitmap font.
//!
//! | file | picture |
//! |---|---|
//! | [`curves`] | [`curves_svg`]: loss and accuracy per epoch |
//! | [`confusion`] | [`confusion_svg`]: the confusion matrix of K named classes |
//! | [`errors`] | [`errors_png`]: a grid of misclassified images |

pub mod confusion;
pub mod curves;
pub mod errors;

pub use confusion::confusion_svg;
pub use curves::curves_svg;
pub use errors::{errors_png, Misclassified, Tiles, GRID_COLUMNS};

use anyhow::anyhow;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The font family of every SVG text.
const FONT: &str = "sans-serif";

/// A drawing error as the one message of every picture.
fn svg_error<E: std::fmt::Display>(error: E) -> anyhow::Error {
    anyhow!("cannot draw the picture: {error}")
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
