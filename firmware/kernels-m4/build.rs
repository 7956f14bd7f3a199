//! Decides whether the assembly can run on the target, and puts the
//! firmware's `memory.x` of that core on the linker's search path for the
//! on-target test.
//!
//! The int8 loop needs the DSP extension (`sxtb16`, `smlad`): every ARMv7E-M
//! core (`thumbv7em-*`: Cortex-M4, M7) and the ARMv8-M Mainline cores that
//! implement it (`thumbv8m.main-*` with `-C target-cpu=cortex-m33`, `cortex-m35p`,
//! `cortex-m55`, `cortex-m85`, or `-C target-feature=+dsp`). The f32 loop also needs
//! a single-precision FPU with the hard-float ABI (`*-eabihf`). Stable rustc
//! exposes neither feature to `cfg`, so this script reads the target and the
//! flags and sets `cfg(tinymlp_m4_dsp)` / `cfg(tinymlp_m4_fpu)`; without them
//! the functions are the portable loops.

use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    println!("cargo:rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    println!("cargo::rustc-check-cfg=cfg(tinymlp_m4_dsp)");
    println!("cargo::rustc-check-cfg=cfg(tinymlp_m4_fpu)");

    let target = std::env::var("TARGET").unwrap();
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let flags: Vec<&str> = flags.split('\x1f').collect();
    let cpu = flags
        .iter()
        .rev()
        .find_map(|f| f.rsplit_once("target-cpu=").map(|(_, cpu)| cpu))
        .unwrap_or("");
    let dsp_flag = flags
        .iter()
        .any(|f| f.contains("target-feature=") && f.contains("+dsp"));
    let dsp = target.starts_with("thumbv7em")
        || (target.starts_with("thumbv8m.main")
            && (dsp_flag
                || matches!(
                    cpu,
                    "cortex-m33" | "cortex-m35p" | "cortex-m55" | "cortex-m85"
                )));
    if dsp {
        println!("cargo:rustc-cfg=tinymlp_m4_dsp");
        if target.ends_with("eabihf") {
            println!("cargo:rustc-cfg=tinymlp_m4_fpu");
        }
    }

    // The on-target test links with the firmware's memory layout of the core.
    let core = match target.as_str() {
        "thumbv8m.main-none-eabihf" if cpu == "cortex-m55" => "m55",
        t if t.starts_with("thumbv8m.main") => "m33",
        _ => "m4",
    };
    let memory = manifest.join("../memory").join(format!("{core}.x"));
    std::fs::copy(&memory, out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed={}", memory.display());
}
