//! The batch kernels against the per-sample kernels, bit for bit.
//!
//! The kernels take run-time shapes ([`Rows`] views of flat slices); the
//! adapters below give them the array shapes of a `Dense<IN, OUT>`.

use tinymlp::batch::{self, Rows};
use tinymlp::kernels;
use tinymlp::kernels::dot;
use tinymlp::{pixels_to_input, pixels_to_inputs, Rng};

fn forward_batch<const IN: usize, const OUT: usize>(
    w: &[[f32; IN]; OUT],
    b: &[f32; OUT],
    xs: &[[f32; IN]],
    ys: &mut [[f32; OUT]],
) {
    let xs = Rows::new(xs.as_flattened(), IN);
    batch::forward_batch(w.as_flattened(), b, xs, ys.as_flattened_mut());
}

fn forward_batch_rows<const IN: usize, const OUT: usize>(
    w: &[[f32; IN]],
    b: &[f32],
    row0: usize,
    xs: &[[f32; IN]],
    ys: &mut [[f32; OUT]],
) {
    let xs = Rows::new(xs.as_flattened(), IN);
    batch::forward_batch_rows(w.as_flattened(), b, row0, xs, ys.as_flattened_mut(), OUT);
}

fn rank_k<const IN: usize, const OUT: usize>(
    g: &mut [[f32; IN]; OUT],
    dys: &[[f32; OUT]],
    xs: &[[f32; IN]],
) {
    rank_k_rows(&mut g[..], 0, dys, xs);
}

fn rank_k_rows<const IN: usize, const OUT: usize>(
    g: &mut [[f32; IN]],
    row0: usize,
    dys: &[[f32; OUT]],
    xs: &[[f32; IN]],
) {
    let (dys, xs) = (
        Rows::new(dys.as_flattened(), OUT),
        Rows::new(xs.as_flattened(), IN),
    );
    batch::rank_k_rows(g.as_flattened_mut(), row0, dys, xs);
}

fn matvec_t_batch<const IN: usize, const OUT: usize>(
    w: &[[f32; IN]; OUT],
    dys: &[[f32; OUT]],
    dxs: &mut [[f32; IN]],
) {
    matvec_t_batch_cols(w, dys, dxs, 0..IN);
}

fn matvec_t_batch_cols<const IN: usize, const OUT: usize>(
    w: &[[f32; IN]; OUT],
    dys: &[[f32; OUT]],
    dxs: &mut [[f32; IN]],
    cols: std::ops::Range<usize>,
) {
    let dys = Rows::new(dys.as_flattened(), OUT);
    batch::matvec_t_batch_cols(w.as_flattened(), dys, dxs.as_flattened_mut(), IN, cols);
}

fn rank1<const IN: usize, const OUT: usize>(
    g: &mut [[f32; IN]; OUT],
    dy: &[f32; OUT],
    x: &[f32; IN],
) {
    kernels::rank1(g.as_flattened_mut(), dy, x);
}

fn matvec_t<const IN: usize, const OUT: usize>(
    w: &[[f32; IN]; OUT],
    dy: &[f32; OUT],
    dx: &mut [f32; IN],
) {
    kernels::matvec_t(w.as_flattened(), dy, dx);
}

fn random_rows<const N: usize>(rng: &mut Rng, n: usize) -> Vec<[f32; N]> {
    (0..n)
        .map(|_| core::array::from_fn(|_| rng.uniform(-1.0, 1.0)))
        .collect()
}

/// Rows where about `zero_fraction` of the entries are exactly zero (as after a
/// ReLU or for MNIST background pixels), a few of them negative zero.
fn sparse_rows<const N: usize>(rng: &mut Rng, n: usize, zero_fraction: f32) -> Vec<[f32; N]> {
    (0..n)
        .map(|_| {
            core::array::from_fn(|_| {
                let u = rng.uniform(0.0, 1.0);
                if u < zero_fraction * 0.9 {
                    0.0
                } else if u < zero_fraction {
                    -0.0
                } else {
                    rng.uniform(-1.0, 1.0)
                }
            })
        })
        .collect()
}

fn random_matrix<const IN: usize, const OUT: usize>(rng: &mut Rng) -> Box<[[f32; IN]; OUT]> {
    let mut m = Box::new([[0.0; IN]; OUT]);
    for v in m.as_flattened_mut() {
        *v = rng.uniform(-1.0, 1.0);
    }
    m
}

fn bits<const N: usize>(rows: &[[f32; N]]) -> Vec<u32> {
    rows.as_flattened().iter().map(|v| v.to_bits()).collect()
}

