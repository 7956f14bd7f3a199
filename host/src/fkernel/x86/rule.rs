//! How an SGD step uses the velocity, as the input-major update loops of
//! both vector forms take it: a const parameter (`RULE`), chosen once per
//! input rather than tested per vector.

use tinymlp::Sgd;

/// No momentum: the velocity neither read nor written.
pub(in crate::fkernel) const PLAIN: u8 = 0;
/// Momentum: the step along the new velocity.
pub(in crate::fkernel) const MOMENTUM: u8 = 1;
/// Nesterov momentum: the step along the gradient plus momentum times the
/// new velocity.
pub(in crate::fkernel) const NESTEROV: u8 = 2;

/// The rule of `sgd`.
pub(in crate::fkernel) fn of(sgd: &Sgd) -> u8 {
    match (sgd.momentum == 0.0, sgd.nesterov) {
        (true, _) => PLAIN,
        (false, false) => MOMENTUM,
        (false, true) => NESTEROV,
    }
}
