//! int8 inference: the integer kernels and layers of quantised networks.
//!
//! The host quantises a trained `f32` network into a chain of these layers
//! ([`QHidden`](crate::QHidden) … [`QOutput`](crate::QOutput), see
//! `qchain`); the firmware runs it with integer arithmetic only, except for
//! the input scaling of numeric features and one `f32` multiply per logit at
//! the very end.
//!
//! # Scheme (TFLite-Micro-like)
//!
//! Real values `r` are represented as `r ≈ scale · q` (all zero points are 0):
//!
//! | tensor | type | scale |
//! |---|---|---|
//! | input (pixels) | `u8`, consumed directly | `s_in = 1/255` (pixel `p` means `p/255`, see [`pixels_to_input`](crate::pixels_to_input)) |
//! | input (numeric features) | `u8` with zero point 128, see [`QuantizeInput`](crate::QuantizeInput) | `s_in` calibrated by the host; the zero point is folded into the first layer's bias |
//! | weights, row `o` | `i8`, symmetric, `-127..=127` | `s_w[o] = max_i \|W[o][i]\| / 127` (per output row) |
//! | bias, row `o` | `i32` | `s_w[o] · s_x` (`s_x` = scale of the layer's input) |
//! | accumulator | `i32` | `s_w[o] · s_x` |
//! | hidden activations | `u8` (ReLU output, so no negative values) | `s_h`, calibrated by the host (a high percentile of the `f32` activations on training data) |
//! | logits | `f32` | `acc as f32 * out_scale[o]`, `out_scale[o] = s_w[o] · s_x` |
//!
//! A layer computes `acc[o] = bias[o] + Σ_i W[o][i] · x[i]` exactly in `i32`
//! (integer addition is associative, so every kernel and every target agrees;
//! `|acc|` stays below `2^31` for `IN < 66_000`).
//!
//! A hidden layer then **requantises** the accumulator to the next layer's `u8`
//! input: `h = clamp(round(acc · M[o]), 0, 255)` with the real multiplier
//! `M[o] = s_w[o] · s_x / s_h` stored as a fixed-point pair `(multiplier, shift)`,
//! `M ≈ multiplier · 2^-shift`, `multiplier` in `[2^30, 2^31)`. See
//! [`requantize_u8`] for the exact integer formula (a 32×32→64-bit multiply, a
//! rounding constant and one arithmetic shift: *round half up*, i.e. ties
//! towards +∞). The clamp to `0..=255` is the ReLU, folded in.
//!
//! The output layer keeps its `i32` accumulators
//! ([`QNetwork::accumulators`](crate::QNetwork::accumulators), used by
//! exactness tests) and converts them to `f32` logits with a single multiply
//! per row, which is correctly rounded IEEE arithmetic and so identical on every
//! target.
//!
//! # Kernels
//!
//! As in [`kernels`](crate::kernels), each integer dot product comes as a plain
//! reference loop ([`dot_i8_u8_ref`]) and an unrolled form ([`dot_i8_u8`]) with
//! independent accumulators. Both return the identical `i32`. The `*_with`
//! methods take the dot-product kernel as a parameter, and networks take a
//! [`QKernel`], so a target-specific kernel (for example one using the
//! Cortex-M4 `SMLAD` instruction) plugs into the same requantisation code.

/// Reference integer dot product `Σ w[i]·x[i]`, one element at a time.
///
/// # Panics
/// If the slices differ in length.
pub fn dot_i8_u8_ref(w: &[i8], x: &[u8]) -> i32 {
    assert_eq!(w.len(), x.len(), "dot_i8_u8_ref: length mismatch");
    let mut sum = 0i32;
    for i in 0..w.len() {
        sum = sum.wrapping_add(i32::from(w[i]) * i32::from(x[i]));
    }
    sum
}

