//! Whole networks, one sample at a time: inference latency and a training
//! sample of the const-generic chain (`tinymlp::Mlp`, what firmware runs),
//! and the same forward pass through `host`'s run-time-shaped `Net`.

use std::hint::black_box;

use benches::{config, labels, pixel_inputs};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use host::model::{Architecture, HiddenLayers, Net};
use tinymlp::{Mlp, Mlp2, Network, Rng};

fn per_sample<N: Network<784, 10> + Clone>(c: &mut Criterion, name: &str, mut net: Box<N>) {
    let mut rng = Rng::new(3);
    net.init(&mut rng);
    let xs: Vec<[f32; 784]> = pixel_inputs(&mut rng, 64, 784)
        .chunks_exact(784)
        .map(|x| x.try_into().unwrap())
        .collect();
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
            net.train_sample(
                black_box(&xs[i]),
                usize::from(ys[i]),
                &mut scratch,
                &mut grads,
            )
        })
    });
    g.finish();
}

/// The run-time-shaped network of the host (same bits as the chain).
fn host_net(c: &mut Criterion, name: &str, hidden: &[usize]) {
    let arch = Architecture::new(784, &HiddenLayers(hidden.to_vec()), 10).unwrap();
    let net = Net::initialised(&arch, 3);
    let mut rng = Rng::new(3);
    let xs = pixel_inputs(&mut rng, 64, 784);
    let mut g = c.benchmark_group(format!("network_{name}"));
    g.throughput(Throughput::Elements(1));
    let mut samples = xs.chunks_exact(784).cycle();
    g.bench_function("host_net_logits_batch1", |bench| {
        bench.iter(|| black_box(net.logits(black_box(samples.next().unwrap()))[0]))
    });
    g.finish();
}

fn network(c: &mut Criterion) {
    per_sample(c, "784-64-10", Box::new(Mlp::<784, 64, 10>::zeroed()));
    host_net(c, "784-64-10", &[64]);
    per_sample(
        c,
        "784-256-128-10",
        Box::new(Mlp2::<784, 256, 128, 10>::zeroed()),
    );
    host_net(c, "784-256-128-10", &[256, 128]);
}

criterion_group! { name = benches; config = config(); targets = network }
criterion_main!(benches);
