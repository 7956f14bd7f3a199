//! Batch kernels (`tinymlp::batch`, on `Rows` views) against per-sample
//! loops of the plain `*_ref` definitions and of the unrolled slice
//! kernels, the host's vector forms of them (`host::fkernel`, every path this
//! CPU has, named by path), and one whole mini-batch step of the trainer.
//!
//! Kernel throughput is in multiply-accumulates (elem/s = MAC/s); the
//! training steps report samples/s. Operands start on a cache line, as the
//! trainer's buffers do (`host::fkernel::Floats`); the `_offset16` rank-k
//! rows run the same call on inputs 16 bytes off one, which is what a plain
//! `Vec<f32>` often gets.
//!
//! The `sparse_784xH` groups run the first layer's forward product on 32
//! real MNIST images (`data/`): the row-major kernel beside the input-major
//! one of `host::fkernel::sparse`, reading every chunk of eight pixels
//! (`all`) or, for each half of a chunk's lanes, only the chunks where that
//! half is not zero (`listed`), the copy into input-major storage and the
//! chunk lists the trainer makes per batch
//! (these count the dense product's MACs, so the rates compare as times
//! do), one SGD step row-major (`tinymlp`'s) against input-major (in
//! weights per second), and the first layer's whole step — gradient and
//! update — taken apart against fused (`host::fkernel::fused`). The
//! `slab_rows_784` group runs the input-major forward product for 4 to 32
//! rows (a thread's share of the first layer); `pixels_32x784` converts
//! those images' pixels to inputs.

use std::hint::black_box;

use benches::{config, labels, mnist_train, pixel_inputs, random_values, relu_like};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use host::fkernel::fused::ShardedBatch;
use host::fkernel::sparse::{Chunks, InputMajor, NonZeroChunks};
use host::fkernel::{self, FFast, FPath, Floats};
use host::model::{Architecture, HiddenLayers, Net};
use host::train::shard::{train_shard, ShardScratch};
use host::train::{Optimizer, SHARD};
use tinymlp::batch::{forward_batch, matvec_t_batch, rank_k, Rows};
use tinymlp::kernels::{matvec, matvec_ref, matvec_t, matvec_t_ref, rank1, rank1_ref};
use tinymlp::{BatchLogits, Rng, Sgd, TensorKind};

fn forward(c: &mut Criterion, rng: &mut Rng, (inputs, outputs): (usize, usize), batches: &[usize]) {
    let w = on_a_line(&random_values(rng, inputs * outputs), 0);
    let b = random_values(rng, outputs);
    let xs = on_a_line(&pixel_inputs(rng, 32, inputs), 0);
    let mut ys = vec![0.0; 32 * outputs];
    let mut g = c.benchmark_group(format!("forward_{inputs}x{outputs}"));
    for &n in batches {
        g.throughput(Throughput::Elements((inputs * outputs * n) as u64));
        g.bench_function(BenchmarkId::new("reference", n), |bench| {
            bench.iter(|| {
                for (x, y) in xs
                    .chunks_exact(inputs)
                    .zip(ys.chunks_exact_mut(outputs))
                    .take(n)
                {
                    matvec_ref(black_box(&w), &b, x, y);
                }
            })
        });
        g.bench_function(BenchmarkId::new("per_sample", n), |bench| {
            bench.iter(|| {
                for (x, y) in xs
                    .chunks_exact(inputs)
                    .zip(ys.chunks_exact_mut(outputs))
                    .take(n)
                {
                    matvec(black_box(&w), &b, x, y);
                }
            })
        });
        g.bench_function(BenchmarkId::new("batch", n), |bench| {
            bench.iter(|| {
                let rows = Rows::new(&xs[..n * inputs], inputs);
                forward_batch(black_box(&w), &b, rows, &mut ys[..n * outputs])
            })
        });
        for fast in vector_paths() {
            g.bench_function(BenchmarkId::new(fast.path().name(), n), |bench| {
                bench.iter(|| {
                    let rows = Rows::new(&xs[..n * inputs], inputs);
                    fast.forward_batch(black_box(&w), &b, rows, &mut ys[..n * outputs])
                })
            });
        }
    }
    g.finish();
}

