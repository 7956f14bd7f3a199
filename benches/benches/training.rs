//! Whole-epoch training throughput of `host train`'s loop (784-64-10, batch
//! 32, ±1 px shifts, Nesterov SGD: the defaults for MNIST), with 1 thread
//! (the sharded epoch) and 2 threads (the row split), in samples/s.
//!
//! An "epoch" here is 6,000 real MNIST images (188 optimiser steps), so the
//! per-step cost is the reported time / 188.

use std::time::Duration;

use benches::mnist_train;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use host::train::{self, Quiet, TrainConfig};

const SAMPLES: usize = 6000;

fn training(c: &mut Criterion) {
    let train_set = mnist_train(SAMPLES);
    let eval_set = train_set.take(1);
    let mut g = c.benchmark_group("epoch_784-64-10_batch32");
    g.throughput(Throughput::Elements(SAMPLES as u64));
    g.sample_size(10).measurement_time(Duration::from_secs(3));
    for threads in [1, 2] {
        let config = TrainConfig {
            epochs: Some(1),
            threads,
            ..TrainConfig::default()
        };
        g.bench_function(format!("threads_{threads}"), |b| {
            b.iter(|| train::train(&config, &train_set, &eval_set, &mut Quiet).expect("training"))
        });
    }
    g.finish();
}

criterion_group! { name = benches; config = benches::config(); targets = training }
criterion_main!(benches);
