//! The numeric kernels: every MAC of training and inference runs through here.
//!
//! Each kernel comes twice: a plain `*_ref` loop, kept as the readable
//! definition (and for tests and benches), and the hand-unrolled form that the
//! layers use.
//!
//! # Summation order
//!
//! Floating-point addition is not associative, so "the same network" only gives
//! the same logits everywhere if every target adds in the same order. The
//! unrolled dot product fixes that order: [`LANES`] independent partial sums
//! (element `i` goes to sum `i % LANES`, the tail included), then the pairwise
//! reduction in [`reduce_lanes`], then the bias. Rust never contracts `a * b + c`
//! into a fused multiply-add, so this order alone decides the result, on x86-64
//! with AVX-512 and on a Cortex-M4 alike. Blocking over several rows or samples
//! (for instruction-level parallelism) never changes the order within one dot
//! product, so the blocked kernels agree bit for bit with [`dot`].

/// Number of independent partial sums in the canonical dot product.
///
/// Eight `f32` lanes fill one 256-bit vector on x86-64 and fit the 32
/// single-precision registers of a Cortex-M4F with room to spare.
pub const LANES: usize = 8;

/// Rows (or samples) processed per pass of the blocked kernels on the host.
///
/// Four independent dot products hide the latency of the vector adds on an
/// out-of-order core. An in-order Cortex-M gains nothing from it and would run
/// out of registers, so there it is one row at a time. Either way the result is
/// the same.
#[cfg(not(target_arch = "arm"))]
pub const ROW_BLOCK: usize = 4;
/// Rows (or samples) processed per pass of the blocked kernels on the host.
#[cfg(target_arch = "arm")]
pub const ROW_BLOCK: usize = 1;

/// Pairwise reduction of the [`LANES`] partial sums: `((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7))`.
///
/// This is the order a 256-bit vector is folded in half twice, so SIMD code
/// reduces without shuffling into a different order.
#[inline(always)]
pub fn reduce_lanes(acc: &[f32; LANES]) -> f32 {
    let s0 = acc[0] + acc[4];
    let s1 = acc[1] + acc[5];
    let s2 = acc[2] + acc[6];
    let s3 = acc[3] + acc[7];
    let t0 = s0 + s2;
    let t1 = s1 + s3;
    t0 + t1
}

/// Plain dot product `Σ w[i]·x[i]`, summed left to right.
///
/// The reference definition; it rounds differently from [`dot`], so compare the
/// two with a tolerance.
pub fn dot_ref(w: &[f32], x: &[f32]) -> f32 {
    assert_eq!(w.len(), x.len(), "dot_ref: length mismatch");
    let mut sum = 0.0;
    for i in 0..w.len() {
        sum += w[i] * x[i];
    }
    sum
}

/// Dot product in tinymlp's canonical order (see the [module docs](self)).
///
/// # Panics
/// If the slices differ in length (the layer types make that impossible).
#[inline]
pub fn dot(w: &[f32], x: &[f32]) -> f32 {
    assert_eq!(w.len(), x.len(), "dot: length mismatch");
    let mut acc = [0.0f32; LANES];
    let (w_chunks, w_tail) = w.as_chunks::<LANES>();
    let (x_chunks, x_tail) = x.as_chunks::<LANES>();
    for (wc, xc) in w_chunks.iter().zip(x_chunks) {
        acc[0] += wc[0] * xc[0];
        acc[1] += wc[1] * xc[1];
        acc[2] += wc[2] * xc[2];
        acc[3] += wc[3] * xc[3];
        acc[4] += wc[4] * xc[4];
        acc[5] += wc[5] * xc[5];
        acc[6] += wc[6] * xc[6];
        acc[7] += wc[7] * xc[7];
    }
    for (lane, (a, b)) in w_tail.iter().zip(x_tail).enumerate() {
        acc[lane] += a * b;
    }
    reduce_lanes(&acc)
}

/// `acc[l] += w[l]·x[l]` for one chunk of [`LANES`] elements.
#[inline(always)]
pub(crate) fn mac_lanes(acc: &mut [f32; LANES], w: &[f32; LANES], x: &[f32; LANES]) {
    for lane in 0..LANES {
        acc[lane] += w[lane] * x[lane];
    }
}

