//! Helpers for the data tests: gzip in memory, the repository's data files,
//! default options.

use std::io::Write;
use std::path::PathBuf;

use super::load::DataOptions;

/// `bytes` gzipped.
pub(super) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// The repository's `data/` folder (MNIST, iris, digits).
pub(super) fn data_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../data"))
}

/// The default options (`--format auto`, label column and header detected).
pub(super) fn opts() -> DataOptions {
    DataOptions::default()
}
