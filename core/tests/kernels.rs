//! The unrolled kernels against the plain reference loops.

use tinymlp::kernels::*;
use tinymlp::Rng;

fn random_vec(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.uniform(-1.0, 1.0)).collect()
}

fn random_matrix<const IN: usize, const OUT: usize>(rng: &mut Rng) -> Box<[[f32; IN]; OUT]> {
    let mut m = Box::new([[0.0; IN]; OUT]);
    for v in m.as_flattened_mut() {
        *v = rng.uniform(-1.0, 1.0);
    }
    m
}

/// Forward error bound of a length-n sum of products: γ_n · Σ|w·x|, γ_n ≈ n·ε.
fn tolerance(w: &[f32], x: &[f32]) -> f32 {
    let magnitude: f32 = w.iter().zip(x).map(|(a, b)| (a * b).abs()).sum();
    (w.len() as f32 + 2.0) * f32::EPSILON * magnitude + f32::MIN_POSITIVE
}

#[test]
fn dot_matches_reference_for_lengths_1_to_37() {
    let mut rng = Rng::new(1);
    for n in 1..=37 {
        let (w, x) = (random_vec(&mut rng, n), random_vec(&mut rng, n));
        let (fast, slow) = (dot(&w, &x), dot_ref(&w, &x));
        assert!(
            (fast - slow).abs() <= tolerance(&w, &x),
            "n={n}: {fast} vs {slow}"
        );
    }
}

#[test]
fn dot_follows_the_documented_lane_order() {
    // Integers small enough to be exact would hide the order; use values where it shows.
    let w: Vec<f32> = (0..19).map(|i| 1.0 + i as f32 * 1e-3).collect();
    let x: Vec<f32> = (0..19)
        .map(|i| if i % 3 == 0 { 1e7 } else { 0.37 })
        .collect();
    let mut acc = [0.0f32; LANES];
    for i in 0..19 {
        acc[i % LANES] += w[i] * x[i];
    }
    assert_eq!(dot(&w, &x).to_bits(), reduce_lanes(&acc).to_bits());
}

macro_rules! check_shapes {
    ($($name:ident: $in:literal x $out:literal),* $(,)?) => {$(
        #[test]
        fn $name() {
            let mut rng = Rng::new(($in * 1000 + $out) as u64);
            let w = random_matrix::<$in, $out>(&mut rng);
            let b: [f32; $out] = core::array::from_fn(|_| rng.uniform(-1.0, 1.0));
            let x: [f32; $in] = core::array::from_fn(|_| rng.uniform(-1.0, 1.0));
            let dy: [f32; $out] = core::array::from_fn(|_| rng.uniform(-1.0, 1.0));

            // matvec: unrolled within the error bound of the reference, and bit-equal to dot().
            let (mut fast, mut slow) = ([0.0; $out], [0.0; $out]);
            matvec(w.as_flattened(), &b, &x, &mut fast);
            matvec_ref(w.as_flattened(), &b, &x, &mut slow);
            for o in 0..$out {
                assert!((fast[o] - slow[o]).abs() <= tolerance(&w[o], &x) + b[o].abs() * f32::EPSILON,
                    "matvec row {o}: {} vs {}", fast[o], slow[o]);
                assert_eq!(fast[o].to_bits(), (dot(&w[o], &x) + b[o]).to_bits(), "row {o} order");
            }

            // Transposed matvec: same order as the reference, so exactly equal.
            let (mut fast, mut slow) = ([0.0; $in], [0.0; $in]);
            matvec_t(w.as_flattened(), &dy, &mut fast);
            matvec_t_ref(w.as_flattened(), &dy, &mut slow);
            assert_eq!(fast.map(f32::to_bits), slow.map(f32::to_bits));

            // Rank-1 accumulate and axpy are element-wise: exactly equal.
            let (mut g_fast, mut g_slow) = (w.clone(), w.clone());
            rank1(g_fast.as_flattened_mut(), &dy, &x);
            rank1_ref(g_slow.as_flattened_mut(), &dy, &x);
            assert_eq!(g_fast, g_slow);
            let (mut y_fast, mut y_slow) = (x, x);
            axpy(0.75, &w[0], &mut y_fast);
            axpy_ref(0.75, &w[0], &mut y_slow);
            assert_eq!(y_fast, y_slow);
        }
    )*};
}

check_shapes! {
    shape_1x1: 1 x 1, shape_2x3: 2 x 3, shape_3x5: 3 x 5, shape_4x4: 4 x 4, shape_5x7: 5 x 7,
    shape_6x2: 6 x 2, shape_7x9: 7 x 9, shape_8x8: 8 x 8, shape_9x1: 9 x 1, shape_10x10: 10 x 10,
    shape_11x6: 11 x 6, shape_12x13: 12 x 13, shape_13x3: 13 x 3, shape_14x15: 14 x 15,
    shape_15x16: 15 x 16, shape_16x17: 16 x 17, shape_17x5: 17 x 5, shape_18x19: 18 x 19,
    shape_19x2: 19 x 2, shape_20x21: 20 x 21, shape_21x4: 21 x 4, shape_22x23: 22 x 23,
    shape_23x11: 23 x 11, shape_24x25: 24 x 25, shape_25x8: 25 x 8, shape_26x27: 26 x 27,
    shape_27x6: 27 x 6, shape_28x29: 28 x 29, shape_29x30: 29 x 30, shape_30x31: 30 x 31,
    shape_31x1: 31 x 1, shape_32x33: 32 x 33, shape_33x34: 33 x 34, shape_34x35: 34 x 35,
    shape_35x36: 35 x 36, shape_36x37: 36 x 37, shape_37x37: 37 x 37,
    shape_784x64: 784 x 64, shape_64x10: 64 x 10,
}

#[test]
fn blocked_matvec_equals_dot_per_row_for_every_row_count() {
    // 4-row blocks plus 0..=3 leftover rows.
    let mut rng = Rng::new(9);
    let w = random_matrix::<29, 7>(&mut rng);
    let b = [0.5f32; 7];
    let x: [f32; 29] = core::array::from_fn(|_| rng.uniform(-1.0, 1.0));
    let mut y = [0.0; 7];
    matvec(w.as_flattened(), &b, &x, &mut y);
    for r in 0..7 {
        assert_eq!(y[r].to_bits(), (dot(&w[r], &x) + b[r]).to_bits(), "row {r}");
    }
}

#[test]
fn eight_row_blocks_equal_dot_per_row() {
    // 8-row blocks, then a 4-row block, then single rows: 8 + 4 + 3.
    fn check<const IN: usize, const OUT: usize>(seed: u64) {
        let mut rng = Rng::new(seed);
        let w = random_matrix::<IN, OUT>(&mut rng);
        let b: [f32; OUT] = core::array::from_fn(|_| rng.uniform(-1.0, 1.0));
        let x: [f32; IN] = core::array::from_fn(|_| rng.uniform(-1.0, 1.0));
        let mut y = [0.0; OUT];
        matvec(w.as_flattened(), &b, &x, &mut y);
        for r in 0..OUT {
            assert_eq!(
                y[r].to_bits(),
                (dot(&w[r], &x) + b[r]).to_bits(),
                "{IN}x{OUT} row {r}"
            );
        }
    }
    check::<29, 15>(10);
    check::<784, 64>(11);
    check::<64, 10>(12);
    check::<37, 8>(13);
    check::<5, 17>(14);
}
