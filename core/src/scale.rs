//! Input scaling of numeric features, the same bits on the host and the chip.
//!
//! Pixel data is scaled by [`pixels_to_input`](crate::pixels_to_input)
//! (`p / 255`). Numeric features (sensor readings, audio features) are
//! *standardised* with the training set's mean and standard deviation, which
//! the host stores in the checkpoint and emits next to the weights, so that
//! firmware passes raw readings in:
//!
//! ```text
//! x[i] = (raw[i] − mean[i]) · inv_std[i]        (f32, in this order)
//! ```
//!
//! A constant feature has `inv_std = 1` (its standardised value is then 0).
//!
//! For int8 networks the standardised value is quantised once more, to a
//! `u8` with zero point 128 (see [`quantize_input`]).

/// Standardises `raw` into `x`: `x[i] = (raw[i] − mean[i]) · inv_std[i]`.
///
/// # Panics
/// If the slices differ in length.
#[inline]
pub fn standardize(raw: &[f32], mean: &[f32], inv_std: &[f32], x: &mut [f32]) {
    assert!(
        raw.len() == mean.len() && raw.len() == inv_std.len() && raw.len() == x.len(),
        "standardize: length mismatch"
    );
    for (((x, &r), &m), &s) in x.iter_mut().zip(raw).zip(mean).zip(inv_std) {
        *x = (r - m) * s;
    }
}

/// Adds one sample's raw features to the running sums a standardisation is
/// fitted from ([`fit_standardize`]): `sum[i] += raw[i]`, `sum_sq[i] +=
/// raw[i]²`, in `f64`. The host fits a model's scaling with it, sample after
/// sample in training-set order, and a chip training from scratch does the
/// same with the samples it receives.
///
/// # Panics
/// If the slices differ in length.
#[inline]
pub fn accumulate_moments(raw: &[f32], sum: &mut [f64], sum_sq: &mut [f64]) {
    assert!(
        raw.len() == sum.len() && raw.len() == sum_sq.len(),
        "accumulate_moments: length mismatch"
    );
    for ((s, q), &r) in sum.iter_mut().zip(sum_sq.iter_mut()).zip(raw) {
        *s += f64::from(r);
        *q += f64::from(r) * f64::from(r);
    }
}

/// The standardisation of the `count` samples whose sums
/// [`accumulate_moments`] gathered: `mean = sum / count` and `inv_std = 1 /
/// std` with the population standard deviation `√max(sum_sq / count − mean²,
/// 0)`, all in `f64`, rounded once to `f32`. A feature whose deviation is
/// negligible next to its mean (or below 1e-30) is constant: `inv_std = 1`.
/// `count` 0 counts as 1.
///
/// # Panics
/// If the slices differ in length.
pub fn fit_standardize(
    sum: &[f64],
    sum_sq: &[f64],
    count: usize,
    mean: &mut [f32],
    inv_std: &mut [f32],
) {
    assert!(
        sum.len() == sum_sq.len() && sum.len() == mean.len() && sum.len() == inv_std.len(),
        "fit_standardize: length mismatch"
    );
    let count = count.max(1) as f64;
    for (((&s, &q), m_out), i_out) in sum.iter().zip(sum_sq).zip(mean).zip(inv_std) {
        let m = s / count;
        let variance = (q / count - m * m).max(0.0);
        let std = libm::sqrt(variance);
        // Relative to the feature's size: a feature that is constant up to
        // rounding is constant.
        *i_out = if std <= 1e-6 * libm::fabs(m).max(1e-30) || std < 1e-30 {
            1.0
        } else {
            (1.0 / std) as f32
        };
        *m_out = m as f32;
    }
}

/// The standardisation of `N` features, as a `const`-constructible value for
/// emitted firmware code.
///
/// ```
/// use tinymlp::Standardize;
/// static SCALE: Standardize<2> = Standardize::new([10.0, 0.5], [0.5, 1.0]);
/// assert_eq!(SCALE.apply(&[12.0, 0.5]), [1.0, 0.0]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Standardize<const N: usize> {
    /// Mean of each feature over the training set.
    pub mean: [f32; N],
    /// `1 / standard deviation` of each feature (1 for a constant feature).
    pub inv_std: [f32; N],
}

impl<const N: usize> Standardize<N> {
    /// A standardisation from its means and inverse standard deviations.
    pub const fn new(mean: [f32; N], inv_std: [f32; N]) -> Self {
        Self { mean, inv_std }
    }

    /// The standardisation fitted from the sums of `count` samples (see
    /// [`accumulate_moments`] and [`fit_standardize`]).
    pub fn fit(sum: &[f64; N], sum_sq: &[f64; N], count: usize) -> Self {
        let mut fitted = Self::new([0.0; N], [1.0; N]);
        fit_standardize(sum, sum_sq, count, &mut fitted.mean, &mut fitted.inv_std);
        fitted
    }

    /// The network input for the raw features `raw`.
    #[inline]
    pub fn apply(&self, raw: &[f32; N]) -> [f32; N] {
        let mut x = [0.0; N];
        standardize(raw, &self.mean, &self.inv_std, &mut x);
        x
    }
}

/// Zero point of a quantised numeric input: `u8` 128 means 0.0.
pub const INPUT_ZERO_POINT: i32 = 128;

/// Quantises one standardised value to the `u8` input of an int8 network:
/// `clamp(floor(x · inv_scale + 0.5), −128, 127) + 128`, i.e. round half up
/// at scale `1 / inv_scale`, then shifted by the zero point. NaN gives 128.
#[inline]
pub fn quantize_input(x: f32, inv_scale: f32) -> u8 {
    let q = libm::floorf(x * inv_scale + 0.5).clamp(-128.0, 127.0);
    // `as` saturates and maps NaN to 0: the clamp above keeps it in range.
    (q as i32 + INPUT_ZERO_POINT) as u8
}

/// The int8 input of a network over standardised numeric features.
///
/// ```
/// use tinymlp::{QuantizeInput, Standardize};
/// static SCALE: Standardize<2> = Standardize::new([0.0, 0.0], [1.0, 1.0]);
/// static QUANT: QuantizeInput<2> = QuantizeInput::new(SCALE, 10.0);
/// assert_eq!(QUANT.apply(&[1.0, -0.25]), [138, 126]); // 10, −2.5 → −2, plus 128
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuantizeInput<const N: usize> {
    /// The standardisation applied first.
    pub standardize: Standardize<N>,
    /// `1 / s_in`: standardised units per quantisation step.
    pub inv_scale: f32,
}

impl<const N: usize> QuantizeInput<N> {
    /// The input quantiser from its standardisation and inverse scale.
    pub const fn new(standardize: Standardize<N>, inv_scale: f32) -> Self {
        Self {
            standardize,
            inv_scale,
        }
    }

    /// The `u8` network input for the raw features `raw`.
    #[inline]
    pub fn apply(&self, raw: &[f32; N]) -> [u8; N] {
        let x = self.standardize.apply(raw);
        core::array::from_fn(|i| quantize_input(x[i], self.inv_scale))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantize_rounds_half_up_clamps_and_maps_nan_to_the_zero_point() {
        assert_eq!(quantize_input(0.0, 1.0), 128);
        assert_eq!(quantize_input(0.5, 1.0), 129);
        assert_eq!(quantize_input(-0.5, 1.0), 128);
        assert_eq!(quantize_input(-0.51, 1.0), 127);
        assert_eq!(quantize_input(1e9, 1.0), 255);
        assert_eq!(quantize_input(-1e9, 1.0), 0);
        assert_eq!(quantize_input(f32::NAN, 1.0), 128);
    }
}
