//! Post-training int8 quantisation of trained networks.
//!
//! Implements the scheme documented in [`tinymlp::quant`]: `u8` pixels at scale
//! `1/255`, symmetric per-row `i8` weights (`s_w[o] = max|W[o]|/127`), `i32`
//! biases at the accumulator scale, `u8` hidden activations at a scale `s_h`
//! calibrated on sample inputs, and `f32` output scales.
//!
//! The hidden scale is `s_h = q / 255` where `q` is the
//! [`CALIBRATION_PERCENTILE`]th percentile of the `f32` network's hidden (ReLU)
//! activations over the calibration images: the rare larger activations clip at
//! 255 instead of stretching the scale for everyone.
//!
//! All scale arithmetic is done in `f64`, deterministically: the same network
//! and calibration images give the same quantised network.

use std::fmt;

use tinymlp::{pixels_to_input, Dense, Mlp, Mlp2, Network, QDense, QMlp, QMlp2, Requantize};

/// Percentile of the hidden activations that maps to the largest `u8` (255).
pub const CALIBRATION_PERCENTILE: f64 = 99.99;

/// The input scale: pixel `p` means `p / 255`.
pub const INPUT_SCALE: f64 = 1.0 / 255.0;

/// Why a network could not be quantised.
#[derive(Clone, Debug, PartialEq)]
pub enum QuantizeError {
    /// A weight or bias is NaN or infinite.
    NonFinite {
        /// Layer name (`fc1`, `fc2`, `fc3`).
        layer: &'static str,
    },
    /// No calibration image was given.
    NoCalibrationData,
    /// A requantisation multiplier does not fit the fixed-point format
    /// (`s_w · s_x / s_h` of `2^30` or more).
    MultiplierOutOfRange {
        /// Layer name.
        layer: &'static str,
        /// The real multiplier.
        value: f64,
    },
}

impl fmt::Display for QuantizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NonFinite { layer } => write!(f, "layer {layer} has a NaN or infinite parameter"),
            Self::NoCalibrationData => write!(f, "no calibration images"),
            Self::MultiplierOutOfRange { layer, value } => {
                write!(
                    f,
                    "layer {layer}: requantisation multiplier {value:e} out of range"
                )
            }
        }
    }
}

impl std::error::Error for QuantizeError {}

/// Splits a positive real multiplier into `(multiplier, shift)` with
/// `real ≈ multiplier · 2^-shift`, `multiplier` in `[2^30, 2^31)` and `shift`
/// in `1..=62` (see [`tinymlp::quant::requantize_u8`]).
///
/// Multipliers too small for a shift of 62 lose leading bits (down to 0, which
/// makes the row's activations 0). Returns `None` for a non-finite or negative
/// value or one of `2^30` or more.
pub fn quantize_multiplier(real: f64) -> Option<(i32, u8)> {
    if !real.is_finite() || real < 0.0 {
        return None;
    }
    if real == 0.0 {
        return Some((0, 62));
    }
    // real = m · 2^e with m in [0.5, 1).
    let mut m = real;
    let mut e: i32 = 0;
    while m >= 1.0 {
        m /= 2.0;
        e += 1;
    }
    while m < 0.5 {
        m *= 2.0;
        e -= 1;
    }
    let mut q = (m * f64::from(1u32 << 31)).round() as i64;
    if q == 1i64 << 31 {
        q /= 2;
        e += 1;
    }
    let mut shift = 31 - e;
    if shift < 1 {
        return None;
    }
    if shift > 62 {
        let extra = shift - 62;
        q = if extra >= 63 {
            0
        } else {
            // Round the dropped bits to nearest.
            (q + (1i64 << (extra - 1))) >> extra
        };
        shift = 62;
    }
    Some((i32::try_from(q).ok()?, shift as u8))
}

