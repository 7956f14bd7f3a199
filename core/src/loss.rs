//! Softmax, cross-entropy and argmax.

/// Index of the largest value; the first one on ties, 0 for an empty or all-NaN input.
#[inline]
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate().skip(1) {
        // `>` is false for NaN, so a NaN never wins.
        if v > values[best] || values[best].is_nan() && !v.is_nan() {
            best = i;
        }
    }
    best
}

fn max_of(values: &[f32]) -> f32 {
    values.iter().copied().fold(f32::NEG_INFINITY, f32::max)
}

/// Numerically stable softmax: `p[i] = e^(z[i]−m) / Σ e^(z[j]−m)` with `m = max z`.
///
/// Subtracting the maximum keeps every exponent ≤ 0, so logits of ±1e4 neither
/// overflow nor produce NaN.
pub fn softmax(logits: &[f32], probs: &mut [f32]) {
    let m = max_of(logits);
    let mut sum = 0.0;
    for (p, &z) in probs.iter_mut().zip(logits) {
        *p = libm::expf(z - m);
        sum += *p;
    }
    let inv = 1.0 / sum;
    for p in probs.iter_mut() {
        *p *= inv;
    }
}

/// `log Σ e^z[i]`, computed stably.
pub fn log_sum_exp(logits: &[f32]) -> f32 {
    let m = max_of(logits);
    let sum: f32 = logits.iter().map(|&z| libm::expf(z - m)).sum();
    m + libm::logf(sum)
}

/// Cross-entropy of the softmax of `logits` against class `target`: `−log p[target]`.
///
/// # Panics
/// If `target >= logits.len()`.
pub fn cross_entropy(logits: &[f32], target: usize) -> f32 {
    log_sum_exp(logits) - logits[target]
}

/// Cross-entropy and its gradient with respect to the logits, `softmax(z) − onehot(target)`.
///
/// Writes the gradient into `grad` and returns the loss.
///
/// # Panics
/// If the lengths differ or `target >= logits.len()`.
pub fn cross_entropy_grad(logits: &[f32], target: usize, grad: &mut [f32]) -> f32 {
    let mut loss = 0.0;
    let samples = BatchLogits {
        logits,
        classes: logits.len(),
        targets: |_| target,
    };
    cross_entropy_grads_with(samples, grad, exp_each, |_, l| loss = l);
    loss
}

/// `libm::expf` of every value of `values`, in place.
pub fn exp_each(values: &mut [f32]) {
    for v in values {
        *v = libm::expf(*v);
    }
}

/// The logits of a batch and each sample's target class.
#[derive(Clone, Copy, Debug)]
pub struct BatchLogits<'a, T: Fn(usize) -> usize> {
    /// `classes` logits per sample, one sample after the other.
    pub logits: &'a [f32],
    /// Logits per sample.
    pub classes: usize,
    /// The target class of sample `s`.
    pub targets: T,
}

/// [`cross_entropy_grad`] of every sample of a batch, the same bits: the
/// gradients into `grads` (laid out as the logits), each sample's loss
/// passed to `loss(s, l)` in sample order. The exponentials of the whole
/// batch are taken by one call of `exp`, which must give the bits of
/// [`exp_each`]: a caller with a vector form of `libm::expf` (the host's,
/// on sixteen values at once) passes it here.
///
/// # Panics
/// If the lengths do not fit together or a target is not a class.
pub fn cross_entropy_grads_with<T: Fn(usize) -> usize>(
    samples: BatchLogits<'_, T>,
    grads: &mut [f32],
    exp: impl FnOnce(&mut [f32]),
    mut loss: impl FnMut(usize, f32),
) {
    let (logits, classes) = (samples.logits, samples.classes);
    assert_eq!(
        logits.len(),
        grads.len(),
        "cross_entropy_grads: length mismatch"
    );
    assert!(
        classes > 0 && logits.len() % classes == 0,
        "cross_entropy_grads: not samples × classes"
    );
    let rows = || logits.chunks_exact(classes);
    for (z, g) in rows().zip(grads.chunks_exact_mut(classes)) {
        let m = max_of(z);
        for (g, &z) in g.iter_mut().zip(z) {
            *g = z - m;
        }
    }
    exp(grads);
    for (s, (z, g)) in rows().zip(grads.chunks_exact_mut(classes)).enumerate() {
        let mut sum = 0.0;
        for g in g.iter() {
            sum += *g;
        }
        let inv = 1.0 / sum;
        for g in g.iter_mut() {
            *g *= inv;
        }
        let target = (samples.targets)(s);
        g[target] -= 1.0;
        loss(s, max_of(z) + libm::logf(sum) - z[target]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_is_stable_for_huge_logits() {
        let mut p = [0.0; 4];
        softmax(&[1e4, -1e4, 0.0, 1e4], &mut p);
        assert_eq!(p, [0.5, 0.0, 0.0, 0.5]);
        softmax(&[-1e4, -1e4, -1e4, -1e4], &mut p);
        assert_eq!(p, [0.25; 4]);
        let loss = cross_entropy(&[1e4, -1e4, 0.0], 1);
        assert!(loss.is_finite() && (loss - 2e4).abs() < 1.0, "{loss}");
        let mut g = [0.0; 3];
        let l2 = cross_entropy_grad(&[1e4, -1e4, 0.0], 0, &mut g);
        assert_eq!(l2, 0.0);
        assert!(g.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn cross_entropy_gradient_matches_finite_difference() {
        let z = [0.3f32, -1.2, 2.0, 0.0];
        let mut g = [0.0; 4];
        let loss = cross_entropy_grad(&z, 2, &mut g);
        assert!((loss - cross_entropy(&z, 2)).abs() < 1e-6);
        for i in 0..4 {
            let h = 1e-2;
            let (mut zp, mut zm) = (z, z);
            zp[i] += h;
            zm[i] -= h;
            let numeric = (cross_entropy(&zp, 2) - cross_entropy(&zm, 2)) / (2.0 * h);
            assert!(
                (numeric - g[i]).abs() < 1e-3,
                "i={i}: {numeric} vs {}",
                g[i]
            );
        }
        assert!(g.iter().sum::<f32>().abs() < 1e-6);
    }

    #[test]
    fn argmax_picks_first_maximum_and_ignores_nan() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, 2.0]), 1);
        assert_eq!(argmax(&[f32::NAN, 1.0, 0.5]), 1);
        assert_eq!(argmax(&[0.0, f32::NAN, 0.5]), 2);
        assert_eq!(argmax(&[]), 0);
    }
}
