//! # host
//!
//! The desktop side of tinymlp: loading data, training, evaluating and
//! exporting networks. This library holds the data layer; the `host` binary
//! is the command-line trainer built on it.
//!
//! - [`dataset`]: [`Dataset`](dataset::Dataset), labelled images kept as `u8`,
//!   and [`load_mnist`](dataset::load_mnist) for the four standard MNIST files.
//! - [`idx`]: the IDX format (gzipped or raw, detected from the bytes).
//! - [`csv`]: `label,p0,…,p783` text files.
//! - [`error`]: [`DataError`](error::DataError), every variant of which names
//!   the offending file and says what is wrong.
//!
//! Readers never trust sizes declared in a file for allocation: a 40-byte file
//! claiming four billion images fails at once, without reserving memory.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod csv;
pub mod dataset;
pub mod error;
pub mod idx;
