//! Fast int8 accumulators on the host: [`QFast`], a [`QKernel`] that picks the
//! best instruction set of the CPU it runs on.
//!
//! | path | needs | per instruction |
//! |---|---|---|
//! | [`QPath::Avx512Vnni`] | `avx512f`, `avx512bw`, `avx512vnni` | `vpdpbusd` on 64 bytes (zmm) |
//! | [`QPath::AvxVnni`] | `avxvnni` (Alder Lake and later Intel client parts) | `vpdpbusd` on 32 bytes (ymm, VEX) |
//! | [`QPath::Avx2`] | `avx2` | `vpmaddubsw` on 32 bytes, the input split in 7 + 1 bits so no `i16` saturates |
//! | [`QPath::Portable`] | — | `tinymlp`'s own loops ([`tinymlp::QPortable`]) |
//!
//! `vpdpbusd` multiplies *unsigned* bytes by *signed* bytes, which is exactly
//! the int8 scheme of `tinymlp::quant`: `u8` inputs (pixels, or numeric
//! features with zero point 128 already folded into the bias) times `i8`
//! weights. Each instruction adds four products (at most `4 · 255 · 128`, far
//! inside `i32`) to an `i32` lane without saturating, and every later step
//! (lane sums, bias) is a wrapping `i32` addition (the AVX2 path's `i16`
//! partial sums are bounded so that they cannot overflow, see `x86.rs`).
//! Wrapping addition is
//! associative, so each path returns the same `i32`s as
//! [`tinymlp::QReference`] for every input, including sums that wrap
//! (`host/tests/qkernel.rs` checks this on random shapes and extreme values,
//! for every path the CPU has).
//!
//! Rows are computed in blocks (8 with VNNI, 4 with AVX2), sharing each load
//! of the input. The input's last partial chunk is copied into a zero-filled
//! one, so the weights read with it may run on into the next row: those are
//! multiplied by zero.
//!
//! Imports only [`isa`](crate::isa) from the rest of `host`; `export` runs its
//! [`QNet`](crate::export::QNet) through it.

use tinymlp::quant::{dot_i8_u8, QDense, QKernel};

#[cfg(target_arch = "x86_64")]
mod x86;

/// An instruction set for the int8 accumulators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QPath {
    /// `tinymlp`'s portable loops: every CPU.
    Portable,
    /// AVX2: `vpmaddubsw` and `vpmaddwd`.
    Avx2,
    /// AVX-VNNI: `vpdpbusd` on ymm registers.
    AvxVnni,
    /// AVX-512 VNNI: `vpdpbusd` on zmm registers.
    Avx512Vnni,
}

impl QPath {
    /// Every path, slowest first.
    pub const ALL: [QPath; 4] = [
        QPath::Portable,
        QPath::Avx2,
        QPath::AvxVnni,
        QPath::Avx512Vnni,
    ];

    /// Whether this CPU can run the path.
    pub fn is_available(self) -> bool {
        match self {
            QPath::Portable => true,
            #[cfg(target_arch = "x86_64")]
            QPath::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            QPath::AvxVnni => std::arch::is_x86_feature_detected!("avxvnni"),
            #[cfg(target_arch = "x86_64")]
            QPath::Avx512Vnni => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vnni")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The level of vector instructions the path uses.
    pub fn isa(self) -> crate::isa::Isa {
        use crate::isa::Isa;
        match self {
            QPath::Portable => Isa::Portable,
            QPath::Avx2 => Isa::Avx2,
            QPath::AvxVnni => Isa::AvxVnni,
            QPath::Avx512Vnni => Isa::Avx512,
        }
    }

    /// A short name for reports and benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            QPath::Portable => "portable",
            QPath::Avx2 => "avx2",
            QPath::AvxVnni => "avxvnni",
            QPath::Avx512Vnni => "avx512vnni",
        }
    }
}

/// The int8 accumulators through one [`QPath`] the CPU has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QFast {
    path: QPath,
}

impl QFast {
    /// The fastest path this CPU has (AVX-512 VNNI, then AVX-VNNI, AVX2,
    /// portable) and [`isa::allows`](crate::isa::allows).
    pub fn detect() -> Self {
        let path = QPath::ALL
            .into_iter()
            .rev()
            .find(|p| p.is_available() && crate::isa::allows(p.isa()))
            .unwrap_or(QPath::Portable);
        Self { path }
    }

    /// `path`, if this CPU can run it.
    pub fn with_path(path: QPath) -> Option<Self> {
        path.is_available().then_some(Self { path })
    }

    /// The path in use.
    pub fn path(self) -> QPath {
        self.path
    }

    /// `acc[o] += Σ_i weights[o·n + i] · x[i]` (wrapping `i32`), `n = x.len()`:
    /// pass the biases in `acc` to get a layer's accumulators.
    ///
    /// # Panics
    /// If `weights.len() != acc.len() * x.len()`.
    pub fn accumulate(self, weights: &[i8], x: &[u8], acc: &mut [i32]) {
        assert_eq!(
            weights.len(),
            acc.len() * x.len(),
            "weights are rows × inputs"
        );
        if x.is_empty() {
            return;
        }
        match self.path {
            QPath::Portable => portable(weights, x, acc),
            #[cfg(target_arch = "x86_64")]
            path => x86_accumulate(path, weights, x, acc),
            #[cfg(not(target_arch = "x86_64"))]
            _ => unreachable!("only the portable path exists off x86_64"),
        }
    }
}

impl Default for QFast {
    fn default() -> Self {
        Self::detect()
    }
}

impl QKernel for QFast {
    #[inline]
    fn accumulate<const IN: usize, const OUT: usize>(
        &self,
        layer: &QDense<IN, OUT>,
        x: &[u8; IN],
    ) -> [i32; OUT] {
        if self.path == QPath::Portable {
            return layer.accumulate(x);
        }
        let mut acc = layer.bias;
        QFast::accumulate(*self, layer.weights.as_flattened(), x, &mut acc);
        acc
    }
}

/// One row at a time with `tinymlp`'s dot product.
fn portable(weights: &[i8], x: &[u8], acc: &mut [i32]) {
    for (row, a) in weights.chunks_exact(x.len()).zip(acc) {
        *a = a.wrapping_add(dot_i8_u8(row, x));
    }
}

/// Runs the `#[target_feature]` kernel of `path`: the one `unsafe` block of
/// `host`.
///
/// Calling a `#[target_feature]` function is safe only from code compiled with
/// those features; a binary that chooses at run time has to call it from code
/// without them, which Rust allows only in `unsafe`. The block is sound because
/// each call sits behind [`QPath::is_available`] of its own path, checked here
/// (a cached atomic load), and `is_available` tests exactly the features that
/// kernel enables. Everything inside the kernels is safe code.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
fn x86_accumulate(path: QPath, weights: &[i8], x: &[u8], acc: &mut [i32]) {
    assert!(path.is_available(), "{path:?} on a CPU without it");
    // SAFETY: `path.is_available()` held just above, and it checks exactly the
    // features the called function enables (see `x86`).
    unsafe {
        match path {
            QPath::Avx512Vnni => x86::vnni512::accumulate(weights, x, acc),
            QPath::AvxVnni => x86::vnni256::accumulate(weights, x, acc),
            QPath::Avx2 => x86::avx2::accumulate(weights, x, acc),
            QPath::Portable => portable(weights, x, acc),
        }
    }
}
