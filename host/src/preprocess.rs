//! Turning a picture of a digit into a 28×28 MNIST-style image.
//!
//! MNIST digits are white on black, fitted into a 20×20 box (keeping their
//! aspect ratio) and placed in a 28×28 image so that their centre of mass is
//! at the centre. [`to_mnist`] does the same to any grayscale picture:
//!
//! 1. **invert** dark-on-light drawings ([`is_light_background`]: the border is
//!    brighter than mid-grey), and stretch the contrast so the background is
//!    0 and the darkest stroke 255 ([`normalize`]);
//! 2. **crop** to the bounding box of the ink ([`bounding_box`]);
//! 3. **scale** the longer side to 20 pixels with an anti-aliasing filter;
//! 4. **centre** by centre of mass in 28×28 ([`center_by_mass`]).

use std::path::Path;

use anyhow::{bail, Context, Result};
use image::imageops::{self, FilterType};
use image::GrayImage;

/// Side of an MNIST image.
pub const SIDE: usize = 28;
/// Side of the box the digit is scaled into.
pub const BOX: u32 = 20;
/// A pixel counts as ink for cropping when it is above this (after
/// [`normalize`]), so faint noise does not widen the bounding box.
pub const INK_THRESHOLD: u8 = 32;

/// Reads a PNG or PGM/PBM/PPM file as 8-bit grayscale.
pub fn load_gray(path: &Path) -> Result<GrayImage> {
    let reader = image::ImageReader::open(path)
        .with_context(|| format!("{}: cannot open the image", path.display()))?
        .with_guessed_format()
        .with_context(|| format!("{}: cannot read the image", path.display()))?;
    let image = reader.decode().with_context(|| {
        format!(
            "{}: not a readable PNG or PGM image; convert it to PNG (e.g. `convert in.jpg out.png`)",
            path.display()
        )
    })?;
    Ok(image.into_luma8())
}

/// Reads an image file and prepares it like MNIST: see [`to_mnist`].
pub fn load_digit(path: &Path) -> Result<[u8; SIDE * SIDE]> {
    let gray = load_gray(path)?;
    to_mnist(&gray).with_context(|| format!("{}: no digit found", path.display()))
}

/// Whether the picture is dark ink on a light background: the mean of its
/// border pixels is above mid-grey.
pub fn is_light_background(image: &GrayImage) -> bool {
    let (w, h) = image.dimensions();
    let mut sum = 0u64;
    let mut count = 0u64;
    for (x, y, p) in image.enumerate_pixels() {
        if x == 0 || y == 0 || x + 1 == w || y + 1 == h {
            sum += u64::from(p.0[0]);
            count += 1;
        }
    }
    count > 0 && sum > 127 * count
}

/// Makes ink bright on black: inverts a light-background picture, then maps
/// the background level (mean of the border) to 0 and the brightest ink to
/// 255, clamping what lies outside.
pub fn normalize(image: &GrayImage) -> GrayImage {
    let mut out = image.clone();
    if is_light_background(image) {
        imageops::invert(&mut out);
    }
    let (w, h) = out.dimensions();
    let border: Vec<u32> = out
        .enumerate_pixels()
        .filter(|(x, y, _)| *x == 0 || *y == 0 || x + 1 == w || y + 1 == h)
        .map(|(_, _, p)| u32::from(p.0[0]))
        .collect();
    let background = border.iter().sum::<u32>() / border.len().max(1) as u32;
    let peak = out.pixels().map(|p| u32::from(p.0[0])).max().unwrap_or(0);
    if peak <= background {
        for p in out.pixels_mut() {
            p.0[0] = 0;
        }
        return out;
    }
    let range = peak - background;
    for p in out.pixels_mut() {
        let v = u32::from(p.0[0]).saturating_sub(background);
        p.0[0] = u8::try_from(v * 255 / range).unwrap_or(255);
    }
    out
}

/// The smallest rectangle `(x, y, width, height)` holding every pixel above
/// `threshold`; `None` if there is none.
pub fn bounding_box(image: &GrayImage, threshold: u8) -> Option<(u32, u32, u32, u32)> {
    let mut bounds: Option<(u32, u32, u32, u32)> = None;
    for (x, y, p) in image.enumerate_pixels() {
        if p.0[0] > threshold {
            let (x0, y0, x1, y1) = bounds.unwrap_or((x, y, x, y));
            bounds = Some((x0.min(x), y0.min(y), x1.max(x), y1.max(y)));
        }
    }
    bounds.map(|(x0, y0, x1, y1)| (x0, y0, x1 - x0 + 1, y1 - y0 + 1))
}

/// Centre of mass `(x, y)` of the pixel intensities, in pixel indices
/// (pixel `(0, 0)` is at `(0.0, 0.0)`); `None` for an all-black image.
pub fn center_of_mass(pixels: &[u8], width: usize) -> Option<(f64, f64)> {
    let mut total = 0.0;
    let (mut sx, mut sy) = (0.0, 0.0);
    for (i, &p) in pixels.iter().enumerate() {
        let w = f64::from(p);
        total += w;
        sx += w * (i % width) as f64;
        sy += w * (i / width) as f64;
    }
    (total > 0.0).then(|| (sx / total, sy / total))
}