fn gradient(c: &mut Criterion, rng: &mut Rng, (inputs, outputs): (usize, usize)) {
    let mut grad = on_a_line(&random_values(rng, inputs * outputs), 0);
    let pixels = pixel_inputs(rng, 32, inputs);
    let xs = on_a_line(&pixels, 0);
    let xs_off = on_a_line(&pixels, 4);
    let dense: Vec<f32> = random_values(rng, 32 * outputs)
        .iter()
        .map(|v| v * 1e-6)
        .collect();
    let relu = relu_like(rng, 32 * outputs);
    let mut g = c.benchmark_group(format!("rank_k_{inputs}x{outputs}"));
    for (kind, dys) in [("dense", &dense), ("relu", &relu)] {
        for n in [16, 32] {
            // MACs actually performed: rows with a zero gradient are skipped.
            let macs = dys[..n * outputs].iter().filter(|&&d| d != 0.0).count() * inputs;
            g.throughput(Throughput::Elements(macs as u64));
            g.bench_function(BenchmarkId::new(format!("reference_{kind}"), n), |bench| {
                bench.iter(|| {
                    for (dy, x) in dys
                        .chunks_exact(outputs)
                        .zip(xs.chunks_exact(inputs))
                        .take(n)
                    {
                        rank1_ref(&mut grad, black_box(dy), x);
                    }
                })
            });
            g.bench_function(BenchmarkId::new(format!("per_sample_{kind}"), n), |bench| {
                bench.iter(|| {
                    for (dy, x) in dys
                        .chunks_exact(outputs)
                        .zip(xs.chunks_exact(inputs))
                        .take(n)
                    {
                        rank1(&mut grad, black_box(dy), x);
                    }
                })
            });
            g.bench_function(BenchmarkId::new(format!("batch_{kind}"), n), |bench| {
                bench.iter(|| {
                    let dys = Rows::new(&dys[..n * outputs], outputs);
                    rank_k(
                        &mut grad,
                        black_box(dys),
                        Rows::new(&xs[..n * inputs], inputs),
                    )
                })
            });
            for fast in vector_paths() {
                for (place, xs) in [("", &xs[..]), ("_offset16", &xs_off[4..])] {
                    let name = format!("{}_{kind}{place}", fast.path().name());
                    g.bench_function(BenchmarkId::new(name, n), |bench| {
                        bench.iter(|| {
                            let dys = Rows::new(&dys[..n * outputs], outputs);
                            let xs = Rows::new(&xs[..n * inputs], inputs);
                            fast.rank_k(&mut grad, black_box(dys), xs)
                        })
                    });
                }
            }
        }
    }
    g.finish();
}

/// `values` in [`Floats`] after `skip` zeros (so they start `4·skip` bytes
/// past a cache line).
fn on_a_line(values: &[f32], skip: usize) -> Floats {
    let mut floats = fkernel::zeros(skip + values.len());
    floats[skip..].copy_from_slice(values);
    floats
}

/// The paths of `host::fkernel` with their own transposed product that this
/// CPU has (the portable one is the `batch` row already).
fn transposed_paths() -> impl Iterator<Item = FFast> {
    FPath::ALL
        .into_iter()
        .filter(|p| p.has_transposed_kernel())
        .filter_map(FFast::with_path)
}

/// Every vector path of `host::fkernel` this CPU has: each has its own
/// forward product and rank-k gradient.
fn vector_paths() -> impl Iterator<Item = FFast> {
    FPath::ALL
        .into_iter()
        .filter(|&p| p != FPath::Portable)
        .filter_map(FFast::with_path)
}

