//! Adam: per-parameter step sizes from running moments of the gradient.

use crate::params::{Parameters, TensorKind};

/// Adam with L2 weight decay on weight matrices (PyTorch's `torch.optim.Adam`
/// update, with `weight_decay` added to the gradient as there).
///
/// For each parameter `p` with accumulated gradient `g`, at step `t` (1-based):
///
/// ```text
/// g' = g·grad_scale + weight_decay·p      (weights only, not biases)
/// m  = β1·m + (1−β1)·g'
/// v  = β2·v + (1−β2)·g'²
/// p -= lr · (m / (1−β1^t)) / (√(v / (1−β2^t)) + ε)
/// ```
///
/// Every operation is IEEE single precision in this order (the powers come
/// from `libm`, which computes them in software), so the host and a
/// microcontroller take bit-identical steps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adam {
    /// Step size.
    pub learning_rate: f32,
    /// Decay of the first moment (PyTorch: 0.9).
    pub beta1: f32,
    /// Decay of the second moment (PyTorch: 0.999).
    pub beta2: f32,
    /// Added to the root of the second moment (PyTorch: 1e-8).
    pub epsilon: f32,
    /// L2 penalty applied to weight matrices.
    pub weight_decay: f32,
}

impl Adam {
    /// PyTorch's defaults with the given learning rate (0.001 there).
    pub const fn new(learning_rate: f32) -> Self {
        Self {
            learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            weight_decay: 0.0,
        }
    }

    /// Applies update number `t` (1 for the first) in place. `m` and `v` are
    /// the moment buffers (start from zero) and must be kept between steps.
    pub fn step<P: Parameters>(
        &self,
        params: &mut P,
        grads: &P,
        (m, v): (&mut P, &mut P),
        t: u32,
        grad_scale: f32,
    ) {
        for i in 0..P::TENSORS {
            self.update_slice(
                P::tensor_info(i).kind,
                params.tensor_mut(i),
                grads.tensor(i),
                (m.tensor_mut(i), v.tensor_mut(i)),
                t,
                grad_scale,
            );
        }
    }

    /// The update of [`step`](Self::step) on one slice of one tensor.
    ///
    /// Element-wise, so updating a tensor in any number of pieces gives
    /// exactly the bits of one `step`.
    pub fn update_slice(
        &self,
        kind: TensorKind,
        params: &mut [f32],
        grads: &[f32],
        state: (&mut [f32], &mut [f32]),
        t: u32,
        grad_scale: f32,
    ) {
        let step = (t, grad_scale);
        self.update_slice_with(kind, (params, grads), state, step, libm::sqrtf);
    }

    /// [`update_slice`](Self::update_slice) with the square root given:
    /// IEEE's, correctly rounded, as every target's `libm::sqrtf` and
    /// `f32::sqrt` in `std` are, so the bits are the same. It is a
    /// parameter because `libm` computes it one value at a time (inline
    /// assembly on x86), while `std`'s lets LLVM vectorise the whole loop.
    pub fn update_slice_with(
        &self,
        kind: TensorKind,
        (params, grads): (&mut [f32], &[f32]),
        (m, v): (&mut [f32], &mut [f32]),
        (t, grad_scale): (u32, f32),
        sqrt: impl Fn(f32) -> f32,
    ) {
        let decay = kind.decay(self.weight_decay);
        let t = t.max(1) as f32;
        let correction1 = 1.0 - libm::powf(self.beta1, t);
        let correction2 = 1.0 - libm::powf(self.beta2, t);
        let (b1, b2) = (self.beta1, self.beta2);
        for (((p, m), v), &g) in params
            .iter_mut()
            .zip(m.iter_mut())
            .zip(v.iter_mut())
            .zip(grads)
        {
            let g = g * grad_scale + decay * *p;
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * (g * g);
            let m_hat = *m / correction1;
            let v_hat = *v / correction2;
            *p -= self.learning_rate * m_hat / (sqrt(v_hat) + self.epsilon);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two steps on one weight, against the same formula written out in f64
    /// (the values are chosen so f32 and f64 agree to 6 digits).
    #[test]
    fn follows_the_pytorch_update_rule() {
        let adam = Adam {
            weight_decay: 0.1,
            ..Adam::new(0.01)
        };
        let (mut p, mut m, mut v) = ([1.0f32], [0.0f32], [0.0f32]);
        let (mut pe, mut me, mut ve) = (1.0f64, 0.0f64, 0.0f64);
        for (t, g) in [(1, 0.5f32), (2, -0.25)] {
            adam.update_slice(TensorKind::Weight, &mut p, &[g], (&mut m, &mut v), t, 1.0);
            let g = f64::from(g) + 0.1 * pe;
            me = 0.9 * me + 0.1 * g;
            ve = 0.999 * ve + 0.001 * g * g;
            let mh = me / (1.0 - 0.9f64.powi(t as i32));
            let vh = ve / (1.0 - 0.999f64.powi(t as i32));
            pe -= 0.01 * mh / (vh.sqrt() + 1e-8);
            assert!(
                (f64::from(p[0]) - pe).abs() < 1e-6,
                "step {t}: {} vs {pe}",
                p[0]
            );
        }
        // The first step of Adam moves every parameter by about the learning rate.
        let (mut p, mut m, mut v) = ([0.0f32; 3], [0.0f32; 3], [0.0f32; 3]);
        adam.update_slice(
            TensorKind::Bias,
            &mut p,
            &[3.0, -1e-3, 0.0],
            (&mut m, &mut v),
            1,
            1.0,
        );
        assert!((p[0] + 0.01).abs() < 1e-6 && (p[1] - 0.01).abs() < 1e-5 && p[2] == 0.0);
    }
}
