//! Puts `memory.x` on the linker's search path and decompresses the MNIST test
//! set into `OUT_DIR`, whose paths the firmware opens through semihosting.

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
    let root = manifest.join("..").canonicalize().unwrap();

    std::fs::copy(manifest.join("memory.x"), out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");

    for (name, env) in [
        ("t10k-images-idx3-ubyte", "TINYMLP_TEST_IMAGES"),
        ("t10k-labels-idx1-ubyte", "TINYMLP_TEST_LABELS"),
    ] {
        let gz = root.join("data").join(format!("{name}.gz"));
        let raw = out.join(name);
        gunzip(&gz, &raw);
        println!("cargo:rerun-if-changed={}", gz.display());
        println!("cargo:rustc-env={env}={}", raw.display());
    }
    for (name, env) in [
        ("predictions_f32.bin", "TINYMLP_PREDICTIONS_F32"),
        ("predictions_int8.bin", "TINYMLP_PREDICTIONS_INT8"),
    ] {
        let path = root.join("model").join(name);
        println!("cargo:rerun-if-changed={}", path.display());
        println!("cargo:rustc-env={env}={}", path.display());
    }
    println!("cargo:rerun-if-changed=../model/weights.rs");
    println!("cargo:rerun-if-changed=../model/weights_int8.rs");
}