/// The `IN % LANES` tail: element `tail + l` goes to lane `l`, as in `kernels::dot`.
///
/// The tail is zero-padded to a whole chunk, so every lane is indexed by a
/// constant and the accumulators stay in registers (a lane index only known
/// at run time would put them in memory). The padding adds `0·0 = +0.0` to
/// the lanes past the tail, which changes no bits: an accumulator that starts
/// at `+0.0` is never `-0.0` (a sum is `-0.0` only when both terms are), and
/// `a + 0.0 == a` for every other value.
#[inline(always)]
pub(crate) fn mac_tail(acc: &mut [f32; LANES], w: &[f32], x: &[f32]) {
    if w.is_empty() {
        return;
    }
    let (mut wp, mut xp) = ([0.0f32; LANES], [0.0f32; LANES]);
    wp[..w.len()].copy_from_slice(w);
    xp[..x.len()].copy_from_slice(x);
    mac_lanes(acc, &wp, &xp);
}

/// Reduces every accumulator with [`reduce_lanes`].
///
/// `black_box` keeps LLVM from vectorising the lane loop around the shape of
/// the final pairwise reduction (it then picks 2-wide vectors for the whole
/// loop); it costs one spill of the accumulators per block and changes no
/// result.
#[inline(always)]
pub(crate) fn reduce_all<const R: usize, const C: usize>(
    acc: [[[f32; LANES]; C]; R],
) -> [[f32; C]; R] {
    core::hint::black_box(acc).map(|acc| acc.map(|lanes| reduce_lanes(&lanes)))
}

/// Re-slices the chunk lists of `K` rows to `n` chunks each, so that LLVM
/// sees one trip count and drops the bounds checks of the loops below.
#[inline(always)]
pub(crate) fn chunked<const K: usize>(
    rows: [&[f32]; K],
    n: usize,
) -> [(&[[f32; LANES]], &[f32]); K] {
    rows.map(|r| {
        let (chunks, tail) = r.as_chunks::<LANES>();
        (&chunks[..n], tail)
    })
}

/// Four canonical dot products `v · u[k]` sharing `v` (four rows against one
/// sample, or one row against four samples: `a·b` and `b·a` round the same).
/// Every slice has the length of `v`.
///
/// Written out by hand, as [`dot_1x8`]: with a loop over the rows LLVM
/// vectorises across rows instead of across lanes.
#[inline(always)]
pub(crate) fn dot_1x4(v: &[f32], u: [&[f32]; 4]) -> [f32; 4] {
    let (v, vt) = v.as_chunks::<LANES>();
    let [(u0, ut0), (u1, ut1), (u2, ut2), (u3, ut3)] = chunked(u, v.len());
    let mut acc = [[[0.0f32; LANES]; 4]; 1];
    {
        let [[a0, a1, a2, a3]] = &mut acc;
        for c in 0..v.len() {
            let v = &v[c];
            mac_lanes(a0, v, &u0[c]);
            mac_lanes(a1, v, &u1[c]);
            mac_lanes(a2, v, &u2[c]);
            mac_lanes(a3, v, &u3[c]);
        }
        mac_tail(a0, vt, ut0);
        mac_tail(a1, vt, ut1);
        mac_tail(a2, vt, ut2);
        mac_tail(a3, vt, ut3);
    }
    reduce_all(acc)[0]
}

/// Eight canonical dot products `x · w[k]` sharing `x` (eight rows against one
/// sample): each loaded chunk of `x` serves eight rows, and eight independent
/// accumulator chains hide the add latency. Every slice has the length of `x`.
#[inline(always)]
pub(crate) fn dot_1x8(x: &[f32], w: [&[f32]; 8]) -> [f32; 8] {
    let (x, xt) = x.as_chunks::<LANES>();
    let [(w0, wt0), (w1, wt1), (w2, wt2), (w3, wt3), (w4, wt4), (w5, wt5), (w6, wt6), (w7, wt7)] =
        chunked(w, x.len());
    let mut acc = [[[0.0f32; LANES]; 8]; 1];
    {
        let [[a0, a1, a2, a3, a4, a5, a6, a7]] = &mut acc;
        for c in 0..x.len() {
            let x = &x[c];
            mac_lanes(a0, x, &w0[c]);
            mac_lanes(a1, x, &w1[c]);
            mac_lanes(a2, x, &w2[c]);
            mac_lanes(a3, x, &w3[c]);
            mac_lanes(a4, x, &w4[c]);
            mac_lanes(a5, x, &w5[c]);
            mac_lanes(a6, x, &w6[c]);
            mac_lanes(a7, x, &w7[c]);
        }
        mac_tail(a0, xt, wt0);
        mac_tail(a1, xt, wt1);
        mac_tail(a2, xt, wt2);
        mac_tail(a3, xt, wt3);
        mac_tail(a4, xt, wt4);
        mac_tail(a5, xt, wt5);
        mac_tail(a6, xt, wt6);
        mac_tail(a7, xt, wt7);
    }
    reduce_all(acc)[0]
}

