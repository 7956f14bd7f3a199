//! Batch-1 inference of 784-64-10, interleaved for a busy machine:
//! `cargo bench -p benches --bench batch1 [-- ROUNDS]`.
//!
//! criterion times one function after another, so on a shared machine load
//! that comes and goes lands on some of them only. Here every round times each
//! variant once (64 inferences in a row, the inputs cycling), and the rounds
//! repeat: the **minimum** over rounds is the time without interruptions, the
//! median shows the load. Printed per variant, with both as ratios to the
//! portable int8 kernel (int8) or to the weight-streaming bound (f32).
//!
//! - int8: `tinymlp`'s reference and portable kernels, then each path of
//!   `host::qkernel` this CPU has;
//! - f32: `Network::forward` of `Mlp<784, 64, 10>` (the chips' code, row-major
//!   weights), the host's `BlockedNet::logits` of the same network (weights in
//!   blocks of rows; the same logits), and the bound: a sum over the same
//!   784 × 64 `f32` (200 KB, in L2 but not L1) in 64 independent lanes, so that
//!   only the loads limit it.

use std::hint::black_box;
use std::time::Instant;

use benches::{pixel_inputs, pixels};
use host::model::{Architecture, BlockedNet, Net};
use host::qkernel::{QFast, QPath};
use tinymlp::{
    Mlp, Network, Parameters, QDense, QHidden, QMlp, QNetwork, QOutput, Requantize, Rng,
};

/// Inferences per timed sample.
const REPS: usize = 64;

/// A named batch-1 computation; `run(i)` handles input `i`.
struct Variant<'a> {
    name: String,
    run: Box<dyn FnMut(usize) + 'a>,
    times: Vec<f64>,
}

impl<'a> Variant<'a> {
    fn new(name: impl Into<String>, run: impl FnMut(usize) + 'a) -> Self {
        let (name, run, times) = (name.into(), Box::new(run), Vec::new());
        Self { name, run, times }
    }

    /// Nanoseconds per call over `REPS` calls.
    fn time(&mut self) -> f64 {
        let start = Instant::now();
        for i in 0..REPS {
            (self.run)(i);
        }
        start.elapsed().as_secs_f64() * 1e9 / REPS as f64
    }

    fn min_median(&self) -> (f64, f64) {
        let mut t = self.times.clone();
        t.sort_by(f64::total_cmp);
        (t[0], t[t.len() / 2])
    }
}

/// Runs `variants` in `rounds` interleaved rounds, prints each against `base`.
fn interleave(title: &str, variants: &mut [Variant<'_>], base: usize, rounds: usize) {
    for v in variants.iter_mut() {
        v.time(); // warm caches and branch predictors
    }
    for _ in 0..rounds {
        for v in variants.iter_mut() {
            let t = v.time();
            v.times.push(t);
        }
    }
    let (base_min, base_median) = variants[base].min_median();
    println!(
        "{title} ({rounds} rounds of {REPS}; ratios to {})",
        variants[base].name
    );
    for v in variants.iter() {
        let (min, median) = v.min_median();
        println!(
            "  {:<24} min {:>8.1} ns  median {:>8.1} ns  ratio min {:.3}  median {:.3}",
            v.name,
            min,
            median,
            min / base_min,
            median / base_median
        );
    }
}

fn random_dense<const IN: usize, const OUT: usize>(rng: &mut Rng) -> QDense<IN, OUT> {
    let mut layer = QDense::<IN, OUT>::zeroed();
    for w in layer.weights.as_flattened_mut() {
        *w = rng.uniform(-127.0, 128.0) as i8;
    }
    for b in &mut layer.bias {
        *b = rng.uniform(-1e5, 1e5) as i32;
    }
    layer
}

fn int8(rounds: usize) {
    let mut rng = Rng::new(5);
    // As in benches/int8.rs: hidden accumulators scaled by 2^-17 into u8.
    let q: Box<QMlp<784, 64, 10>> = Box::new(QHidden::new(
        random_dense(&mut rng),
        Requantize::new([1 << 30; 64], [47; 64]),
        QOutput::new(random_dense(&mut rng), [1e-4; 10]),
    ));
    let images: Vec<[u8; 784]> = pixels(&mut rng, REPS * 784)
        .chunks_exact(784)
        .map(|p| p.try_into().unwrap())
        .collect();
    let (q, images) = (&q, &images);
    let mut variants = vec![
        Variant::new("reference", move |i| {
            black_box(q.accumulators_ref(black_box(&images[i])));
        }),
        Variant::new("portable", move |i| {
            black_box(q.logits(black_box(&images[i])));
        }),
    ];
    for kernel in QPath::ALL[1..].iter().filter_map(|&p| QFast::with_path(p)) {
        variants.push(Variant::new(kernel.path().name(), move |i| {
            black_box(q.dequantize(&q.accumulators_with(black_box(&images[i]), &kernel)));
        }));
    }
    interleave("int8 784-64-10, batch 1", &mut variants, 1, rounds);
}

fn f32(rounds: usize) {
    let mut rng = Rng::new(3);
    let mut net: Box<Mlp<784, 64, 10>> = Box::default();
    net.init(&mut rng);
    let xs: Vec<[f32; 784]> = pixel_inputs(&mut rng, REPS, 784)
        .chunks_exact(784)
        .map(|x| x.try_into().unwrap())
        .collect();
    let weights = net.dense.weights.as_flattened().to_vec();
    let blocked = blocked_copy(&net);
    let mut scratch = Default::default();
    let (net, xs, weights, blocked) = (&net, &xs, &weights, &blocked);
    let mut variants = vec![
        Variant::new("stream 784x64 f32", move |_| {
            black_box(stream_sum(black_box(weights)));
        }),
        Variant::new("Network::forward", move |i| {
            black_box(net.forward(black_box(&xs[i]), &mut scratch)[0]);
        }),
        Variant::new("host BlockedNet::logits", move |i| {
            black_box(blocked.logits(black_box(&xs[i]))[0]);
        }),
    ];
    interleave("f32 784-64-10, batch 1", &mut variants, 0, rounds);
}

/// `net` as the host's [`BlockedNet`], checked to give the same logits.
fn blocked_copy(net: &Mlp<784, 64, 10>) -> BlockedNet {
    let arch = Architecture::from_widths(vec![784, 64, 10]).expect("a valid shape");
    let mut host_net = Net::initialised(&arch, 0);
    for t in 0..4 {
        host_net.tensor_mut(t).copy_from_slice(net.tensor(t));
    }
    let blocked = BlockedNet::new(&host_net);
    let x = [0.25f32; 784];
    let mut scratch = Default::default();
    let want = net.forward(&x, &mut scratch).to_vec();
    assert_eq!(blocked.logits(&x), want, "the same logits");
    blocked
}

/// A sum of `w` in 64 independent lanes: each value loaded once, and adds
/// that never wait on each other (the weight-streaming bound).
fn stream_sum(w: &[f32]) -> f32 {
    let mut lanes = [0f32; 64];
    let (chunks, rest) = w.as_chunks::<64>();
    for c in chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            *l += v;
        }
    }
    lanes.iter().chain(rest).sum()
}

fn main() {
    // `cargo bench` passes `--bench`; a number is the round count.
    let rounds = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(300);
    int8(rounds);
    f32(rounds);
}
