//! Turning logits into answers on the device: top-k classes and a fast confidence.

use heapless::Vec;
use micromath::F32Ext;

use crate::loss::softmax;

/// A class and its softmax probability.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ranked {
    /// Class index.
    pub class: usize,
    /// Softmax probability of the class, in `[0, 1]`.
    pub probability: f32,
}

/// The `K` most probable classes, best first (ties keep the lower class first).
///
/// Fixed capacity, no heap: fits a `no_std` firmware. Probabilities use the
/// exact softmax, so the host and the device print the same numbers.
///
/// ```
/// let top = tinymlp::top_k::<2, 4>(&[0.0, 3.0, 1.0, 2.0]);
/// assert_eq!((top[0].class, top[1].class), (1, 3));
/// ```
pub fn top_k<const K: usize, const N: usize>(logits: &[f32; N]) -> Vec<Ranked, K> {
    let mut probs = [0.0; N];
    softmax(logits, &mut probs);
    let mut best: Vec<Ranked, K> = Vec::new();
    for (class, &probability) in probs.iter().enumerate() {
        let candidate = Ranked { class, probability };
        // Insertion into a sorted list of at most K: K is tiny (3 or 5).
        let position = best
            .iter()
            .position(|r| probability > r.probability)
            .unwrap_or(best.len());
        if position < K {
            if best.is_full() {
                best.pop();
            }
            // Cannot fail: there is room after the pop, and position <= len.
            let _ = best.insert(position, candidate);
        }
    }
    best
}

/// Approximate probability of the top class, `1 / Σ e^(z[i] − max z)`, using
/// `micromath`'s fast `exp` (a few instructions, relative error ~1e-3 near 0).
///
/// Meant for an on-device "how sure am I" threshold where speed beats the last
/// bits; use [`top_k`] for exact probabilities.
pub fn fast_confidence<const N: usize>(logits: &[f32; N]) -> f32 {
    let m = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f32 = logits.iter().map(|&z| F32Ext::exp(z - m)).sum();
    1.0 / sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_orders_and_truncates() {
        let top = top_k::<3, 5>(&[1.0, 5.0, 1.0, 4.0, -2.0]);
        let classes: [usize; 3] = [top[0].class, top[1].class, top[2].class];
        assert_eq!(classes, [1, 3, 0]);
        assert!(top[0].probability > top[1].probability);
        let all = top_k::<5, 5>(&[0.0; 5]);
        assert_eq!(all.len(), 5);
        assert!(all.iter().all(|r| (r.probability - 0.2).abs() < 1e-6));
    }

    #[test]
    fn fast_confidence_is_close_to_exact() {
        let logits = [2.0f32, -1.0, 0.5, 3.0];
        let exact = top_k::<1, 4>(&logits)[0].probability;
        let fast = fast_confidence(&logits);
        assert!((exact - fast).abs() < 1e-2, "{exact} vs {fast}");
        assert!((fast_confidence(&[1e4, -1e4]) - 1.0).abs() < 1e-3);
    }
}