fn transposed(c: &mut Criterion, rng: &mut Rng, (inputs, outputs): (usize, usize)) {
    let w = on_a_line(&random_values(rng, inputs * outputs), 0);
    let dys = relu_like(rng, 32 * outputs);
    let mut dxs = fkernel::zeros(32 * inputs);
    let mut g = c.benchmark_group(format!("matvec_t_{inputs}x{outputs}"));
    g.throughput(Throughput::Elements((inputs * outputs * 32) as u64));
    g.bench_function(BenchmarkId::new("reference", 32), |bench| {
        bench.iter(|| {
            for (dy, dx) in dys.chunks_exact(outputs).zip(dxs.chunks_exact_mut(inputs)) {
                matvec_t_ref(black_box(&w), dy, dx);
            }
        })
    });
    g.bench_function(BenchmarkId::new("per_sample", 32), |bench| {
        bench.iter(|| {
            for (dy, dx) in dys.chunks_exact(outputs).zip(dxs.chunks_exact_mut(inputs)) {
                matvec_t(black_box(&w), dy, dx);
            }
        })
    });
    g.bench_function(BenchmarkId::new("batch", 32), |bench| {
        bench.iter(|| matvec_t_batch(black_box(&w), Rows::new(&dys, outputs), &mut dxs, inputs))
    });
    for fast in transposed_paths() {
        g.bench_function(BenchmarkId::new(fast.path().name(), 32), |bench| {
            let dys = Rows::new(&dys, outputs);
            bench.iter(|| fast.matvec_t_batch(black_box(&w), dys, &mut dxs, inputs))
        });
    }
    g.finish();
}

/// One SGD step on a mini-batch of 32 through `host`'s run-time-shaped
/// network: forward and backward of the shard (`train_shard`), then the
/// Nesterov update of every tensor.
fn step(c: &mut Criterion, hidden: &[usize]) {
    let arch = Architecture::new(784, &HiddenLayers(hidden.to_vec()), 10).unwrap();
    let mut rng = Rng::new(7);
    let mut net = Net::initialised(&arch, 7);
    let xs = pixel_inputs(&mut rng, 32, 784);
    let ys = labels(&mut rng, 32, 10);
    let mut grads = Net::zeros(&arch);
    let mut scratch = ShardScratch::new(&net, 32);
    let optimizer = Optimizer::new(false, 0.9, 1e-4);
    let mut state = optimizer.state(&net);
    let mut g = c.benchmark_group(format!("step_{arch}"));
    g.throughput(Throughput::Elements(32));
    g.bench_function(BenchmarkId::new("train_shard", 32), |bench| {
        bench.iter(|| {
            grads.set_zero();
            black_box(train_shard(
                &net,
                Rows::new(&xs, 784),
                &ys,
                &mut scratch,
                &mut grads,
            ))
        })
    });
    g.bench_function(BenchmarkId::new("train_shard_and_update", 32), |bench| {
        bench.iter(|| {
            grads.set_zero();
            train_shard(&net, Rows::new(&xs, 784), &ys, &mut scratch, &mut grads);
            for t in 0..net.tensors() {
                let kind = net.tensor_info(t).kind;
                optimizer.update(
                    (0, 0.01),
                    kind,
                    net.tensor_mut(t),
                    grads.tensor(t),
                    (state[0].tensor_mut(t), &mut []),
                    1.0 / 32.0,
                );
            }
        })
    });
    g.finish();
}

/// 32 MNIST images as the trainer stages them (`p / 255`), on a cache line.
fn mnist_inputs() -> Floats {
    let images = mnist_train(32);
    let mut xs = fkernel::zeros(32 * 784);
    for (i, x) in xs.chunks_exact_mut(784).enumerate() {
        images.raw_f32(i, x);
        x.iter_mut().for_each(|v| *v /= 255.0);
    }
    xs
}