/// Symmetric per-row int8 quantisation of one layer whose inputs have scale `input_scale`.
///
/// Returns the layer and the per-row accumulator scales `s_w[o] · input_scale`.
fn quantize_dense<const IN: usize, const OUT: usize>(
    layer: &Dense<IN, OUT>,
    input_scale: f64,
    name: &'static str,
) -> Result<(QDense<IN, OUT>, [f64; OUT]), QuantizeError> {
    let finite = layer
        .weights
        .as_flattened()
        .iter()
        .chain(&layer.bias)
        .all(|v| v.is_finite());
    if !finite {
        return Err(QuantizeError::NonFinite { layer: name });
    }
    let mut q = QDense::<IN, OUT>::zeroed();
    let mut acc_scale = [0.0f64; OUT];
    for (o, row) in layer.weights.iter().enumerate() {
        let max = row.iter().fold(0.0f64, |m, &w| m.max(f64::from(w).abs()));
        // An all-zero row gets the scale a row of ±1 would have (its weights are 0 anyway).
        let s_w = if max > 0.0 { max / 127.0 } else { 1.0 / 127.0 };
        for (qw, &w) in q.weights[o].iter_mut().zip(row) {
            *qw = (f64::from(w) / s_w).round().clamp(-127.0, 127.0) as i8;
        }
        acc_scale[o] = s_w * input_scale;
        let b = (f64::from(layer.bias[o]) / acc_scale[o]).round();
        q.bias[o] = b.clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32;
    }
    Ok((q, acc_scale))
}

fn requantizer<const N: usize>(
    acc_scale: &[f64; N],
    output_scale: f64,
    name: &'static str,
) -> Result<Requantize<N>, QuantizeError> {
    let mut r = Requantize::new([0; N], [0; N]);
    for (o, &acc_scale) in acc_scale.iter().enumerate() {
        let real = acc_scale / output_scale;
        let (m, s) = quantize_multiplier(real).ok_or(QuantizeError::MultiplierOutOfRange {
            layer: name,
            value: real,
        })?;
        r.multiplier[o] = m;
        r.shift[o] = s;
    }
    Ok(r)
}

/// The `u8` scale for activations whose calibrated range is `values`
/// (the [`CALIBRATION_PERCENTILE`]th percentile maps to 255; falls back to the
/// maximum, and to `1/255` for all-zero activations).
fn activation_scale(mut values: Vec<f32>) -> Result<f64, QuantizeError> {
    if values.is_empty() {
        return Err(QuantizeError::NoCalibrationData);
    }
    let rank = ((values.len() - 1) as f64 * CALIBRATION_PERCENTILE / 100.0).round() as usize;
    let (_, &mut at, _) = values.select_nth_unstable_by(rank, f32::total_cmp);
    let max = values.iter().copied().fold(0.0f32, f32::max);
    let range = if at > 0.0 { at } else { max };
    Ok(if range > 0.0 {
        f64::from(range) / 255.0
    } else {
        1.0 / 255.0
    })
}

/// Calibrates the hidden activation scale `s_h` of `net` on `calibration` images.
pub fn hidden_scale<'a, const IN: usize, const H: usize, const OUT: usize>(
    net: &Mlp<IN, H, OUT>,
    calibration: impl IntoIterator<Item = &'a [u8; IN]>,
) -> Result<f64, QuantizeError> {
    let mut values = Vec::new();
    let mut scratch = Default::default();
    for pixels in calibration {
        net.forward(&pixels_to_input(pixels), &mut scratch);
        values.extend_from_slice(&scratch.hidden);
    }
    activation_scale(values)
}

/// Quantises `net` with a given hidden activation scale `s_h`.
pub fn quantize_with_scale<const IN: usize, const H: usize, const OUT: usize>(
    net: &Mlp<IN, H, OUT>,
    hidden_scale: f64,
) -> Result<QMlp<IN, H, OUT>, QuantizeError> {
    let (hidden, acc1) = quantize_dense(&net.hidden, INPUT_SCALE, "fc1")?;
    let hidden_requant = requantizer(&acc1, hidden_scale, "fc1")?;
    let (output, acc2) = quantize_dense(&net.output, hidden_scale, "fc2")?;
    Ok(QMlp::new(
        hidden,
        hidden_requant,
        output,
        acc2.map(|s| s as f32),
    ))
}

