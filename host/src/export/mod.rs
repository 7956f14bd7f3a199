//! Export: a trained [`Model`](crate::model::Model) turned into what firmware
//! compiles and checks against.
//!
//! - [`qnet`]: the run-time int8 network [`QNet`], computing exactly what the
//!   emitted `QHidden … QOutput` chain computes.
//! - [`quantize`]: a model quantised into a `QNet`, calibrated on training data.
//! - [`rust`]: Rust source (`weights.rs`, `weights_int8.rs`) for any depth,
//!   f32 and int8, with one entry point `classify(raw)`.
//! - [`predictions`]: the host's logits / accumulators for every test sample,
//!   and the test inputs, in the little-endian files the firmware streams.
//! - [`tensors`]: every tensor as a CSV file (`--format csv`).
//! - [`bundle`]: all of the above written next to a checkpoint
//!   ([`write_bundle`]), what `host train` and `host emit` call.
//! - [`error`]: why an export fails ([`ExportError`]).
//!
//! Every output is a pure function of the checkpoint and the data: emitting
//! the same checkpoint twice gives the same bytes.

pub mod bundle;
pub mod error;
pub mod predictions;
pub mod qnet;
pub mod quantize;
pub mod rust;
pub mod tensors;

pub use bundle::{stage_bundle, write_bundle, BundleSummary};
pub use error::ExportError;
pub use qnet::{QInput, QLayer, QNet, Rescale};
pub use quantize::quantize_calibrated;