/// Unrolled integer dot product: four independent accumulators over chunks of
/// four, then the remainder. Equal to [`dot_i8_u8_ref`] for every input.
///
/// This is the form for in-order cores such as the Cortex-M4 (the host's
/// vectorising compiler does better with the plain loop, which it gets
/// everywhere but on `arm`).
///
/// # Panics
/// If the slices differ in length.
#[cfg(target_arch = "arm")]
#[inline]
pub fn dot_i8_u8(w: &[i8], x: &[u8]) -> i32 {
    assert_eq!(w.len(), x.len(), "dot_i8_u8: length mismatch");
    let (w_chunks, w_tail) = w.as_chunks::<4>();
    let (x_chunks, x_tail) = x.as_chunks::<4>();
    let mut acc = [0i32; 4];
    for (wc, xc) in w_chunks.iter().zip(x_chunks) {
        for lane in 0..4 {
            acc[lane] = acc[lane].wrapping_add(i32::from(wc[lane]) * i32::from(xc[lane]));
        }
    }
    for (lane, (&a, &b)) in w_tail.iter().zip(x_tail).enumerate() {
        acc[lane] = acc[lane].wrapping_add(i32::from(a) * i32::from(b));
    }
    acc[0]
        .wrapping_add(acc[1])
        .wrapping_add(acc[2])
        .wrapping_add(acc[3])
}

/// Integer dot product, equal to [`dot_i8_u8_ref`] for every input.
///
/// On the host this is the plain element loop: integer sums are exact in any
/// order, and LLVM vectorises the plain loop (`vpmaddwd`) better than the
/// four-accumulator form used on `arm` (measured in `benches/benches/int8.rs`).
///
/// # Panics
/// If the slices differ in length.
#[cfg(not(target_arch = "arm"))]
#[inline]
pub fn dot_i8_u8(w: &[i8], x: &[u8]) -> i32 {
    assert_eq!(w.len(), x.len(), "dot_i8_u8: length mismatch");
    plain_dot(w, x)
}

/// Integer dot product of `i8` weights with inputs re-centred to `i8`
/// (`xs[i] = x[i] - 128`, see [`centre_u8`]): `Σ w[i]·xs[i] + 128 · Σ w[i]`,
/// which is `Σ w[i]·x[i]` exactly (wrapping `i32`, a ring), so equal to
/// [`dot_i8_u8_ref`]`(w, x)`.
///
/// Both operands of the multiply are signed bytes, so a vectorising compiler
/// can use a same-signedness byte dot product: on a Cortex-M55 LLVM makes the
/// loop `vldrb.u8` ×2, `vmlava.s8`, `vaddva.s8` and `letp`, 16 MACs in five
/// instructions (the `i8 × u8` loop has no such instruction and is widened to
/// 32-bit lanes). Used by [`QDense::accumulate`] with feature `helium`.
///
/// # Panics
/// If the slices differ in length.
#[inline]
pub fn dot_i8_centred(w: &[i8], xs: &[i8]) -> i32 {
    assert_eq!(w.len(), xs.len(), "dot_i8_centred: length mismatch");
    let mut dot = 0i32;
    let mut sum = 0i32;
    for (&a, &b) in w.iter().zip(xs) {
        dot = dot.wrapping_add(i32::from(a) * i32::from(b));
        sum = sum.wrapping_add(i32::from(a));
    }
    dot.wrapping_add(sum.wrapping_mul(128))
}

/// Two rows at once: [`dot_i8_centred`]`(w0, xs)` and `(w1, xs)`, sharing each
/// load of `xs` (on a Cortex-M55 eight MVE instructions per 32 MACs).
///
/// # Panics
/// If the slices differ in length.
#[inline]
pub fn dot2_i8_centred(w0: &[i8], w1: &[i8], xs: &[i8]) -> [i32; 2] {
    assert!(
        w0.len() == xs.len() && w1.len() == xs.len(),
        "dot2_i8_centred: length mismatch"
    );
    let (mut dot0, mut sum0, mut dot1, mut sum1) = (0i32, 0i32, 0i32, 0i32);
    for ((&a, &b), &x) in w0.iter().zip(w1).zip(xs) {
        dot0 = dot0.wrapping_add(i32::from(a) * i32::from(x));
        sum0 = sum0.wrapping_add(i32::from(a));
        dot1 = dot1.wrapping_add(i32::from(b) * i32::from(x));
        sum1 = sum1.wrapping_add(i32::from(b));
    }
    [
        dot0.wrapping_add(sum0.wrapping_mul(128)),
        dot1.wrapping_add(sum1.wrapping_mul(128)),
    ]
}

/// `x - 128` as an `i8` (flips the top bit), the input form of [`dot_i8_centred`].
#[inline]
pub const fn centre_u8(x: u8) -> i8 {
    (x ^ 0x80) as i8
}

