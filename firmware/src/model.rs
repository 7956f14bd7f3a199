//! The network in flash: the emitted `weights.rs` (f32) or `weights_int8.rs`
//! (feature `int8`) of the model directory chosen at build time
//! (`TINYMLP_MODEL_DIR`, see `build.rs`), and the kernel it runs on.

// The emitted file offers more than the check uses (`classify`, class names).
#[allow(dead_code)]
#[cfg(not(feature = "int8"))]
mod emitted {
    include!(env!("TINYMLP_WEIGHTS_F32"));
}
#[allow(dead_code)]
#[cfg(feature = "int8")]
mod emitted {
    include!(env!("TINYMLP_WEIGHTS_INT8"));
}

pub use emitted::*;

/// Multiply-accumulates of one inference.
pub const MACS: u64 = {
    let mut macs = 0;
    let mut l = 0;
    while l + 1 < WIDTHS.len() {
        macs += (WIDTHS[l] * WIDTHS[l + 1]) as u64;
        l += 1;
    }
    macs
};

#[cfg(not(feature = "int8"))]
pub const KIND: &str = "f32";
#[cfg(feature = "int8")]
pub const KIND: &str = "int8";

/// The kernel every layer runs through: the Cortex-M4/M33 assembly of
/// `tinymlp-m4` with feature `asm` on those cores (`cfg(tinymlp_asm)`, set by
/// `build.rs`), else the portable `tinymlp` kernels.
#[cfg(tinymlp_asm)]
pub const KERNEL: tinymlp_m4::M4 = tinymlp_m4::M4;
#[cfg(all(not(tinymlp_asm), not(feature = "int8")))]
pub const KERNEL: tinymlp::Portable = tinymlp::Portable;
#[cfg(all(not(tinymlp_asm), feature = "int8"))]
pub const KERNEL: tinymlp::QPortable = tinymlp::QPortable;

#[cfg(tinymlp_asm)]
pub const KERNEL_NAME: &str = "tinymlp-m4 (Cortex-M4/M33 DSP and FPU assembly)";
#[cfg(all(not(tinymlp_asm), not(feature = "helium")))]
pub const KERNEL_NAME: &str = "tinymlp (portable Rust)";
#[cfg(all(not(tinymlp_asm), feature = "helium"))]
pub const KERNEL_NAME: &str = "tinymlp (portable Rust, int8 in the Helium form)";

/// The predictions file of this form, nul-terminated for semihosting.
#[cfg(not(feature = "int8"))]
pub const PREDICTIONS: &str = concat!(env!("TINYMLP_PREDICTIONS_F32"), "\0");
#[cfg(feature = "int8")]
pub const PREDICTIONS: &str = concat!(env!("TINYMLP_PREDICTIONS_INT8"), "\0");
/// Its magic.
#[cfg(not(feature = "int8"))]
pub const MAGIC: &[u8; 8] = b"TMLPF32\x02";
#[cfg(feature = "int8")]
pub const MAGIC: &[u8; 8] = b"TMLPI32\x02";
