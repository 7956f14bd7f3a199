//! Element-wise activations and their derivatives.

/// ReLU in place: `x = max(x, 0)`.
#[inline]
pub fn relu(x: &mut [f32]) {
    for v in x.iter_mut() {
        // `if` rather than `f32::max`: max(NaN, 0) is 0, which would hide a diverged layer.
        if *v < 0.0 {
            *v = 0.0;
        }
    }
}

/// Back-propagates through ReLU given its *output* `y`: `grad[i] = 0` where `y[i] <= 0`.
///
/// The derivative at exactly 0 is taken as 0 (as PyTorch does).
#[inline]
pub fn relu_backward(y: &[f32], grad: &mut [f32]) {
    for (g, &y) in grad.iter_mut().zip(y) {
        if y <= 0.0 {
            *g = 0.0;
        }
    }
}

/// Logistic sigmoid `1 / (1 + e^-x)`.
#[inline]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + libm::expf(-x))
}

/// Sigmoid in place.
pub fn sigmoid_slice(x: &mut [f32]) {
    for v in x.iter_mut() {
        *v = sigmoid(*v);
    }
}

/// Derivative of the sigmoid expressed through its output `s = sigmoid(x)`: `s·(1−s)`.
#[inline]
pub fn sigmoid_derivative(s: f32) -> f32 {
    s * (1.0 - s)
}

/// Back-propagates through a sigmoid given its output `y`: `grad[i] *= y[i]·(1−y[i])`.
pub fn sigmoid_backward(y: &[f32], grad: &mut [f32]) {
    for (g, &y) in grad.iter_mut().zip(y) {
        *g *= sigmoid_derivative(y);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relu_and_its_gradient() {
        let mut x = [-2.0, -0.0, 0.0, 0.5, 3.0];
        relu(&mut x);
        assert_eq!(x, [0.0, -0.0, 0.0, 0.5, 3.0]);
        let mut g = [1.0; 5];
        relu_backward(&x, &mut g);
        assert_eq!(g, [0.0, 0.0, 0.0, 1.0, 1.0]);
        let mut nan = [f32::NAN];
        relu(&mut nan);
        assert!(nan[0].is_nan(), "ReLU must not swallow NaN");
    }

    #[test]
    fn sigmoid_matches_finite_difference() {
        for &x in &[-4.0f32, -1.0, 0.0, 0.3, 2.5] {
            let h = 1e-2;
            let numeric = (sigmoid(x + h) - sigmoid(x - h)) / (2.0 * h);
            let analytic = sigmoid_derivative(sigmoid(x));
            assert!(
                (numeric - analytic).abs() < 1e-4,
                "x={x}: {numeric} vs {analytic}"
            );
        }
        assert_eq!(sigmoid(0.0), 0.5);
        assert_eq!(sigmoid(-200.0), 0.0);
        assert_eq!(sigmoid(200.0), 1.0);
        let mut v = [0.0f32, 200.0];
        sigmoid_slice(&mut v);
        let mut g = [1.0f32, 1.0];
        sigmoid_backward(&v, &mut g);
        assert_eq!(g, [0.25, 0.0]);
    }
}
