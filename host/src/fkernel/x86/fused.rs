//! The AVX-512 form of [`FFast::sgd_step_input_major`]: per input, the
//! gradient of up to eight slabs of sixteen rows held in zmm registers,
//! summed shard by shard over the samples whose input is not zero, then
//! the SGD step of those slabs' weights and velocity.
//!
//! Which samples have a non-zero input is one bit per sample: for each
//! shard and input a `u32`, built sixteen inputs per compare and masked OR.
//!
//! The walk takes two to eight neighbouring inputs together (fewer the more
//! slabs: [`group`]) over the samples where any of them is not zero. One
//! input at a time, its cost hardly depended on the slabs (≈ 19 µs of a
//! 35 µs step for 64 rows, 20 µs for 128): the loop's scalar work per
//! sample, not the products, bound it. Together the inputs share that work
//! and the deltas' loads, at the price of products by zero (MNIST: 1.17 ×
//! the products in pairs, 1.48 × in fours), which add nothing.
//!
//! Two other shapes were slower (`BENCHMARKS.md`, seventh round): each
//! shard's inputs transposed first (a copy as large as the inputs, every
//! batch), and sample by sample with a block of inputs' sums in L1 (a load
//! and a store of the sums per product).
//!
//! [`FFast::sgd_step_input_major`]: super::super::FFast::sgd_step_input_major

use std::arch::x86_64::*;
use std::cell::RefCell;

use bytemuck::cast;
use tinymlp::batch::Rows;
use tinymlp::{Sgd, TensorKind};

use super::super::fused::ShardedBatch;
use super::super::sparse::{InputMajor, VECTOR};
use super::rule::{MOMENTUM, NESTEROV, PLAIN};
use super::sparse::{Columns, SgdStep};

/// Slabs whose gradient one pass over the inputs holds in registers (with
/// their shard sums: sixteen zmm of the 32). Each pass walks every input and
/// shard, which costs about as much for one slab as for eight: 128 rows in
/// one pass instead of two took 0.63 of the step taken apart against 0.77.
const SLABS: usize = 8;

/// Inputs one walk of the fused step takes together for `slabs` slabs
/// (MNIST batch of 32, best of 20: 16 rows 14.7 → 13.0 µs with eight
/// instead of four; 64 rows 35 → 30 µs with two, no faster with four; 128
/// rows 60 → 52 µs with two, although their sums then spill).
const fn group(slabs: usize) -> usize {
    match slabs {
        1 => 8,
        2 => 4,
        _ => 2,
    }
}

/// Per-thread buffers reused between steps (by the AVX2 form too).
#[derive(Default)]
pub(super) struct Scratch {
    /// `masks[j · inputs + i]`: bit `b` set when sample `j · shard + b` has
    /// input `i` not `±0.0`.
    pub(super) masks: Vec<u32>,
    /// `deltas[s · slabs + k]`: sample `s`'s deltas of slab `k`, zeros past
    /// the last row.
    pub(super) deltas: Vec<Columns>,
}

