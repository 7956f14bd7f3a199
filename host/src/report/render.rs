//! Drawing an image of any size in the terminal with Unicode shades.

/// The shades from background to full ink.
pub const SHADES: [char; 5] = [' ', '░', '▒', '▓', '█'];

/// The shade for a pixel value: 0 is blank, 255 is a full block.
pub fn shade(value: u8) -> char {
    SHADES[usize::from(value) * SHADES.len() / 256]
}

/// Draws a `rows × cols` image (row-major, white ink on black as in MNIST)
/// as text in a thin frame, two characters per pixel so it keeps its aspect
/// ratio in a terminal. Every line ends with `\n`.
///
/// # Panics
/// If `pixels` is shorter than `rows * cols`.
pub fn render_image(pixels: &[u8], rows: usize, cols: usize) -> String {
    let mut out = String::with_capacity((rows + 2) * (cols * 2 + 3) * 3);
    let rule = "─".repeat(cols * 2);
    out.push('┌');
    out.push_str(&rule);
    out.push_str("┐\n");
    if cols > 0 {
        for row in pixels[..rows * cols].chunks_exact(cols) {
            out.push('│');
            for &p in row {
                let c = shade(p);
                out.push(c);
                out.push(c);
            }
            out.push_str("│\n");
        }
    }
    out.push('└');
    out.push_str(&rule);
    out.push_str("┘\n");
    out
}

/// Raw values (any range) as pixels: the smallest value is 0, the largest
/// 255 (all 0 when they are equal). For drawing `f32` images.
pub fn to_pixels(values: &[f32]) -> Vec<u8> {
    let lo = values.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return vec![0; values.len()];
    }
    values
        .iter()
        .map(|&v| ((v - lo) / (hi - lo) * 255.0).round().clamp(0.0, 255.0) as u8)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shades_span_blank_to_block() {
        assert_eq!(shade(0), ' ');
        assert_eq!(shade(60), '░');
        assert_eq!(shade(128), '▒');
        assert_eq!(shade(180), '▓');
        assert_eq!(shade(255), '█');
    }

    #[test]
    fn draws_two_characters_per_pixel_in_a_frame() {
        let text = render_image(&[0, 255, 128, 0, 1, 2], 2, 3);
        assert_eq!(text, "┌──────┐\n│  ██▒▒│\n│      │\n└──────┘\n");
        let tall = render_image(&[255; 5], 5, 1);
        assert_eq!(tall.lines().count(), 7);
        assert!(tall.lines().all(|l| l.chars().count() == 4));
    }

    #[test]
    fn values_stretch_to_pixels() {
        assert_eq!(to_pixels(&[-1.0, 0.0, 1.0]), [0, 128, 255]);
        assert_eq!(to_pixels(&[3.0, 3.0]), [0, 0]);
    }
}
