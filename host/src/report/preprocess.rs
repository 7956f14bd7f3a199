//! Turning a picture into an image of the model's size, MNIST-style.
//!
//! MNIST digits are white on black, fitted into a 20×20 box (keeping their
//! aspect ratio) and placed in a 28×28 image so that their centre of mass is
//! at the centre. [`to_image`] does the same to any grayscale picture for
//! any image size `rows × cols`, the box being 20/28 of each side
//! ([`fit_box`]); for 28x28 it is exactly the MNIST preparation
//! ([`to_mnist`]):
//!
//! 1. **invert** dark-on-light drawings ([`is_light_background`]: the border is
//!    brighter than mid-grey), and stretch the contrast so the background is
//!    0 and the darkest stroke 255 ([`normalize`]);
//! 2. **crop** to the bounding box of the ink ([`bounding_box`]);
//! 3. **scale** it into the box (20x20 for 28x28), keeping the aspect
//!    ratio, with an anti-aliasing filter;
//! 4. **centre** by centre of mass in the image ([`center_by_mass`]).

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

/// Largest width and height of a picture [`load_gray`] decodes: far more
/// than a digit needs, small enough that decoding stays within
/// [`MAX_PICTURE_BYTES`].
pub const MAX_PICTURE_SIDE: u32 = 4096;
/// Most memory the decoder may allocate for one picture.
pub const MAX_PICTURE_BYTES: u64 = 160 << 20;

/// Reads a PNG or PGM/PBM/PPM file as 8-bit grayscale.
///
/// The dimensions are read from the header first, and a picture over
/// [`MAX_PICTURE_SIDE`] is refused before any pixel is decoded. Transparent
/// pixels are composited over the picture's background (white for dark ink,
/// black for light ink), so a drawing on a transparent canvas (an HTML
/// canvas's default export) keeps its strokes. Errors say what is wrong with
/// the file: not an image of a known kind, damaged or cut short, too large.
pub fn load_gray(path: &Path) -> Result<GrayImage> {
    let open = || -> Result<image::ImageReader<std::io::BufReader<std::fs::File>>> {
        image::ImageReader::open(path)
            .with_context(|| format!("{}: cannot open the picture", path.display()))?
            .with_guessed_format()
            .with_context(|| format!("{}: cannot read the picture", path.display()))
    };
    let reader = open()?;
    // The kind from the bytes, not the name: a text file named digit.png is
    // not a PNG.
    let mut magic = [0u8; 8];
    let n = std::io::Read::read(
        &mut std::fs::File::open(path)
            .with_context(|| format!("{}: cannot open the picture", path.display()))?,
        &mut magic,
    )
    .with_context(|| format!("{}: cannot read the picture", path.display()))?;
    let known = image::guess_format(&magic[..n])
        .ok()
        .filter(|f| matches!(f, image::ImageFormat::Png | image::ImageFormat::Pnm));
    let Some(format) = known.and(reader.format()) else {
        bail!(
            "{}: not a PNG or PGM/PPM/PBM picture (its first bytes are of no image kind this \
             reads); convert it to PNG (e.g. `convert in.jpg out.png`)",
            path.display()
        );
    };
    let kind = format!("{format:?}").to_uppercase();
    let damaged = |e: image::ImageError| match e {
        image::ImageError::Unsupported(e) => anyhow::anyhow!(
            "{}: a {kind} file of a kind this does not read ({e}); convert it to an 8-bit PNG",
            path.display()
        ),
        image::ImageError::IoError(e) => anyhow::anyhow!(
            "{}: cannot read the {kind} picture ({e}); the file is damaged or cut short",
            path.display()
        ),
        e => anyhow::anyhow!(
            "{}: not a readable {kind} picture ({e}); the file is damaged or cut short",
            path.display()
        ),
    };
    let (width, height) = reader.into_dimensions().map_err(damaged)?;
    if width > MAX_PICTURE_SIDE || height > MAX_PICTURE_SIDE {
        bail!(
            "{}: the picture is {width}x{height} pixels, more than the {MAX_PICTURE_SIDE}x\
             {MAX_PICTURE_SIDE} read; a digit needs far fewer: scale it down (e.g. `convert in.png \
             -resize 280x280 out.png`)",
            path.display()
        );
    }
    let mut reader = open()?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_PICTURE_SIDE);
    limits.max_image_height = Some(MAX_PICTURE_SIDE);
    limits.max_alloc = Some(MAX_PICTURE_BYTES);
    reader.limits(limits);
    let image = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => anyhow::anyhow!(
            "{}: the {width}x{height} picture needs more than {} MiB to decode; scale it down",
            path.display(),
            MAX_PICTURE_BYTES >> 20
        ),
        e => damaged(e),
    })?;
    if !image.color().has_alpha() {
        return Ok(image.into_luma8());
    }
    Ok(composite(&image.into_luma_alpha8()))
}

/// Gray and alpha to gray: each pixel over the background, which is white
/// when the visible ink is dark (its alpha-weighted mean below mid-grey) and
/// black when it is light.
pub fn composite(image: &image::GrayAlphaImage) -> GrayImage {
    let (mut ink, mut weight) = (0u64, 0u64);
    for p in image.pixels() {
        let [l, a] = p.0;
        ink += u64::from(l) * u64::from(a);
        weight += u64::from(a);
    }
    let background: u32 = if weight > 0 && ink < 128 * weight {
        255
    } else {
        0
    };
    GrayImage::from_fn(image.width(), image.height(), |x, y| {
        let [l, a] = image.get_pixel(x, y).0;
        let (l, a) = (u32::from(l), u32::from(a));
        image::Luma([((l * a + background * (255 - a) + 127) / 255) as u8])
    })
}

