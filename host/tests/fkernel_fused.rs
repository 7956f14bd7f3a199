//! `host::fkernel::fused`: the first layer's gradient and SGD step in one
//! pass over input-major weights give the bits of the step taken apart
//! with `tinymlp`'s own kernels — each shard's gradient from zero
//! (`tinymlp::batch::rank_k_rows`), the shards added in order, then
//! `Sgd::update_slice` on row-major storage — on every path this CPU has:
//! random shapes (rows and inputs not multiples of 16, row offsets, shards
//! of several sizes, partial last shards), mostly-zero inputs and deltas
//! with `-0.0` among them, plain SGD and momentum, and non-finite deltas
//! and inputs (where the fused form must step aside).

mod common;

use common::kernels::{bits, kernels, sparse_inputs, values};
use host::fkernel::fused::{ShardedBatch, FUSED_ROWS};
use host::fkernel::sparse::InputMajor;
use host::fkernel::FFast;
use tinymlp::batch::{rank_k_rows, Rows};
use tinymlp::{Rng, Sgd, TensorKind};

/// One random step's arguments.
struct Case {
    rows: usize,
    inputs: usize,
    row0: usize,
    shard: usize,
    dys: Rows<'static>,
    xs: Rows<'static>,
    w: Vec<f32>,
    v: Vec<f32>,
    sgd: Sgd,
    kind: TensorKind,
    scale: f32,
}

impl Case {
    fn random(rng: &mut Rng, inputs: usize) -> Self {
        // Half of them from `FUSED_ROWS` up, where the vector paths fuse.
        let rows = [1, FUSED_ROWS][rng.below(2) as usize] + rng.below(160) as usize;
        let (row0, extra) = (rng.below(20) as usize, rng.below(3) as usize);
        let width = row0 + rows + extra;
        let n = 1 + rng.below(40) as usize;
        let leak = |v: Vec<f32>| -> &'static [f32] { Vec::leak(v) };
        let dys = leak(values(rng, n * width, 2));
        let xs = leak(sparse_inputs(rng, n, inputs));
        Self {
            rows,
            inputs,
            row0,
            shard: [16, 16, 1, 5, 32][rng.below(5) as usize],
            dys: Rows::new(dys, width),
            xs: Rows::new(xs, inputs),
            w: values(rng, rows * inputs, 5),
            v: values(rng, rows * inputs, 4),
            sgd: Sgd {
                learning_rate: rng.uniform(0.001, 0.5),
                momentum: [0.0, 0.9][rng.below(2) as usize],
                weight_decay: [0.0, 5e-4][rng.below(2) as usize],
                nesterov: rng.below(2) == 0,
            },
            kind: [TensorKind::Weight, TensorKind::Bias][rng.below(2) as usize],
            scale: 1.0 / n as f32,
        }
    }

    /// The step taken apart by `tinymlp`: new weights and velocity, row-major.
    fn reference(&self) -> (Vec<f32>, Vec<f32>) {
        let mut g = vec![0.0; self.rows * self.inputs];
        let shards = self
            .dys
            .data
            .chunks(self.shard * self.dys.width)
            .zip(self.xs.data.chunks(self.shard * self.inputs));
        for (j, (d, x)) in shards.enumerate() {
            let mut sum = vec![0.0; g.len()];
            let (d, x) = (Rows::new(d, self.dys.width), Rows::new(x, self.inputs));
            rank_k_rows(&mut sum, self.row0, d, x);
            for (g, s) in g.iter_mut().zip(&sum) {
                *g = if j == 0 { *s } else { *g + s };
            }
        }
        let (mut w, mut v) = (self.w.clone(), self.v.clone());
        self.sgd
            .update_slice(self.kind, &mut w, &g, &mut v, self.scale);
        (w, v)
    }

    /// The step through `kernel`: new weights and velocity, input-major,
    /// and whether it said every weight is finite.
    fn fused(&self, kernel: FFast) -> (Vec<f32>, Vec<f32>, bool) {
        let layout = InputMajor::new(self.rows, self.inputs);
        let (mut wt, mut vt) = (layout.from_rows(&self.w), layout.from_rows(&self.v));
        let mut scratch = values(&mut Rng::new(1), self.rows * self.inputs, 3);
        let batch = ShardedBatch {
            dys: self.dys,
            xs: self.xs,
            row0: self.row0,
            shard: self.shard,
        };
        let finite = kernel.sgd_step_input_major(
            (self.sgd, self.kind, self.scale),
            batch,
            &mut scratch,
            (&mut wt, &mut vt, layout),
        );
        (wt.to_vec(), vt.to_vec(), finite)
    }

    /// Checks `kernel` against the reference.
    fn check(&self, kernel: FFast, what: &str) {
        let (want_w, want_v) = self.reference();
        let (wt, vt, finite) = self.fused(kernel);
        let layout = InputMajor::new(self.rows, self.inputs);
        let at = format!(
            "{kernel:?} {what} rows={} inputs={} row0={} shard={} n={} {:?}",
            self.rows,
            self.inputs,
            self.row0,
            self.shard,
            self.xs.len(),
            self.sgd
        );
        assert_eq!(bits(&wt), bits(&layout.from_rows(&want_w)), "{at} weights");
        if self.sgd.momentum != 0.0 {
            assert_eq!(bits(&vt), bits(&layout.from_rows(&want_v)), "{at} velocity");
        } else {
            // Plain SGD neither reads nor writes the velocity.
            assert_eq!(bits(&vt), bits(&layout.from_rows(&self.v)), "{at} velocity");
        }
        assert_eq!(finite, want_w.iter().all(|w| w.is_finite()), "{at} finite");
    }
}

#[test]
fn fused_step_equals_the_step_taken_apart() {
    let mut rng = Rng::new(41);
    for kernel in kernels() {
        let mut widths: Vec<usize> = (1..=18).collect();
        widths.extend([31, 32, 33, 64, 65, 100, 784]);
        widths.extend((0..8).map(|_| 1 + rng.below(300) as usize));
        for inputs in widths {
            for _ in 0..3 {
                Case::random(&mut rng, inputs).check(kernel, "finite");
            }
        }
    }
}

#[test]
fn fused_step_with_a_non_finite_delta_or_input_equals_the_step_taken_apart() {
    let mut rng = Rng::new(43);
    for kernel in kernels() {
        for inputs in [1, 7, 16, 33, 100, 784] {
            for (what, bad) in [
                ("infinite delta", f32::INFINITY),
                ("NaN delta", f32::NAN),
                ("infinite input", f32::NEG_INFINITY),
                ("NaN input", f32::NAN),
            ] {
                let mut case = Case::random(&mut rng, inputs);
                let target = if what.ends_with("delta") {
                    case.dys.data
                } else {
                    case.xs.data
                };
                let mut changed = target.to_vec();
                let at = rng.below(changed.len() as u32) as usize;
                changed[at] = bad;
                let changed: &'static [f32] = Vec::leak(changed);
                if what.ends_with("delta") {
                    case.dys = Rows::new(changed, case.dys.width);
                } else {
                    case.xs = Rows::new(changed, inputs);
                }
                case.check(kernel, what);
            }
        }
    }
}
