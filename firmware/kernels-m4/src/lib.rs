//! Cortex-M4F and Cortex-M33 assembly kernels for tinymlp inference.
//!
//! Stable Rust reaches neither of the instructions that make a
//! multiply-accumulate cheap on these cores (ARMv7E-M and ARMv8-M Mainline
//! with the DSP extension and a single-precision FPU: both have the same
//! `vldm`/`vmla.f32` and `sxtb16`/`smlad`), so the two inner loops are written
//! with `core::arch::asm!`:
//!
//! - **f32**: `vldmia` loads 8 floats in one instruction and `vmla.f32` does a
//!   multiply-accumulate. `vmla` is *chained* (FPv4-SP and FPv5-SP alike; the
//!   fused one is `vfma`), not fused: the product
//!   is rounded to `f32`, then the sum is rounded, exactly like a separate
//!   `vmul` + `vadd`. The loop keeps tinymlp's canonical order (see
//!   [`tinymlp::kernels`]): eight lane accumulators in `s0..s7` starting at
//!   `+0.0`, element `i` into lane `i % 8` in ascending `i`, then
//!   [`tinymlp::kernels::reduce_lanes`] and the bias last. The logits are
//!   therefore bit-identical to the portable kernel's on any target.
//!   16 MACs per iteration: 4 loads, 16 `vmla`, `subs`, `bne`.
//! - **int8**: `sxtb16` sign-extends bytes 0/2 (or, rotated, 1/3) of a word of
//!   four `i8` weights into two halfwords, and `smlad` does two 16×16 MACs. The
//!   `u8` input is widened once per layer into [`Interleaved`] halfword pairs that
//!   line up with those lanes, so the inner loop is 16 MACs per 2 `ldm` of
//!   weights, 2 `ldm` of inputs, 8 `sxtb16`, 8 `smlad`, `subs`, `bne`. Integer
//!   sums are exact, so the accumulators equal [`tinymlp::QDense::accumulate`]'s.
//!
//! [`M4`] plugs both into tinymlp's networks of any depth as a
//! [`tinymlp::Kernel`] and a [`tinymlp::QKernel`].
//!
//! Elements past the last multiple of 16 (none for 784 or 64 inputs) go through
//! portable Rust in the same order. On other targets the functions fall back to
//! the portable kernels, so the crate also builds (and means the same) on a host:
//! `build.rs` turns the int8 assembly on for targets with the DSP extension
//! (`thumbv7em-*`; `thumbv8m.main-*` with `-C target-cpu=cortex-m33` or another
//! DSP core, or `+dsp`) and the f32 assembly where they also have a hard-float
//! FPU (`*-eabihf`); [`ASM_INT8`] and [`ASM_F32`] say which.
//!
//! # Safety
//!
//! The `unsafe` here is the `asm!` blocks only. Each one reads exactly
//! `16 · blocks` elements from both pointers, which the caller computes from the
//! slices' lengths (`blocks = len / 16`); `ldm`/`vldm` need 4-byte alignment,
//! which `f32` has, and which the int8 path checks before taking the asm route
//! (an unaligned weight row falls back to the portable loop). Every register
//! the code writes is declared as an output or clobber; no stack, no stores.
#![no_std]
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

use tinymlp::kernels::{reduce_lanes, LANES};
use tinymlp::{Kernel, QDense, QKernel};

/// Elements per iteration of the assembly loops.
pub const BLOCK: usize = 16;

/// Whether the int8 kernel is the `sxtb16`/`smlad` assembly on this target
/// (else the portable loop).
pub const ASM_INT8: bool = cfg!(tinymlp_m4_dsp);
/// Whether the f32 kernel is the `vldm`/`vmla.f32` assembly on this target.
pub const ASM_F32: bool = cfg!(tinymlp_m4_fpu);

/// The eight lane sums of `w·x` in the canonical order (before the reduction).
///
/// # Panics
/// If the slices differ in length.
#[inline]
pub fn dot_lanes_f32(w: &[f32], x: &[f32]) -> [f32; LANES] {
    assert_eq!(w.len(), x.len(), "dot_lanes_f32: length mismatch");
    let blocks = w.len() / BLOCK;
    let mut acc = lanes_f32_blocks(w, x, blocks);
    let done = blocks * BLOCK;
    for (i, (a, b)) in w[done..].iter().zip(&x[done..]).enumerate() {
        acc[(done + i) % LANES] += a * b;
    }
    acc
}

