//! The `f32` kernel paths of this CPU and the values the kernel tests feed them.

use host::fkernel::{FFast, FPath};
use tinymlp::Rng;

/// Every path this CPU has (the others named on stderr, untested).
pub(crate) fn kernels() -> Vec<FFast> {
    for path in FPath::ALL.into_iter().filter(|p| !p.is_available()) {
        eprintln!("fkernel: {} not on this CPU, not tested", path.name());
    }
    FPath::ALL
        .into_iter()
        .filter_map(FFast::with_path)
        .collect()
}

/// Values of mixed sign and magnitude; about one in `zeros` is `+0.0` or `-0.0`.
pub(crate) fn values(rng: &mut Rng, n: usize, zeros: u32) -> Vec<f32> {
    (0..n)
        .map(|_| match rng.below(zeros) {
            0 if rng.below(2) == 0 => 0.0,
            0 => -0.0,
            _ => rng.uniform(-2.0, 2.0) * 10f32.powi(rng.below(7) as i32 - 3),
        })
        .collect()
}

/// The bits of every value, except that all NaNs are one: Rust leaves a
/// NaN's sign and payload unspecified (LLVM may swap the operands of an
/// addition), so only "NaN or not" is part of the result.
pub(crate) fn bits(v: &[f32]) -> Vec<u32> {
    v.iter()
        .map(|x| {
            if x.is_nan() {
                f32::NAN.to_bits()
            } else {
                x.to_bits()
            }
        })
        .collect()
}

/// `n` samples of `cols` inputs in which about 60 % of the chunks of eight
/// are zero (`+0.0` and `-0.0`), the others mixed values with zeros among
/// them: a quarter of them, or (in about half of the samples, scattered as
/// MNIST's strokes are) three quarters, so that such a sample's chunks are
/// often zero in one half of their lanes only
/// (`host::fkernel::sparse::NonZeroChunks::half`).
pub(crate) fn sparse_inputs(rng: &mut Rng, n: usize, cols: usize) -> Vec<f32> {
    let mut x = values(rng, n * cols, 4);
    for sample in x.chunks_mut(cols) {
        let scattered = rng.below(2) == 0;
        for chunk in sample.chunks_mut(8) {
            let zero = if rng.below(4) == 0 { -0.0 } else { 0.0 };
            if rng.below(5) < 3 {
                chunk.fill(zero);
            } else if scattered {
                for v in chunk.iter_mut().filter(|_| rng.below(4) > 0) {
                    *v = zero;
                }
            }
        }
    }
    x
}