/// Quantises `net`, calibrating the hidden scale on `calibration` images
/// (e.g. a few thousand training images).
pub fn quantize<'a, const IN: usize, const H: usize, const OUT: usize>(
    net: &Mlp<IN, H, OUT>,
    calibration: impl IntoIterator<Item = &'a [u8; IN]>,
) -> Result<QMlp<IN, H, OUT>, QuantizeError> {
    quantize_with_scale(net, hidden_scale(net, calibration)?)
}

/// Quantises a two-hidden-layer `net`, calibrating both hidden scales on `calibration` images.
pub fn quantize2<'a, const IN: usize, const H1: usize, const H2: usize, const OUT: usize>(
    net: &Mlp2<IN, H1, H2, OUT>,
    calibration: impl IntoIterator<Item = &'a [u8; IN]>,
) -> Result<QMlp2<IN, H1, H2, OUT>, QuantizeError> {
    let (mut h1_values, mut h2_values) = (Vec::new(), Vec::new());
    let mut scratch = Default::default();
    for pixels in calibration {
        net.forward(&pixels_to_input(pixels), &mut scratch);
        h1_values.extend_from_slice(&scratch.hidden1);
        h2_values.extend_from_slice(&scratch.hidden2);
    }
    let s_h1 = activation_scale(h1_values)?;
    let s_h2 = activation_scale(h2_values)?;
    let (hidden1, acc1) = quantize_dense(&net.hidden1, INPUT_SCALE, "fc1")?;
    let hidden1_requant = requantizer(&acc1, s_h1, "fc1")?;
    let (hidden2, acc2) = quantize_dense(&net.hidden2, s_h1, "fc2")?;
    let hidden2_requant = requantizer(&acc2, s_h2, "fc2")?;
    let (output, acc3) = quantize_dense(&net.output, s_h2, "fc3")?;
    Ok(QMlp2::new(
        hidden1,
        hidden1_requant,
        hidden2,
        hidden2_requant,
        output,
        acc3.map(|s| s as f32),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplier_round_trips() {
        for &real in &[0.5, 0.75, 1e-3, 3.7e-5, 0.999_999_999_9, 1.0, 12.5, 1e-9] {
            let (m, s) = quantize_multiplier(real).unwrap();
            assert!((1 << 30..=i32::MAX).contains(&m), "{real}: {m}");
            let back = f64::from(m) / 2f64.powi(i32::from(s));
            assert!(((back - real) / real).abs() < 1e-9, "{real} -> {back}");
        }
        assert_eq!(quantize_multiplier(1.0), Some((1 << 30, 30)));
        assert_eq!(quantize_multiplier(f64::NAN), None);
        assert_eq!(quantize_multiplier(-1.0), None);
        assert_eq!(quantize_multiplier(2f64.powi(31)), None);
        // Too small for shift 62: bits are dropped, not the shift range.
        let (m, s) = quantize_multiplier(1e-15).unwrap();
        assert_eq!(s, 62);
        assert!(m > 0 && m < 1 << 30);
    }

    #[test]
    fn requantize_matches_real_multiplier() {
        let real = 0.0123;
        let (m, s) = quantize_multiplier(real).unwrap();
        for acc in [-5000, -1, 0, 1, 40, 81, 1000, 20_000, 1 << 20] {
            let expected = (f64::from(acc) * real).round().clamp(0.0, 255.0) as u8;
            assert_eq!(
                tinymlp::quant::requantize_u8(acc, m, s),
                expected,
                "acc {acc}"
            );
        }
    }

    #[test]
    fn nan_weight_is_rejected() {
        let mut net = Mlp::<4, 3, 2>::zeroed();
        net.output.weights[1][2] = f32::NAN;
        assert_eq!(
            quantize_with_scale(&net, 0.1),
            Err(QuantizeError::NonFinite { layer: "fc2" })
        );
        assert_eq!(
            quantize(&Mlp::<4, 3, 2>::zeroed(), std::iter::empty()),
            Err(QuantizeError::NoCalibrationData)
        );
    }
}