/// Integer dot product of `i8` weights with inputs already widened to `i16`:
/// `Σ w[i]·x[i]` in `i32`, equal to [`dot_i8_u8_ref`]`(w, x')` whenever
/// `x[i] == i16::from(x'[i])`.
///
/// With both operands 16 bits wide, LLVM turns the plain loop into
/// `vpmaddwd` (AVX2/AVX-512) or `vpdpwssd` (AVX-512 VNNI), 32 multiply-adds
/// per instruction, with no widening of `x` inside the loop over rows.
/// [`QDense::accumulate`] widens its input once and uses this on the host.
///
/// # Panics
/// If the slices differ in length.
#[inline]
pub fn dot_i8_i16(w: &[i8], x: &[i16]) -> i32 {
    assert_eq!(w.len(), x.len(), "dot_i8_i16: length mismatch");
    plain_dot(w, x)
}

/// `Σ w[i]·x[i]` as one plain element loop in wrapping `i32` (the form LLVM
/// vectorises best on the host); `x` is `u8` or `i16`.
#[inline(always)]
fn plain_dot<X: Copy + Into<i32>>(w: &[i8], x: &[X]) -> i32 {
    w.iter().zip(x).fold(0i32, |sum, (&a, &b)| {
        sum.wrapping_add(i32::from(a) * b.into())
    })
}

/// Requantises one accumulator to a `u8` activation with ReLU folded in:
///
/// `clamp((acc · multiplier + 2^(shift-1)) >> shift, 0, 255)`
///
/// computed in `i64` (the product of two `i32` cannot overflow it, nor can the
/// rounding constant for `shift <= 62`). The arithmetic right shift floors, so
/// adding half of the divisor first rounds to nearest with ties towards +∞.
/// `shift` must be in `1..=62`; other values are clamped into that range.
#[inline]
pub fn requantize_u8(acc: i32, multiplier: i32, shift: u8) -> u8 {
    let shift = shift.clamp(1, 62);
    let product = i64::from(acc) * i64::from(multiplier);
    let rounded = (product + (1i64 << (shift - 1))) >> shift;
    rounded.clamp(0, 255) as u8
}

/// A quantised fully connected layer: `acc = bias + W·x` in `i32`.
///
/// Like [`Dense`](crate::Dense) it can be built in a `const` context, so an
/// emitted `pub static` holds it in flash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct QDense<const IN: usize, const OUT: usize> {
    /// `weights[o][i]`: symmetric int8 weight, real value `weights[o][i] · s_w[o]`.
    pub weights: [[i8; IN]; OUT],
    /// Bias of row `o` at the accumulator's scale `s_w[o] · s_x`.
    pub bias: [i32; OUT],
}

impl<const IN: usize, const OUT: usize> QDense<IN, OUT> {
    /// A layer from its quantised weights and biases.
    pub const fn new(weights: [[i8; IN]; OUT], bias: [i32; OUT]) -> Self {
        Self { weights, bias }
    }

    /// A layer with every parameter zero.
    pub const fn zeroed() -> Self {
        Self {
            weights: [[0; IN]; OUT],
            bias: [0; OUT],
        }
    }

    /// `acc[o] = bias[o] + dot(W[o], x)` with a caller-supplied dot-product kernel.
    #[inline]
    pub fn accumulate_with<K: Fn(&[i8; IN], &[u8; IN]) -> i32>(
        &self,
        x: &[u8; IN],
        dot: K,
    ) -> [i32; OUT] {
        core::array::from_fn(|o| self.bias[o].wrapping_add(dot(&self.weights[o], x)))
    }

    /// The accumulators through the unrolled kernel [`dot_i8_u8`] (on `arm`).
    #[cfg(all(target_arch = "arm", not(feature = "helium")))]
    #[inline]
    pub fn accumulate(&self, x: &[u8; IN]) -> [i32; OUT] {
        self.accumulate_with(x, |w, x| dot_i8_u8(w, x))
    }

    /// The accumulators: `x` widened to `i16` once, then [`dot_i8_i16`] per
    /// row (on every target but `arm`; the same `i32`s as [`dot_i8_u8`]).
    #[cfg(all(not(target_arch = "arm"), not(feature = "helium")))]
    #[inline]
    pub fn accumulate(&self, x: &[u8; IN]) -> [i32; OUT] {
        let wide: [i16; IN] = core::array::from_fn(|i| i16::from(x[i]));
        core::array::from_fn(|o| self.bias[o].wrapping_add(dot_i8_i16(&self.weights[o], &wide)))
    }

