//! Post-training int8 quantisation of a [`Model`] of any depth into a
//! run-time-shaped [`QNet`].
//!
//! The scheme is the one documented in [`tinymlp::quant`]:
//!
//! - input: pixel models take the `u8` pixels at scale `s_in = 1/255`; other
//!   models standardise the raw values (the model's [`Scaling`]) and quantise
//!   them with [`tinymlp::quantize_input`] at a calibrated `inv_scale`, zero
//!   point 128 ([`tinymlp::INPUT_ZERO_POINT`]), folded into the first layer's
//!   bias (`bias − 128·Σw`, exact in `i32`);
//! - weights: symmetric per row, `s_w[o] = max|W[o]| / 127`, `i8` in `−127..=127`;
//! - biases: `i32` at the accumulator scale `s_w[o] · s_x`;
//! - hidden activations: `u8` at a scale `s_h` calibrated per layer, the
//!   [`CALIBRATION_PERCENTILE`]th percentile of the `f32` network's ReLU
//!   outputs over the first [`CALIBRATION_SAMPLES`] training samples mapping
//!   to 255, requantised with a fixed-point `(multiplier, shift)` per row;
//! - output: `f32` logit `acc as f32 · scale[o]`, `scale[o] = s_w[o] · s_x`.
//!
//! The input scale of numeric models is calibrated the same way: the
//! percentile of `|x|` over the standardised calibration inputs maps to 127.
//!
//! All scale arithmetic is done in `f64`, deterministically. [`QNet`]
//! computes exactly what the emitted const-generic `QHidden … QOutput` chain
//! computes (the same `tinymlp` integer kernels, in the same order).

use tinymlp::INPUT_ZERO_POINT;

use super::error::ExportError;
use super::qnet::{QInput, QLayer, QNet, Rescale};
use crate::data::{Dataset, Encoding};
use crate::model::{Model, Net, Scaling};

/// Percentile of the activations that maps to the largest quantised value.
pub const CALIBRATION_PERCENTILE: f64 = 99.99;

/// Training samples used for calibration (the first ones of the set).
pub const CALIBRATION_SAMPLES: usize = 5000;

/// The input scale of pixel models: pixel `p` means `p / 255`.
pub const PIXEL_SCALE: f64 = 1.0 / 255.0;

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

/// The scale at which the [`CALIBRATION_PERCENTILE`]th percentile of
/// `values` maps to `top` (falls back to the maximum, and to `1/top` for
/// all-zero values).
fn calibrated_scale(mut values: Vec<f32>, top: f64) -> Result<f64, ExportError> {
    if values.is_empty() {
        return Err(ExportError::NoCalibrationData);
    }
    let rank = ((values.len() - 1) as f64 * CALIBRATION_PERCENTILE / 100.0).round() as usize;
    let (_, &mut at, _) = values.select_nth_unstable_by(rank, f32::total_cmp);
    let max = values.iter().copied().fold(0.0f32, f32::max);
    let range = if at > 0.0 { at } else { max };
    Ok(if range > 0.0 {
        f64::from(range) / top
    } else {
        1.0 / top
    })
}

/// A layer's int8 weights, `i32` biases and per-row accumulator scales.
type QuantizedRows = (Vec<i8>, Vec<i32>, Vec<f64>);

