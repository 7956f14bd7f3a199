//! `host::fkernel::sparse`: the first layer's forward product with
//! input-major weights, reading for each half of a chunk's lanes only the
//! chunks where it holds a non-zero value, gives the bits of
//! `tinymlp::batch` on the row-major
//! weights — on every path this CPU has, on random shapes (inputs and rows
//! not multiples of 8 or 16, row offsets), mostly-zero inputs with `-0.0`
//! among them, and infinite weights; the copy into input-major storage,
//! SGD on it with a row-major gradient and the chunk lists agree on every
//! path.

mod common;

use std::ops::Range;

use common::kernels::{bits, kernels, sparse_inputs, values};
use host::fkernel::sparse::{Chunks, InputMajor, NonZeroChunks, HALVES};
use host::fkernel::FFast;
use tinymlp::batch::{forward_batch_rows, Rows};
use tinymlp::{Rng, Sgd, TensorKind};

/// The lists of `xs`, after `first` samples of other inputs.
fn lists(rng: &mut Rng, xs: Rows<'_>, first: usize) -> NonZeroChunks {
    let mut lists = NonZeroChunks::new();
    let before = sparse_inputs(rng, first, xs.width);
    lists.extend(Rows::new(&before, xs.width));
    lists.extend(xs);
    lists
}

/// Input widths around the chunk, vector and block sizes.
fn input_widths(rng: &mut Rng) -> Vec<usize> {
    let mut w: Vec<usize> = (1..=20).collect();
    w.extend([31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 256, 784]);
    w.extend((0..6).map(|_| 1 + rng.below(400) as usize));
    w
}

/// A forward call on random rows of a layer, checked against the reference
/// with the lists and with every chunk; returns how many of its samples
/// have halves of the lanes that read different chunks.
fn check_forward(kernel: FFast, rng: &mut Rng, cols: usize, weights: &[f32]) -> usize {
    let rows = weights.len() / cols;
    let n = 1 + rng.below(20) as usize;
    let extra = rng.below(5) as usize;
    let (row0, outputs) = (rng.below(extra as u32 + 1) as usize, rows + extra);
    let b = values(rng, rows, 5);
    let x = sparse_inputs(rng, n, cols);
    let xs = Rows::new(&x, cols);
    let start = values(rng, n * outputs, 3);
    let mut want = start.clone();
    forward_batch_rows(weights, &b, row0, xs, &mut want, outputs);
    let layout = InputMajor::new(rows, cols);
    let wt = layout.from_rows(weights);
    let first = rng.below(3) as usize;
    let lists = lists(rng, xs, first);
    let finite = weights.iter().all(|w| w.is_finite());
    let read = [Chunks::All, Chunks::Listed(&lists, first)];
    for chunks in &read[..if finite { 2 } else { 1 }] {
        let mut got = start.clone();
        let inputs = (xs, *chunks);
        kernel.forward_input_major((&wt, layout), &b, row0, inputs, (&mut got, outputs));
        let at = format!("{kernel:?} {chunks:?} rows={rows} cols={cols} n={n} row0={row0}");
        assert_eq!(bits(&got), bits(&want), "{at}");
    }
    let differ = |s| lists.half(0, s) != lists.half(1, s);
    (first..first + n).filter(|&s| differ(s)).count()
}

#[test]
fn forward_equals_tinymlp_batch_on_sparse_inputs() {
    let mut rng = Rng::new(20);
    for kernel in kernels() {
        let mut split = 0;
        for cols in input_widths(&mut rng) {
            let rows = 1 + rng.below(70) as usize;
            let weights = values(&mut rng, rows * cols, 9);
            split += check_forward(kernel, &mut rng, cols, &weights);
        }
        assert!(split > 0, "the halves of the lanes read the same chunks");
    }
}

#[test]
fn forward_with_an_infinite_weight_reads_every_chunk_like_the_reference() {
    let mut rng = Rng::new(21);
    for kernel in kernels() {
        for cols in [8, 13, 784] {
            let rows = 19;
            let mut weights = values(&mut rng, rows * cols, 9);
            weights[3 * cols + cols / 2] = f32::INFINITY;
            weights[7 * cols] = f32::NAN;
            check_forward(kernel, &mut rng, cols, &weights);
        }
    }
}