#[cfg(tinymlp_m4_fpu)]
#[inline(always)]
fn lanes_f32_blocks(w: &[f32], x: &[f32], blocks: usize) -> [f32; LANES] {
    let mut acc = [0.0f32; LANES];
    if blocks == 0 {
        return acc;
    }
    // Rust's `asm!` offers `s` registers as operands only with the `vfp2`
    // (double-precision) target feature, which the single-precision FPUs of
    // the M4 (FPv4-SP) and M33 (FPv5-SP) lack: so the block saves the `s` registers it uses on the stack itself and passes the
    // accumulators through memory (2 × 4 instructions per row, not per MAC).
    //
    // SAFETY: `blocks * 16 <= w.len() == x.len()` (see the callers), so every
    // `vldmia` reads inside the slices (f32 slices are 4-byte aligned); `acc`
    // is 8 writable floats; s0..s23 are restored before the block ends.
    unsafe {
        core::arch::asm!(
            "vpush {{s0-s23}}",
            "vldmia {acc}, {{s0-s7}}",
            "2:",
            "vldmia {w}!, {{s8-s15}}",
            "vldmia {x}!, {{s16-s23}}",
            "vmla.f32 s0, s8, s16",
            "vmla.f32 s1, s9, s17",
            "vmla.f32 s2, s10, s18",
            "vmla.f32 s3, s11, s19",
            "vmla.f32 s4, s12, s20",
            "vmla.f32 s5, s13, s21",
            "vmla.f32 s6, s14, s22",
            "vmla.f32 s7, s15, s23",
            "vldmia {w}!, {{s8-s15}}",
            "vldmia {x}!, {{s16-s23}}",
            "vmla.f32 s0, s8, s16",
            "vmla.f32 s1, s9, s17",
            "vmla.f32 s2, s10, s18",
            "vmla.f32 s3, s11, s19",
            "vmla.f32 s4, s12, s20",
            "vmla.f32 s5, s13, s21",
            "vmla.f32 s6, s14, s22",
            "vmla.f32 s7, s15, s23",
            "subs {n}, {n}, #1",
            "bne 2b",
            "vstmia {acc}, {{s0-s7}}",
            "vpop {{s0-s23}}",
            w = inout(reg) w.as_ptr() => _,
            x = inout(reg) x.as_ptr() => _,
            n = inout(reg) blocks => _,
            acc = in(reg) acc.as_mut_ptr(),
        );
    }
    acc
}

#[cfg(not(tinymlp_m4_fpu))]
#[inline(always)]
fn lanes_f32_blocks(w: &[f32], x: &[f32], blocks: usize) -> [f32; LANES] {
    let mut acc = [0.0f32; LANES];
    for i in 0..blocks * BLOCK {
        acc[i % LANES] += w[i] * x[i];
    }
    acc
}

/// `w·x` in tinymlp's canonical order: equal bit for bit to [`tinymlp::kernels::dot`].
#[inline]
pub fn dot_f32(w: &[f32], x: &[f32]) -> f32 {
    reduce_lanes(&dot_lanes_f32(w, x))
}

/// `y = W·x + b`, equal bit for bit to [`tinymlp::kernels::matvec`].
#[inline]
pub fn matvec_f32<const IN: usize, const OUT: usize>(
    w: &[[f32; IN]; OUT],
    b: &[f32; OUT],
    x: &[f32; IN],
    y: &mut [f32; OUT],
) {
    for ((y, row), b) in y.iter_mut().zip(w).zip(b) {
        *y = dot_f32(row, x) + b;
    }
}

/// `u8` inputs widened to halfwords, each group of four `x0 x1 x2 x3` stored as
/// `x0 x2 x1 x3`: the first word then pairs with `sxtb16 w` (bytes 0 and 2 of
/// a weight word), the second with `sxtb16 w, ror #8` (bytes 1 and 3).
///
/// Elements past the last multiple of 4 stay in place.
#[derive(Clone, Debug, PartialEq, Eq)]
#[repr(C, align(4))]
pub struct Interleaved<const N: usize>(pub [u16; N]);

impl<const N: usize> Interleaved<N> {
    /// Widens and interleaves `x`.
    #[inline]
    pub fn new(x: &[u8; N]) -> Self {
        let mut out = Self([0; N]);
        let (chunks, tail) = x.as_chunks::<4>();
        let (out_chunks, out_tail) = out.0.as_chunks_mut::<4>();
        for (o, c) in out_chunks.iter_mut().zip(chunks) {
            *o = [c[0].into(), c[2].into(), c[1].into(), c[3].into()];
        }
        for (o, &c) in out_tail.iter_mut().zip(tail) {
            *o = c.into();
        }
        out
    }
}

