//! Shared set-up for the criterion benchmarks in `benches/` (one file per theme).
//!
//! Run them all with `cargo bench -p benches`, or one theme with
//! `cargo bench -p benches --bench kernels`. `-- --quick` gives rough numbers fast.

use std::path::Path;
use std::time::Duration;

use criterion::Criterion;
use host::data::{load, DataOptions, Dataset, Role};
use tinymlp::Rng;

/// Modest sample counts and times so the whole suite stays quick on a shared machine.
pub fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1200))
        .noise_threshold(0.05)
}

/// `n` values uniform in `[-1, 1)`: a row-major matrix or a vector.
pub fn random_values(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.uniform(-1.0, 1.0)).collect()
}

/// `n` values of which about half are zero, like gradients after a ReLU.
pub fn relu_like(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.uniform(-1.0, 1.0).max(0.0)).collect()
}

/// `n` MNIST-like pixels: 80 % background, the rest uniform in `0..=255`.
pub fn pixels(rng: &mut Rng, n: usize) -> Vec<u8> {
    (0..n)
        .map(|_| {
            if rng.uniform(0.0, 1.0) < 0.8 {
                0
            } else {
                rng.uniform(0.0, 256.0) as u8
            }
        })
        .collect()
}

/// `samples` MNIST-like inputs of `width` values each, `p / 255`, row after row.
pub fn pixel_inputs(rng: &mut Rng, samples: usize, width: usize) -> Vec<f32> {
    pixels(rng, samples * width)
        .into_iter()
        .map(|p| f32::from(p) / 255.0)
        .collect()
}

/// `n` class labels in `0..classes`.
pub fn labels(rng: &mut Rng, n: usize, classes: u32) -> Vec<u16> {
    (0..n).map(|_| rng.below(classes) as u16).collect()
}

/// The first `n` images of the MNIST training set shipped in `data/`.
pub fn mnist_train(n: usize) -> Dataset {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data");
    load(&data, &DataOptions::default(), Role::Train)
        .expect("the MNIST files in data/")
        .take(n)
}
