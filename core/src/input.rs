//! The one conversion from 8-bit pixels to network inputs.

/// Converts 8-bit pixels to network inputs: `x = p as f32 / 255.0` (0 → 0.0, 255 → 1.0).
///
/// It divides rather than multiplying by `1.0 / 255.0`, which rounds
/// differently for some pixel values. Training, evaluation, quantisation and
/// the firmware all call this, so every target sees the same inputs.
///
/// ```
/// let x = tinymlp::pixels_to_input(&[0u8, 255, 51]);
/// assert_eq!(x, [0.0, 1.0, 0.2]);
/// ```
#[inline]
pub fn pixels_to_input<const N: usize>(pixels: &[u8; N]) -> [f32; N] {
    core::array::from_fn(|i| PIXEL_VALUES[usize::from(pixels[i])])
}

/// `PIXEL_VALUES[p] == p as f32 / 255.0`, computed at compile time.
///
/// A table lookup replaces a division per pixel (a `vdiv.f32` is 14 cycles on
/// a Cortex-M4, and the division dominated the host's input pipeline). IEEE
/// division is correctly rounded at compile time and at run time alike, so the
/// table holds exactly the quotients (tested).
pub const PIXEL_VALUES: [f32; 256] = {
    let mut table = [0.0f32; 256];
    let mut p = 0;
    while p < 256 {
        table[p] = p as f32 / 255.0;
        p += 1;
    }
    table
};

/// [`pixels_to_input`] for a batch of images, in place.
///
/// # Panics
/// If the slices differ in length.
pub fn pixels_to_inputs<const N: usize>(pixels: &[[u8; N]], xs: &mut [[f32; N]]) {
    assert_eq!(pixels.len(), xs.len(), "pixels_to_inputs: length mismatch");
    for (p, x) in pixels.iter().zip(xs) {
        for (x, &p) in x.iter_mut().zip(p) {
            *x = PIXEL_VALUES[usize::from(p)];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_holds_the_runtime_quotients() {
        for p in 0..=255u8 {
            let runtime = core::hint::black_box(f32::from(p)) / core::hint::black_box(255.0f32);
            assert_eq!(
                PIXEL_VALUES[usize::from(p)].to_bits(),
                runtime.to_bits(),
                "p={p}"
            );
        }
    }
}