    /// The accumulators (feature `helium`): `x` re-centred to `i8` once
    /// ([`centre_u8`]), then [`dot2_i8_centred`] per pair of rows (and
    /// [`dot_i8_centred`] for an odd last row); the same `i32`s as
    /// [`dot_i8_u8`].
    #[cfg(feature = "helium")]
    #[inline]
    pub fn accumulate(&self, x: &[u8; IN]) -> [i32; OUT] {
        let centred: [i8; IN] = core::array::from_fn(|i| centre_u8(x[i]));
        let mut acc = self.bias;
        let (pairs, last) = self.weights.as_chunks::<2>();
        for (p, rows) in pairs.iter().enumerate() {
            let [a, b] = dot2_i8_centred(&rows[0], &rows[1], &centred);
            acc[2 * p] = acc[2 * p].wrapping_add(a);
            acc[2 * p + 1] = acc[2 * p + 1].wrapping_add(b);
        }
        if let [row] = last {
            acc[OUT - 1] = acc[OUT - 1].wrapping_add(dot_i8_centred(row, &centred));
        }
        acc
    }

    /// The accumulators through the reference kernel [`dot_i8_u8_ref`].
    pub fn accumulate_ref(&self, x: &[u8; IN]) -> [i32; OUT] {
        self.accumulate_with(x, |w, x| dot_i8_u8_ref(w, x))
    }
}

/// Where a quantised layer's accumulators come from.
///
/// [`QNetwork::accumulators_with`](crate::QNetwork::accumulators_with) runs
/// every layer through one `QKernel`. Integer sums are exact, so any correct
/// implementation gives the same `i32`s as [`QDense::accumulate_ref`].
pub trait QKernel {
    /// `acc[o] = bias[o] + Σ_i W[o][i]·x[i]` (wrapping `i32`).
    fn accumulate<const IN: usize, const OUT: usize>(
        &self,
        layer: &QDense<IN, OUT>,
        x: &[u8; IN],
    ) -> [i32; OUT];
}

/// The fast portable kernels ([`QDense::accumulate`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct QPortable;

impl QKernel for QPortable {
    #[inline]
    fn accumulate<const IN: usize, const OUT: usize>(
        &self,
        layer: &QDense<IN, OUT>,
        x: &[u8; IN],
    ) -> [i32; OUT] {
        layer.accumulate(x)
    }
}

/// The plain reference loops ([`QDense::accumulate_ref`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct QReference;

impl QKernel for QReference {
    fn accumulate<const IN: usize, const OUT: usize>(
        &self,
        layer: &QDense<IN, OUT>,
        x: &[u8; IN],
    ) -> [i32; OUT] {
        layer.accumulate_ref(x)
    }
}

/// Per-row fixed-point multipliers that requantise `i32` accumulators to `u8`
/// activations (see [`requantize_u8`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Requantize<const N: usize> {
    /// `multiplier[o] · 2^-shift[o] ≈ s_w[o] · s_x / s_h`, `multiplier[o]` in `[2^30, 2^31)` (or 0).
    pub multiplier: [i32; N],
    /// Right shift of row `o`, in `1..=62`.
    pub shift: [u8; N],
}

impl<const N: usize> Requantize<N> {
    /// Requantisation parameters from their per-row multipliers and shifts.
    pub const fn new(multiplier: [i32; N], shift: [u8; N]) -> Self {
        Self { multiplier, shift }
    }

