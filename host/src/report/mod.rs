//! What the user sees besides numbers: pictures of a run, images drawn in
//! the terminal, pictures turned into model inputs, descriptions of files.
//!
//! | file | concept |
//! |---|---|
//! | [`pictures`] | [`curves_svg`] (learning curves), [`confusion_svg`] (K named classes), [`errors_png`] (misclassified images of any size) |
//! | [`render`] | [`render_image`]: an image of any size as Unicode shades |
//! | [`preprocess`] | a PNG/PGM picture → the model's image size, MNIST-style ([`preprocess::load_picture`]) |
//! | [`inspect`](mod@inspect) | [`inspect()`]: kind, dimensions or features, encoding, class histogram of any IDX or CSV file |
//!
//! Nothing here needs a system font: SVG text is left to the viewer, PNG
//! labels use a built-in 3×5 bitmap font.

pub mod inspect;
pub mod pictures;
pub mod preprocess;
pub mod render;

pub use inspect::{inspect, Inspection};
pub use pictures::{confusion_svg, curves_svg, errors_png, Misclassified};
pub use render::render_image;
