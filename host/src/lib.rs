//! # host
//!
//! The desktop side of tinymlp: loading data, training, evaluating and
//! exporting networks. The `host` binary is the command-line front end:
//!
//! ```text
//! cargo run -p host --release -- train            # data/ → model/
//! cargo run -p host --release -- eval --model model/model.safetensors
//! ```
//!
//! - [`dataset`]: [`Dataset`](dataset::Dataset), labelled images kept as `u8`,
//!   and [`load_mnist`](dataset::load_mnist) for the four standard MNIST files.
//! - [`idx`]: the IDX format (gzipped or raw, detected from the bytes).
//! - [`csv`]: `label,p0,…,p783` text files.
//! - [`error`]: [`DataError`](error::DataError), every variant of which names
//!   the offending file and says what is wrong.
//! - [`preprocess`]: any picture of a digit to a 28×28 MNIST-style image;
//!   [`render`]: a digit drawn in the terminal.
//! - [`pictures`]: learning curves and confusion matrix (SVG), misclassified
//!   digits (PNG); [`export`]: tensors as CSV; [`inspect`]: what a data file holds.
//!
//! ## Example
//!
//! ```
//! use std::path::Path;
//! use host::dataset::{load_mnist, Split};
//!
//! let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../data"));
//! let test = load_mnist(dir, Split::Test)?;
//! assert_eq!((test.len(), test.rows(), test.cols()), (10_000, 28, 28));
//! assert_eq!(test.label(0), 7);
//! let (train, validation) = test.split_validation(1_000)?;
//! assert_eq!((train.len(), validation.len()), (9_000, 1_000));
//!
//! // Errors name the file and the problem.
//! let err = load_mnist(Path::new("/no/such/dir"), Split::Train).unwrap_err();
//! assert_eq!(err.to_string(), "/no/such/dir: not found");
//! # Ok::<(), host::error::DataError>(())
//! ```
//!
//! Readers never trust sizes declared in a file for allocation: a 40-byte file
//! claiming four billion images fails at once, without reserving memory.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod arch;
pub mod atomic;
pub mod checkpoint;
pub mod codegen;
pub mod csv;
pub mod data;
pub mod dataset;
pub mod emit;
pub mod error;
pub mod eval;
pub mod export;
pub mod idx;
pub mod inspect;
pub mod pictures;
pub mod preprocess;
pub mod quantize;
pub mod render;
pub(crate) mod rowsplit;
pub mod schedule;
pub mod train;
