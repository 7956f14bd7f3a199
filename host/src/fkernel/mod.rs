//! Fast `f32` training kernels on the host: [`FFast`] runs
//! `tinymlp::batch`'s forward product and rank-k gradient on the widest
//! vectors of the CPU it runs on, with the same bits.
//!
//! | path | needs | how |
//! |---|---|---|
//! | [`FPath::Avx512`] | `avx512f` | two samples' [`LANES`]-lane sums in one zmm register |
//! | [`FPath::Avx2`] | `avx2` | one sample's 8-lane sums per ymm register (forward, two rows by four samples); the rank-k gradient on eight-column vectors; the sparse and fused kernels on half slabs of eight rows; the transposed product as portable |
//! | [`FPath::Portable`] | — | `tinymlp::batch` itself (LLVM's 256-bit vectors in a native build) |
//!
//! [`FFast::detect`] picks the widest path the CPU has, unless
//! `TINYMLP_MAX_ISA` ([`crate::isa`]) caps it.
//!
//! # Why a second form, and why it gives the same bits
//!
//! `tinymlp`'s canonical dot product keeps [`LANES`] = 8 partial sums: one
//! 256-bit vector. LLVM keeps them there even on AVX-512 parts (Intel's are
//! tuned for 256-bit vectors), so a core that could do sixteen `f32`
//! multiplies and sixteen adds per instruction does eight. The order cannot
//! change (the chips must agree), but nothing stops one zmm register from
//! holding *two* independent 8-lane sums:
//!
//! - **forward**: the inputs of a pair of samples are interleaved chunk by
//!   chunk, `[x_s[8c..8c+8] | x_{s+1}[8c..8c+8]]`, and each weight chunk is
//!   broadcast to both halves (`vbroadcastf64x4`), so one `vmulps` + `vaddps`
//!   advances the dot products of one row with two samples, each lane exactly
//!   as `tinymlp::kernels::dot` advances it. The zero-padded tail, the
//!   pairwise lane reduction `((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7))` (done in
//!   both halves at once by in-register shuffles) and the bias follow.
//! - **rank-k gradient** and **transposed product**: every element is its
//!   own chain of additions (in ascending sample order, zero gradients
//!   skipped; in ascending row order), so the zmm forms only advance sixteen
//!   such chains per instruction instead of eight.
//!
//! [`exp`] takes `libm::expf` of sixteen (AVX2: eight) values at once (the softmax of
//! the trainer's loss), with the scalar function's bits.
//!
//! [`blocked`] is the one-sample (inference) product from weights laid out
//! in blocks of rows, the bits of `tinymlp::kernels::matvec` in one stream.
//!
//! [`sparse`] adds a third form of the forward product for the first layer
//! on mostly-zero inputs (MNIST's background): input-major weights, and
//! only the chunks of inputs that are not all zero. [`fused`] takes that
//! layer's whole SGD step, its gradient formed input by input over the
//! samples whose input is not zero and never stored. [`prefetch`] asks for
//! the next batch's images while a step computes ([`pixels`] then converts
//! them).
//!
//! `host/tests/fkernel.rs` checks every path against `tinymlp::batch` with
//! `to_bits` equality on random shapes (widths not multiples of 8 or 16,
//! odd batch sizes, row offsets, zero and negative-zero gradients); the
//! trainer's results (`model.safetensors` bytes) are therefore the same on
//! every path, as the end-to-end tests also check.
//!
//! # Aligned buffers
//!
//! A 512-bit load that straddles two cache lines costs two. The rank-k
//! gradient loads one input vector per multiply, so where its rows start
//! matters: 784×64 from inputs on a cache line runs at 1.27–1.38× the rate of
//! the same call on inputs 16 bytes off one (`cargo bench -p benches --bench
//! batch -- rank_k_784x64`, the `_offset16` rows; a `Vec<f32>` from the
//! allocator is only 16-byte aligned). The trainer therefore keeps the buffers the
//! kernels stream through — parameters, gradients, inputs, activations —
//! in [`Floats`], whose first element starts a cache line; rows then stay on
//! line boundaries whenever the width is a multiple of 16. Alignment changes
//! speed only, never a result.
//!
//! Imports only [`isa`](crate::isa) from the rest of `host`; `train` runs
//! through it.
//!
//! [`LANES`]: tinymlp::kernels::LANES

