//! `host::fkernel::FFast`: every instruction-set path this CPU has gives the
//! bits of `tinymlp::batch` for the forward product, the rank-k gradient and
//! the transposed product (whole, by columns, and added by row blocks), and
//! a gradient's whole sum added to another, on random shapes (widths not multiples of 8 or 16, odd batch sizes, row
//! offsets) and on zero, negative-zero and non-finite values; and pixels
//! convert to the bits of `tinymlp::PIXEL_VALUES`. Paths the CPU lacks are
//! skipped (and named on stderr).

use std::ops::Range;

mod common;

use common::kernels::{bits, kernels, sparse_inputs, values};
use host::fkernel::{FFast, FPath};
use tinymlp::batch::{
    forward_batch_rows, matvec_t_batch_add, matvec_t_batch_cols, rank_k_rows, Rows,
};
use tinymlp::Rng;

/// Widths around the vector sizes and the block sizes of both paths.
fn widths(rng: &mut Rng) -> Vec<usize> {
    let mut w: Vec<usize> = (1..=40).collect();
    w.extend([63, 64, 65, 127, 128, 129, 143, 144, 255, 257, 300, 784]);
    w.extend((0..8).map(|_| 1 + rng.below(600) as usize));
    w
}

#[test]
fn forward_equals_tinymlp_batch_on_random_shapes() {
    let mut rng = Rng::new(10);
    for kernel in kernels() {
        for cols in widths(&mut rng) {
            let rows = 1 + rng.below(37) as usize;
            let n = 1 + rng.below(41) as usize;
            let extra = rng.below(5) as usize;
            let (row0, outputs) = (rng.below(extra as u32 + 1) as usize, rows + extra);
            let w = values(&mut rng, rows * cols, 9);
            let b = values(&mut rng, rows, 5);
            let x = values(&mut rng, n * cols, 4);
            let xs = Rows::new(&x, cols);
            let start = values(&mut rng, n * outputs, 3);
            let (mut want, mut got) = (start.clone(), start);
            forward_batch_rows(&w, &b, row0, xs, &mut want, outputs);
            kernel.forward_batch_rows(&w, &b, row0, xs, &mut got, outputs);
            assert_eq!(
                bits(&got),
                bits(&want),
                "{kernel:?} rows={rows} cols={cols} n={n} row0={row0} outputs={outputs}"
            );
        }
    }
}

/// One random rank-k call on inputs `cols` wide: `rows` gradient rows from
/// `row0` of `dy`'s `width`, `n` samples, and a gradient `start` to add to.
struct RankCase {
    rows: usize,
    row0: usize,
    width: usize,
    n: usize,
    dy: Vec<f32>,
    x: Vec<f32>,
    /// Negative zeros in it (and in `dy`) show whether zero terms are skipped
    /// and whether a whole sum is really added (-0 + +0 = +0).
    start: Vec<f32>,
}

impl RankCase {
    fn new(rng: &mut Rng, cols: usize, samples: Range<usize>) -> Self {
        // More than one block of gradient rows and of samples, sometimes.
        let rows = 1 + rng.below(if cols < 64 { 150 } else { 37 }) as usize;
        let n = samples.start + rng.below(samples.len() as u32) as usize;
        let extra = rng.below(5) as usize;
        let (row0, width) = (rng.below(extra as u32 + 1) as usize, rows + extra);
        let dy = values(rng, n * width, 3);
        let x = values(rng, n * cols, 6);
        let start = values(rng, rows * cols, 2);
        RankCase {
            rows,
            row0,
            width,
            n,
            dy,
            x,
            start,
        }
    }

    fn dys(&self) -> Rows<'_> {
        Rows::new(&self.dy, self.width)
    }
}

#[test]
fn rank_k_equals_tinymlp_batch_on_random_shapes() {
    let mut rng = Rng::new(11);
    for kernel in kernels() {
        for cols in widths(&mut rng) {
            let case = RankCase::new(&mut rng, cols, 1..81);
            let (dys, xs, row0) = (case.dys(), Rows::new(&case.x, cols), case.row0);
            let (mut want, mut got) = (case.start.clone(), case.start.clone());
            rank_k_rows(&mut want, row0, dys, xs);
            kernel.rank_k_rows(&mut got, row0, dys, xs);
            let (rows, n) = (case.rows, case.n);
            let at = format!("{kernel:?} rows={rows} cols={cols} n={n} row0={row0}");
            assert_eq!(bits(&got), bits(&want), "{at}");
            // Written from zero: what `set` held must not matter.
            let mut set = case.start.clone();
            set.iter_mut().step_by(3).for_each(|v| *v = f32::NAN);
            kernel.set_rank_k_rows(&mut set, row0, dys, xs);
            let mut want = vec![0.0; rows * cols];
            rank_k_rows(&mut want, row0, dys, xs);
            assert_eq!(bits(&set), bits(&want), "{at} set");
        }
    }
}