/// Reads an image file and prepares it like MNIST for a 28x28 model: see [`to_mnist`].
pub fn load_digit(path: &Path) -> Result<[u8; SIDE * SIDE]> {
    let gray = load_gray(path)?;
    to_mnist(&gray).with_context(|| format!("{}: no digit found", path.display()))
}

/// Reads an image file and prepares it for a model of `(rows, cols)`
/// images: see [`to_image`]. Row-major pixels, white ink on black.
pub fn load_picture(path: &Path, image: (usize, usize)) -> Result<Vec<u8>> {
    let gray = load_gray(path)?;
    to_image(&gray, image)
        .with_context(|| format!("{}: nothing found in the picture", path.display()))
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

/// Places `image` in a black `rows × cols` image so that its centre of mass
/// lands on pixel `(cols / 2, rows / 2)` ((14, 14) for 28x28, as MNIST was
/// prepared); parts pushed outside are cut.
pub fn center_by_mass(image: &GrayImage, (rows, cols): (usize, usize)) -> Vec<u8> {
    let mut out = vec![0u8; rows * cols];
    let w = image.width();
    let Some((cx, cy)) = center_of_mass(image.as_raw(), w as usize) else {
        return out;
    };
    let dx = ((cols / 2) as f64 - cx).round() as i64;
    let dy = ((rows / 2) as f64 - cy).round() as i64;
    for (x, y, p) in image.enumerate_pixels() {
        let (tx, ty) = (i64::from(x) + dx, i64::from(y) + dy);
        if (0..cols as i64).contains(&tx) && (0..rows as i64).contains(&ty) {
            out[ty as usize * cols + tx as usize] = p.0[0];
        }
    }
    out
}

/// The box `(width, height)` a picture is scaled into for `(rows, cols)`
/// images: 20/28 of each side, rounded, at least 1 (20x20 for 28x28).
pub fn fit_box((rows, cols): (usize, usize)) -> (u32, u32) {
    let side = |n: usize| ((n as u32 * BOX + SIDE as u32 / 2) / SIDE as u32).max(1);
    (side(cols), side(rows))
}

/// Prepares a grayscale picture of one digit as MNIST was prepared (see the
/// module documentation). Fails if the picture holds no ink at all.
pub fn to_mnist(image: &GrayImage) -> Result<[u8; SIDE * SIDE]> {
    let pixels = to_image(image, (SIDE, SIDE))?;
    Ok(pixels.try_into().expect("28x28 pixels"))
}

/// Prepares a grayscale picture for `(rows, cols)` images (see the module
/// documentation): row-major pixels. Fails if the picture holds no ink.
pub fn to_image(image: &GrayImage, (rows, cols): (usize, usize)) -> Result<Vec<u8>> {
    let ink = normalize(image);
    let Some((x, y, w, h)) = bounding_box(&ink, INK_THRESHOLD) else {
        bail!("the picture is blank: no pixel stands out from the background");
    };
    let cropped = imageops::crop_imm(&ink, x, y, w, h).to_image();
    let (bw, bh) = fit_box((rows, cols));
    // Keep the aspect ratio: the side that hits its edge of the box first
    // fills it (for a square box, the longer side).
    let (nw, nh) = if u64::from(w) * u64::from(bh) >= u64::from(h) * u64::from(bw) {
        (bw, (h * bw + w / 2) / w)
    } else {
        ((w * bh + h / 2) / h, bh)
    };
    let scaled = imageops::resize(&cropped, nw.max(1), nh.max(1), FilterType::Triangle);
    Ok(center_by_mass(&scaled, (rows, cols)))
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

    #[test]
    fn other_image_sizes() {
        assert_eq!(fit_box((28, 28)), (20, 20));
        assert_eq!(fit_box((8, 8)), (6, 6));
        assert_eq!(fit_box((14, 56)), (40, 10));
        let out = to_image(&drawing(), (8, 8)).unwrap();
        assert_eq!(out.len(), 64);
        let (cx, cy) = center_of_mass(&out, 8).unwrap();
        assert!(
            (cx - 4.0).abs() <= 1.0 && (cy - 4.0).abs() <= 1.0,
            "{cx} {cy}"
        );
        let wide = to_image(&drawing(), (14, 56)).unwrap();
        let img = GrayImage::from_raw(56, 14, wide).unwrap();
        let (_, _, _, h) = bounding_box(&img, INK_THRESHOLD).unwrap();
        assert!((9..=10).contains(&h), "the bar fills the box's height: {h}");
    }

    /// `to_image` at 28x28 is the MNIST preparation, pixel for pixel, as the
    /// code before any-size images computed it.
    #[test]
    fn mnist_output_is_unchanged() {
        let img = drawing();
        let ink = normalize(&img);
        let (x, y, w, h) = bounding_box(&ink, INK_THRESHOLD).unwrap();
        let cropped = imageops::crop_imm(&ink, x, y, w, h).to_image();
        let (nw, nh) = if w >= h {
            (BOX, (h * BOX + w / 2) / w)
        } else {
            ((w * BOX + h / 2) / h, BOX)
        };
        let scaled = imageops::resize(&cropped, nw.max(1), nh.max(1), FilterType::Triangle);
        assert_eq!(
            to_mnist(&img).unwrap().to_vec(),
            center_by_mass(&scaled, (28, 28))
        );
        assert_eq!(
            to_image(&img, (28, 28)).unwrap(),
            to_mnist(&img).unwrap().to_vec()
        );
    }
}
