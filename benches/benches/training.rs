//! Whole-epoch training throughput of `host train`'s loop (784-64-10, batch 32,
//! ±1 px shifts, Nesterov SGD), with 1 and 2 threads, in samples/s.
//!
//! An "epoch" here is 6,000 real MNIST images (188 optimiser steps), so the
//! per-step cost is the reported time / 188.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use host::dataset::{load_mnist, Split};
use host::train::{self, Quiet, TrainConfig};
use tinymlp::Mlp;

const SAMPLES: usize = 6000;

fn training(c: &mut Criterion) {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data");
    let train_set = load_mnist(&data, Split::Train)
        .expect("data/")
        .take(SAMPLES);
    let eval_set = train_set.take(1);
    let mut g = c.benchmark_group("epoch_784-64-10_batch32");
    g.throughput(Throughput::Elements(SAMPLES as u64));
    g.sample_size(10).measurement_time(Duration::from_secs(3));
    for threads in [1, 2] {
        let config = TrainConfig {
            epochs: 1,
            threads,
            ..TrainConfig::default()
        };
        g.bench_function(format!("threads_{threads}"), |b| {
            b.iter(|| {
                train::train::<Mlp<784, 64, 10>>(&config, &train_set, &eval_set, &mut Quiet)
                    .expect("training")
            })
        });
    }
    g.finish();
}

criterion_group! { name = benches; config = benches::config(); targets = training }
criterion_main!(benches);