/// The first layer `784 × outputs` on MNIST images: the forward product
/// row-major against input-major, and the two things the trainer adds to
/// it: the copy into input-major storage after every update and the lists
/// of non-zero chunks of every batch (their throughput counts the same MACs
/// as the forward product's, so that the rates add up as times do).
fn sparse(c: &mut Criterion, rng: &mut Rng, outputs: usize) {
    let inputs = 784;
    let w = on_a_line(&random_values(rng, inputs * outputs), 0);
    let b = random_values(rng, outputs);
    let xs = mnist_inputs();
    let xs = Rows::new(&xs, inputs);
    let mut lists = NonZeroChunks::new();
    lists.extend(xs);
    let layout = InputMajor::new(outputs, inputs);
    let wt = layout.from_rows(&w);
    let mut ys = vec![0.0; 32 * outputs];
    let mut wt_copy = fkernel::zeros(layout.len());
    let mut g = c.benchmark_group(format!("sparse_{inputs}x{outputs}"));
    for fast in FPath::ALL.into_iter().filter_map(FFast::with_path) {
        let path = fast.path().name();
        g.throughput(Throughput::Elements((inputs * outputs * 32) as u64));
        g.bench_function(
            BenchmarkId::new(format!("forward_rows_{path}"), 32),
            |bench| bench.iter(|| fast.forward_batch(black_box(&w), &b, xs, &mut ys)),
        );
        for (read, chunks) in [("all", Chunks::All), ("listed", Chunks::Listed(&lists, 0))] {
            let name = format!("forward_input_major_{read}_{path}");
            g.bench_function(BenchmarkId::new(name, 32), |bench| {
                bench.iter(|| {
                    let ys = (&mut ys[..], outputs);
                    fast.forward_input_major((black_box(&wt), layout), &b, 0, (xs, chunks), ys)
                })
            });
        }
        let mut staged = NonZeroChunks::with(fast);
        g.bench_function(
            BenchmarkId::new(format!("chunk_lists_{path}"), 32),
            |bench| {
                bench.iter(|| {
                    staged.clear();
                    staged.extend(black_box(xs))
                })
            },
        );
        g.bench_function(
            BenchmarkId::new(format!("to_input_major_{path}"), 32),
            |bench| bench.iter(|| fast.to_input_major(black_box(&w), (&mut wt_copy[..], layout))),
        );
        gradient_shards(&mut g, fast, rng, xs, outputs);
        sgd_steps(&mut g, fast, rng, (&w, layout));
        whole_steps(&mut g, fast, rng, xs, (&w, layout));
    }
    g.finish();
}

/// The first layer's whole SGD step on a batch of 32 MNIST images (deltas
/// half zero): its gradient shard by shard and the input-major update taken
/// apart (the plain reference of the trainer's path), against
/// `sgd_step_input_major`, which fuses them from `FUSED_ROWS` rows;
/// throughput in the dense product's MACs.
fn whole_steps(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    fast: FFast,
    rng: &mut Rng,
    xs: Rows<'_>,
    (w, layout): (&[f32], InputMajor),
) {
    let outputs = layout.rows;
    let sgd = Sgd {
        learning_rate: 1e-9,
        momentum: 0.9,
        weight_decay: 1e-4,
        nesterov: true,
    };
    let step = (sgd, TensorKind::Weight, 1.0 / 32.0);
    let dys = relu_like(rng, 32 * outputs);
    let (mut wt, mut vt) = (layout.from_rows(w), layout.from_rows(w));
    let mut grads = fkernel::zeros(outputs * xs.width);
    let path = fast.path().name();
    g.bench_function(
        BenchmarkId::new(format!("step_apart_{path}"), 32),
        |bench| {
            bench.iter(|| {
                two_shards(fast, black_box(&mut grads), &dys, xs);
                fast.sgd_update_input_major(step, &grads, (&mut wt[..], &mut vt[..], layout))
            })
        },
    );
    g.bench_function(
        BenchmarkId::new(format!("step_fused_{path}"), 32),
        |bench| {
            bench.iter(|| {
                let batch = ShardedBatch {
                    dys: Rows::new(&dys, outputs),
                    xs: black_box(xs),
                    row0: 0,
                    shard: SHARD,
                };
                let t = (&mut wt[..], &mut vt[..], layout);
                fast.sgd_step_input_major(step, batch, &mut grads, t)
            })
        },
    );
}

