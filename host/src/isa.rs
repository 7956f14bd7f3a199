//! The widest instruction set the kernels may use: everything the CPU has,
//! unless the environment variable [`ENV`] (`TINYMLP_MAX_ISA`) caps it.
//!
//! ```text
//! TINYMLP_MAX_ISA=avx2 cargo run -p host --release -- train   # as on an AVX2-only CPU
//! ```
//!
//! `avx2` means AVX2 alone, as on Haswell–Skylake and AMD Zen 1–3; `avxvnni`
//! adds AVX-VNNI, the 256-bit int8 dot products of Alder Lake and later and
//! of Zen 5, which only the int8 kernels use.
//!
//! Every path computes the same bits, so the cap changes speed only: it
//! exists to measure what a slower CPU would run (`BENCHMARKS.md`), to rule
//! a vector unit out when hunting a problem, and for CPUs whose wide
//! vectors slow the rest of the machine down. It is the counterpart of
//! oneDNN's `ONEDNN_MAX_CPU_ISA` and MKL's `MKL_ENABLE_INSTRUCTIONS`.
//!
//! [`FFast::detect`](crate::fkernel::FFast::detect) and
//! [`QFast::detect`](crate::qkernel::QFast::detect) honour it; the `host`
//! command refuses a value it does not know before doing anything else
//! ([`check_env`]). Paths forced with `with_path` (tests, benches) ignore it.

use std::sync::OnceLock;

/// The environment variable that caps the instruction set.
pub const ENV: &str = "TINYMLP_MAX_ISA";

/// A level of vector instructions, narrowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// No explicit vector code: the portable kernels (which LLVM may still
    /// vectorise for the build's target CPU).
    Portable,
    /// 256-bit vectors: AVX2.
    Avx2,
    /// 256-bit vectors with AVX-VNNI, AVX2's int8 dot-product extension.
    AvxVnni,
    /// 512-bit vectors: AVX-512.
    Avx512,
}

impl Isa {
    /// Every level, narrowest first.
    pub const ALL: [Isa; 4] = [Isa::Portable, Isa::Avx2, Isa::AvxVnni, Isa::Avx512];

    /// The name [`ENV`] takes.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            Isa::Avx2 => "avx2",
            Isa::AvxVnni => "avxvnni",
            Isa::Avx512 => "avx512",
        }
    }

    /// The level named `value` (any case, surrounding blanks ignored).
    ///
    /// # Errors
    /// [`IsaError`] for any other name.
    pub fn parse(value: &str) -> Result<Isa, IsaError> {
        let name = value.trim().to_ascii_lowercase();
        Isa::ALL
            .into_iter()
            .find(|isa| isa.name() == name)
            .ok_or_else(|| IsaError {
                value: value.to_owned(),
            })
    }
}

/// [`ENV`] holds a name that is not an [`Isa`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{ENV}={value:?} is not an instruction set of tinymlp's kernels: \
     set it to portable, avx2, avxvnni or avx512, or unset it to use all the CPU has"
)]
pub struct IsaError {
    value: String,
}

/// The cap [`ENV`] sets: `None` when it is unset or empty.
///
/// # Errors
/// [`IsaError`] when it names no [`Isa`].
pub fn cap_from(value: Option<&str>) -> Result<Option<Isa>, IsaError> {
    match value {
        None => Ok(None),
        Some(v) if v.trim().is_empty() => Ok(None),
        Some(v) => Isa::parse(v).map(Some),
    }
}

/// The cap of this process's environment, read once.
fn cap() -> &'static Result<Option<Isa>, IsaError> {
    static CAP: OnceLock<Result<Option<Isa>, IsaError>> = OnceLock::new();
    CAP.get_or_init(|| {
        let value = std::env::var_os(ENV).map(|v| v.to_string_lossy().into_owned());
        cap_from(value.as_deref())
    })
}

/// Refuses a value of [`ENV`] that names no [`Isa`] (the `host` command
/// calls it first, so that no kernel runs under a cap the user mistyped).
///
/// # Errors
/// [`IsaError`] naming the value and the names it may take.
pub fn check_env() -> Result<(), IsaError> {
    cap().clone().map(|_| ())
}

/// Whether the kernels may use `isa` in this process. A value of [`ENV`]
/// that names no level allows only [`Isa::Portable`], the narrowest reading
/// of a cap (the `host` command refuses such a value before this is asked).
pub fn allows(isa: Isa) -> bool {
    match cap() {
        Ok(None) => true,
        Ok(Some(max)) => isa <= *max,
        Err(_) => isa == Isa::Portable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_level_and_refuses_other_names() {
        for isa in Isa::ALL {
            assert_eq!(Isa::parse(isa.name()), Ok(isa));
        }
        assert_eq!(Isa::parse(" AVX2\n"), Ok(Isa::Avx2));
        assert_eq!(cap_from(None), Ok(None));
        assert_eq!(cap_from(Some("  ")), Ok(None));
        assert_eq!(cap_from(Some("avx512")), Ok(Some(Isa::Avx512)));
        let error = cap_from(Some("sse4")).unwrap_err().to_string();
        assert!(error.starts_with("TINYMLP_MAX_ISA=\"sse4\""), "{error}");
        assert!(
            error.contains("portable, avx2, avxvnni or avx512"),
            "{error}"
        );
        assert!(Isa::Portable < Isa::Avx2 && Isa::Avx2 < Isa::AvxVnni);
        assert!(Isa::AvxVnni < Isa::Avx512);
    }
}