macro_rules! check_kernels {
    ($($name:ident: $in:literal x $out:literal),* $(,)?) => {$(
        #[test]
        fn $name() {
            let mut rng = Rng::new(($in * 1000 + $out) as u64);
            let w = random_matrix::<$in, $out>(&mut rng);
            let b: [f32; $out] = core::array::from_fn(|_| rng.uniform(-1.0, 1.0));
            // Up to 41 samples: every block remainder, and more than one rank-k group.
            let xs = sparse_rows::<$in>(&mut rng, 41, 0.5);
            let dys = sparse_rows::<$out>(&mut rng, 41, 0.5);
            for n in (0..=10).chain([15, 16, 17, 31, 32, 33, 41]) {
                let (xs, dys) = (&xs[..n], &dys[..n]);

                let mut ys = vec![[f32::NAN; $out]; n];
                forward_batch(&w, &b, xs, &mut ys);
                for s in 0..n {
                    for o in 0..$out {
                        assert_eq!(ys[s][o].to_bits(), (dot(&w[o], &xs[s]) + b[o]).to_bits(),
                            "forward n={n} s={s} o={o}");
                    }
                }

                let (mut g_batch, mut g_seq) = (w.clone(), w.clone());
                rank_k(&mut g_batch, dys, xs);
                for s in 0..n {
                    rank1(&mut g_seq, &dys[s], &xs[s]);
                }
                assert_eq!(bits(&g_batch[..]), bits(&g_seq[..]), "rank_k n={n}");

                let mut dxs = vec![[f32::NAN; $in]; n];
                matvec_t_batch(&w, dys, &mut dxs);
                for s in 0..n {
                    let mut dx = [0.0; $in];
                    matvec_t(&w, &dys[s], &mut dx);
                    assert_eq!(bits(&dxs[s..=s]), bits(&[dx]), "matvec_t n={n} s={s}");
                }
            }
        }
    )*};
}

check_kernels! {
    kernels_1x1: 1 x 1, kernels_3x2: 3 x 2, kernels_7x5: 7 x 5, kernels_8x4: 8 x 4,
    kernels_9x3: 9 x 3, kernels_15x9: 15 x 9, kernels_16x16: 16 x 16, kernels_17x6: 17 x 6,
    kernels_37x13: 37 x 13, kernels_63x7: 63 x 7, kernels_64x10: 64 x 10,
    kernels_65x11: 65 x 11, kernels_130x5: 130 x 5, kernels_784x64: 784 x 64,
}

#[test]
fn pixels_are_divided_by_255_with_correct_rounding() {
    let pixels: [u8; 256] = core::array::from_fn(|p| p as u8);
    let x = pixels_to_input(&pixels);
    let mut batch = [[0.0; 256]; 1];
    pixels_to_inputs(&[pixels], &mut batch);
    assert_eq!(batch[0], x);
    assert_eq!((x[0], x[255]), (0.0, 1.0));
    for (p, x) in x.iter().enumerate() {
        // f64 division rounded to f32 is the correctly rounded f32 quotient
        // (53 ≥ 2·24 + 2), which a multiply by a rounded 1/255 is not always.
        assert_eq!(x.to_bits(), ((p as f64 / 255.0) as f32).to_bits(), "p={p}");
    }
    let by_reciprocal = (0..256)
        .filter(|&p| x[p] != p as f32 * (1.0 / 255.0))
        .count();
    assert!(by_reciprocal > 0, "the test would not tell the two apart");
}

/// `a = 1 + 2⁻¹²`: `a·a = 1 + 2⁻¹¹ + 2⁻²⁴` rounds to `1 + 2⁻¹¹` in f32, so
/// `(a·a) + (−1 − 2⁻¹¹)` is exactly 0 with a separate multiply and add but
/// 2⁻²⁴ with a fused multiply-add. The results must not depend on whether the
/// build target has FMA (see `.cargo/config.toml`).
#[test]
fn no_kernel_fuses_multiply_and_add() {
    let a = 1.0 + f32::powi(2.0, -12);
    let c = -(1.0 + f32::powi(2.0, -11));
    assert_eq!(a * core::hint::black_box(a) + c, 0.0);

    // Dot products: elements 0 and 8 share lane 0, so lane 0 is `c + a·a`.
    let mut w = [[0.0f32; 9]; 5];
    let mut xs = [[0.0f32; 9]; 5];
    for s in 0..5 {
        w[s][0] = 1.0;
        w[s][8] = a;
        xs[s][0] = c;
        xs[s][8] = a;
    }
    let mut ys = [[f32::NAN; 5]; 5];
    forward_batch(&w, &[0.0; 5], &xs, &mut ys);
    assert_eq!(ys, [[0.0; 5]; 5]);
    assert_eq!(dot(&w[0], &xs[0]), 0.0);

    // Rank-k: G starts at c, then adds a·a.
    let mut g = [[c; 9]; 3];
    rank_k(&mut g, &[[a; 3]], &[[a; 9]]);
    assert_eq!(g, [[0.0; 9]; 3]);

    // Transposed: 0 + 1·c, then + a·a.
    let wt = [[1.0f32; 17], [a; 17]];
    let mut dx = [[f32::NAN; 17]; 5];
    matvec_t_batch(&wt, &[[c, a]; 5], &mut dx);
    assert_eq!(dx, [[0.0; 17]; 5]);
}

