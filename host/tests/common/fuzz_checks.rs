//! The properties the fuzz targets check, shared by `fuzz/fuzz_targets/*.rs`
//! (through `#[path]`) and `host/tests/fuzz_regressions.rs`, so a crash input
//! kept as a regression test is checked exactly as the fuzzer checked it.
//!
//! Each function must not panic for any input except by a failed assertion
//! of a property stated here.

// Each fuzz target uses one of these functions.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use host::checkpoint::{self, Checkpoint};
use host::dataset::NUM_CLASSES;
use host::with_network;
use tinymlp::Parameters;

/// The same bytes as an IDX image file, a label file and a bare header.
pub(crate) fn idx(data: &[u8]) {
    let name = Path::new("fuzz.idx");
    match host::idx::parse_idx_images(data, name) {
        Ok((count, rows, cols, pixels)) => {
            assert!(count > 0 && rows > 0 && cols > 0);
            let expected = count.checked_mul(rows).and_then(|n| n.checked_mul(cols));
            assert_eq!(Some(pixels.len()), expected);
        }
        Err(e) => assert_names_file(&e.to_string(), "fuzz.idx"),
    }
    match host::idx::parse_idx_labels(data, name) {
        Ok(labels) => {
            assert!(!labels.is_empty());
            assert!(labels.iter().all(|&l| usize::from(l) < NUM_CLASSES));
        }
        Err(e) => assert_names_file(&e.to_string(), "fuzz.idx"),
    }
    if let Err(e) = host::idx::parse_idx_header(data, name) {
        assert_names_file(&e.to_string(), "fuzz.idx");
    }
}

/// The bytes as an MNIST CSV file.
pub(crate) fn csv(data: &[u8]) {
    match host::csv::parse_csv(data, Path::new("fuzz.csv")) {
        Ok(set) => {
            assert!(!set.is_empty());
            assert_eq!((set.rows(), set.cols()), (28, 28));
            assert_eq!(set.pixels().len(), set.len() * 784);
            assert!(set.labels().iter().all(|&l| usize::from(l) < NUM_CLASSES));
        }
        Err(e) => assert_names_file(&e.to_string(), "fuzz.csv"),
    }
}

/// The bytes as a checkpoint: container and metadata, then the tensors into
/// the compiled network the metadata names. One that loads is finite and
/// saves back to a checkpoint that loads to the same parameters.
pub(crate) fn checkpoint(data: &[u8]) {
    let path = Path::new("fuzz.safetensors");
    let ckpt = match Checkpoint::from_bytes(path, data.to_vec()) {
        Ok(ckpt) => ckpt,
        Err(e) => return assert_names_file(&e.to_string(), "fuzz.safetensors"),
    };
    let arch = ckpt.architecture().clone();
    with_network!(arch, Net => {
        let mut net: Box<Net> = bytemuck::zeroed_box();
        match ckpt.load_into(&mut *net) {
            Ok(()) => {
                assert!(net.all_finite());
                let bytes = checkpoint::to_bytes(&*net, &arch, &BTreeMap::new())
                    .expect("a loaded network serialises");
                let again = Checkpoint::from_bytes(path, bytes).expect("and reads back");
                let mut back: Box<Net> = bytemuck::zeroed_box();
                again.load_into(&mut *back).expect("and loads");
                assert!(*back == *net, "round trip changed the parameters");
            }
            Err(e) => assert_names_file(&e.to_string(), "fuzz.safetensors"),
        }
    })
}

/// Error messages start with the file they are about.
fn assert_names_file(message: &str, file: &str) {
    assert!(
        message.starts_with(&format!("{file}: ")),
        "message does not start with the file name: {message}"
    );
}