/// The first layer's gradient of a batch of 32 MNIST images as the trainer
/// forms it: the first shard of 16 written, the second's sum added, with
/// deltas of which half are zero (as a ReLU layer's); throughput in the
/// dense product's MACs.
fn gradient_shards(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    fast: FFast,
    rng: &mut Rng,
    xs: Rows<'_>,
    outputs: usize,
) {
    let dys = relu_like(rng, 32 * outputs);
    let mut grads = fkernel::zeros(outputs * xs.width);
    let name = format!("gradient_shards_{}", fast.path().name());
    g.bench_function(BenchmarkId::new(name, 32), |bench| {
        bench.iter(|| {
            two_shards(fast, black_box(&mut grads), &dys, xs);
        })
    });
}

/// The gradient of a batch of two shards as the trainer forms it: the
/// first shard's written to `grads`, the second's sum added.
fn two_shards(fast: FFast, grads: &mut [f32], dys: &[f32], xs: Rows<'_>) {
    let outputs = grads.len() / xs.width;
    for k in 0..2 {
        let (d, x) = (shard(dys, outputs, k), shard(xs.data, xs.width, k));
        if k == 0 {
            fast.set_rank_k_rows(grads, 0, d, x);
        } else {
            fast.add_rank_k_sum_rows(grads, 0, d, x);
        }
    }
}

/// Shard `k` (the trainer's [`SHARD`] rows of `width`) of `rows`.
fn shard(rows: &[f32], width: usize, k: usize) -> Rows<'_> {
    Rows::new(&rows[k * SHARD * width..][..SHARD * width], width)
}

/// One SGD step on a layer's weights `w`: row-major (`tinymlp`'s update, the
/// plain reference) against input-major with the row-major gradient
/// transposed on the way, as the trainer updates its first layer;
/// throughput in weights.
fn sgd_steps(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    fast: FFast,
    rng: &mut Rng,
    (w, layout): (&[f32], InputMajor),
) {
    let sgd = Sgd {
        learning_rate: 1e-9,
        momentum: 0.9,
        weight_decay: 1e-4,
        nesterov: true,
    };
    let grads = random_values(rng, w.len());
    let (mut weights, mut velocity) = (w.to_vec(), w.to_vec());
    let (mut wt, mut vt) = (layout.from_rows(w), layout.from_rows(w));
    let path = fast.path().name();
    g.throughput(Throughput::Elements(w.len() as u64));
    g.bench_function(BenchmarkId::new(format!("sgd_rows_{path}"), 32), |bench| {
        bench.iter(|| {
            let kind = TensorKind::Weight;
            sgd.update_slice(
                kind,
                &mut weights,
                black_box(&grads),
                &mut velocity,
                1.0 / 32.0,
            )
        })
    });
    g.bench_function(
        BenchmarkId::new(format!("sgd_input_major_{path}"), 32),
        |bench| {
            bench.iter(|| {
                let t = (&mut wt[..], &mut vt[..], layout);
                let sgd = (sgd, TensorKind::Weight, 1.0 / 32.0);
                fast.sgd_update_input_major(sgd, black_box(&grads), t)
            })
        },
    );
}

/// Converting the pixels of 32 MNIST images to inputs, as the trainer
/// stages every batch: the table (`tinymlp::pixels_to_input`'s, the plain
/// reference), then `FFast::pixels_to_inputs` on every path; in pixels.
fn pixels(c: &mut Criterion) {
    let images = mnist_train(32);
    let pixels: Vec<u8> = (0..32)
        .flat_map(|i| images.pixels(i).expect("MNIST is pixels").to_vec())
        .collect();
    let mut xs = fkernel::zeros(pixels.len());
    let mut g = c.benchmark_group("pixels_32x784");
    g.throughput(Throughput::Elements(pixels.len() as u64));
    g.bench_function("table", |bench| {
        bench.iter(|| {
            for (x, &p) in xs.iter_mut().zip(black_box(&pixels)) {
                *x = tinymlp::PIXEL_VALUES[usize::from(p)];
            }
        })
    });
    for fast in FPath::ALL.into_iter().filter_map(FFast::with_path) {
        g.bench_function(fast.path().name(), |bench| {
            bench.iter(|| fast.pixels_to_inputs(black_box(&pixels), &mut xs))
        });
    }
    g.finish();
}

