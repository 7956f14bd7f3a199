//! # tinymlp
//!
//! A small multi-layer perceptron that trains on a desktop and runs, bit for
//! bit the same, inside microcontroller firmware.
//!
//! - `#![no_std]`, no `alloc`, no `unsafe`: every buffer is a fixed-size array
//!   whose shape lives in the type. `Dense<784, 64>` cannot be fed a
//!   `[f32; 100]`: a wrong shape does not compile.
//! - The kernels ([`kernels`]) are hand-unrolled with a fixed summation order,
//!   so the host and a Cortex-M4 compute identical logits.
//! - Networks of any depth are one definition: [`Hidden`] puts a ReLU layer in
//!   front of any network and a [`Dense`] layer ends the chain
//!   (`Hidden<64, 32, Hidden<32, 16, Dense<16, 10>>>`); [`QHidden`] and
//!   [`QOutput`] do the same for int8 inference.
//! - Every kernel is written once over slices ([`kernels`], [`batch`]), so the
//!   host's run-time-shaped network and the const-generic one compute the same
//!   bits.
//! - Training lives here too: forward pass into caller-owned scratch, backward
//!   pass into a gradient value of the network's own type, [`Sgd`] with
//!   momentum and [`Adam`], seeded initialisation from a tiny [`Rng`].
//! - Numeric features are standardised by [`Standardize`] with the training
//!   set's statistics, on the host and on the chip alike.
//!
//! ## Example: learn XOR
//!
//! ```
//! use tinymlp::{Mlp, Network, Parameters, Rng, Sgd};
//!
//! let data = [([0.0, 0.0], 0), ([0.0, 1.0], 1), ([1.0, 0.0], 1), ([1.0, 1.0], 0)];
//! let mut net = Mlp::<2, 8, 2>::zeroed();
//! net.init(&mut Rng::new(42));
//! let (mut grads, mut velocity) = (Mlp::zeroed(), Mlp::zeroed());
//! let mut scratch = Default::default();
//! let sgd = Sgd { learning_rate: 0.1, momentum: 0.9, weight_decay: 0.0, nesterov: false };
//! for _ in 0..500 {
//!     grads.set_zero();
//!     for (x, y) in &data {
//!         net.train_sample(x, *y, &mut scratch, &mut grads);
//!     }
//!     sgd.step(&mut net, &grads, &mut velocity, 1.0 / data.len() as f32);
//! }
//! for (x, y) in &data {
//!     assert_eq!(net.predict(x), *y);
//! }
//! ```
//!
//! ## Big networks on the heap
//!
//! Networks are plain values: `Mlp<784, 256, 10>` is 813 KB, and a trainer
//! holds three of them (parameters, gradients, momentum). On a desktop, put
//! them on the heap. A debug build of `Box::new(Mlp::zeroed())` first builds
//! the value on the stack and can overflow it (spawned threads get 2 MiB), so
//! enable the `bytemuck` feature and allocate zeroed memory directly:
//!
//! ```ignore
//! // tinymlp = { version = "0.1", features = ["bytemuck"] }
//! // bytemuck = { version = "1", features = ["extern_crate_alloc"] }
//! let mut net: Box<tinymlp::Mlp<784, 256, 10>> = bytemuck::zeroed_box();
//! ```
//!
//! On a microcontroller, trained weights are `static` items (see
//! [`Dense::new`]): they live in flash and cost no RAM.
//!
//! ## Finite numbers are the caller's contract
//!
//! The hot loops carry no run-time checks: no value is ever inspected, no
//! error returned. NaN and infinities never cause a panic or undefined
//! behaviour, but they spread, and a result computed from them is garbage.
//! Keeping values finite is the caller's job at these entry points:
//!
//! - [`Network::forward`], [`Network::logits`], [`Network::predict`],
//!   [`Network::train_sample`]: the input and the parameters must be finite
//!   (the host and the firmware feed pixels as `p / 255`, in `[0, 1]`).
//!   A NaN anywhere makes the logits NaN, and [`argmax`], which never picks a
//!   NaN, then answers class 0: a wrong answer, not an error.
//! - [`Sgd::step`]: the parameters, gradients and velocity, and the learning
//!   rate, momentum, weight decay and scale must be finite. Finite inputs can
//!   still overflow to infinity when the learning rate is too large: call
//!   [`Parameters::all_finite`] after stepping, and before saving (the host
//!   trainer checks every batch loss and the parameters after every epoch,
//!   and stops with an error before it writes a checkpoint).
//! - [`softmax`], [`cross_entropy`], [`cross_entropy_grad`] (and
//!   [`cross_entropy_grads_with`], a batch's, for a vector `expf`), [`top_k`],
//!   [`fast_confidence`]: stable for finite logits of any size (±1e4 is
//!   fine); a NaN or infinite logit gives NaN.
//! - [`Dense::new`] and [`Parameters::tensor_mut`] take weights as they come:
//!   check loaded weights with [`Parameters::all_finite`] (the host's
//!   checkpoint reader does). [`Network::init`] and [`Rng`] only produce
//!   finite values.
//!
//! The only panics are out-of-range indices: a class `target >= OUT` and a
//! tensor index `>= Parameters::TENSORS`.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod activation;
mod adam;
pub mod batch;
mod chain;
mod classify;
mod dense;
mod input;
pub mod kernels;
pub mod loss;
mod network;
mod optim;
mod params;
mod qchain;
pub mod quant;
mod rng;
mod scale;

