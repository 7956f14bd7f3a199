//! The AVX2 form of [`FFast::sgd_step_input_major`]: per input, the gradient
//! of up to eight half slabs of eight rows, summed shard by shard over the
//! samples whose input is not zero, then the SGD step of those halves'
//! weights and velocity (as the AVX-512 form, `x86/fused.rs`, does with
//! slabs of sixteen).
//!
//! [`FFast::sgd_step_input_major`]: super::super::super::FFast::sgd_step_input_major

use std::arch::x86_64::*;

use bytemuck::cast;
use tinymlp::batch::Rows;
use tinymlp::{Sgd, TensorKind};

use super::super::super::fused::ShardedBatch;
use super::super::super::sparse::{InputMajor, VECTOR};
use super::super::fused::{slab_deltas, SCRATCH};
use super::super::rule::{MOMENTUM, NESTEROV, PLAIN};
use super::sparse::{row_lanes, RowLanes, SgdStep};
use super::{all_finite, half_at, magnitude_bits, Half, HALF};

/// Half slabs whose gradient one pass of the fused step forms: their shard
/// sums take eight of the sixteen ymm registers (the batch sums, added once
/// per shard, may live in L1). Each pass walks every input and shard, so
/// one pass for 64 rows rather than two (4 halves) is worth the spills:
/// 59–62 µs against 63–66 for a batch of 32 MNIST images.
const UNITS: usize = 8;

/// Inputs one walk takes together for `units` half slabs (see the AVX-512
/// form). With sixteen ymm registers only the narrow walks gain (MNIST batch
/// of 32, best of 20: 16 rows 29 → 21 µs in fours, 32 rows 38 → 32 µs in
/// pairs); from five half slabs, whose sums already fill the registers,
/// pairs were slower (64 rows 57–61 → 78–107 µs) and the walk stays one
/// input at a time.
const fn group(units: usize) -> usize {
    match units {
        1 | 2 => 4,
        3 | 4 => 2,
        _ => 1,
    }
}

/// The fused step (see `fkernel::fused` and the AVX-512 form), or `None`
/// when it does not apply (a delta or input that is not finite, or shards
/// of more than 32 samples): then nothing was written. Otherwise whether
/// every weight is finite.
#[target_feature(enable = "avx2")]
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
        let halves = Halves {
            batch,
            layout,
            stride: 2 * layout.slabs(),
            shards: batch.xs.len().div_ceil(batch.shard),
            masks: &scratch.masks,
            deltas: scratch.deltas.as_flattened().as_chunks().0,
        };
        let step = SgdStep::new(sgd, kind, grad_scale);
        let wt: &mut [Half] = wt.as_chunks_mut().0;
        let vt: &mut [Half] = vt.as_chunks_mut().0;
        let (units, mut largest) = (layout.rows.div_ceil(HALF), _mm256_setzero_si256());
        for u in (0..units).step_by(UNITS) {
            let bits = match units - u {
                1 => halves.step::<1, { group(1) }>(u, step, (wt, vt)),
                2 => halves.step::<2, { group(2) }>(u, step, (wt, vt)),
                3 => halves.step::<3, { group(3) }>(u, step, (wt, vt)),
                4 => halves.step::<4, { group(4) }>(u, step, (wt, vt)),
                5 => halves.step::<5, { group(5) }>(u, step, (wt, vt)),
                6 => halves.step::<6, { group(6) }>(u, step, (wt, vt)),
                7 => halves.step::<7, { group(7) }>(u, step, (wt, vt)),
                _ => halves.step::<UNITS, { group(UNITS) }>(u, step, (wt, vt)),
            };
            largest = _mm256_max_epu32(largest, bits);
        }
        Some(all_finite(largest))
    })
}