use std::ops::Range;

use aligned_vec::{AVec, ConstAlign};
use tinymlp::batch::{self, Rows, RANK_K_GROUP};

use crate::isa::Isa;

/// The cache line of the x86-64 and Arm cores the host runs on, in bytes.
pub const CACHE_LINE: usize = 64;

/// `f32`s whose first element starts a [`CACHE_LINE`] (derefs to `[f32]`).
pub type Floats = AVec<f32, ConstAlign<CACHE_LINE>>;

/// `len` zeros in [`Floats`].
pub fn zeros(len: usize) -> Floats {
    Floats::from_iter(CACHE_LINE, std::iter::repeat_n(0.0, len))
}

pub mod blocked;
pub mod exp;
pub mod fused;
pub mod pixels;
pub mod prefetch;
pub mod sparse;
#[cfg(target_arch = "x86_64")]
mod x86;

/// An instruction set for the `f32` training kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FPath {
    /// `tinymlp::batch`: every CPU.
    Portable,
    /// AVX2 (with FMA, as Intel's and AMD's AVX2 CPUs have): the forward
    /// product, the rank-k gradient, the sparse and fused kernels and the
    /// pixels on eight `f32` lanes per instruction; the transposed product is
    /// `tinymlp::batch`'s (LLVM's own 256-bit code was as fast as a
    /// hand-blocked one).
    Avx2,
    /// AVX-512F: sixteen `f32` lanes per instruction.
    Avx512,
}

impl FPath {
    /// Every path, slowest first.
    pub const ALL: [FPath; 3] = [FPath::Portable, FPath::Avx2, FPath::Avx512];

    /// Whether this CPU can run the path.
    pub fn is_available(self) -> bool {
        match self {
            FPath::Portable => true,
            #[cfg(target_arch = "x86_64")]
            FPath::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(target_arch = "x86_64")]
            FPath::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(not(target_arch = "x86_64"))]
            FPath::Avx2 | FPath::Avx512 => false,
        }
    }

    /// A short name for reports and benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            FPath::Portable => "portable",
            FPath::Avx2 => "avx2",
            FPath::Avx512 => "avx512",
        }
    }

    /// The level of vector instructions the path uses.
    pub fn isa(self) -> Isa {
        match self {
            FPath::Portable => Isa::Portable,
            FPath::Avx2 => Isa::Avx2,
            FPath::Avx512 => Isa::Avx512,
        }
    }

    /// Whether the path has its own forms of the sparse and fused kernels
    /// ([`sparse`], [`fused`]); the portable forms are references, slower
    /// than the row-major kernels they replace.
    pub fn has_sparse_kernels(self) -> bool {
        self != FPath::Portable
    }

    /// Whether the path has its own forms of the transposed product and of
    /// [`FFast::to_input_major`] (AVX-512 only; every vector path has its
    /// own forward product, rank-k gradient, chunk lists, input-major
    /// forward and SGD, fused step and pixels).
    pub fn has_transposed_kernel(self) -> bool {
        self == FPath::Avx512
    }
}

/// The `f32` batch kernels through one [`FPath`] the CPU has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FFast {
    path: FPath,
}

impl Default for FFast {
    fn default() -> Self {
        Self::detect()
    }
}

impl FFast {
    /// The fastest path this CPU has and [`isa::allows`](crate::isa::allows).
    pub fn detect() -> Self {
        let path = FPath::ALL
            .into_iter()
            .rev()
            .find(|p| p.is_available() && crate::isa::allows(p.isa()))
            .unwrap_or(FPath::Portable);
        Self { path }
    }

    /// `path`, if this CPU can run it.
    pub fn with_path(path: FPath) -> Option<Self> {
        path.is_available().then_some(Self { path })
    }

    /// The path in use.
    pub fn path(self) -> FPath {
        self.path
    }

    /// [`tinymlp::batch::forward_batch`]: `ys[s] = W·xs[s] + b`, the same bits.
    ///
    /// # Panics
    /// If the lengths do not fit together.
    pub fn forward_batch(self, w: &[f32], b: &[f32], xs: Rows<'_>, ys: &mut [f32]) {
        self.forward_batch_rows(w, b, 0, xs, ys, b.len());
    }

