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
                // std's square root, which LLVM vectorises (libm's is one
                // `sqrtss` at a time); the same IEEE root, the same bits.
                let adam = Adam {
                    learning_rate,
                    ..adam
                };
                let step = (t, grad_scale);
                adam.update_slice_with(kind, (params, grads), state, step, f32::sqrt);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Adam through [`Optimizer::update`] (`std`'s square root, vectorised)
    /// takes the bits of `tinymlp`'s `update_slice` (`libm`'s, one value at
    /// a time), step after step, over lengths that leave vector tails, with
    /// zeros, tiny and huge values among the gradients.
    #[test]
    fn adam_takes_the_bits_of_the_core_update() {
        let mut rng = rand_pcg::Pcg64::seed_from_u64(11);
        let value = |rng: &mut rand_pcg::Pcg64| match rng.random_range(0..8) {
            0 => 0.0,
            1 => -0.0,
            2 => rng.random_range(-1e-38f32..1e-38),
            3 => rng.random_range(-1e30f32..1e30),
            _ => rng.random_range(-2.0f32..2.0),
        };
        for len in [1, 7, 16, 33, 100, 1000] {
            for kind in [TensorKind::Weight, TensorKind::Bias] {
                let optimizer = Optimizer::new(true, 0.0, 0.01);
                let Optimizer::Adam(adam) = optimizer else {
                    unreachable!("asked for Adam")
                };
                let init: Vec<f32> = (0..len).map(|_| value(&mut rng)).collect();
                let (mut p1, mut m1, mut v1) = (init.clone(), vec![0.0; len], vec![0.0; len]);
                let (mut p2, mut m2, mut v2) = (init, vec![0.0; len], vec![0.0; len]);
                for step in 0..5 {
                    let grads: Vec<f32> = (0..len).map(|_| value(&mut rng)).collect();
                    let lr = 0.01 * (step + 1) as f32;
                    let state = (&mut m1[..], &mut v1[..]);
                    optimizer.update((step, lr), kind, &mut p1, &grads, state, 0.5);
                    let core = Adam {
                        learning_rate: lr,
                        ..adam
                    };
                    let t = step as u32 + 1;
                    core.update_slice(kind, &mut p2, &grads, (&mut m2, &mut v2), t, 0.5);
                    let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&p1), bits(&p2), "{len} {kind:?} step {step}");
                    assert_eq!((bits(&m1), bits(&v1)), (bits(&m2), bits(&v2)));
                }
            }
        }
    }
}
