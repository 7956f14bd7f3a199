//! End-to-end tests of tinymlp live in `tests/`: they compile the shipped,
//! emitted `model/weights.rs` and `model/weights_int8.rs` into this crate and
//! check them against the checkpoint they were emitted from.

/// The shipped f32 network, compiled from the emitted source.
pub mod f32_model {
    include!("../../model/weights.rs");
}

/// The shipped int8 network, compiled from the emitted source.
pub mod int8_model {
    include!("../../model/weights_int8.rs");
}