thread_local! {
    pub(super) static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// The fused step, or `None` when it does not apply (a delta or input that
/// is not finite, or shards of more than 32 samples): then nothing was
/// written. Otherwise whether every weight is finite (shapes checked by the
/// caller).
#[target_feature(enable = "avx512f")]
pub(super) fn sgd_step(
    (sgd, kind, grad_scale): (Sgd, TensorKind, f32),
    batch: ShardedBatch<'_>,
    (wt, vt, layout): (&mut [f32], &mut [f32], InputMajor),
) -> Option<bool> {
    if batch.shard > 32 {
        return None;
    }
    SCRATCH.with_borrow_mut(|scratch| {
        if !(sample_masks(batch.xs, batch.shard, &mut scratch.masks)
            && slab_deltas(batch, layout, &mut scratch.deltas))
        {
            return None;
        }
        let step = SgdStep::new(sgd, kind, grad_scale);
        let wt: &mut [Columns] = wt.as_chunks_mut().0;
        let vt: &mut [Columns] = vt.as_chunks_mut().0;
        let slabs = Slabs {
            batch,
            layout,
            slabs: layout.slabs(),
            shards: batch.xs.len().div_ceil(batch.shard),
            masks: &scratch.masks,
            deltas: &scratch.deltas,
        };
        let mut largest = _mm512_setzero_si512();
        for k in (0..layout.slabs()).step_by(SLABS) {
            let bits = match layout.slabs() - k {
                1 => slabs.step::<1, { group(1) }>(k, step, (wt, vt)),
                2 => slabs.step::<2, { group(2) }>(k, step, (wt, vt)),
                3 => slabs.step::<3, { group(3) }>(k, step, (wt, vt)),
                4 => slabs.step::<4, { group(4) }>(k, step, (wt, vt)),
                5 => slabs.step::<5, { group(5) }>(k, step, (wt, vt)),
                6 => slabs.step::<6, { group(6) }>(k, step, (wt, vt)),
                7 => slabs.step::<7, { group(7) }>(k, step, (wt, vt)),
                _ => slabs.step::<SLABS, { group(SLABS) }>(k, step, (wt, vt)),
            };
            largest = _mm512_max_epu32(largest, bits);
        }
        Some(_mm512_cmpge_epu32_mask(largest, _mm512_set1_epi32(0x7f80_0000)) == 0)
    })
}

/// Sets `masks` (see [`Scratch::masks`]) for `xs`, sixteen inputs of a
/// shard's samples per register; whether every input is finite.
#[target_feature(enable = "avx512f")]
fn sample_masks(xs: Rows<'_>, shard: usize, masks: &mut Vec<u32>) -> bool {
    let inputs = xs.width;
    masks.clear();
    masks.resize(xs.len().div_ceil(shard) * inputs, 0);
    let magnitude = _mm512_set1_epi32(0x7fff_ffff);
    let (mut largest, mut finite) = (_mm512_setzero_si512(), true);
    let whole = inputs / VECTOR * VECTOR;
    for (j, s0) in (0..xs.len()).step_by(shard).enumerate() {
        let samples = s0..(s0 + shard).min(xs.len());
        let row = &mut masks[j * inputs..][..inputs];
        for (c, m) in row[..whole]
            .as_chunks_mut::<VECTOR>()
            .0
            .iter_mut()
            .enumerate()
        {
            let mut bits = _mm512_setzero_si512();
            for s in samples.clone() {
                let x: &[f32; VECTOR] = xs.get(s)[c * VECTOR..][..VECTOR]
                    .try_into()
                    .expect("sixteen inputs");
                let x: __m512 = cast(*x);
                let nonzero = _mm512_cmpneq_ps_mask(x, _mm512_setzero_ps());
                let bit = _mm512_set1_epi32(1 << (s - s0));
                bits = _mm512_mask_or_epi32(bits, nonzero, bits, bit);
                let magnitudes = _mm512_and_si512(_mm512_castps_si512(x), magnitude);
                largest = _mm512_max_epu32(largest, magnitudes);
            }
            *m = cast(bits);
        }
        for (i, m) in row.iter_mut().enumerate().skip(whole) {
            for s in samples.clone() {
                let x = xs.get(s)[i];
                *m |= u32::from(x != 0.0) << (s - s0);
                finite &= x.is_finite();
            }
        }
    }
    finite && _mm512_cmpge_epu32_mask(largest, _mm512_set1_epi32(0x7f80_0000)) == 0
}

/// Sets `deltas` (see [`Scratch::deltas`]) for the rows of `layout` from
/// `batch.row0`; whether every one of them is finite.
pub(super) fn slab_deltas(
    batch: ShardedBatch<'_>,
    layout: InputMajor,
    deltas: &mut Vec<Columns>,
) -> bool {
    let slabs = layout.slabs();
    deltas.clear();
    deltas.resize(batch.dys.len() * slabs, [0.0; VECTOR]);
    let mut finite = true;
    for (s, out) in deltas.chunks_exact_mut(slabs.max(1)).enumerate() {
        let own = &batch.dys.get(s)[batch.row0..batch.row0 + layout.rows];
        for (out, d) in out.iter_mut().zip(own.chunks(VECTOR)) {
            out[..d.len()].copy_from_slice(d);
            finite &= d.iter().all(|d| d.is_finite());
        }
    }
    finite
}

/// What every slab's step reads.
struct Slabs<'a> {
    batch: ShardedBatch<'a>,
    layout: InputMajor,
    /// `layout.slabs()`, and the shards of the batch.
    slabs: usize,
    shards: usize,
    masks: &'a [u32],
    deltas: &'a [Columns],
}