    /// `u8` activations (ReLU folded in) from the accumulators.
    #[inline]
    pub fn apply(&self, acc: &[i32; N]) -> [u8; N] {
        core::array::from_fn(|o| requantize_u8(acc[o], self.multiplier[o], self.shift[o]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unrolled_dot_equals_reference_on_every_length() {
        let mut state = 12345u32;
        let mut next = || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        };
        for len in 0..40 {
            let mut w = [0i8; 40];
            let mut x = [0u8; 40];
            for i in 0..len {
                w[i] = next() as i8;
                x[i] = next();
            }
            assert_eq!(
                dot_i8_u8(&w[..len], &x[..len]),
                dot_i8_u8_ref(&w[..len], &x[..len])
            );
        }
        let w = [-128i8; 64];
        let x = [255u8; 64];
        assert_eq!(dot_i8_u8(&w, &x), -128 * 255 * 64);
    }

    #[test]
    fn widened_dot_equals_reference_on_every_length() {
        let mut state = 777u32;
        let mut next = || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        };
        for len in 0..100 {
            let mut w = [0i8; 100];
            let mut x = [0u8; 100];
            for i in 0..len {
                w[i] = next() as i8;
                x[i] = next();
            }
            let wide: [i16; 100] = core::array::from_fn(|i| i16::from(x[i]));
            assert_eq!(
                dot_i8_i16(&w[..len], &wide[..len]),
                dot_i8_u8_ref(&w[..len], &x[..len]),
                "len={len}"
            );
        }
        // Extremes: every product at its largest magnitude.
        let w = [-128i8; 784];
        let x = [255i16; 784];
        assert_eq!(dot_i8_i16(&w, &x), -128 * 255 * 784);
        let w = [127i8; 784];
        assert_eq!(dot_i8_i16(&w, &x), 127 * 255 * 784);
    }

    #[test]
    fn centred_dot_equals_reference_on_every_length() {
        let mut state = 4242u32;
        let mut next = || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        };
        for len in 0..100 {
            let mut w = [0i8; 100];
            let mut x = [0u8; 100];
            for i in 0..len {
                w[i] = next() as i8;
                x[i] = next();
            }
            let xs: [i8; 100] = core::array::from_fn(|i| centre_u8(x[i]));
            assert_eq!(
                dot_i8_centred(&w[..len], &xs[..len]),
                dot_i8_u8_ref(&w[..len], &x[..len]),
                "len={len}"
            );
        }
        for len in 0..40 {
            let w0: [i8; 40] = core::array::from_fn(|_| next() as i8);
            let w1: [i8; 40] = core::array::from_fn(|_| next() as i8);
            let x: [u8; 40] = core::array::from_fn(|_| next());
            let xs: [i8; 40] = core::array::from_fn(|i| centre_u8(x[i]));
            assert_eq!(
                dot2_i8_centred(&w0[..len], &w1[..len], &xs[..len]),
                [
                    dot_i8_u8_ref(&w0[..len], &x[..len]),
                    dot_i8_u8_ref(&w1[..len], &x[..len])
                ]
            );
        }
        for (wv, xv) in [(-128i8, 255u8), (127, 255), (-128, 0), (127, 0), (-1, 128)] {
            let w = [wv; 784];
            let xs = [centre_u8(xv); 784];
            assert_eq!(dot_i8_centred(&w, &xs), i32::from(wv) * i32::from(xv) * 784);
        }
    }

    #[test]
    fn layer_accumulate_equals_reference() {
        let mut state = 99u32;
        let mut next = || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        };
        let mut layer = QDense::<37, 5>::zeroed();
        for row in layer.weights.iter_mut() {
            for w in row.iter_mut() {
                *w = next() as i8;
            }
        }
        for (o, b) in layer.bias.iter_mut().enumerate() {
            *b = (o as i32 - 2) * 100_003;
        }
        for _ in 0..20 {
            let x: [u8; 37] = core::array::from_fn(|_| next());
            assert_eq!(layer.accumulate(&x), layer.accumulate_ref(&x));
        }
    }

    #[test]
    fn requantize_rounds_half_up_and_clamps() {
        // multiplier 2^30, shift 31: M = 0.5
        let m = 1 << 30;
        assert_eq!(requantize_u8(3, m, 31), 2); // 1.5 -> 2
        assert_eq!(requantize_u8(5, m, 31), 3); // 2.5 -> 3
        assert_eq!(requantize_u8(4, m, 31), 2);
        assert_eq!(requantize_u8(-1, m, 31), 0); // -0.5 -> 0 (ties up)
        assert_eq!(requantize_u8(-100, m, 31), 0);
        assert_eq!(requantize_u8(600, m, 31), 255);
        assert_eq!(requantize_u8(i32::MAX, i32::MAX, 1), 255);
        assert_eq!(requantize_u8(i32::MIN, i32::MAX, 62), 0);
    }
}
