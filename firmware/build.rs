//! Picks the core's memory layout and the model.
//!
//! The core follows from the target: `thumbv6m-none-eabi` → `m0`,
//! `thumbv7em-none-eabihf` → `m4`, `thumbv8m.main-none-eabihf` → `m33`, or
//! `m55` with `-C target-cpu=cortex-m55` in its flags,
//! `riscv32imac-unknown-none-elf` → `rv32`. `memory/<core>.x` becomes
//! `memory.x` on the linker's search path (with `memory/riscv.x`, the RISC-V
//! sections), and `cfg(tinymlp_core = "…")` tells the code which board's
//! timer to read.
//!
//! The model directory is `$TINYMLP_MODEL_DIR` (relative to `firmware/`, or
//! absolute), by default `../model`: any bundle written by `host train` or
//! `host emit`. Its `test_inputs.bin.gz` is decompressed into `OUT_DIR` (one
//! file per model directory); the firmware includes `weights.rs` /
//! `weights_int8.rs` and opens the test inputs and the predictions files
//! through semihosting.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Decompresses `from` into `to` through a temporary file and a rename, so a
/// program already reading `to` (a queued QEMU run) keeps the file it opened.
fn gunzip(from: &Path, to: &Path) {
    let file = std::fs::File::open(from).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut bytes)
        .unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    let tmp = to.with_extension("tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, to).unwrap();
}

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());

    // The M33 and M55 share a target and differ in -C target-cpu (RUSTFLAGS, see core.sh).
    println!("cargo:rerun-if-env-changed=RUSTFLAGS");
    println!("cargo:rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let target = std::env::var("TARGET").unwrap();
    // Stable rustc exposes no Arm target features to cfg, so the M55 is told by its flag.
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let m55 = flags
        .split('\x1f')
        .any(|f| f.ends_with("target-cpu=cortex-m55"));
    let core = match target.as_str() {
        "thumbv6m-none-eabi" => "m0",
        "thumbv7em-none-eabihf" => "m4",
        "thumbv8m.main-none-eabihf" if m55 => "m55",
        "thumbv8m.main-none-eabihf" => "m33",
        "riscv32imac-unknown-none-elf" => "rv32",
        other => panic!(
            "no board for target {other}: use thumbv6m-none-eabi, thumbv7em-none-eabihf, \
             thumbv8m.main-none-eabihf (add -C target-cpu=cortex-m55 for the M55) or \
             riscv32imac-unknown-none-elf"
        ),
    };
    println!(
        "cargo::rustc-check-cfg=cfg(tinymlp_core, values(\"m0\", \"m4\", \"m33\", \"m55\", \"rv32\"))"
    );
    println!("cargo:rustc-cfg=tinymlp_core=\"{core}\"");
    // The assembly kernels of tinymlp-m4 (feature `asm`) serve the M4 and the M33.
    println!("cargo::rustc-check-cfg=cfg(tinymlp_asm)");
    if std::env::var_os("CARGO_FEATURE_ASM").is_some() && matches!(core, "m4" | "m33") {
        println!("cargo:rustc-cfg=tinymlp_asm");
    }
    if core == "m55" && std::env::var_os("CARGO_FEATURE_HELIUM").is_none() {
        println!("cargo:warning=Cortex-M55 without feature `helium`: the int8 kernel stays scalar");
    }
    println!("cargo:rustc-env=TINYMLP_CORE={core}");
    let memory = manifest.join("memory").join(format!("{core}.x"));
    std::fs::copy(&memory, out.join("memory.x")).unwrap();
    std::fs::copy(manifest.join("memory/riscv.x"), out.join("riscv.x")).unwrap();
    // cortex-m-rt's `device` feature makes link.x include a device.x naming the
    // interrupt handlers; src/vectors.rs has none to name.
    std::fs::write(
        out.join("device.x"),
        "/* No interrupt handlers: see src/vectors.rs. */\n",
    )
    .unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory");

    // TINYMLP_LIMIT=N checks only the first N test samples (0 or unset: all of them).
    println!("cargo:rerun-if-env-changed=TINYMLP_LIMIT");
    let limit = std::env::var("TINYMLP_LIMIT").unwrap_or_default();
    let limit: u32 = if limit.is_empty() {
        0
    } else {
        limit.parse().expect("TINYMLP_LIMIT: a number")
    };
    println!("cargo:rustc-env=TINYMLP_LIMIT={limit}");

    println!("cargo:rerun-if-env-changed=TINYMLP_MODEL_DIR");
    let dir = std::env::var_os("TINYMLP_MODEL_DIR")
        .map_or_else(|| PathBuf::from("../model"), PathBuf::from);
    let dir = manifest
        .join(&dir)
        .canonicalize()
        .unwrap_or_else(|e| panic!("TINYMLP_MODEL_DIR {}: {e}", dir.display()));
    println!("cargo:rustc-env=TINYMLP_MODEL_DIR={}", dir.display());

    // The `finetune` and `train` programs read the files of `host finetune … --out DIR`
    // (`train`: of `--layers all`, with the network's source `finetune_net.rs`).
    println!("cargo:rerun-if-env-changed=TINYMLP_FINETUNE_DIR");
    let train = std::env::var_os("CARGO_FEATURE_TRAIN").is_some();
    if std::env::var_os("CARGO_FEATURE_FINETUNE").is_some() || train {
        let ft = std::env::var_os("TINYMLP_FINETUNE_DIR")
            .map_or_else(|| PathBuf::from("target/finetune"), PathBuf::from);
        let ft = manifest.join(&ft).canonicalize().unwrap_or_else(|e| {
            panic!(
                "TINYMLP_FINETUNE_DIR {}: {e} (write it with `host finetune --out`)",
                ft.display()
            )
        });
        for (name, env) in [
            ("finetune_train.bin", "TINYMLP_FINETUNE_TRAIN"),
            ("finetune_test.bin", "TINYMLP_FINETUNE_TEST"),
            ("finetune_expected.bin", "TINYMLP_FINETUNE_EXPECTED"),
            ("finetune_net.rs", "TINYMLP_FINETUNE_NET"),
        ] {
            if name == "finetune_net.rs" && !train {
                continue;
            }
            let path = ft.join(name);
            if train && !path.exists() {
                panic!(
                    "{}: missing (the `train` program needs the files of `host finetune --layers all --out DIR`)",
                    path.display()
                );
            }
            println!("cargo:rerun-if-changed={}", path.display());
            println!("cargo:rustc-env={env}={}", path.display());
        }
    }

    let gz = dir.join("test_inputs.bin.gz");
    // One file per model directory: builds of one core and features for another model
    // share this OUT_DIR while the ELFs of earlier ones may still be reading theirs.
    let tag: String = dir
        .to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let raw = out.join(format!("test_inputs{tag}.bin"));
    gunzip(&gz, &raw);
    println!("cargo:rerun-if-changed={}", gz.display());
    println!("cargo:rustc-env=TINYMLP_TEST_INPUTS={}", raw.display());
    for (name, env) in [
        ("predictions_f32.bin", "TINYMLP_PREDICTIONS_F32"),
        ("predictions_int8.bin", "TINYMLP_PREDICTIONS_INT8"),
        ("weights.rs", "TINYMLP_WEIGHTS_F32"),
        ("weights_int8.rs", "TINYMLP_WEIGHTS_INT8"),
    ] {
        let path = dir.join(name);
        println!("cargo:rerun-if-changed={}", path.display());
        println!("cargo:rustc-env={env}={}", path.display());
    }
}