pub use adam::Adam;
pub use chain::{Hidden, HiddenScratch, Mlp, Mlp2};
pub use classify::{fast_confidence, top_k, Ranked};
pub use dense::{Dense, OutputScratch};
pub use input::{pixels_to_input, pixels_to_inputs, PIXEL_VALUES};
pub use kernels::{Kernel, Portable};
pub use loss::{
    argmax, cross_entropy, cross_entropy_grad, cross_entropy_grads_with, exp_each, softmax,
    BatchLogits,
};
pub use network::{Network, SampleOutcome};
pub use optim::Sgd;
pub use params::{Parameters, TensorInfo, TensorKind, TensorName};
pub use qchain::{QHidden, QMlp, QNetwork, QOutput};
pub use quant::{QDense, QKernel, QPortable, QReference, Requantize};
pub use rng::Rng;
pub use scale::{
    accumulate_moments, fit_standardize, quantize_input, standardize, QuantizeInput, Standardize,
    INPUT_ZERO_POINT,
};

/// A shape mismatch is a compile error, not a run-time one:
///
/// ```compile_fail
/// use tinymlp::Dense;
/// let layer = Dense::<784, 64>::zeroed();
/// let mut y = [0.0; 64];
/// layer.forward(&[0.0; 100], &mut y); // expected `&[f32; 784]`
/// ```
///
/// ```compile_fail
/// use tinymlp::{Dense, Mlp};
/// // The hidden layer's outputs must be the output layer's inputs.
/// let net = Mlp::<784, 64, 10>::new(Dense::<784, 64>::zeroed(), Dense::<32, 10>::zeroed());
/// ```
///
/// ```compile_fail
/// use tinymlp::{Dense, Hidden, Network};
/// // At any depth: 32 outputs cannot feed a layer of 16 inputs.
/// let net = Hidden::<8, 32, Hidden<16, 4, Dense<4, 2>>>::zeroed();
/// let _ = net.predict(&[0.0; 8]);
/// ```
///
/// ```compile_fail
/// use tinymlp::{QDense, QHidden, QNetwork, QOutput, Requantize};
/// // The same for int8 chains.
/// let net = QHidden::new(QDense::<4, 3>::zeroed(), Requantize::new([0; 3], [1; 3]),
///     QOutput::new(QDense::<2, 2>::zeroed(), [1.0; 2]));
/// let _ = net.predict(&[0; 4]);
/// ```
#[cfg(doctest)]
pub struct ShapesAreCheckedAtCompileTime;