/// One canonical dot product (the same bits as `kernels::dot`); `w` and `x`
/// have one length.
#[inline(always)]
pub(crate) fn dot_1x1(w: &[f32], x: &[f32]) -> f32 {
    let (x, xt) = x.as_chunks::<LANES>();
    let [(w, wt)] = chunked([w], x.len());
    let mut acc = [[[0.0f32; LANES]; 1]; 1];
    for (w, x) in w.iter().zip(x) {
        mac_lanes(&mut acc[0][0], w, x);
    }
    mac_tail(&mut acc[0][0], wt, xt);
    reduce_all(acc)[0][0]
}

/// Reference matrix-vector product `y = W·x + b`, one plain loop per row.
///
/// `w` is row-major `[y.len()][x.len()]` (PyTorch's `Linear` layout).
///
/// # Panics
/// If the lengths do not fit together.
pub fn matvec_ref(w: &[f32], b: &[f32], x: &[f32], y: &mut [f32]) {
    check_matrix(w, b.len(), x.len(), y.len());
    for o in 0..y.len() {
        y[o] = dot_ref(&w[o * x.len()..(o + 1) * x.len()], x) + b[o];
    }
}

/// Checks that `w` is a `rows × cols` matrix with `biases` biases.
#[inline(always)]
fn check_matrix(w: &[f32], biases: usize, cols: usize, rows: usize) {
    assert_eq!(biases, rows, "matvec: one bias per row");
    assert_eq!(
        w.len(),
        rows * cols,
        "matvec: weights are not rows × inputs"
    );
}

/// Row `o` of a row-major matrix with `cols` columns.
#[inline(always)]
pub(crate) fn row(w: &[f32], cols: usize, o: usize) -> &[f32] {
    &w[o * cols..(o + 1) * cols]
}

/// Unrolled matrix-vector product `y = W·x + b` in the canonical order.
///
/// `w` is row-major `[y.len()][x.len()]`. On the host rows go eight at a time
/// through one pass over `x` (then a block of four, then single rows); on
/// `arm` ([`ROW_BLOCK`] = 1) one at a time. Every `y[o]` equals
/// `dot(row o, x) + b[o]` exactly.
///
/// # Panics
/// If the lengths do not fit together.
#[inline]
pub fn matvec(w: &[f32], b: &[f32], x: &[f32], y: &mut [f32]) {
    let (cols, rows) = (x.len(), y.len());
    check_matrix(w, b.len(), cols, rows);
    let mut o = 0;
    if ROW_BLOCK == 4 {
        while o + 8 <= rows {
            let sums = dot_1x8(x, core::array::from_fn(|k| row(w, cols, o + k)));
            for (k, sum) in sums.into_iter().enumerate() {
                y[o + k] = sum + b[o + k];
            }
            o += 8;
        }
        while o + 4 <= rows {
            let sums = dot_1x4(x, core::array::from_fn(|k| row(w, cols, o + k)));
            for (k, sum) in sums.into_iter().enumerate() {
                y[o + k] = sum + b[o + k];
            }
            o += 4;
        }
    }
    while o < rows {
        y[o] = dot_1x1(row(w, cols, o), x) + b[o];
        o += 1;
    }
}

/// Reference transposed product `dx = Wᵀ·dy`: `dx[i] = Σ_o W[o][i]·dy[o]`, `o` ascending.
///
/// # Panics
/// If the lengths do not fit together.
pub fn matvec_t_ref(w: &[f32], dy: &[f32], dx: &mut [f32]) {
    assert_eq!(
        w.len(),
        dy.len() * dx.len(),
        "matvec_t: weights are not rows × inputs"
    );
    let cols = dx.len();
    for i in 0..cols {
        let mut sum = 0.0;
        for o in 0..dy.len() {
            sum += w[o * cols + i] * dy[o];
        }
        dx[i] = sum;
    }
}