/// A pinned digest of the batch kernels' output bits on fixed pseudo-random
/// data (no `Rng`, no libm). Any change to the summation order — or a build
/// configuration that computes differently — changes it. The same digest was
/// checked with `-C target-cpu=native` (AVX-512, FMA available) and the portable
/// `x86-64` baseline (SSE2).
#[test]
fn kernel_output_bits_are_pinned() {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    };
    let mut w = Box::new([[0.0f32; 100]; 12]);
    w.as_flattened_mut().iter_mut().for_each(|v| *v = next());
    let b: [f32; 12] = core::array::from_fn(|_| next());
    let xs: Vec<[f32; 100]> = (0..7)
        .map(|_| core::array::from_fn(|_| next().max(0.0)))
        .collect();
    let dys: Vec<[f32; 12]> = (0..7)
        .map(|_| core::array::from_fn(|_| next().max(0.0)))
        .collect();

    let mut ys = vec![[0.0; 12]; 7];
    forward_batch(&w, &b, &xs, &mut ys);
    let mut g = w.clone();
    rank_k(&mut g, &dys, &xs);
    let mut dxs = vec![[0.0; 100]; 7];
    matvec_t_batch(&w, &dys, &mut dxs);

    let mut digest = 0xcbf2_9ce4_8422_2325u64; // FNV-1a
    for v in bits(&ys).into_iter().chain(bits(&g[..])).chain(bits(&dxs)) {
        digest = (digest ^ v as u64).wrapping_mul(0x100_0000_01b3);
    }
    assert_eq!(digest, PINNED_DIGEST, "{digest:#018x}");
}

const PINNED_DIGEST: u64 = 0x633c_5614_f7d9_a5de;

/// The row/column-range kernels (for splitting a layer over threads) give,
/// piece by piece, exactly the bits of the whole-layer kernels.
fn check_row_pieces<const IN: usize, const OUT: usize>(seed: u64, n: usize, cuts: &[usize]) {
    let mut rng = Rng::new(seed);
    let w = random_matrix::<IN, OUT>(&mut rng);
    let b: [f32; OUT] = core::array::from_fn(|_| rng.uniform(-1.0, 1.0));
    let xs = random_rows::<IN>(&mut rng, n);
    let dys = sparse_rows::<OUT>(&mut rng, n, 0.5);
    let start = random_matrix::<IN, OUT>(&mut rng);
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(OUT);

    let mut whole = vec![[0.0; OUT]; n];
    forward_batch(&w, &b, &xs, &mut whole);
    let mut pieces = vec![[f32::NAN; OUT]; n];
    for r in bounds.windows(2) {
        forward_batch_rows(&w[r[0]..r[1]], &b[r[0]..r[1]], r[0], &xs, &mut pieces);
    }
    assert_eq!(bits(&whole), bits(&pieces), "forward_batch_rows {cuts:?}");

    let mut g_whole = start.clone();
    rank_k(&mut g_whole, &dys, &xs);
    let mut g_pieces = start.clone();
    for r in bounds.windows(2) {
        rank_k_rows(&mut g_pieces[r[0]..r[1]], r[0], &dys, &xs);
    }
    assert_eq!(
        bits(&g_whole[..]),
        bits(&g_pieces[..]),
        "rank_k_rows {cuts:?}"
    );

    // Transposed product: the columns of the layer's input, cut the same way
    // (IN columns, so map the cuts into 0..IN).
    let col_bounds: Vec<usize> = bounds.iter().map(|&c| c * IN / OUT).collect();
    let mut dx_whole = vec![[0.0; IN]; n];
    matvec_t_batch(&w, &dys, &mut dx_whole);
    let mut dx_pieces = vec![[f32::NAN; IN]; n];
    for c in col_bounds.windows(2) {
        matvec_t_batch_cols(&w, &dys, &mut dx_pieces, c[0]..c[1]);
    }
    assert_eq!(
        bits(&dx_whole),
        bits(&dx_pieces),
        "matvec_t_batch_cols {cuts:?}"
    );

    // Transposed product with the *rows* split (each piece holds only its
    // rows of W), chained block after block into zeroed columns, the columns
    // cut as well.
    let mut dx_chained = vec![[f32::NAN; IN]; n];
    for c in col_bounds.windows(2) {
        for dx in dx_chained.iter_mut() {
            dx[c[0]..c[1]].fill(0.0);
        }
        for r in bounds.windows(2) {
            let dys = Rows::new(dys.as_flattened(), OUT);
            batch::matvec_t_batch_add(
                w[r[0]..r[1]].as_flattened(),
                r[0],
                dys,
                dx_chained.as_flattened_mut(),
                (IN, c[0]..c[1]),
            );
        }
    }
    assert_eq!(
        bits(&dx_whole),
        bits(&dx_chained),
        "matvec_t_batch_add {cuts:?}"
    );
}

#[test]
fn row_and_column_pieces_equal_the_whole_layer() {
    check_row_pieces::<784, 64>(21, 32, &[32]);
    check_row_pieces::<784, 64>(22, 16, &[20, 40]);
    check_row_pieces::<64, 10>(23, 7, &[3, 4, 9]);
    check_row_pieces::<37, 13>(24, 33, &[1, 6]);
    check_row_pieces::<29, 8>(25, 5, &[]);
}