/// Sets `masks` (see `Scratch::masks` in `x86/fused.rs`) for `xs`, eight inputs of a
/// shard's samples per register; whether every input is finite.
#[target_feature(enable = "avx2")]
fn sample_masks(xs: Rows<'_>, shard: usize, masks: &mut Vec<u32>) -> bool {
    let inputs = xs.width;
    masks.clear();
    masks.resize(xs.len().div_ceil(shard) * inputs, 0);
    let (mut largest, mut finite) = (_mm256_setzero_si256(), true);
    let whole = inputs / HALF * HALF;
    for (j, s0) in (0..xs.len()).step_by(shard).enumerate() {
        let samples = s0..(s0 + shard).min(xs.len());
        let row = &mut masks[j * inputs..][..inputs];
        for (c, m) in row[..whole]
            .as_chunks_mut::<HALF>()
            .0
            .iter_mut()
            .enumerate()
        {
            let mut bits = _mm256_setzero_si256();
            for s in samples.clone() {
                let x: &Half = xs.get(s)[c * HALF..][..HALF]
                    .try_into()
                    .expect("eight inputs");
                let x: __m256 = cast(*x);
                let nonzero = _mm256_cmp_ps::<_CMP_NEQ_UQ>(x, _mm256_setzero_ps());
                let bit = _mm256_set1_epi32((1u32 << (s - s0)) as i32);
                bits = _mm256_or_si256(bits, _mm256_and_si256(_mm256_castps_si256(nonzero), bit));
                largest = _mm256_max_epu32(largest, magnitude_bits(x));
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
    finite && all_finite(largest)
}

/// Where input 0 of half slabs `u0..u0 + V` is among the [`Half`]s of a
/// layout whose slabs hold `padded` inputs.
fn half_bases<const V: usize>(u0: usize, padded: usize) -> [usize; V] {
    core::array::from_fn(|v| half_at(u0 + v, 0, padded))
}

/// The SGD step (`RULE`: `step.rule`) of input `i` in the half slabs at
/// `halves` (input 0 of each), with its gradient `g`; the largest
/// magnitude (bits) among the new weights. The rule is chosen once per
/// input and each half's index is a base plus `2 i`: branching on the rule
/// per half and computing each index from scratch (`half_at`) made the step
/// 13 % more instructions (663 k → 573 k per call for 64 rows and a batch of
/// 32 MNIST images, `callgrind`) and 7 % slower.
#[target_feature(enable = "avx2")]
fn update_input<const V: usize, const RULE: u8>(
    step: SgdStep,
    (g, lanes): (&[__m256; V], &[RowLanes; V]),
    (halves, i): (&[usize; V], usize),
    (wt, vt): (&mut [Half], &mut [Half]),
) -> __m256i {
    let mut largest = _mm256_setzero_si256();
    for v in 0..V {
        let at = halves[v] + 2 * i;
        let new = match lanes[v] {
            RowLanes::All => step.update_as::<RULE>(&mut wt[at], &mut vt[at], g[v]),
            partial => step.update_lanes(&mut wt[at], &mut vt[at], g[v], partial),
        };
        largest = _mm256_max_epu32(largest, magnitude_bits(new));
    }
    largest
}

/// What every pass of the fused step reads.
struct Halves<'a> {
    batch: ShardedBatch<'a>,
    layout: InputMajor,
    /// Half slabs per sample in `deltas`, and the shards of the batch.
    stride: usize,
    shards: usize,
    masks: &'a [u32],
    /// Sample `s`'s deltas of half slab `u` at `s · stride + u`.
    deltas: &'a [Half],
}

impl Halves<'_> {
    /// The step of half slabs `u0..u0 + V`, inputs `G` at a time (see the
    /// AVX-512 form); the largest magnitude (bits) among their new weights.
    #[target_feature(enable = "avx2")]
    fn step<const V: usize, const G: usize>(
        &self,
        u0: usize,
        step: SgdStep,
        (wt, vt): (&mut [Half], &mut [Half]),
    ) -> __m256i {
        let (inputs, padded) = (self.layout.inputs, self.layout.slab_len() / VECTOR);
        // Lanes of real rows in each half (the padding rows keep their zeros).
        let lanes: [RowLanes; V] =
            core::array::from_fn(|v| row_lanes((self.layout.rows - (u0 + v) * HALF).min(HALF)));
        // Where input 0 of each half is; input `i` is `2 i` further.
        let halves = half_bases(u0, padded);
        let update = |g: &[__m256; V], i: usize, wt: &mut [Half], vt: &mut [Half]| {
            let t = (wt, vt);
            match step.rule {
                PLAIN => update_input::<V, PLAIN>(step, (g, &lanes), (&halves, i), t),
                MOMENTUM => update_input::<V, MOMENTUM>(step, (g, &lanes), (&halves, i), t),
                _ => update_input::<V, NESTEROV>(step, (g, &lanes), (&halves, i), t),
            }
        };
        let mut largest = _mm256_setzero_si256();
        // One input at a time (`G` = 1) through the tail's loop: taken
        // through the group's loop, the array of one group compiled to code
        // 1.8–2 × slower for 64 rows.
        let whole = if G > 1 { inputs / G * G } else { 0 };
        for i0 in (0..whole).step_by(G) {
            for (e, g) in self.gradient::<V, G>(u0, i0).iter().enumerate() {
                largest = _mm256_max_epu32(largest, update(g, i0 + e, wt, vt));
            }
        }
        for i in whole..inputs {
            let [g] = self.gradient::<V, 1>(u0, i);
            largest = _mm256_max_epu32(largest, update(&g, i, wt, vt));
        }
        largest
    }

    /// The gradients of inputs `i0..i0 + G` in half slabs `u0..u0 + V`: per
    /// input and shard a chain from `+0.0` over the samples, ascending, with
    /// a non-zero value of any of the `G` inputs (a zero one adds `±0.0`,
    /// which changes no bit: see the AVX-512 form); the shards added in order.
    #[target_feature(enable = "avx2")]
    fn gradient<const V: usize, const G: usize>(&self, u0: usize, i0: usize) -> [[__m256; V]; G] {
        let ShardedBatch { xs, shard, .. } = self.batch;
        let (inputs, stride) = (xs.width, self.stride);
        let mut g = [[_mm256_setzero_ps(); V]; G];
        for j in 0..self.shards {
            let masks = &self.masks[j * inputs + i0..][..G];
            let (s0, mut bits) = (j * shard, masks.iter().fold(0, |a, m| a | m));
            let mut acc = [[_mm256_setzero_ps(); V]; G];
            while bits != 0 {
                let s = s0 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let x: &[f32; G] = xs.data[s * inputs + i0..][..G]
                    .try_into()
                    .expect("G inputs");
                let d = &self.deltas[s * stride + u0..][..V];
                for e in 0..G {
                    let x = _mm256_set1_ps(x[e]);
                    for v in 0..V {
                        acc[e][v] = _mm256_add_ps(acc[e][v], _mm256_mul_ps(cast(d[v]), x));
                    }
                }
            }
            if j == 0 {
                g = acc;
            } else {
                for e in 0..G {
                    for v in 0..V {
                        g[e][v] = _mm256_add_ps(g[e][v], acc[e][v]);
                    }
                }
            }
        }
        g
    }
}