#[test]
fn rank_k_sum_added_equals_a_separate_sum_then_an_addition() {
    let mut rng = Rng::new(14);
    for kernel in kernels() {
        for cols in widths(&mut rng) {
            // Mostly one group of samples (the kernels' own form), sometimes more.
            let most = if rng.below(4) == 0 { 80 } else { 33 };
            let case = RankCase::new(&mut rng, cols, 0..most);
            let (dys, xs, row0) = (case.dys(), Rows::new(&case.x, cols), case.row0);
            let mut sum = vec![0.0; case.rows * cols];
            rank_k_rows(&mut sum, row0, dys, xs);
            let want: Vec<f32> = case.start.iter().zip(&sum).map(|(g, s)| g + s).collect();
            let mut got = case.start.clone();
            kernel.add_rank_k_sum_rows(&mut got, row0, dys, xs);
            let (rows, n) = (case.rows, case.n);
            let at = format!("{kernel:?} rows={rows} cols={cols} n={n} row0={row0}");
            assert_eq!(bits(&got), bits(&want), "{at}");
        }
    }
}

#[test]
fn rank_k_on_mostly_zero_inputs_equals_tinymlp_batch() {
    // The trainer's first layer on MNIST: inputs mostly zero, whole passes
    // of the kernels' columns zero in some samples, negative zeros in `g`;
    // with and without a border that is zero in every sample (MNIST's top
    // and bottom rows, which the kernels leave out), and with and without a
    // gradient that is not finite (when they may not).
    let mut rng = Rng::new(15);
    for kernel in kernels() {
        for cols in widths(&mut rng) {
            for (border, finite) in [(false, true), (true, true), (true, false), (false, false)] {
                let mut case = RankCase::new(&mut rng, cols, 1..33);
                case.x = sparse_inputs(&mut rng, case.n, cols);
                for sample in case.x.chunks_mut(cols).step_by(3) {
                    let start = rng.below(cols as u32) as usize;
                    sample[start..].fill(0.0);
                }
                if border {
                    let lead = rng.below(cols as u32 / 2 + 1) as usize;
                    let trail = rng.below(cols as u32 / 2 + 1) as usize;
                    for sample in case.x.chunks_mut(cols) {
                        sample[..lead].fill(0.0);
                        sample[cols - trail..].fill(-0.0);
                    }
                }
                if !finite {
                    let s = rng.below(case.n as u32) as usize;
                    let o = case.row0 + rng.below(case.rows as u32) as usize;
                    case.dy[s * case.width + o] = [f32::INFINITY, f32::NAN][s % 2];
                }
                let at = format!("{kernel:?} cols={cols} border={border} finite={finite}");
                check_set_and_add(kernel, &case, &at);
            }
        }
    }
}

/// `set_rank_k_rows` and `add_rank_k_sum_rows` on `case` against `tinymlp`.
fn check_set_and_add(kernel: FFast, case: &RankCase, at: &str) {
    let cols = case.x.len() / case.n;
    let (dys, xs, row0) = (case.dys(), Rows::new(&case.x, cols), case.row0);
    let mut sum = vec![0.0; case.rows * cols];
    rank_k_rows(&mut sum, row0, dys, xs);
    let mut set = case.start.clone();
    kernel.set_rank_k_rows(&mut set, row0, dys, xs);
    let (rows, n) = (case.rows, case.n);
    let at = format!("{at} rows={rows} n={n} row0={row0}");
    assert_eq!(bits(&set), bits(&sum), "{at} set");
    let want: Vec<f32> = case.start.iter().zip(&sum).map(|(g, s)| g + s).collect();
    let mut got = case.start.clone();
    kernel.add_rank_k_sum_rows(&mut got, row0, dys, xs);
    assert_eq!(bits(&got), bits(&want), "{at} add");
}

/// A random sub-range of `0..n` (sometimes empty, sometimes all of it).
fn columns(rng: &mut Rng, n: usize) -> Range<usize> {
    if rng.below(3) == 0 {
        return 0..n;
    }
    let a = rng.below(n as u32 + 1) as usize;
    let b = rng.below(n as u32 + 1) as usize;
    a.min(b)..a.max(b)
}