/// Symmetric per-row int8 quantisation of layer `l` of `net`, whose inputs
/// have scale `input_scale`: the weights, biases and the per-row accumulator
/// scales `s_w[o] · input_scale`.
fn quantize_layer(net: &Net, l: usize, input_scale: f64) -> Result<QuantizedRows, ExportError> {
    let layer = net.layer(l);
    for (t, values) in [(2 * l, layer.weights), (2 * l + 1, layer.bias)] {
        if let Some(index) = values.iter().position(|v| !v.is_finite()) {
            return Err(ExportError::NonFinite {
                tensor: net.tensor_info(t).name().to_string(),
                index,
            });
        }
    }
    let mut weights = Vec::with_capacity(layer.weights.len());
    let mut bias = Vec::with_capacity(layer.outputs());
    let mut acc_scale = Vec::with_capacity(layer.outputs());
    for (row, &b) in layer
        .weights
        .chunks_exact(layer.inputs.max(1))
        .zip(layer.bias)
    {
        let row = &row[..layer.inputs];
        let max = row.iter().fold(0.0f64, |m, &w| m.max(f64::from(w).abs()));
        // An all-zero row gets the scale a row of ±1 would have (its weights are 0 anyway).
        let s_w = if max > 0.0 { max / 127.0 } else { 1.0 / 127.0 };
        weights.extend(
            row.iter()
                .map(|&w| (f64::from(w) / s_w).round().clamp(-127.0, 127.0) as i8),
        );
        let scale = s_w * input_scale;
        let b = (f64::from(b) / scale).round();
        bias.push(b.clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32);
        acc_scale.push(scale);
    }
    Ok((weights, bias, acc_scale))
}

/// Quantises `model` with given scales: `input` (with its scale `s_in`) and
/// one activation scale `s_h` per hidden layer.
pub fn quantize_with_scales(
    model: &Model,
    input: QInput,
    hidden_scales: &[f64],
) -> Result<QNet, ExportError> {
    let net = &model.net;
    let layers = net.architecture().layers();
    assert_eq!(
        hidden_scales.len(),
        layers - 1,
        "one scale per hidden layer"
    );
    let mut input_scale = match &input {
        QInput::Pixels => PIXEL_SCALE,
        QInput::Quantize { inv_scale, .. } => 1.0 / f64::from(*inv_scale),
    };
    let mut out = Vec::with_capacity(layers);
    for l in 0..layers {
        let (weights, mut bias, acc_scale) = quantize_layer(net, l, input_scale)?;
        let inputs = net.layer(l).inputs;
        if l == 0 && matches!(input, QInput::Quantize { .. }) {
            // x_real = (q − 128)·s_in: fold −128·Σw into the bias.
            for (b, row) in bias.iter_mut().zip(weights.chunks_exact(inputs.max(1))) {
                let sum: i64 = row.iter().map(|&w| i64::from(w)).sum();
                let folded = i64::from(*b) - i64::from(INPUT_ZERO_POINT) * sum;
                *b = folded.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
            }
        }
        let rescale = if let Some(&s_h) = hidden_scales.get(l) {
            let mut multiplier = Vec::with_capacity(acc_scale.len());
            let mut shift = Vec::with_capacity(acc_scale.len());
            for &a in &acc_scale {
                let real = a / s_h;
                let (m, s) =
                    quantize_multiplier(real).ok_or_else(|| ExportError::MultiplierOutOfRange {
                        layer: format!("fc{}", l + 1),
                        value: real,
                    })?;
                multiplier.push(m);
                shift.push(s);
            }
            input_scale = s_h;
            Rescale::Requantize { multiplier, shift }
        } else {
            Rescale::Output {
                scale: acc_scale.iter().map(|&s| s as f32).collect(),
            }
        };
        out.push(QLayer {
            weights,
            bias,
            inputs,
            rescale,
        });
    }
    Ok(QNet { input, layers: out })
}

