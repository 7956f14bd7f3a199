//! Train, evaluate and export tinymlp networks on the desktop.

pub mod codegen;
pub mod quantize;