    /// [`tinymlp::batch::forward_batch_rows`]: the rows `row0..row0 + b.len()`
    /// of a layer of `outputs` rows, the same bits.
    ///
    /// # Panics
    /// If the lengths do not fit together or the rows do not fit in `outputs`.
    pub fn forward_batch_rows(
        self,
        w: &[f32],
        b: &[f32],
        row0: usize,
        xs: Rows<'_>,
        ys: &mut [f32],
        outputs: usize,
    ) {
        let (rows, cols, n) = (b.len(), xs.width, xs.len());
        assert_eq!(
            w.len(),
            rows * cols,
            "forward: weights are not rows × inputs"
        );
        assert_eq!(
            ys.len(),
            n * outputs,
            "forward: outputs are not samples × rows"
        );
        assert!(row0 + rows <= outputs, "forward: rows out of range");
        match self.path {
            FPath::Portable => batch::forward_batch_rows(w, b, row0, xs, ys, outputs),
            FPath::Avx2 | FPath::Avx512 => self.simd(Kernel::Forward {
                w,
                b,
                row0,
                xs,
                ys,
                outputs,
            }),
        }
    }

    /// [`tinymlp::batch::rank_k`]: `G[o][i] += Σ_s dys[s][o]·xs[s][i]`, the same bits.
    ///
    /// # Panics
    /// If the lengths do not fit together.
    pub fn rank_k(self, g: &mut [f32], dys: Rows<'_>, xs: Rows<'_>) {
        self.rank_k_rows(g, 0, dys, xs);
    }

    /// [`tinymlp::batch::rank_k_rows`]: the rows `row0..` of `G` only, the same bits.
    ///
    /// # Panics
    /// If the lengths do not fit together or the rows do not fit in `dys.width`.
    pub fn rank_k_rows(self, g: &mut [f32], row0: usize, dys: Rows<'_>, xs: Rows<'_>) {
        self.rank_k_part(g, row0, dys, xs, Sums::Continue);
    }

    /// The gradient of the batch *written* to `g` (whatever it held):
    /// `G[o][i] = Σ_s dys[s][o]·xs[s][i]`, the bits of zeroing `g` and
    /// calling [`rank_k`](Self::rank_k), without the pass that zeroes it or
    /// the loads of the zeros.
    ///
    /// # Panics
    /// If the lengths do not fit together.
    pub fn set_rank_k(self, g: &mut [f32], dys: Rows<'_>, xs: Rows<'_>) {
        self.set_rank_k_rows(g, 0, dys, xs);
    }

    /// [`set_rank_k`](Self::set_rank_k) for the rows `row0..` of `G` only.
    ///
    /// # Panics
    /// If the lengths do not fit together or the rows do not fit in `dys.width`.
    pub fn set_rank_k_rows(self, g: &mut [f32], row0: usize, dys: Rows<'_>, xs: Rows<'_>) {
        self.rank_k_part(g, row0, dys, xs, Sums::Overwrite);
    }

    /// The gradient of the batch summed from zero, then *added* to `g`:
    /// `G[o][i] += (Σ_s dys[s][o]·xs[s][i])`, the bits of
    /// [`set_rank_k_rows`](Self::set_rank_k_rows) into a buffer followed by
    /// `g += buffer` element by element, without the buffer or the pass that
    /// adds it. (How the trainer adds a shard's gradient to the shards before it.)
    ///
    /// # Panics
    /// If the lengths do not fit together or the rows do not fit in `dys.width`.
    pub fn add_rank_k_sum_rows(self, g: &mut [f32], row0: usize, dys: Rows<'_>, xs: Rows<'_>) {
        self.rank_k_part(g, row0, dys, xs, Sums::AddWhole);
    }

