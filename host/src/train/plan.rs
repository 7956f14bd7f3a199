//! One epoch's work, as both parallel strategies take it.

use super::inputs::{Inputs, Sample};
use super::observer::TrainError;
use super::optimizer::Optimizer;
use super::schedule::OneCycle;

/// Samples per gradient shard: the unit of parallel work, and of summation
/// order (the model does not depend on the thread count).
pub const SHARD: usize = 16;

/// What one epoch needs besides the network.
#[derive(Clone, Copy, Debug)]
pub struct EpochPlan<'a> {
    /// 1-based epoch number.
    pub epoch: usize,
    /// The epoch's samples in order.
    pub samples: &'a [Sample],
    /// Where their inputs come from.
    pub inputs: Inputs<'a>,
    /// Samples per optimiser step.
    pub batch_size: usize,
    /// The learning rate of every step.
    pub schedule: &'a OneCycle,
    /// Global number of this epoch's first step.
    pub first_step: usize,
    /// The update rule.
    pub optimizer: Optimizer,
    /// The configured peak learning rate (for messages).
    pub peak_rate: f32,
    /// Where `samples` lie in their epoch, when they are one part of it.
    pub part: EpochPart,
}

/// Where an epoch's part lies in it: the epoch may run as several parts
/// (each on its own thread count, [`threads`](super::threads)), one after
/// the other, each carrying on from the sums of those before.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EpochPart {
    /// The sums of the parts before (loss added batch by batch across them,
    /// so in the same order as in one part).
    pub before: EpochSums,
    /// Samples of the epoch before this part.
    pub done: usize,
    /// Samples of the whole epoch.
    pub total: usize,
}

impl EpochPart {
    /// The whole epoch of `samples` samples.
    pub fn whole(samples: usize) -> Self {
        Self {
            before: EpochSums::default(),
            done: 0,
            total: samples,
        }
    }
}

/// Loss sum, correct predictions and last learning rate of an epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EpochSums {
    /// Sum of the per-sample losses (shard sums added in `f64`).
    pub loss: f64,
    /// Samples predicted right before their update.
    pub correct: usize,
    /// The learning rate of the last step.
    pub learning_rate: f32,
    /// The share of the threads' time they spent waiting for one another
    /// (measured by the row split on several threads; see
    /// [`threads`](super::threads)).
    pub waiting: Option<f64>,
}

impl EpochSums {
    /// Adds a batch's loss, or stops the run if it is not finite (the one
    /// divergence check of both epochs).
    pub fn add_loss(&mut self, loss: f64, plan: &EpochPlan<'_>) -> Result<(), TrainError> {
        if !loss.is_finite() {
            return Err(TrainError::Diverged {
                epoch: plan.epoch,
                loss: loss as f32,
                learning_rate: plan.peak_rate,
            });
        }
        self.loss += loss;
        Ok(())
    }
}
