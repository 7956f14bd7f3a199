//! `FFast::exp` against `libm::expf`, and `FFast::cross_entropy_grads` (a
//! batch's) against `tinymlp::cross_entropy_grad` sample by sample: the
//! same bits on every path.

mod common;

use common::kernels::kernels;
use host::fkernel::FFast;
use tinymlp::{BatchLogits, Rng};

/// `libm::expf` of one value (`tinymlp`'s scalar exponential).
fn expf(x: f32) -> f32 {
    let mut v = [x];
    tinymlp::exp_each(&mut v);
    v[0]
}

/// Every value of `xs` through `fast.exp` against `libm::expf`, by bits
/// (NaN payloads included); in slices of every length up to 40, so that
/// the partial vector at the end is covered too.
fn same_as_libm(fast: FFast, xs: &[f32]) {
    let mut ys = xs.to_vec();
    let mut start = 0;
    for len in (0..=40).cycle() {
        if start >= ys.len() {
            break;
        }
        let end = (start + len).min(ys.len());
        fast.exp(&mut ys[start..end]);
        start = end;
    }
    for (&x, &y) in xs.iter().zip(&ys) {
        let want = expf(x);
        assert_eq!(
            y.to_bits(),
            want.to_bits(),
            "{}: expf({x:e} = {:#010x}) = {y:e}, libm {want:e}",
            fast.path().name(),
            x.to_bits()
        );
    }
}

/// Bit patterns `±64` around each of `expf`'s thresholds, both signs.
fn thresholds() -> Vec<f32> {
    let limits = [
        0x3900_0000u32, // 2^-14: below, 1 + x
        0x3eb1_7218,    // 0.5·ln2: reduced beyond
        0x3f85_1592,    // 1.5·ln2: k from the product beyond
        0x42ae_ac50,    // -87.33: results below the normal range
        0x42b1_7218,    // 88.72: overflow
        0x42cf_f1b5,    // -103.97: zero
        0x7f80_0000,    // infinity, then NaN
    ];
    let mut xs = Vec::new();
    for limit in limits {
        for bits in limit - 64..=limit.saturating_add(64).min(0x7fff_ffff) {
            xs.push(f32::from_bits(bits));
            xs.push(f32::from_bits(bits | 0x8000_0000));
        }
    }
    xs
}

#[test]
fn exp_has_the_bits_of_libm_across_the_range() {
    // One bit pattern in 1021 of all 2^32 (both signs, NaNs, subnormals).
    let sweep: Vec<f32> = (0..=u32::MAX).step_by(1021).map(f32::from_bits).collect();
    // The softmax's inputs, z − max ≤ 0: one pattern in 257 from 0 down to
    // -104, where the results turn subnormal and then zero.
    let softmax: Vec<f32> = (0x8000_0000..=0xc2d0_0000u32)
        .step_by(257)
        .map(f32::from_bits)
        .collect();
    let specials = [
        0.0,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        -f32::NAN,
        f32::from_bits(0x7f80_0001),
        f32::from_bits(0xffc0_1234),
        f32::MIN_POSITIVE,
        -f32::from_bits(1),
        f32::MAX,
        f32::MIN,
    ];
    for fast in kernels() {
        same_as_libm(fast, &sweep);
        same_as_libm(fast, &softmax);
        same_as_libm(fast, &thresholds());
        same_as_libm(fast, &specials);
    }
}

/// All 2^32 values on every path (about three minutes in a release build):
/// `cargo test --release -p host --test fkernel_exp -- --ignored`.
#[test]
#[ignore]
fn exp_has_the_bits_of_libm_for_every_f32() {
    for fast in kernels() {
        for high in 0..=u16::MAX {
            let base = u32::from(high) << 16;
            let xs: Vec<f32> = (0..=u16::MAX)
                .map(|low| f32::from_bits(base | u32::from(low)))
                .collect();
            let mut ys = xs.clone();
            fast.exp(&mut ys);
            for (&x, &y) in xs.iter().zip(&ys) {
                assert_eq!(y.to_bits(), expf(x).to_bits(), "{:#010x}", x.to_bits());
            }
        }
    }
}

#[test]
fn a_batch_cross_entropy_grad_has_the_bits_of_tinymlp_per_sample() {
    let mut rng = Rng::new(7);
    for fast in kernels() {
        for classes in [2, 3, 10, 16, 17, 40] {
            for batch in [1, 5, 16, 32] {
                // Logits of every size, one batch in five far apart (±1e4).
                let scale = if batch % 5 == 0 { 1e4 } else { 8.0 };
                let logits: Vec<f32> = (0..batch * classes)
                    .map(|_| rng.uniform(-1.0, 1.0) * scale)
                    .collect();
                let targets: Vec<usize> = (0..batch).map(|s| (s * 7) % classes).collect();
                let mut want = vec![0.0; logits.len()];
                let want_losses: Vec<f32> = logits
                    .chunks_exact(classes)
                    .zip(want.chunks_exact_mut(classes))
                    .zip(&targets)
                    .map(|((z, g), &t)| tinymlp::cross_entropy_grad(z, t, g))
                    .collect();
                let mut got = vec![0.0; logits.len()];
                let mut losses = Vec::new();
                let samples = BatchLogits {
                    logits: &logits,
                    classes,
                    targets: |s| targets[s],
                };
                fast.cross_entropy_grads(samples, &mut got, |s, l| losses.push((s, l)));
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got), bits(&want), "{logits:?}");
                let order: Vec<usize> = losses.iter().map(|&(s, _)| s).collect();
                assert_eq!(order, (0..batch).collect::<Vec<_>>());
                let losses: Vec<f32> = losses.iter().map(|&(_, l)| l).collect();
                assert_eq!(bits(&losses), bits(&want_losses), "{logits:?}");
            }
        }
    }
}