#[test]
fn transposed_product_equals_tinymlp_batch_on_random_shapes() {
    let mut rng = Rng::new(13);
    for kernel in kernels() {
        for inputs in widths(&mut rng) {
            let rows = 1 + rng.below(37) as usize;
            let n = 1 + rng.below(41) as usize;
            let w = values(&mut rng, rows * inputs, 9);
            let dy = values(&mut rng, n * rows, 3);
            let dys = Rows::new(&dy, rows);
            let cols = columns(&mut rng, inputs);
            let start = values(&mut rng, n * inputs, 3);
            let (mut want, mut got) = (start.clone(), start.clone());
            matvec_t_batch_cols(&w, dys, &mut want, inputs, cols.clone());
            kernel.matvec_t_batch_cols(&w, dys, &mut got, inputs, cols.clone());
            let at = format!("{kernel:?} rows={rows} inputs={inputs} n={n} cols={cols:?}");
            assert_eq!(bits(&got), bits(&want), "{at}");
            // Rows `row0..row0 + part` added to what is stored.
            let row0 = rng.below(rows as u32) as usize;
            let part = 1 + rng.below((rows - row0) as u32) as usize;
            let block = &w[row0 * inputs..(row0 + part) * inputs];
            let (mut want, mut got) = (start.clone(), start);
            matvec_t_batch_add(block, row0, dys, &mut want, (inputs, cols.clone()));
            kernel.matvec_t_batch_add(block, row0, dys, &mut got, (inputs, cols.clone()));
            assert_eq!(bits(&got), bits(&want), "{at} add row0={row0} part={part}");
        }
    }
}

#[test]
fn non_finite_values_give_the_same_bits() {
    let mut rng = Rng::new(12);
    let specials = [
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        f32::MAX,
        f32::MIN_POSITIVE,
    ];
    for kernel in kernels() {
        for cols in [7, 8, 23, 784] {
            let (rows, n) = (9, 11);
            let mut w = values(&mut rng, rows * cols, 4);
            let mut x = values(&mut rng, n * cols, 4);
            let mut dy = values(&mut rng, n * rows, 4);
            for (k, s) in specials.iter().enumerate() {
                let (wi, xi, di) = (k * 31 % w.len(), (k * 17 + 3) % x.len(), k * 13 % dy.len());
                (w[wi], x[xi], dy[di]) = (*s, *s, *s);
            }
            let b = values(&mut rng, rows, 4);
            let xs = Rows::new(&x, cols);
            let (mut want, mut got) = (vec![0.0; n * rows], vec![0.0; n * rows]);
            forward_batch_rows(&w, &b, 0, xs, &mut want, rows);
            kernel.forward_batch(&w, &b, xs, &mut got);
            assert_eq!(bits(&got), bits(&want), "{kernel:?} forward cols={cols}");
            let dys = Rows::new(&dy, rows);
            let (mut want, mut got) = (vec![-0.0; rows * cols], vec![-0.0; rows * cols]);
            rank_k_rows(&mut want, 0, dys, xs);
            kernel.rank_k(&mut got, dys, xs);
            assert_eq!(bits(&got), bits(&want), "{kernel:?} rank_k cols={cols}");
            let (mut want, mut got) = (vec![0.0; n * cols], vec![0.0; n * cols]);
            matvec_t_batch_cols(&w, dys, &mut want, cols, 0..cols);
            kernel.matvec_t_batch(&w, dys, &mut got, cols);
            assert_eq!(bits(&got), bits(&want), "{kernel:?} matvec_t cols={cols}");
        }
    }
}

#[test]
fn detect_picks_a_path_this_cpu_has() {
    let fast = FFast::detect();
    assert!(fast.path().is_available());
    assert_eq!(
        FFast::with_path(FPath::Portable).map(FFast::path),
        Some(FPath::Portable)
    );
}

#[test]
#[should_panic(expected = "forward: weights are not rows × inputs")]
fn forward_checks_shapes_on_every_path() {
    let kernel = FFast::detect();
    let x = [0.0; 8];
    kernel.forward_batch(&[0.0; 7], &[0.0], Rows::new(&x, 8), &mut [0.0]);
}

#[test]
fn pixels_convert_to_the_core_table_on_every_path() {
    let mut rng = Rng::new(61);
    let every: Vec<u8> = (0..=255).collect();
    for kernel in kernels() {
        let mut lengths: Vec<usize> = (0..40).collect();
        lengths.extend([256, 783, 784]);
        for len in lengths {
            let pixels: Vec<u8> = if len == 256 {
                every.clone()
            } else {
                (0..len).map(|_| rng.below(256) as u8).collect()
            };
            let mut x = vec![f32::NAN; len];
            kernel.pixels_to_inputs(&pixels, &mut x);
            let want: Vec<f32> = pixels
                .iter()
                .map(|&p| tinymlp::PIXEL_VALUES[usize::from(p)])
                .collect();
            assert_eq!(bits(&x), bits(&want), "{kernel:?} len={len}");
        }
    }
}
