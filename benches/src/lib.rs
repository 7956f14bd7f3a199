//! Shared set-up for the criterion benchmarks in `benches/` (one file per theme).
//!
//! Run them all with `cargo bench -p benches`, or one theme with
//! `cargo bench -p benches --bench kernels`. `-- --quick` gives rough numbers fast.

use std::time::Duration;

use criterion::Criterion;
use tinymlp::batch::pixels_to_inputs;
use tinymlp::Rng;

/// Modest sample counts and times so the whole suite stays quick on a shared machine.
pub fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1200))
        .noise_threshold(0.05)
}

/// A heap-allocated `OUT × IN` matrix with entries uniform in `[-1, 1)`.
pub fn random_matrix<const IN: usize, const OUT: usize>(rng: &mut Rng) -> Box<[[f32; IN]; OUT]> {
    let mut m: Box<[[f32; IN]; OUT]> = vec![[0.0; IN]; OUT].into_boxed_slice().try_into().unwrap();
    for v in m.as_flattened_mut() {
        *v = rng.uniform(-1.0, 1.0);
    }
    m
}

/// A vector with entries uniform in `[-1, 1)`.
pub fn random_vector<const N: usize>(rng: &mut Rng) -> [f32; N] {
    core::array::from_fn(|_| rng.uniform(-1.0, 1.0))
}

/// `n` rows where about half the entries are zero, like gradients after a ReLU.
pub fn relu_like_rows<const N: usize>(rng: &mut Rng, n: usize) -> Vec<[f32; N]> {
    (0..n)
        .map(|_| {
            core::array::from_fn(|_| {
                let v = rng.uniform(-1.0, 1.0);
                if v < 0.0 {
                    0.0
                } else {
                    v
                }
            })
        })
        .collect()
}

/// `n` MNIST-like inputs: 8-bit pixels, 80 % background, converted to `p / 255`.
pub fn pixel_inputs<const IN: usize>(rng: &mut Rng, n: usize) -> Vec<[f32; IN]> {
    let pixels: Vec<[u8; IN]> = (0..n)
        .map(|_| {
            core::array::from_fn(|_| {
                if rng.uniform(0.0, 1.0) < 0.8 {
                    0
                } else {
                    rng.uniform(0.0, 256.0) as u8
                }
            })
        })
        .collect();
    let mut xs = vec![[0.0; IN]; n];
    pixels_to_inputs(&pixels, &mut xs);
    xs
}

/// `n` class labels in `0..classes`.
pub fn labels(rng: &mut Rng, n: usize, classes: u32) -> Vec<u8> {
    (0..n).map(|_| rng.below(classes) as u8).collect()
}