#[test]
fn to_input_major_copies_every_weight_and_says_whether_all_are_finite() {
    let mut rng = Rng::new(24);
    for kernel in kernels() {
        for cols in input_widths(&mut rng) {
            let rows = 1 + rng.below(70) as usize;
            let mut weights = values(&mut rng, rows * cols, 9);
            let layout = InputMajor::new(rows, cols);
            let want = layout.from_rows(&weights);
            let mut got = vec![f32::NAN; layout.len()];
            let at = format!("{kernel:?} rows={rows} cols={cols}");
            assert!(kernel.to_input_major(&weights, (&mut got, layout)), "{at}");
            assert_eq!(bits(&got), bits(&want), "{at}");
            let last = weights.len() - 1;
            weights[rng.below(last as u32 + 1) as usize] = [f32::INFINITY, f32::NAN][cols % 2];
            assert!(!kernel.to_input_major(&weights, (&mut got, layout)), "{at}");
        }
    }
}

#[test]
fn chunk_lists_are_the_same_on_every_path() {
    let mut rng = Rng::new(25);
    for kernel in kernels() {
        for cols in input_widths(&mut rng) {
            let mut x = sparse_inputs(&mut rng, 3, cols);
            let at = rng.below(x.len() as u32) as usize;
            x[at] = f32::NAN;
            let mut lists = NonZeroChunks::with(kernel);
            lists.extend(Rows::new(&x, cols));
            let mut whole = 0;
            for (s, sample) in x.chunks(cols).enumerate() {
                let listed = |lanes: Range<usize>| -> Vec<u32> {
                    let chunks = sample
                        .chunks(8)
                        .map(|c| c.get(lanes.start..).unwrap_or(&[]));
                    let chunks = chunks.map(|c| c.iter().take(lanes.len()).any(|&v| v != 0.0));
                    (0..)
                        .zip(chunks)
                        .filter(|(_, nonzero)| *nonzero)
                        .map(|(c, _)| c)
                        .collect()
                };
                let at = format!("{kernel:?} cols={cols} sample {s}");
                for (h, lanes) in HALVES.into_iter().enumerate() {
                    assert_eq!(lists.half(h, s), &listed(lanes)[..], "{at}");
                }
                whole += listed(0..8).len();
            }
            let density = whole as f64 / (3 * cols.div_ceil(8)) as f64;
            assert_eq!(lists.density(cols), density, "{kernel:?} cols={cols}");
        }
    }
}

#[test]
fn sgd_update_of_input_major_weights_equals_update_slice_on_rows() {
    let mut rng = Rng::new(27);
    for kernel in kernels() {
        for cols in input_widths(&mut rng) {
            let rows = 1 + rng.below(70) as usize;
            let n = rows * cols;
            let (w, g, v) = (
                values(&mut rng, n, 5),
                values(&mut rng, n, 3),
                values(&mut rng, n, 4),
            );
            let sgd = Sgd {
                learning_rate: rng.uniform(0.001, 0.5),
                momentum: [0.0, 0.9][rng.below(2) as usize],
                weight_decay: [0.0, 1e-4][rng.below(2) as usize],
                nesterov: rng.below(2) == 0,
            };
            let kind = [TensorKind::Weight, TensorKind::Bias][rng.below(2) as usize];
            let scale = 1.0 / (1 + rng.below(40)) as f32;
            let (mut want_w, mut want_v) = (w.clone(), v.clone());
            sgd.update_slice(kind, &mut want_w, &g, &mut want_v, scale);
            let layout = InputMajor::new(rows, cols);
            let (mut wt, mut vt) = (layout.from_rows(&w), layout.from_rows(&v));
            let finite =
                kernel.sgd_update_input_major((sgd, kind, scale), &g, (&mut wt, &mut vt, layout));
            let at = format!("{kernel:?} {sgd:?} {kind:?} rows={rows} cols={cols}");
            assert_eq!(bits(&wt), bits(&layout.from_rows(&want_w)), "{at} weights");
            assert_eq!(bits(&vt), bits(&layout.from_rows(&want_v)), "{at} velocity");
            assert_eq!(finite, want_w.iter().all(|w| w.is_finite()), "{at}");
            let mut huge = g.clone();
            huge[rng.below(n as u32) as usize] = f32::INFINITY;
            let t = (&mut wt[..], &mut vt[..], layout);
            assert!(
                !kernel.sgd_update_input_major((sgd, kind, scale), &huge, t),
                "{at}"
            );
        }
    }
}
