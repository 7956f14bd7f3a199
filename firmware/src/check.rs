//! One inference, timed, and its comparison with the host's record.

use crate::host_io::word;
use crate::model::{self, Raw, CLASSES, INPUTS, KERNEL};
use crate::timer;

/// What one inference gave.
pub struct Outcome {
    /// Compared with the host bit for bit: logit bits (f32) or accumulators (int8).
    pub values: [u32; CLASSES],
    /// The class (argmax of the logits, first on ties).
    pub class: usize,
    /// Timer ticks of the whole inference, input scaling included.
    pub ticks: u64,
    /// Timer ticks of the input scaling alone.
    pub scaling_ticks: u64,
}

/// Classifies `raw` as the emitted `classify` does, through [`KERNEL`].
#[inline(never)]
pub fn infer(raw: &[Raw; INPUTS]) -> Outcome {
    let raw = core::hint::black_box(raw);
    let t0 = timer::now();
    let x = model::input(raw);
    let t1 = timer::now();
    core::hint::black_box(x);
    let t2 = timer::now();
    #[cfg(not(feature = "int8"))]
    let (values, logits) = {
        let logits = model::logits_with(raw, &KERNEL);
        (logits.map(f32::to_bits), logits)
    };
    #[cfg(feature = "int8")]
    let (values, logits) = {
        let acc = model::accumulators_with(raw, &KERNEL);
        (
            acc.map(|a| a as u32),
            tinymlp::QNetwork::dequantize(&model::MODEL, &acc),
        )
    };
    let t3 = timer::now();
    let logits = core::hint::black_box(logits);
    Outcome {
        values,
        class: tinymlp::argmax(&logits),
        ticks: timer::elapsed(t2, t3),
        scaling_ticks: timer::elapsed(t0, t1),
    }
}

/// Whether `outcome` equals the host's `record` (`CLASSES` words and the class);
/// else the index of the first differing value (`CLASSES` for the class).
pub fn compare(outcome: &Outcome, record: &[u8]) -> Result<(), usize> {
    match (0..CLASSES).find(|&c| word(record, c) != outcome.values[c]) {
        Some(c) => Err(c),
        None if word(record, CLASSES) as usize != outcome.class => Err(CLASSES),
        None => Ok(()),
    }
}
