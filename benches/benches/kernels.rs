//! Per-sample kernels: plain reference loops against the unrolled ones.
//!
//! Throughput is in multiply-accumulates (one MAC = 2 flops), so criterion's
//! "elem/s" reads as MAC/s.

use std::hint::black_box;

use benches::{config, random_matrix, random_vector};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tinymlp::kernels::*;
use tinymlp::Rng;

fn matvec_shape<const IN: usize, const OUT: usize>(c: &mut Criterion, rng: &mut Rng) {
    let w = random_matrix::<IN, OUT>(rng);
    let b = random_vector::<OUT>(rng);
    let x = random_vector::<IN>(rng);
    let mut y = [0.0; OUT];
    let shape = format!("{IN}x{OUT}");
    let mut g = c.benchmark_group("matvec");
    g.throughput(Throughput::Elements((IN * OUT) as u64));
    g.bench_function(BenchmarkId::new("reference", &shape), |bench| {
        bench.iter(|| matvec_ref(black_box(&w), &b, black_box(&x), &mut y))
    });
    g.bench_function(BenchmarkId::new("unrolled", &shape), |bench| {
        bench.iter(|| matvec(black_box(&w), &b, black_box(&x), &mut y))
    });
    g.finish();
}

fn matvec_t_shape<const IN: usize, const OUT: usize>(c: &mut Criterion, rng: &mut Rng) {
    let w = random_matrix::<IN, OUT>(rng);
    let dy = random_vector::<OUT>(rng);
    let mut dx = [0.0; IN];
    let shape = format!("{IN}x{OUT}");
    let mut g = c.benchmark_group("matvec_t");
    g.throughput(Throughput::Elements((IN * OUT) as u64));
    g.bench_function(BenchmarkId::new("reference", &shape), |bench| {
        bench.iter(|| matvec_t_ref(black_box(&w), black_box(&dy), &mut dx))
    });
    g.bench_function(BenchmarkId::new("unrolled", &shape), |bench| {
        bench.iter(|| matvec_t(black_box(&w), black_box(&dy), &mut dx))
    });
    g.finish();
}

fn rank1_shape<const IN: usize, const OUT: usize>(c: &mut Criterion, rng: &mut Rng) {
    let mut grad = random_matrix::<IN, OUT>(rng);
    // Dense gradient (no zero rows to skip): the worst case.
    let dy = random_vector::<OUT>(rng).map(|v| v * 1e-6);
    let x = random_vector::<IN>(rng);
    let shape = format!("{IN}x{OUT}");
    let mut g = c.benchmark_group("rank1");
    g.throughput(Throughput::Elements((IN * OUT) as u64));
    g.bench_function(BenchmarkId::new("reference", &shape), |bench| {
        bench.iter(|| rank1_ref(&mut grad, black_box(&dy), black_box(&x)))
    });
    g.bench_function(BenchmarkId::new("unrolled", &shape), |bench| {
        bench.iter(|| rank1(&mut grad, black_box(&dy), black_box(&x)))
    });
    g.finish();
}

fn vector_kernels(c: &mut Criterion, rng: &mut Rng) {
    let x = random_vector::<784>(rng);
    let w = random_vector::<784>(rng);
    let mut y = random_vector::<784>(rng);
    let mut g = c.benchmark_group("dot");
    g.throughput(Throughput::Elements(784));
    g.bench_function(BenchmarkId::new("reference", 784), |bench| {
        bench.iter(|| dot_ref(black_box(&w), black_box(&x)))
    });
    g.bench_function(BenchmarkId::new("unrolled", 784), |bench| {
        bench.iter(|| dot(black_box(&w), black_box(&x)))
    });
    g.finish();
    let mut g = c.benchmark_group("axpy");
    g.throughput(Throughput::Elements(784));
    g.bench_function(BenchmarkId::new("reference", 784), |bench| {
        bench.iter(|| axpy_ref(black_box(1e-6), black_box(&x), &mut y))
    });
    g.bench_function(BenchmarkId::new("unrolled", 784), |bench| {
        bench.iter(|| axpy(black_box(1e-6), black_box(&x), &mut y))
    });
    g.finish();
}

fn kernels(c: &mut Criterion) {
    let mut rng = Rng::new(1);
    // The hidden layer of 784-64-10, its output layer, and the big first layer of 784-256-….
    matvec_shape::<784, 64>(c, &mut rng);
    matvec_shape::<64, 10>(c, &mut rng);
    matvec_shape::<784, 256>(c, &mut rng);
    // Back-propagation through the output layer of 784-64-10 and the middle layer of 784-256-128-10.
    matvec_t_shape::<64, 10>(c, &mut rng);
    matvec_t_shape::<256, 128>(c, &mut rng);
    rank1_shape::<784, 64>(c, &mut rng);
    vector_kernels(c, &mut rng);
}

criterion_group! { name = benches; config = config(); targets = kernels }
criterion_main!(benches);
