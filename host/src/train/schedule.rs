//! Learning-rate schedules.

/// One-cycle schedule (Smith & Topin): the learning rate rises linearly from
/// `max / div` to `max` over the first `warmup` fraction of the steps, then
/// follows a cosine down to `max / final_div`. The defaults match PyTorch's
/// `OneCycleLR` (`pct_start = 0.3`, `div_factor = 25`, `final_div_factor = 1e4`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OneCycle {
    /// Peak learning rate.
    pub max: f32,
    /// Total number of optimiser steps.
    pub total_steps: usize,
    /// Fraction of the steps spent warming up.
    pub warmup: f32,
    /// Start rate is `max / div`.
    pub div: f32,
    /// Final rate is `max / final_div`.
    pub final_div: f32,
}

impl OneCycle {
    /// The PyTorch-default shape with peak `max` over `total_steps`.
    pub fn new(max: f32, total_steps: usize) -> Self {
        Self {
            max,
            total_steps,
            warmup: 0.3,
            div: 25.0,
            final_div: 1e4,
        }
    }

    /// Learning rate for step `step` (0-based).
    pub fn rate(&self, step: usize) -> f32 {
        let total = self.total_steps.max(1) as f32;
        let warm_steps = (self.warmup * total).max(1.0);
        let t = step as f32;
        let start = self.max / self.div;
        let end = self.max / self.final_div;
        if t < warm_steps {
            start + (self.max - start) * t / warm_steps
        } else {
            let progress = ((t - warm_steps) / (total - warm_steps).max(1.0)).min(1.0);
            end + (self.max - end) * 0.5 * (1.0 + (std::f32::consts::PI * progress).cos())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rises_then_anneals() {
        let s = OneCycle::new(0.1, 1000);
        assert!((s.rate(0) - 0.004).abs() < 1e-6);
        assert!((s.rate(300) - 0.1).abs() < 1e-6);
        assert!(s.rate(150) > s.rate(0) && s.rate(150) < s.rate(300));
        assert!(s.rate(600) < s.rate(300) && s.rate(600) > s.rate(999));
        assert!((s.rate(1000) - 1e-5).abs() < 1e-7);
    }
}
