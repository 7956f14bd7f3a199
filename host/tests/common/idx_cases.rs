//! IDX fixtures and error checks shared by `data_idx.rs` and
//! `data_idx_malformed.rs`.
#![allow(dead_code)] // Each test crate uses a part.

use std::path::{Path, PathBuf};

use super::common::{idx, write};
use host::data::idx::{read_idx_labels, read_idx_samples};
use host::data::DataError;

/// A valid samples file of `n` images of 3x4 with distinct pixel values.
pub(crate) fn images(n: u32) -> Vec<u8> {
    let payload: Vec<u8> = (0..n * 12).map(|i| (i * 7 % 256) as u8).collect();
    idx(0x08, &[n, 3, 4], &payload)
}

pub(crate) fn labels(l: &[u8]) -> Vec<u8> {
    idx(0x08, &[l.len() as u32], l)
}

/// Asserts the message names `path` and contains every one of `words`.
pub(crate) fn says(e: &DataError, path: &Path, words: &[&str]) {
    let msg = e.to_string();
    assert!(
        msg.contains(&path.display().to_string()),
        "message does not name {}: {msg}",
        path.display()
    );
    for w in words {
        assert!(msg.contains(w), "message lacks {w:?}: {msg}");
    }
}

pub(crate) fn samples_err(dir: &Path, name: &str, bytes: &[u8]) -> (PathBuf, DataError) {
    let p = write(dir, name, bytes);
    let e = read_idx_samples(&p).expect_err("malformed samples file was accepted");
    (p, e)
}

pub(crate) fn labels_err(dir: &Path, name: &str, bytes: &[u8]) -> (PathBuf, DataError) {
    let p = write(dir, name, bytes);
    let e = read_idx_labels(&p).expect_err("malformed labels file was accepted");
    (p, e)
}
