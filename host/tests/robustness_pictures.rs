//! `predict --image` with pictures as users make them, and as a hostile user
//! makes them: transparent canvases, files that are not pictures, cut short,
//! or declaring 20000x20000 pixels in a few hundred bytes. (Topic file of the
//! robustness suite; see `robustness.rs`.)

mod common;

use std::path::Path;

use common::{image_model, run_host, s};

/// CRC-32 (IEEE) of `bytes`, for hand-made PNG chunks.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
    out
}

/// A PNG whose header declares `width`x`height` 8-bit gray pixels, followed
/// by a tiny (incomplete) image data chunk.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    png.extend(chunk(b"IHDR", &ihdr));
    png.extend(chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ));
    png.extend(chunk(b"IEND", &[]));
    png
}

fn predict(model: &Path, image: &Path) -> common::Run {
    run_host(&["predict", "--model", s(model), "--image", s(image)])
}

#[test]
fn hostile_and_damaged_pictures_get_messages_that_say_what_is_wrong() {
    let dir = common::tempdir();
    let (model, _) = image_model(dir.path());
    // 20000x20000 declared in 80 bytes: refused from the header, with the
    // dimensions and the limit.
    let huge = common::write(dir.path(), "huge.png", png_claiming(20000, 20000));
    predict(&model, &huge)
        .assert_error(&[s(&huge), "20000x20000", "4096x4096", "scale it down"])
        .assert_peak_rss_below(64 << 20);
    // Not a picture at all.
    let text = common::write(dir.path(), "digit.png", "this is not a picture\n");
    predict(&model, &text).assert_error(&[s(&text), "not a PNG or PGM", "convert it to PNG"]);
    // A real PNG cut short: damaged, not "convert it".
    let mut picture = image::GrayImage::from_pixel(64, 64, image::Luma([255]));
    for x in 10..50 {
        picture.put_pixel(x, 30, image::Luma([0]));
    }
    let whole = dir.path().join("whole.png");
    picture.save(&whole).unwrap();
    let bytes = std::fs::read(&whole).unwrap();
    let cut = common::write(dir.path(), "cut.png", &bytes[..bytes.len() / 2]);
    let run = predict(&model, &cut);
    run.assert_error(&[s(&cut), "PNG", "damaged or cut short"]);
    assert!(!run.stderr.contains("convert it to PNG"), "{}", run.stderr);
    // The whole one is fine.
    predict(&model, &whole).assert_ok();
}

#[test]
fn a_drawing_on_a_transparent_canvas_keeps_its_strokes() {
    let dir = common::tempdir();
    let (model, _) = image_model(dir.path());
    // An HTML canvas's default export: transparent black everywhere, the
    // strokes opaque black. Dropping alpha made it all black ("blank").
    let mut canvas = image::RgbaImage::from_pixel(280, 280, image::Rgba([0, 0, 0, 0]));
    for y in 100..130 {
        for x in 40..240 {
            canvas.put_pixel(x, y, image::Rgba([0, 0, 0, 255]));
        }
    }
    let path = dir.path().join("canvas.png");
    canvas.save(&path).unwrap();
    let run = predict(&model, &path);
    run.assert_ok();
    assert!(run.stdout.contains("predicted:"), "{run:#?}");
    // The same drawing, opaque: the same answer.
    let mut flat = image::GrayImage::from_pixel(280, 280, image::Luma([255]));
    for y in 100..130 {
        for x in 40..240 {
            flat.put_pixel(x, y, image::Luma([0]));
        }
    }
    let flat_path = dir.path().join("flat.png");
    flat.save(&flat_path).unwrap();
    let first = |r: &common::Run| r.stdout.lines().next().unwrap_or_default().to_string();
    assert_eq!(first(&run), first(&predict(&model, &flat_path)));
}
