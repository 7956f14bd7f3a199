//! A minimal firmware-side crate: an 8x8-digit classifier trained on the
//! desktop and shipped as plain Rust, `#![no_std]`, no allocation, whose only
//! dependency is `tinymlp`.
//!
//! The model in `model/` was trained and emitted with
//!
//! ```text
//! cargo run -p host --release -- train --data data/digits-8x8/digits-train.csv \
//!     --test data/digits-8x8/digits-test.csv --hidden 32,16 --out examples/digits/model
//! ```
//!
//! (64 standardised features → 32 → 16 → 10 classes). To ship your own model,
//! copy this crate and replace `model/` with your `--out` directory.
//!
//! ```
//! // One sample: 64 pixel intensities 0..=16, row by row (the first test row).
//! let raw: [f32; tinymlp_example_digits::INPUTS] = [
//!     0., 0., 3., 11., 16., 15., 0., 0., 0., 0., 15., 16., 5., 13., 0., 0.,
//!     0., 2., 16., 9., 0., 12., 0., 0., 0., 1., 9., 15., 10., 10., 0., 0.,
//!     0., 0., 0., 6., 16., 12., 1., 0., 0., 0., 2., 14., 2., 16., 5., 0.,
//!     0., 0., 8., 10., 1., 14., 4., 0., 0., 0., 3., 15., 16., 9., 0., 0.,
//! ];
//! let class = tinymlp_example_digits::classify(&raw);
//! assert_eq!(tinymlp_example_digits::CLASS_NAMES[class], "8");
//! assert_eq!(tinymlp_example_digits::int8::classify(&raw), class);
//! ```
#![no_std]
#![forbid(unsafe_code)]

include!("../model/weights.rs");

/// The same network quantised to int8 (integer arithmetic but for the input
/// scaling and one multiply per logit): `int8::classify(&raw)`.
pub mod int8 {
    include!("../model/weights_int8.rs");
}

#[cfg(test)]
extern crate std;

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::vec::Vec;

    use super::*;

    /// `(raw values, label)` of every row of the test CSV (header `label,p0,…`).
    fn test_rows() -> Vec<([f32; INPUTS], usize)> {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/digits-8x8/digits-test.csv");
        let text = std::fs::read_to_string(path).unwrap();
        text.lines()
            .skip(1)
            .map(|line| {
                let mut cells = line.split(',');
                let label = cells.next().unwrap().parse().unwrap();
                let values: Vec<f32> = cells.map(|c| c.parse().unwrap()).collect();
                (values.try_into().unwrap(), label)
            })
            .collect()
    }

    /// The class column of a predictions file written by the host (24-byte
    /// header, then per sample `CLASSES` values and the class, all `u32`).
    fn recorded(file: &str) -> Vec<(Vec<u32>, usize)> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("model")
            .join(file);
        let bytes = std::fs::read(path).unwrap();
        let words: Vec<u32> = bytes[24..]
            .chunks_exact(4)
            .map(|w| u32::from_le_bytes(w.try_into().unwrap()))
            .collect();
        words
            .chunks_exact(CLASSES + 1)
            .map(|r| (r[..CLASSES].to_vec(), r[CLASSES] as usize))
            .collect()
    }

    #[test]
    fn classify_answers_what_the_host_recorded_for_every_test_row() {
        let rows = test_rows();
        let f32_host = recorded("predictions_f32.bin");
        let int8_host = recorded("predictions_int8.bin");
        assert_eq!(
            (rows.len(), f32_host.len(), int8_host.len()),
            (450, 450, 450)
        );
        let mut correct = 0;
        for (((raw, label), (host_logits, class)), (acc, class8)) in
            rows.iter().zip(&f32_host).zip(&int8_host)
        {
            assert_eq!(classify(raw), *class);
            assert_eq!(&logits(raw).map(f32::to_bits)[..], &host_logits[..]);
            assert_eq!(int8::classify(raw), *class8);
            assert_eq!(&int8::accumulators(raw).map(|a| a as u32)[..], &acc[..]);
            correct += usize::from(classify(raw) == *label);
        }
        assert!(correct >= 430, "f32 accuracy {correct}/450");
    }
}
