//! What a training run reports, and why it can stop early.

use crate::model::Model;

/// Figures of one finished epoch.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct EpochMetrics {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean cross-entropy over the epoch's training samples.
    pub train_loss: f64,
    /// Fraction of training samples predicted right (before each update).
    pub train_accuracy: f64,
    /// Accuracy on the evaluation set (test or validation).
    pub eval_accuracy: f64,
    /// Learning rate at the end of the epoch.
    pub learning_rate: f32,
    /// Wall time of the epoch's training steps, in seconds.
    pub seconds: f64,
    /// Training throughput of the epoch.
    pub samples_per_second: f64,
    /// Threads the epoch's last part took (fewer than `--threads` for a
    /// small network or while other programs keep cores busy:
    /// [`threads`](super::threads)).
    pub threads: usize,
}

/// Why training stopped early.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Loss or parameters became NaN/infinite.
    #[error(
        "training diverged in epoch {epoch} (loss = {loss}); try a lower --lr than {learning_rate}"
    )]
    Diverged {
        /// The epoch it happened in.
        epoch: usize,
        /// The offending batch loss.
        loss: f32,
        /// The configured peak learning rate.
        learning_rate: f32,
    },
    /// A configuration value out of range.
    #[error("{0}")]
    Config(String),
    /// The dataset does not fit the network.
    #[error("{0}")]
    Data(String),
    /// The observer asked to stop (e.g. Ctrl-C).
    #[error("interrupted")]
    Interrupted,
}

/// Receives progress; the CLI draws bars and lines, tests stay quiet.
pub trait Observer {
    /// `done` of `total` samples of `epoch` processed; `loss` is the running mean.
    fn batch(&mut self, _epoch: usize, _done: usize, _total: usize, _loss: f64) {}
    /// Asked before every optimiser step; returning `true` stops training
    /// with [`TrainError::Interrupted`] at that batch boundary, before the
    /// step (e.g. after Ctrl-C). Keep it cheap: an atomic load.
    fn should_stop(&mut self) -> bool {
        false
    }
    /// An epoch finished; the model after it is passed for checkpointing.
    /// Returning `false` stops training (e.g. after Ctrl-C).
    fn epoch(&mut self, _metrics: &EpochMetrics, _model: &Model) -> bool {
        true
    }
}

/// An observer that ignores everything.
#[derive(Debug, Default)]
pub struct Quiet;
impl Observer for Quiet {}