/// `Σ w[i]·x[i]` for `i8` weights and the interleaved `u8` inputs `x` (whose
/// original bytes are `x_bytes`): equal to [`tinymlp::quant::dot_i8_u8`].
///
/// # Panics
/// If the lengths differ.
#[inline]
pub fn dot_i8<const N: usize>(w: &[i8; N], x: &Interleaved<N>, x_bytes: &[u8; N]) -> i32 {
    let aligned = (w.as_ptr() as usize).is_multiple_of(4);
    let blocks = if aligned { N / BLOCK } else { 0 };
    let mut acc = dot_i8_blocks(w, &x.0, blocks);
    let done = blocks * BLOCK;
    for (a, b) in w[done..].iter().zip(&x_bytes[done..]) {
        acc = acc.wrapping_add(i32::from(*a) * i32::from(*b));
    }
    acc
}

#[cfg(tinymlp_m4_dsp)]
#[inline(always)]
fn dot_i8_blocks(w: &[i8], x: &[u16], blocks: usize) -> i32 {
    let mut acc = 0i32;
    if blocks == 0 {
        return acc;
    }
    // SAFETY: `blocks * 16 <= w.len() == x.len()`, so the loop reads
    // `16 · blocks` bytes of `w` and halfwords of `x`, inside both; `w` is
    // 4-byte aligned (checked by the caller) and `Interleaved` is `align(4)`.
    unsafe {
        core::arch::asm!(
            "2:",
            "ldm {w}!, {{r0, r1}}",
            "ldm {x}!, {{r2, r3, r4, r5}}",
            "sxtb16 r8, r0, ror #8",
            "sxtb16 r0, r0",
            "smlad {acc}, r0, r2, {acc}",
            "smlad {acc}, r8, r3, {acc}",
            "sxtb16 r8, r1, ror #8",
            "sxtb16 r1, r1",
            "smlad {acc}, r1, r4, {acc}",
            "smlad {acc}, r8, r5, {acc}",
            "ldm {w}!, {{r0, r1}}",
            "ldm {x}!, {{r2, r3, r4, r5}}",
            "sxtb16 r8, r0, ror #8",
            "sxtb16 r0, r0",
            "smlad {acc}, r0, r2, {acc}",
            "smlad {acc}, r8, r3, {acc}",
            "sxtb16 r8, r1, ror #8",
            "sxtb16 r1, r1",
            "smlad {acc}, r1, r4, {acc}",
            "smlad {acc}, r8, r5, {acc}",
            "subs {n}, {n}, #1",
            "bne 2b",
            w = inout(reg) w.as_ptr() => _,
            x = inout(reg) x.as_ptr() => _,
            n = inout(reg) blocks => _,
            acc = inout(reg) acc,
            out("r0") _, out("r1") _, out("r2") _, out("r3") _,
            out("r4") _, out("r5") _, out("r8") _,
            options(nostack, readonly),
        );
    }
    acc
}

#[cfg(not(tinymlp_m4_dsp))]
#[inline(always)]
fn dot_i8_blocks(w: &[i8], x: &[u16], blocks: usize) -> i32 {
    // The same interleaved pairing as the assembly, in portable Rust.
    let mut acc = 0i32;
    for (wc, xc) in w[..blocks * BLOCK].chunks_exact(4).zip(x.chunks_exact(4)) {
        let pairs = [
            (wc[0], xc[0]),
            (wc[2], xc[1]),
            (wc[1], xc[2]),
            (wc[3], xc[3]),
        ];
        for (a, b) in pairs {
            acc = acc.wrapping_add(i32::from(a) * i32::from(b));
        }
    }
    acc
}

/// The Cortex-M4/M33 kernels as a [`tinymlp::Kernel`] (f32, [`matvec_f32`]) and a
/// [`tinymlp::QKernel`] (int8, [`dot_i8`]): pass `&M4` to
/// `Network::forward_with`, `QNetwork::accumulators_with` or an emitted
/// model's `logits_with` / `accumulators_with`, at any depth.
#[derive(Clone, Copy, Debug, Default)]
pub struct M4;

impl Kernel for M4 {
    #[inline]
    fn matvec<const IN: usize, const OUT: usize>(
        &self,
        w: &[[f32; IN]; OUT],
        b: &[f32; OUT],
        x: &[f32; IN],
        y: &mut [f32; OUT],
    ) {
        matvec_f32(w, b, x, y);
    }
}

impl QKernel for M4 {
    #[inline]
    fn accumulate<const IN: usize, const OUT: usize>(
        &self,
        layer: &QDense<IN, OUT>,
        x: &[u8; IN],
    ) -> [i32; OUT] {
        let xi = Interleaved::new(x);
        core::array::from_fn(|o| layer.bias[o].wrapping_add(dot_i8(&layer.weights[o], &xi, x)))
    }
}
