//! The optimiser of a run: SGD with Nesterov momentum or Adam, and its state.
//!
//! Both update element by element (`tinymlp::Sgd::update_slice`,
//! `tinymlp::Adam::update_slice`), so a tensor updated in pieces — on several
//! threads, or row by row — gets exactly the bits of one whole update.

use std::fmt;
use std::str::FromStr;

use tinymlp::{Adam, Sgd, TensorKind};

use crate::model::Net;

/// `--optimizer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OptimizerChoice {
    /// SGD for pixel images (the MNIST recipe), Adam for numeric features.
    #[default]
    Auto,
    /// SGD with Nesterov momentum.
    Sgd,
    /// Adam.
    Adam,
}

impl FromStr for OptimizerChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "sgd" => Ok(Self::Sgd),
            "adam" => Ok(Self::Adam),
            _ => Err(format!(
                "unknown optimizer {s:?}: expected auto, sgd or adam"
            )),
        }
    }
}

impl fmt::Display for OptimizerChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Sgd => "sgd",
            Self::Adam => "adam",
        })
    }
}

/// A resolved optimiser with its hyper-parameters (the learning rate is set per step).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    /// SGD with Nesterov momentum and weight decay.
    Sgd(Sgd),
    /// Adam with weight decay.
    Adam(Adam),
}

impl Optimizer {
    /// The optimiser `--optimizer sgd|adam` means, with `momentum` (SGD) and `weight_decay`.
    pub fn new(adam: bool, momentum: f32, weight_decay: f32) -> Self {
        if adam {
            Self::Adam(Adam {
                weight_decay,
                ..Adam::new(0.0)
            })
        } else {
            Self::Sgd(Sgd {
                learning_rate: 0.0,
                momentum,
                weight_decay,
                nesterov: true,
            })
        }
    }

    /// `sgd` or `adam`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sgd(_) => "sgd",
            Self::Adam(_) => "adam",
        }
    }

    /// Number of state buffers the size of the network (momentum; or both moments).
    pub fn state_buffers(&self) -> usize {
        match self {
            Self::Sgd(_) => 1,
            Self::Adam(_) => 2,
        }
    }

    /// Zeroed state for `net`'s shape.
    pub fn state(&self, net: &Net) -> Vec<Net> {
        (0..self.state_buffers())
            .map(|_| Net::zeros(net.architecture()))
            .collect()
    }

    /// The update of step `step` (0-based) at `learning_rate` on one piece of
    /// one tensor: `state` holds the matching pieces of the state buffers
    /// (the second is ignored by SGD).
    pub fn update(
        &self,
        (step, learning_rate): (usize, f32),
        kind: TensorKind,
        params: &mut [f32],
        grads: &[f32],
        state: (&mut [f32], &mut [f32]),
        grad_scale: f32,
    ) {
        match *self {
            Self::Sgd(sgd) => Sgd {
                learning_rate,
                ..sgd
            }
            .update_slice(kind, params, grads, state.0, grad_scale),
            Self::Adam(adam) => {
                let t = u32::try_from(step + 1).unwrap_or(u32::MAX);
                Adam {
                    learning_rate,
                    ..adam
                }
                .update_slice(kind, params, grads, state, t, grad_scale)
            }
        }
    }
}