/// Places `image` in a black 28×28 image so that its centre of mass lands on
/// pixel (14, 14), as MNIST was prepared; parts pushed outside are cut.
pub fn center_by_mass(image: &GrayImage) -> [u8; SIDE * SIDE] {
    let mut out = [0u8; SIDE * SIDE];
    let w = image.width();
    let Some((cx, cy)) = center_of_mass(image.as_raw(), w as usize) else {
        return out;
    };
    let target = (SIDE / 2) as f64;
    let dx = (target - cx).round() as i64;
    let dy = (target - cy).round() as i64;
    for (x, y, p) in image.enumerate_pixels() {
        let (tx, ty) = (i64::from(x) + dx, i64::from(y) + dy);
        if (0..SIDE as i64).contains(&tx) && (0..SIDE as i64).contains(&ty) {
            out[ty as usize * SIDE + tx as usize] = p.0[0];
        }
    }
    out
}

/// Prepares a grayscale picture of one digit as MNIST was prepared (see the
/// module documentation). Fails if the picture holds no ink at all.
pub fn to_mnist(image: &GrayImage) -> Result<[u8; SIDE * SIDE]> {
    let ink = normalize(image);
    let Some((x, y, w, h)) = bounding_box(&ink, INK_THRESHOLD) else {
        bail!("the picture is blank: no pixel stands out from the background");
    };
    let cropped = imageops::crop_imm(&ink, x, y, w, h).to_image();
    let (nw, nh) = if w >= h {
        (BOX, (h * BOX + w / 2) / w)
    } else {
        ((w * BOX + h / 2) / h, BOX)
    };
    let scaled = imageops::resize(&cropped, nw.max(1), nh.max(1), FilterType::Triangle);
    Ok(center_by_mass(&scaled))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    /// A dark-on-light picture: white 60x40 canvas, a black bar off-centre.
    fn drawing() -> GrayImage {
        let mut img = GrayImage::from_pixel(60, 40, Luma([250]));
        for y in 5..30 {
            for x in 40..46 {
                img.put_pixel(x, y, Luma([10]));
            }
        }
        img
    }

    #[test]
    fn detects_and_inverts_light_backgrounds() {
        let img = drawing();
        assert!(is_light_background(&img));
        let norm = normalize(&img);
        assert!(!is_light_background(&norm));
        assert_eq!(norm.get_pixel(0, 0).0[0], 0, "background becomes black");
        assert_eq!(norm.get_pixel(42, 10).0[0], 255, "ink becomes white");
        // A picture that is already white on black is not inverted.
        let mut dark = GrayImage::new(10, 10);
        dark.put_pixel(5, 5, Luma([200]));
        assert!(!is_light_background(&dark));
        assert_eq!(normalize(&dark).get_pixel(5, 5).0[0], 255);
        assert_eq!(normalize(&dark).get_pixel(0, 0).0[0], 0);
    }

    #[test]
    fn crops_to_the_ink() {
        let norm = normalize(&drawing());
        assert_eq!(bounding_box(&norm, INK_THRESHOLD), Some((40, 5, 6, 25)));
        assert_eq!(bounding_box(&GrayImage::new(5, 5), INK_THRESHOLD), None);
        assert!(to_mnist(&GrayImage::from_pixel(8, 8, Luma([255]))).is_err());
    }

    #[test]
    fn fits_the_box_and_centres_the_mass() {
        let out = to_mnist(&drawing()).unwrap();
        let (cx, cy) = center_of_mass(&out, SIDE).unwrap();
        assert!(
            (cx - 14.0).abs() <= 1.0 && (cy - 14.0).abs() <= 1.0,
            "{cx} {cy}"
        );
        // The 6x25 bar is scaled to 20 high (aspect kept: about 5 wide).
        let img = GrayImage::from_raw(28, 28, out.to_vec()).unwrap();
        let (_, _, w, h) = bounding_box(&img, INK_THRESHOLD).unwrap();
        assert!((19..=20).contains(&h), "height {h}");
        assert!((4..=6).contains(&w), "width {w}");
        // A wide shape in a corner: the longer side is 20, and it is centred.
        let mut corner = GrayImage::new(200, 200);
        for y in 150..170 {
            for x in 100..180 {
                corner.put_pixel(x, y, Luma([255]));
            }
        }
        let out = to_mnist(&corner).unwrap();
        let (cx, cy) = center_of_mass(&out, SIDE).unwrap();
        assert!(
            (cx - 14.0).abs() <= 1.0 && (cy - 14.0).abs() <= 1.0,
            "{cx} {cy}"
        );
        let img = GrayImage::from_raw(28, 28, out.to_vec()).unwrap();
        let (_, _, w, h) = bounding_box(&img, INK_THRESHOLD).unwrap();
        assert!((19..=20).contains(&w) && (4..=6).contains(&h), "{w}x{h}");
    }
}
