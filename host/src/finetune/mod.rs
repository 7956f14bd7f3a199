//! Fine-tuning the output layer, step for step as the firmware does it.
//!
//! The firmware (`firmware/src/bin/finetune.rs`) keeps every layer but the
//! last in flash, copies the output layer into RAM and trains it one sample
//! at a time with SGD and momentum. [`OutputTuner`] runs the same steps on a
//! run-time [`Net`], calling the same `tinymlp` functions in the same order:
//!
//! ```text
//! h  = the frozen layers of x         kernels::matvec + relu, layer after layer
//! z  = W·h + b                        kernels::matvec               (Dense::forward)
//! dz = softmax(z) − onehot(target)    cross_entropy_grad
//! gW = 0; gW += dz ⊗ h; gb = dz       kernels::rank1 + bias add     (Dense::accumulate_gradients)
//! W, b: v = μ·v + g; p −= lr·v        Sgd::update_slice, weights then bias (Sgd::step)
//! ```
//!
//! so the parameters after `N` steps are the same bits on both sides. The
//! files the firmware reads (the samples and [`expected_file`]) come from
//! `host finetune`.
//!
//! [`layers`] trains every layer (or a network from scratch) as the
//! firmware's `train` program does.

pub mod layers;

use tinymlp::activation::relu;
use tinymlp::{argmax, cross_entropy_grad, kernels, Sgd, TensorKind};

use crate::data::{Dataset, Shape};
use crate::model::{Model, Net};

/// Magic of the file of expected results the firmware checks itself against.
pub const EXPECTED_MAGIC: [u8; 8] = *b"TMLPFT\x01\x00";

/// The activations that enter the output layer: every layer but the last,
/// ReLU after each (for a network without hidden layers, `x` itself).
pub fn features(net: &Net, x: &[f32]) -> Vec<f32> {
    let layers = net.architecture().layers();
    let mut current = x.to_vec();
    for l in 0..layers - 1 {
        let layer = net.layer(l);
        let mut next = vec![0.0; layer.outputs()];
        kernels::matvec(layer.weights, layer.bias, &current, &mut next);
        relu(&mut next);
        current = next;
    }
    current
}

/// The logits of the output layer of `net` for the features `h`.
pub fn head_logits(net: &Net, h: &[f32]) -> Vec<f32> {
    let layer = net.layer(net.architecture().layers() - 1);
    let mut logits = vec![0.0; layer.outputs()];
    kernels::matvec(layer.weights, layer.bias, h, &mut logits);
    logits
}

/// Trains the output layer of a network, one sample a step: what the
/// firmware keeps in RAM (gradients and momentum of that layer).
#[derive(Clone, Debug)]
pub struct OutputTuner {
    /// The optimiser (batch 1: gradient scale 1).
    pub sgd: Sgd,
    grad_w: Vec<f32>,
    grad_b: Vec<f32>,
    vel_w: Vec<f32>,
    vel_b: Vec<f32>,
}

impl OutputTuner {
    /// Zero gradients and momentum for the output layer of `net`.
    pub fn new(net: &Net, sgd: Sgd) -> Self {
        let layer = net.layer(net.architecture().layers() - 1);
        let (w, b) = (layer.weights.len(), layer.bias.len());
        Self {
            sgd,
            grad_w: vec![0.0; w],
            grad_b: vec![0.0; b],
            vel_w: vec![0.0; w],
            vel_b: vec![0.0; b],
        }
    }

    /// One SGD step of the output layer on the scaled input `x` of class
    /// `target`; returns the loss before the step.
    ///
    /// # Panics
    /// If `x` is not the network's input width or `target` not a class.
    pub fn step(&mut self, net: &mut Net, x: &[f32], target: usize) -> f32 {
        let h = features(net, x);
        let logits = head_logits(net, &h);
        let mut d_logits = vec![0.0; logits.len()];
        let loss = cross_entropy_grad(&logits, target, &mut d_logits);
        self.grad_w.fill(0.0);
        self.grad_b.fill(0.0);
        kernels::rank1(&mut self.grad_w, &d_logits, &h);
        for (b, d) in self.grad_b.iter_mut().zip(&d_logits) {
            *b += d;
        }
        let last = net.architecture().layers() - 1;
        let layer = net.layer_mut(last);
        self.sgd.update_slice(
            TensorKind::Weight,
            layer.weights,
            &self.grad_w,
            &mut self.vel_w,
            1.0,
        );
        self.sgd.update_slice(
            TensorKind::Bias,
            layer.bias,
            &self.grad_b,
            &mut self.vel_b,
            1.0,
        );
        loss
    }
}

/// Fine-tunes `model`'s output layer on every sample of `data`, in order,
/// one step each; returns the mean loss of the steps.
pub fn fine_tune(model: &mut Model, data: &Dataset, sgd: Sgd) -> f32 {
    let mut tuner = OutputTuner::new(&model.net, sgd);
    let mut x = vec![0.0; model.inputs()];
    let mut total = 0.0f64;
    for i in 0..data.len() {
        model.input(data, i, &mut x);
        total += f64::from(tuner.step(&mut model.net, &x, data.label(i)));
    }
    (total / data.len().max(1) as f64) as f32
}