    fn rank_k_part(self, g: &mut [f32], row0: usize, dys: Rows<'_>, xs: Rows<'_>, sums: Sums) {
        assert_eq!(dys.len(), xs.len(), "rank_k: length mismatch");
        assert_eq!(
            g.len() % xs.width,
            0,
            "rank_k: gradient is not rows × inputs"
        );
        assert!(
            row0 + g.len() / xs.width <= dys.width,
            "rank_k: rows out of range"
        );
        // The kernels keep one group of samples' sums in registers; otherwise
        // the sum is formed apart first.
        // Every vector path has its own rank-k kernel.
        let simd = self.path != FPath::Portable;
        if sums == Sums::AddWhole && (!simd || xs.len() > RANK_K_GROUP) {
            let mut sum = zeros(g.len());
            self.rank_k_part(&mut sum, row0, dys, xs, Sums::Overwrite);
            for (g, s) in g.iter_mut().zip(sum.iter()) {
                *g += s;
            }
            return;
        }
        match (simd, sums) {
            (false, Sums::Continue) => batch::rank_k_rows(g, row0, dys, xs),
            (false, Sums::Overwrite) => {
                g.fill(0.0);
                batch::rank_k_rows(g, row0, dys, xs)
            }
            (false, Sums::AddWhole) => unreachable!("summed apart above"),
            (true, sums) => self.simd(Kernel::RankK {
                g,
                row0,
                dys,
                xs,
                sums,
            }),
        }
    }

    /// [`tinymlp::batch::matvec_t_batch`]: `dxs[s] = Wᵀ·dys[s]`, the same bits.
    ///
    /// # Panics
    /// If the lengths do not fit together.
    pub fn matvec_t_batch(self, w: &[f32], dys: Rows<'_>, dxs: &mut [f32], inputs: usize) {
        self.matvec_t_batch_cols(w, dys, dxs, inputs, 0..inputs);
    }

    /// [`tinymlp::batch::matvec_t_batch_cols`]: the columns `cols` only, the same bits.
    ///
    /// # Panics
    /// If the lengths do not fit together or `cols` is not within `0..inputs`.
    pub fn matvec_t_batch_cols(
        self,
        w: &[f32],
        dys: Rows<'_>,
        dxs: &mut [f32],
        inputs: usize,
        cols: Range<usize>,
    ) {
        assert_eq!(
            w.len(),
            dys.width * inputs,
            "matvec_t: weights are not rows × inputs"
        );
        self.transposed(w, dys, dxs, (0, inputs, false), cols);
    }

    /// [`tinymlp::batch::matvec_t_batch_add`]: the rows `row0..` of a
    /// transposed product added to what `dxs` holds, the same bits.
    ///
    /// # Panics
    /// If the lengths do not fit together, the rows do not fit in `dys.width`
    /// or `cols` is not within `0..inputs`.
    pub fn matvec_t_batch_add(
        self,
        w: &[f32],
        row0: usize,
        dys: Rows<'_>,
        dxs: &mut [f32],
        (inputs, cols): (usize, Range<usize>),
    ) {
        assert_eq!(
            w.len() % inputs.max(1),
            0,
            "matvec_t: weights are not rows × inputs"
        );
        assert!(
            row0 + w.len() / inputs <= dys.width,
            "matvec_t: rows out of range"
        );
        self.transposed(w, dys, dxs, (row0, inputs, true), cols);
    }

    fn transposed(
        self,
        w: &[f32],
        dys: Rows<'_>,
        dxs: &mut [f32],
        (row0, inputs, add): (usize, usize, bool),
        cols: Range<usize>,
    ) {
        assert_eq!(dxs.len(), dys.len() * inputs, "matvec_t: length mismatch");
        assert!(
            cols.start <= cols.end && cols.end <= inputs,
            "matvec_t: columns out of range"
        );
        match (self.path, add) {
            (FPath::Portable | FPath::Avx2, false) => {
                batch::matvec_t_batch_cols(w, dys, dxs, inputs, cols)
            }
            (FPath::Portable | FPath::Avx2, true) => {
                batch::matvec_t_batch_add(w, row0, dys, dxs, (inputs, cols))
            }
            (FPath::Avx512, _) => {
                let t = Transposed { inputs, row0, add };
                self.simd(Kernel::Transposed {
                    w,
                    dys,
                    dxs,
                    t,
                    cols,
                })
            }
        }
    }