/// Unrolled transposed product `dx = Wᵀ·dy` (`w` row-major `[dy.len()][dx.len()]`).
///
/// Walks `W` row by row (contiguous memory) and folds four rows into `dx` per
/// pass, adding them in ascending `o` so the result equals [`matvec_t_ref`]
/// bit for bit.
///
/// # Panics
/// If the lengths do not fit together.
#[inline]
pub fn matvec_t(w: &[f32], dy: &[f32], dx: &mut [f32]) {
    let cols = dx.len();
    assert_eq!(
        w.len(),
        dy.len() * cols,
        "matvec_t: weights are not rows × inputs"
    );
    dx.fill(0.0);
    if cols == 0 {
        return;
    }
    let w_blocks = w.chunks_exact(4 * cols);
    let w_tail = w_blocks.remainder();
    let dy_blocks = dy.chunks_exact(4);
    let dy_tail = dy_blocks.remainder();
    for (rows, d) in w_blocks.zip(dy_blocks) {
        let (r0, rest) = rows.split_at(cols);
        let (r1, rest) = rest.split_at(cols);
        let (r2, r3) = rest.split_at(cols);
        let (d0, d1, d2, d3) = (d[0], d[1], d[2], d[3]);
        for i in 0..cols {
            dx[i] = (((dx[i] + r0[i] * d0) + r1[i] * d1) + r2[i] * d2) + r3[i] * d3;
        }
    }
    for (row, &d) in w_tail.chunks_exact(cols).zip(dy_tail) {
        axpy(d, row, dx);
    }
}

/// Reference rank-1 accumulate `G += dy ⊗ x`: `G[o][i] += dy[o]·x[i]`
/// (`g` row-major `[dy.len()][x.len()]`).
///
/// # Panics
/// If the lengths do not fit together.
pub fn rank1_ref(g: &mut [f32], dy: &[f32], x: &[f32]) {
    assert_eq!(
        g.len(),
        dy.len() * x.len(),
        "rank1: gradient is not rows × inputs"
    );
    let cols = x.len();
    for o in 0..dy.len() {
        for i in 0..cols {
            g[o * cols + i] += dy[o] * x[i];
        }
    }
}

/// Unrolled rank-1 accumulate `G += dy ⊗ x` (element-wise, so equal to [`rank1_ref`]).
///
/// Rows whose `dy[o]` is exactly zero are skipped: after a ReLU most hidden
/// gradients are, and adding `0·x` would leave `G` unchanged anyway (for finite `x`).
///
/// # Panics
/// If the lengths do not fit together.
#[inline]
pub fn rank1(g: &mut [f32], dy: &[f32], x: &[f32]) {
    assert_eq!(
        g.len(),
        dy.len() * x.len(),
        "rank1: gradient is not rows × inputs"
    );
    if x.is_empty() {
        return;
    }
    for (row, &d) in g.chunks_exact_mut(x.len()).zip(dy) {
        if d != 0.0 {
            axpy(d, x, row);
        }
    }
}

/// Reference `y += a·x`.
pub fn axpy_ref(a: f32, x: &[f32], y: &mut [f32]) {
    assert_eq!(x.len(), y.len(), "axpy_ref: length mismatch");
    for i in 0..x.len() {
        y[i] += a * x[i];
    }
}

/// Vectorised `y += a·x` (element-wise, so equal to [`axpy_ref`]).
///
/// Element-wise work has no summation order to fix, so this is the iterator
/// form: LLVM vectorises and unrolls it better than a hand-unrolled chunk loop
/// (measured in `benches/benches/kernels.rs`), with the same bits.
///
/// # Panics
/// If the slices differ in length.
#[inline]
pub fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    assert_eq!(x.len(), y.len(), "axpy: length mismatch");
    for (y, x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// Where a layer's matrix-vector product comes from.
///
/// [`Network::forward_with`](crate::Network::forward_with) runs every layer
/// through one `Kernel`, so a target can plug in its own (the firmware's
/// Cortex-M4 assembly, say). An implementation must give exactly the bits of
/// [`matvec`]: the canonical summation order is the contract.
pub trait Kernel {
    /// `y = W·x + b` for `w` row-major `[OUT][IN]`.
    fn matvec<const IN: usize, const OUT: usize>(
        &self,
        w: &[[f32; IN]; OUT],
        b: &[f32; OUT],
        x: &[f32; IN],
        y: &mut [f32; OUT],
    );
}

/// The portable kernels of this module ([`matvec`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Portable;

impl Kernel for Portable {
    #[inline]
    fn matvec<const IN: usize, const OUT: usize>(
        &self,
        w: &[[f32; IN]; OUT],
        b: &[f32; OUT],
        x: &[f32; IN],
        y: &mut [f32; OUT],
    ) {
        matvec(w.as_flattened(), b, x, y);
    }
}