/// Correctly classified samples of `data`.
pub fn correct(model: &Model, data: &Dataset) -> usize {
    let mut x = vec![0.0; model.inputs()];
    (0..data.len())
        .filter(|&i| {
            model.input(data, i, &mut x);
            model.net.predict(&x) == data.label(i)
        })
        .count()
}

/// The file of expected results the firmware compares itself with, bit for bit
/// (all little-endian):
///
/// ```text
/// offset 0   8 bytes   magic b"TMLPFT\x01\x00"
/// offset 8   u32       features H (inputs of the output layer)
/// offset 12  u32       classes C
/// offset 16  u32       training steps N (samples of the training file, in order)
/// offset 20  u32       evaluation samples M
/// offset 24  u32       learning rate (f32 bits)
/// offset 28  u32       momentum (f32 bits)
/// offset 32  u32       correct of M before fine-tuning
/// offset 36  u32       correct of M after
/// offset 40  H·C + C × u32   the trained output layer (weights row-major, then biases; f32 bits)
/// then M records of C × u32 (logits after fine-tuning, f32 bits) + u32 class
/// ```
pub fn expected_file(
    before: &Model,
    after: &Model,
    steps: usize,
    eval: &Dataset,
    sgd: Sgd,
) -> Vec<u8> {
    let net = &after.net;
    let last = net.architecture().layers() - 1;
    let (h, c) = net.architecture().layer(last);
    let u = |n: usize| u32::try_from(n).expect("fits in u32").to_le_bytes();
    let mut out = Vec::new();
    out.extend_from_slice(&EXPECTED_MAGIC);
    for n in [h, c, steps, eval.len()] {
        out.extend_from_slice(&u(n));
    }
    out.extend_from_slice(&sgd.learning_rate.to_bits().to_le_bytes());
    out.extend_from_slice(&sgd.momentum.to_bits().to_le_bytes());
    out.extend_from_slice(&u(correct(before, eval)));
    out.extend_from_slice(&u(correct(after, eval)));
    let layer = net.layer(last);
    for v in layer.weights.iter().chain(layer.bias) {
        out.extend_from_slice(&v.to_bits().to_le_bytes());
    }
    let mut x = vec![0.0; after.inputs()];
    for i in 0..eval.len() {
        after.input(eval, i, &mut x);
        let logits = net.logits(&x);
        for l in &logits {
            out.extend_from_slice(&l.to_bits().to_le_bytes());
        }
        out.extend_from_slice(&u(argmax(&logits)));
    }
    out
}

/// `data`'s images moved by `dx` columns right and `dy` rows down (negative:
/// left, up), uncovered pixels 0: a deterministic distribution shift to
/// fine-tune on.
///
/// # Errors
/// If `data` is not an image data set of `u8` pixels.
pub fn shift_images(data: &Dataset, dx: i32, dy: i32) -> Result<Dataset, String> {
    let shape = data.shape();
    let Some((rows, cols)) = shape
        .image
        .filter(|_| data.is_empty() || data.pixels(0).is_some())
    else {
        return Err(format!(
            "{}: a shift needs images of u8 pixels",
            data.name()
        ));
    };
    let mut pixels = vec![0u8; data.len() * rows * cols];
    for (i, out) in pixels.chunks_exact_mut(rows * cols).enumerate() {
        let src = data.pixels(i).expect("pixel data");
        for r in 0..rows {
            for c in 0..cols {
                let (sr, sc) = (r as i64 - i64::from(dy), c as i64 - i64::from(dx));
                if (0..rows as i64).contains(&sr) && (0..cols as i64).contains(&sc) {
                    out[r * cols + c] = src[sr as usize * cols + sc as usize];
                }
            }
        }
    }
    Dataset::from_pixels(
        format!("{} shifted by ({dx}, {dy})", data.name()),
        Shape {
            features: rows * cols,
            image: Some((rows, cols)),
        },
        pixels,
        data.labels().to_vec(),
        data.classes().clone(),
    )
    .map_err(|e| e.to_string())
}

/// A sensor's drift: every raw value `v` of a sample becomes `v · gain + offset`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Drift {
    /// Factor on every value.
    pub gain: f32,
    /// Added after the factor.
    pub offset: f32,
}

/// `data`'s raw values (numeric features) as a drifted sensor reports them:
/// a deterministic distribution shift to fine-tune on.
///
/// # Errors
/// If `data` holds pixels rather than numeric values, or a drifted value is
/// not finite.
pub fn drift_values(data: &Dataset, drift: Drift) -> Result<Dataset, String> {
    if data.pixels(0).is_some() {
        return Err(format!(
            "{}: a drift changes numeric values; this data is u8 pixels (use --shift)",
            data.name()
        ));
    }
    let n = data.features();
    let mut values = vec![0.0f32; data.len() * n];
    for (i, out) in values.chunks_exact_mut(n).enumerate() {
        data.raw_f32(i, out);
        for v in out.iter_mut() {
            *v = *v * drift.gain + drift.offset;
        }
    }
    Dataset::from_values(
        format!(
            "{} drifted (× {} + {})",
            data.name(),
            drift.gain,
            drift.offset
        ),
        data.shape(),
        values,
        data.labels().to_vec(),
        data.classes().clone(),
    )
    .map_err(|e| e.to_string())
}