    /// Runs a kernel through this path's `#[target_feature]` code: the
    /// second `unsafe` block of `host`, with the same argument as `qkernel`'s.
    ///
    /// Calling a `#[target_feature]` function is safe only from code compiled
    /// with those features; a binary that chooses at run time has to call it
    /// from code without them, which Rust allows only in `unsafe`. The block
    /// is sound because the call sits behind [`FPath::is_available`] of its
    /// own path, checked here (a cached atomic load), and `is_available` tests
    /// exactly the features the called function enables (`avx512f` for
    /// `x86::run`, `avx2` and `fma` for `x86::avx2::run`). Everything inside the
    /// kernels is safe code (bounds-checked slices; vectors loaded by
    /// `bytemuck` casts).
    #[allow(unsafe_code)]
    fn simd(self, kernel: Kernel<'_, '_>) {
        assert!(
            self.path.is_available(),
            "{:?} on a CPU without it",
            self.path
        );
        #[cfg(target_arch = "x86_64")]
        match self.path {
            // SAFETY: `is_available()` held just above: `avx512f`.
            FPath::Avx512 => unsafe { x86::run(kernel) },
            // SAFETY: `is_available()` held just above: `avx2` and `fma`.
            FPath::Avx2 => unsafe { x86::avx2::run(kernel) },
            FPath::Portable => unreachable!("the portable path runs no vector kernel"),
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = kernel;
            unreachable!("only the portable path is available off x86_64");
        }
    }
}

/// How a rank-k call combines the batch's sums with what `g` holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sums {
    /// Each element's chain of additions continues from `g` ([`FFast::rank_k`]).
    Continue,
    /// The chains start from `+0.0` ([`FFast::set_rank_k`]).
    Overwrite,
    /// The chains start from `+0.0`, and the whole sum is added to `g`
    /// ([`FFast::add_rank_k_sum_rows`]; at most [`RANK_K_GROUP`] samples in
    /// the kernels).
    AddWhole,
}

/// Where one transposed product reads and writes: a layer of `inputs`
/// columns whose rows `row0..` are in `w`, and whether the sums continue
/// from what `dxs` holds or start from zero.
#[derive(Clone, Copy)]
struct Transposed {
    inputs: usize,
    row0: usize,
    add: bool,
}

/// The arguments of one kernel call (checked by the public methods).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
enum Kernel<'a, 'x> {
    Forward {
        w: &'a [f32],
        b: &'a [f32],
        row0: usize,
        xs: Rows<'x>,
        ys: &'a mut [f32],
        outputs: usize,
    },
    RankK {
        g: &'a mut [f32],
        row0: usize,
        dys: Rows<'x>,
        xs: Rows<'x>,
        sums: Sums,
    },
    Transposed {
        w: &'a [f32],
        dys: Rows<'x>,
        dxs: &'a mut [f32],
        t: Transposed,
        cols: Range<usize>,
    },
    SparseForward {
        wt: (&'a [f32], sparse::InputMajor),
        b: &'a [f32],
        row0: usize,
        xs: (Rows<'x>, sparse::Chunks<'x>),
        ys: (&'a mut [f32], usize),
    },
    ToInputMajor {
        w: &'a [f32],
        t: (&'a mut [f32], sparse::InputMajor),
        finite: &'a mut bool,
    },
    NonZeroChunks {
        x: &'a [f32],
        out: &'a mut sparse::ListsOut<'x>,
    },
    SgdInputMajor {
        sgd: (tinymlp::Sgd, tinymlp::TensorKind, f32),
        grads: &'a [f32],
        t: (&'a mut [f32], &'a mut [f32], sparse::InputMajor),
        finite: &'a mut bool,
    },
    SgdStep {
        sgd: (tinymlp::Sgd, tinymlp::TensorKind, f32),
        batch: fused::ShardedBatch<'x>,
        t: (&'a mut [f32], &'a mut [f32], sparse::InputMajor),
        finite: &'a mut Option<bool>,
    },
    Pixels {
        pixels: &'a [u8],
        x: &'a mut [f32],
    },
    Exp {
        values: &'a mut [f32],
    },
    Prefetch {
        data: &'a [u8],
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeros_start_on_a_cache_line_and_hold_zeros() {
        for len in [0, 1, 15, 16, 17, 784, 32 * 784 + 3] {
            let floats = zeros(len);
            assert_eq!(floats.len(), len);
            assert!(floats.iter().all(|v| v.to_bits() == 0));
            if len > 0 {
                assert_eq!(floats.as_ptr().align_offset(CACHE_LINE), 0, "{len}");
            }
        }
    }
}