/// Quantises `model`, calibrating the input scale (numeric models) and every
/// hidden activation scale on `calibration`'s first [`CALIBRATION_SAMPLES`]
/// samples.
pub fn quantize_calibrated(model: &Model, calibration: &Dataset) -> Result<QNet, ExportError> {
    model
        .check_data(calibration, std::path::Path::new("the model"))
        .map_err(ExportError::Data)?;
    let n = calibration.len().min(CALIBRATION_SAMPLES);
    if n == 0 {
        return Err(ExportError::NoCalibrationData);
    }
    let pixels = model.scaling.takes_pixels() && calibration.encoding() == Encoding::Pixels;
    let hidden = model.net.architecture().layers() - 1;
    let mut activations = vec![Vec::new(); hidden];
    let mut magnitudes = Vec::new();
    model.forward_each(calibration, n, |_, outputs| {
        for (l, activations) in activations.iter_mut().enumerate() {
            activations.extend_from_slice(outputs.layer(l));
        }
    });
    if !pixels {
        let mut x = vec![0.0; model.inputs()];
        for i in 0..n {
            model.input(calibration, i, &mut x);
            magnitudes.extend(x.iter().map(|v| v.abs()));
        }
    }
    let input = if pixels {
        QInput::Pixels
    } else {
        let (mean, inv_std) = match &model.scaling {
            Scaling::Standardize { mean, inv_std } => (mean.clone(), inv_std.clone()),
            // Identity standardisation: (r − 0)·1 is r, bit for bit.
            Scaling::Pixels | Scaling::None => {
                (vec![0.0; model.inputs()], vec![1.0; model.inputs()])
            }
        };
        if let Scaling::Pixels = model.scaling {
            // Pixel scaling over non-pixel data cannot happen for a checked
            // model; quantise p/255 as if standardised to stay exact anyway.
            return Err(ExportError::Data(
                "a pixel model needs pixel data (whole numbers 0..=255) to calibrate".into(),
            ));
        }
        let s_in = calibrated_scale(magnitudes, 127.0)?;
        QInput::Quantize {
            mean,
            inv_std,
            inv_scale: (1.0 / s_in) as f32,
        }
    };
    let scales = activations
        .into_iter()
        .map(|values| calibrated_scale(values, 255.0))
        .collect::<Result<Vec<_>, _>>()?;
    quantize_with_scales(model, input, &scales)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Classes;
    use crate::model::{Architecture, HiddenLayers};
    use tinymlp::quant::requantize_u8;

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
            assert_eq!(requantize_u8(acc, m, s), expected, "acc {acc}");
        }
    }

    fn model(widths: &[usize], scaling: Scaling) -> Model {
        let arch = Architecture::from_widths(widths.to_vec()).unwrap();
        Model {
            net: Net::initialised(&arch, 3),
            scaling,
            classes: Classes::numeric(*widths.last().unwrap()),
            image: None,
        }
    }

    #[test]
    fn zero_point_is_folded_into_the_first_bias() {
        let m = model(&[3, 2], Scaling::None);
        let input = QInput::Quantize {
            mean: vec![0.0; 3],
            inv_std: vec![1.0; 3],
            inv_scale: 10.0,
        };
        let q = quantize_with_scales(&m, input, &[]).unwrap();
        let layer = &q.layers[0];
        // A raw input of 0 quantises to the zero point and means 0: the
        // accumulator is the unfolded bias, 0 for an untrained layer.
        assert_eq!(q.input(&[0.0; 3]), [128; 3]);
        assert_eq!(q.accumulators(&[0.0; 3]), [0, 0]);
        let raw = [0.5, -0.3, 1.2];
        let expected: Vec<i32> = layer
            .weights
            .chunks(3)
            .map(|row| {
                row.iter()
                    .zip(&raw)
                    .map(|(&w, &r)| i32::from(w) * (libm::floorf(r * 10.0 + 0.5) as i32))
                    .sum()
            })
            .collect();
        assert_eq!(q.accumulators(&raw), expected);
    }

    #[test]
    fn nan_weight_is_rejected_with_its_tensor() {
        let mut m = model(&[4, 3, 2], Scaling::None);
        m.net.tensor_mut(2)[5] = f32::NAN;
        let err = quantize_with_scales(&m, QInput::Pixels, &[0.1]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "fc2.weight[5] is NaN or infinite: cannot export it"
        );
        let _ = HiddenLayers(vec![]);
    }
}
