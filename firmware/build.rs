//! Puts `memory.x` on the linker's search path and picks the model.
//!
//! The model directory is `$TINYMLP_MODEL_DIR` (relative to `firmware/`, or
//! absolute), by default `../model`: any bundle written by `host train` or
//! `host emit`. Its `test_inputs.bin.gz` is decompressed into `OUT_DIR`; the
//! firmware includes `weights.rs` / `weights_int8.rs` and opens the test
//! inputs and the predictions files through semihosting.

use std::io::Read;
use std::path::{Path, PathBuf};

fn gunzip(from: &Path, to: &Path) {
    let file = std::fs::File::open(from).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut bytes)
        .unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    std::fs::write(to, bytes).unwrap();
}

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());

    std::fs::copy(manifest.join("memory.x"), out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");

    println!("cargo:rerun-if-env-changed=TINYMLP_MODEL_DIR");
    let dir = std::env::var_os("TINYMLP_MODEL_DIR")
        .map_or_else(|| PathBuf::from("../model"), PathBuf::from);
    let dir = manifest
        .join(&dir)
        .canonicalize()
        .unwrap_or_else(|e| panic!("TINYMLP_MODEL_DIR {}: {e}", dir.display()));
    println!("cargo:rustc-env=TINYMLP_MODEL_DIR={}", dir.display());

    let gz = dir.join("test_inputs.bin.gz");
    let raw = out.join("test_inputs.bin");
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
