//! Whole networks, one sample at a time: inference latency and a training sample.

use std::hint::black_box;

use benches::{config, labels, pixel_inputs};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tinymlp::activation::relu;
use tinymlp::{Mlp, Mlp2, Network, Rng};

fn per_sample<N: Network<784, 10> + Clone>(c: &mut Criterion, name: &str, mut net: Box<N>) {
    let mut rng = Rng::new(3);
    net.init(&mut rng);
    let xs = pixel_inputs::<784>(&mut rng, 64);
    let ys = labels(&mut rng, 64, 10);
    let mut grads = net.clone();
    grads.set_zero();
    let mut scratch = N::Scratch::default();
    let mut g = c.benchmark_group(format!("network_{name}"));
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function("forward_f32_batch1", |bench| {
        bench.iter(|| {
            i = (i + 1) % xs.len();
            black_box(net.forward(black_box(&xs[i]), &mut scratch)[0])
        })
    });
    g.bench_function("forward_backward_sample", |bench| {
        bench.iter(|| {
            i = (i + 1) % xs.len();
            net.train_sample(black_box(&xs[i]), ys[i] as usize, &mut scratch, &mut grads)
        })
    });
    g.finish();
}

/// Batch-1 inference through the blocked kernels of `tinymlp::batch` (one
/// sample against four weight rows at a time), for comparison with
/// `Network::forward`, which uses `kernels::matvec`.
fn blocked_batch1(c: &mut Criterion) {
    let mut rng = Rng::new(3);
    let mut net = Box::new(Mlp::<784, 64, 10>::zeroed());
    net.init(&mut rng);
    let xs = pixel_inputs::<784>(&mut rng, 64);
    let (mut hidden, mut logits) = ([[0.0; 64]], [[0.0; 10]]);
    let mut g = c.benchmark_group("network_784-64-10");
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function("forward_f32_batch1_blocked", |bench| {
        bench.iter(|| {
            i = (i + 1) % xs.len();
            net.hidden
                .forward_batch(core::slice::from_ref(black_box(&xs[i])), &mut hidden);
            relu(&mut hidden[0]);
            net.output.forward_batch(&hidden, &mut logits);
            black_box(logits[0][0])
        })
    });
    g.finish();
}

fn network(c: &mut Criterion) {
    blocked_batch1(c);
    per_sample(c, "784-64-10", Box::new(Mlp::<784, 64, 10>::zeroed()));
    per_sample(
        c,
        "784-256-128-10",
        Box::new(Mlp2::<784, 256, 128, 10>::zeroed()),
    );
}

criterion_group! { name = benches; config = config(); targets = network }
criterion_main!(benches);
