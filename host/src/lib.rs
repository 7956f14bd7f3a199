//! # host
//!
//! The desktop side of tinymlp: reading data, training, evaluating and
//! exporting networks of any shape. The `host` binary (`src/cli/`) is the
//! command-line front end:
//!
//! ```text
//! cargo run -p host --release -- train            # data/ → model/
//! cargo run -p host --release -- eval --model model/model.safetensors
//! ```
//!
//! The folders follow the data path, and each imports only from the ones
//! before it:
//!
//! ```text
//! data → model → train → eval → export → report → (cli)
//! ```
//!
//! - [`data`]: IDX and CSV files of any shape → [`Dataset`](data::Dataset)
//!   (raw values, class indices, class names).
//! - [`model`]: the run-time-shaped network [`Net`](model::Net), its input
//!   scaling and classes ([`Model`](model::Model)), and checkpoints.
//! - [`train`]: the training loop and its two parallel strategies.
//! - [`report`]: learning curves, confusion matrix and error pictures, terminal drawing, picture preprocessing, file descriptions.
//! - [`eval`]: confusion matrix and per-class accuracy of K classes, per-sample predictions.
//! - [`export`]: int8 quantisation, emitted Rust source, the firmware
//!   bundle and CSV tensors.
//! - [`finetune`]: fine-tuning the output layer step for step as the firmware does.
//! - [`fs`]: atomic file writes, used by every stage that writes.
//! - [`qkernel`]: int8 accumulators with AVX-512 VNNI, AVX-VNNI or AVX2,
//!   chosen at run time (`export` runs the int8 network through it).
//! - [`fkernel`]: the `f32` training kernels with AVX-512 or AVX2 where the
//!   CPU has it, the bits of `tinymlp::batch` (`train` runs through it).
//! - [`isa`]: the widest instruction set those two may use
//!   (`TINYMLP_MAX_ISA` caps it).
//!
//! ## Example
//!
//! ```
//! use std::path::Path;
//! use host::data::{load, DataOptions, LabelColumn, Role};
//!
//! let iris = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../data/iris/iris.csv"));
//! let options = DataOptions { label_column: LabelColumn::Name("species".into()), ..DataOptions::default() };
//! let data = load(iris, &options, Role::Train)?;
//! assert_eq!((data.len(), data.features(), data.classes().len()), (150, 4, 3));
//! assert_eq!(data.classes().name(0), "setosa");
//!
//! // Errors name the file and the problem.
//! let err = load(Path::new("/no/such/file.csv"), &DataOptions::default(), Role::Train).unwrap_err();
//! assert!(err.to_string().starts_with("/no/such/file.csv: not found"), "{err}");
//! # Ok::<(), host::data::DataError>(())
//! ```
//!
//! Readers never trust sizes declared in a file for allocation: a 40-byte file
//! claiming four billion images fails at once, without reserving memory.
// `deny`, not `forbid`: `qkernel` and `fkernel` each have one `unsafe` block
// (a run-time-dispatched call of a `#[target_feature]` function), allowed there alone.
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod data;
pub mod eval;
pub mod export;
pub mod finetune;
pub mod fkernel;
pub mod fs;
pub mod isa;
pub mod model;
pub mod qkernel;
pub mod report;
pub mod train;