impl Slabs<'_> {
    /// The step of slabs `k0..k0 + V`, inputs `G` at a time; the largest
    /// magnitude (bits) among their new weights.
    #[target_feature(enable = "avx512f")]
    fn step<const V: usize, const G: usize>(
        &self,
        k0: usize,
        step: SgdStep,
        (wt, vt): (&mut [Columns], &mut [Columns]),
    ) -> __m512i {
        let (inputs, padded) = (self.layout.inputs, self.layout.slab_len() / VECTOR);
        // Lanes of real rows in each slab (the padding rows keep their zeros).
        let lanes: [__mmask16; V] = core::array::from_fn(|v| {
            let rows = (self.layout.rows - (k0 + v) * VECTOR).min(VECTOR);
            ((1u32 << rows) - 1) as __mmask16
        });
        // Where input 0 of each slab is.
        let bases: [usize; V] = core::array::from_fn(|v| (k0 + v) * padded);
        let mut largest = _mm512_setzero_si512();
        let mut update = |i: usize, g: [__m512; V]| {
            let (g, t) = ((&g, &lanes), (&mut *wt, &mut *vt));
            let bits = match step.rule {
                PLAIN => update_input::<V, PLAIN>(step, g, (&bases, i), t),
                MOMENTUM => update_input::<V, MOMENTUM>(step, g, (&bases, i), t),
                _ => update_input::<V, NESTEROV>(step, g, (&bases, i), t),
            };
            largest = _mm512_max_epu32(largest, bits);
        };
        let whole = inputs / G * G;
        for i0 in (0..whole).step_by(G) {
            for (e, g) in self.gradient::<V, G>(k0, i0).into_iter().enumerate() {
                update(i0 + e, g);
            }
        }
        for i in whole..inputs {
            let [g] = self.gradient::<V, 1>(k0, i);
            update(i, g);
        }
        largest
    }

    /// The gradients of inputs `i0..i0 + G` in slabs `k0..k0 + V`: per input
    /// and shard a chain from `+0.0` over the samples, ascending, with a
    /// non-zero value of any of the `G` inputs; the shards added in order.
    /// A sample whose value of this input is zero adds `d · 0 = ±0.0`, which
    /// leaves the chain's bits as they are (a chain from `+0.0` is never
    /// `-0.0`; deltas and inputs were checked finite), so each chain is the
    /// one over its own input's samples. Walking `G` inputs together shares
    /// the loop, the sample's address and its deltas' loads among them (the
    /// loop's scalar work, not the products, bounded one input at a time).
    #[target_feature(enable = "avx512f")]
    fn gradient<const V: usize, const G: usize>(&self, k0: usize, i0: usize) -> [[__m512; V]; G] {
        let ShardedBatch { xs, shard, .. } = self.batch;
        // Counted once per step: this runs per input, and a division
        // (`Rows::len`, `step_by`) costs more than the chains of most inputs.
        let (inputs, slabs, shards) = (xs.width, self.slabs, self.shards);
        let mut g = [[_mm512_setzero_ps(); V]; G];
        for j in 0..shards {
            let masks = &self.masks[j * inputs + i0..][..G];
            let (s0, mut bits) = (j * shard, masks.iter().fold(0, |a, m| a | m));
            let mut acc = [[_mm512_setzero_ps(); V]; G];
            while bits != 0 {
                let s = s0 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let x: &[f32; G] = xs.data[s * inputs + i0..][..G]
                    .try_into()
                    .expect("G inputs");
                let d = &self.deltas[s * slabs + k0..][..V];
                for (acc, &x) in acc.iter_mut().zip(x) {
                    let x = _mm512_set1_ps(x);
                    for v in 0..V {
                        acc[v] = _mm512_add_ps(acc[v], _mm512_mul_ps(cast(d[v]), x));
                    }
                }
            }
            g = if j == 0 {
                acc
            } else {
                core::array::from_fn(|e| {
                    core::array::from_fn(|v| _mm512_add_ps(g[e][v], acc[e][v]))
                })
            };
        }
        g
    }
}

/// The SGD step (`RULE`, which must be `step`'s) of input `i` in the slabs
/// whose input 0 is at `bases`, with its gradient `g` and their real rows
/// in `lanes`; the largest magnitude (bits) among the new weights. The rule
/// is chosen once per input, not per vector (as in the AVX2 form).
#[target_feature(enable = "avx512f")]
fn update_input<const V: usize, const RULE: u8>(
    step: SgdStep,
    (g, lanes): (&[__m512; V], &[__mmask16; V]),
    (bases, i): (&[usize; V], usize),
    (wt, vt): (&mut [Columns], &mut [Columns]),
) -> __m512i {
    let mut largest = _mm512_setzero_si512();
    for v in 0..V {
        let (at, lanes) = (bases[v] + i, lanes[v]);
        let p: __m512 = cast(wt[at]);
        let new = if RULE == PLAIN {
            step.apply_plain(p, g[v])
        } else {
            let old: __m512 = cast(vt[at]);
            let (new, new_vel) = if RULE == NESTEROV {
                step.apply_as::<true>(p, g[v], old)
            } else {
                step.apply_as::<false>(p, g[v], old)
            };
            vt[at] = cast(_mm512_mask_blend_ps(lanes, old, new_vel));
            new
        };
        let new = _mm512_mask_blend_ps(lanes, p, new);
        wt[at] = cast(new);
        largest = _mm512_max_epu32(largest, magnitude_bits(new));
    }
    largest
}

/// The bits of `|v|` per lane: ordered as the magnitudes.
#[target_feature(enable = "avx512f")]
fn magnitude_bits(v: __m512) -> __m512i {
    _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(0x7fff_ffff))
}
