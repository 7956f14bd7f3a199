//! Batch kernels against per-sample loops, and one whole mini-batch step.
//!
//! Kernel throughput is in multiply-accumulates (elem/s = MAC/s); the training
//! steps report samples/s.

use std::hint::black_box;

use benches::{config, labels, pixel_inputs, random_matrix, random_vector, relu_like_rows};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tinymlp::batch::{forward_batch, matvec_t_batch, rank_k, BatchNetwork};
use tinymlp::kernels::{matvec, matvec_t, rank1};
use tinymlp::{Mlp, Mlp2, Rng, Sgd};

fn forward<const IN: usize, const OUT: usize>(c: &mut Criterion, rng: &mut Rng, batches: &[usize]) {
    let w = random_matrix::<IN, OUT>(rng);
    let b = random_vector::<OUT>(rng);
    let xs = pixel_inputs::<IN>(rng, 32);
    let mut ys = vec![[0.0; OUT]; 32];
    let mut g = c.benchmark_group(format!("forward_{IN}x{OUT}"));
    for &n in batches {
        g.throughput(Throughput::Elements((IN * OUT * n) as u64));
        g.bench_function(BenchmarkId::new("per_sample", n), |bench| {
            bench.iter(|| {
                for (x, y) in xs[..n].iter().zip(&mut ys) {
                    matvec(black_box(&w), &b, x, y);
                }
            })
        });
        g.bench_function(BenchmarkId::new("batch", n), |bench| {
            bench.iter(|| forward_batch(black_box(&w), &b, &xs[..n], &mut ys[..n]))
        });
    }
    g.finish();
}

fn gradient<const IN: usize, const OUT: usize>(c: &mut Criterion, rng: &mut Rng) {
    let mut grad = random_matrix::<IN, OUT>(rng);
    let xs = pixel_inputs::<IN>(rng, 32);
    let dense: Vec<[f32; OUT]> = (0..32)
        .map(|_| random_vector::<OUT>(rng).map(|v| v * 1e-6))
        .collect();
    let relu = relu_like_rows::<OUT>(rng, 32);
    let mut g = c.benchmark_group(format!("rank_k_{IN}x{OUT}"));
    for (kind, dys) in [("dense", &dense), ("relu", &relu)] {
        for n in [16, 32] {
            // MACs actually performed: rows with a zero gradient are skipped.
            let macs = dys[..n].iter().flatten().filter(|&&d| d != 0.0).count() * IN;
            g.throughput(Throughput::Elements(macs as u64));
            g.bench_function(BenchmarkId::new(format!("per_sample_{kind}"), n), |bench| {
                bench.iter(|| {
                    for (dy, x) in dys[..n].iter().zip(&xs) {
                        rank1(&mut grad, black_box(dy), x);
                    }
                })
            });
            g.bench_function(BenchmarkId::new(format!("batch_{kind}"), n), |bench| {
                bench.iter(|| rank_k(&mut grad, black_box(&dys[..n]), &xs[..n]))
            });
        }
    }
    g.finish();
}

fn transposed<const IN: usize, const OUT: usize>(c: &mut Criterion, rng: &mut Rng) {
    let w = random_matrix::<IN, OUT>(rng);
    let dys = relu_like_rows::<OUT>(rng, 32);
    let mut dxs = vec![[0.0; IN]; 32];
    let mut g = c.benchmark_group(format!("matvec_t_{IN}x{OUT}"));
    g.throughput(Throughput::Elements((IN * OUT * 32) as u64));
    g.bench_function(BenchmarkId::new("per_sample", 32), |bench| {
        bench.iter(|| {
            for (dy, dx) in dys.iter().zip(&mut dxs) {
                matvec_t(black_box(&w), dy, dx);
            }
        })
    });
    g.bench_function(BenchmarkId::new("batch", 32), |bench| {
        bench.iter(|| matvec_t_batch(black_box(&w), &dys, &mut dxs))
    });
    g.finish();
}

/// One SGD step on a mini-batch of 32: forward, backward, update.
fn step<N: BatchNetwork<784, 10> + Clone>(c: &mut Criterion, name: &str, mut net: Box<N>) {
    let mut rng = Rng::new(7);
    net.init(&mut rng);
    let xs = pixel_inputs::<784>(&mut rng, 32);
    let ys = labels(&mut rng, 32, 10);
    let mut grads = net.clone();
    let mut velocity = net.clone();
    velocity.set_zero();
    let sgd = Sgd {
        learning_rate: 0.01,
        momentum: 0.9,
        weight_decay: 1e-4,
        nesterov: false,
    };
    let mut g = c.benchmark_group(format!("step_{name}"));
    g.throughput(Throughput::Elements(32));
    let mut scratch = N::Scratch::default();
    g.bench_function(BenchmarkId::new("per_sample", 32), |bench| {
        bench.iter(|| {
            grads.set_zero();
            for (x, &y) in xs.iter().zip(&ys) {
                net.train_sample(x, y as usize, &mut scratch, &mut grads);
            }
            sgd.step(&mut *net, &grads, &mut velocity, 1.0 / 32.0);
        })
    });
    let mut batch_scratch = Box::new(N::BatchScratch::<32>::default());
    g.bench_function(BenchmarkId::new("batch", 32), |bench| {
        bench.iter(|| {
            grads.set_zero();
            net.train_batch(&xs, &ys, &mut batch_scratch, &mut grads);
            sgd.step(&mut *net, &grads, &mut velocity, 1.0 / 32.0);
        })
    });
    g.finish();
}

fn batch(c: &mut Criterion) {
    let mut rng = Rng::new(2);
    forward::<784, 64>(c, &mut rng, &[16, 32]);
    forward::<784, 256>(c, &mut rng, &[32]);
    gradient::<784, 64>(c, &mut rng);
    transposed::<256, 128>(c, &mut rng);
    step(c, "784-64-10", Box::new(Mlp::<784, 64, 10>::zeroed()));
    step(
        c,
        "784-256-128-10",
        Box::new(Mlp2::<784, 256, 128, 10>::zeroed()),
    );
}

criterion_group! { name = benches; config = config(); targets = batch }
criterion_main!(benches);