/// The softmax cross-entropy gradient of a batch of 32 ten-class logits:
/// `tinymlp`'s sample by sample (`libm::expf` one value at a time) against
/// `FFast`'s for the batch (its exponentials in vectors of sixteen on
/// AVX-512), the same bits.
fn softmax(c: &mut Criterion, rng: &mut Rng) {
    let classes = 10;
    let logits: Vec<f32> = random_values(rng, 32 * classes)
        .iter()
        .map(|v| v * 8.0)
        .collect();
    let mut grads = vec![0.0; logits.len()];
    let mut g = c.benchmark_group("cross_entropy_grad_32x10");
    g.throughput(Throughput::Elements(logits.len() as u64));
    g.bench_function("tinymlp", |bench| {
        bench.iter(|| {
            let samples = logits.chunks_exact(classes).enumerate();
            for ((s, z), d) in samples.zip(grads.chunks_exact_mut(classes)) {
                black_box(tinymlp::cross_entropy_grad(black_box(z), s % classes, d));
            }
        })
    });
    for fast in FPath::ALL.into_iter().filter_map(FFast::with_path) {
        g.bench_function(fast.path().name(), |bench| {
            bench.iter(|| {
                let samples = BatchLogits {
                    logits: black_box(&logits),
                    classes,
                    targets: |s| s % classes,
                };
                fast.cross_entropy_grads(samples, &mut grads, |_, l| {
                    black_box(l);
                });
            })
        });
    }
    g.finish();
}

/// The input-major forward product of a thread's rows of a 784-input first
/// layer, for 4 to 32 rows (`slab_rows_784`): the kernels work in slabs of
/// sixteen rows, so a part of a slab costs about a whole one — why the row
/// split takes at most one thread per slab (`host::train::rows::thread_count`).
fn slab_rows(c: &mut Criterion, rng: &mut Rng) {
    let inputs = 784;
    let xs = mnist_inputs();
    let xs = Rows::new(&xs, inputs);
    let mut g = c.benchmark_group("slab_rows_784");
    for fast in vector_paths() {
        let mut lists = NonZeroChunks::with(fast);
        lists.extend(xs);
        for rows in [4, 8, 16, 32] {
            let layout = InputMajor::new(rows, inputs);
            let wt = layout.from_rows(&random_values(rng, rows * inputs));
            let b = random_values(rng, rows);
            let mut ys = vec![0.0; 32 * rows];
            g.throughput(Throughput::Elements((inputs * rows * 32) as u64));
            let name = format!("forward_input_major_{}", fast.path().name());
            g.bench_function(BenchmarkId::new(name, rows), |bench| {
                bench.iter(|| {
                    let x = (xs, Chunks::Listed(&lists, 0));
                    fast.forward_input_major((black_box(&wt), layout), &b, 0, x, (&mut ys, rows))
                })
            });
        }
    }
    g.finish();
}

fn batch(c: &mut Criterion) {
    let mut rng = Rng::new(2);
    pixels(c);
    softmax(c, &mut rng);
    forward(c, &mut rng, (784, 64), &[16, 32]);
    forward(c, &mut rng, (784, 256), &[32]);
    gradient(c, &mut rng, (784, 64));
    gradient(c, &mut rng, (64, 10));
    transposed(c, &mut rng, (256, 128));
    sparse(c, &mut rng, 32);
    sparse(c, &mut rng, 64);
    slab_rows(c, &mut rng);
    step(c, &[64]);
    step(c, &[256, 128]);
}

criterion_group! { name = benches; config = config(); targets = batch }
criterion_main!(benches);
