//! Data of any shape: the files users train small classifiers on.
//!
//! | file | concept |
//! |---|---|
//! | [`error`] | [`DataError`]: every message names the file and the fix |
//! | [`source`] | opening files, gzip from the bytes, [`sniff`]: what a file looks like |
//! | [`idx`] | IDX files: `N×H×W` images or `N×F` vectors, `u8` or `f32`; `N` `u8` labels |
//! | [`classes`] | [`Classes`]: class names, labels found in a file to class indices |
//! | [`dataset`] | [`Dataset`]: labelled samples, [`Shape`], [`Encoding`] |
//! | [`split`] | `--val`, `--limit`, stratified seeded `--test-fraction` |
//! | [`csv`] | CSV of any columns: delimiter, header and label column detected or chosen |
//! | [`mod@load`] | [`load()`]: a path and [`DataOptions`] to a [`Dataset`]; [`check_compatible`] |
//!
//! Readers never trust sizes declared in a file for allocation: memory grows
//! with the data actually present.

pub mod classes;
pub mod csv;
pub mod dataset;
pub mod error;
pub mod idx;
pub mod load;
pub mod source;
pub mod split;
#[cfg(test)]
mod testing;

pub use classes::{Classes, MAX_CLASSES};
pub use csv::{Header, LabelColumn};
pub use dataset::{Dataset, Encoding, Shape};
pub use error::DataError;
pub use load::{check_compatible, load, DataOptions, Format, Role};
pub use source::{sniff, Sniffed};
