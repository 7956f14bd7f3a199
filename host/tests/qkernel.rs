//! `host::qkernel::QFast`: every instruction-set path this CPU has gives the
//! `i32` accumulators of the reference loops, bit for bit, on random shapes
//! (inputs not a multiple of the vector width, 1..=37 rows, any depth) and on
//! the extreme values. Paths the CPU lacks are skipped (and named on stderr);
//! the portable path runs everywhere, AVX2 on every x86-64-v3 machine.

use host::export::{QInput, QLayer, QNet, Rescale};
use host::qkernel::{QFast, QPath};
use tinymlp::quant::{dot_i8_u8_ref, requantize_u8};
use tinymlp::{QDense, QHidden, QMlp, QNetwork, QOutput, Requantize, Rng};

/// The paths this CPU can run (always at least `Portable`).
fn kernels() -> Vec<QFast> {
    let available: Vec<QFast> = QPath::ALL
        .into_iter()
        .filter_map(QFast::with_path)
        .collect();
    for path in QPath::ALL.into_iter().filter(|p| !p.is_available()) {
        eprintln!("qkernel: {} not on this CPU, not tested", path.name());
    }
    available
}

fn bytes(rng: &mut Rng, n: usize) -> Vec<u8> {
    (0..n).map(|_| rng.below(256) as u8).collect()
}

fn weights(rng: &mut Rng, n: usize) -> Vec<i8> {
    (0..n).map(|_| rng.below(256) as u8 as i8).collect()
}

/// `acc[o] + Σ W[o]·x` row by row with the plain reference loop.
fn reference(w: &[i8], x: &[u8], acc: &[i32]) -> Vec<i32> {
    acc.iter()
        .enumerate()
        .map(|(o, &a)| a.wrapping_add(dot_i8_u8_ref(&w[o * x.len()..][..x.len()], x)))
        .collect()
}

#[test]
fn every_path_equals_reference_on_random_shapes() {
    let mut rng = Rng::new(14);
    let mut inputs: Vec<usize> = (1..=140).collect();
    inputs.extend([
        191, 192, 193, 255, 257, 600, 783, 784, 785, 1000, 2047, 2049, 5000,
    ]);
    for kernel in kernels() {
        for &n in &inputs {
            let rows = 1 + rng.below(37) as usize;
            let w = weights(&mut rng, rows * n);
            let x = bytes(&mut rng, n);
            let bias: Vec<i32> = (0..rows).map(|_| rng.next_u64() as i32).collect();
            let mut acc = bias.clone();
            kernel.accumulate(&w, &x, &mut acc);
            assert_eq!(
                acc,
                reference(&w, &x, &bias),
                "{kernel:?} n={n} rows={rows}"
            );
        }
    }
}

#[test]
fn every_path_equals_reference_on_extreme_values() {
    // 70,000 inputs: −128 · 255 · 70,000 wraps around i32, so the wrapping
    // order-free sum is tested too.
    for kernel in kernels() {
        for n in [1, 15, 16, 17, 63, 64, 65, 784, 70_000] {
            for (wv, xv) in [(-128i8, 255u8), (127, 255), (-128, 0), (127, 0), (-1, 128)] {
                for rows in [1, 3, 4, 5, 10] {
                    let w = vec![wv; rows * n];
                    let x = vec![xv; n];
                    let bias = vec![i32::MAX; rows];
                    let mut acc = bias.clone();
                    kernel.accumulate(&w, &x, &mut acc);
                    assert_eq!(
                        acc,
                        reference(&w, &x, &bias),
                        "{kernel:?} n={n} w={wv} x={xv}"
                    );
                }
            }
        }
    }
}

#[test]
fn empty_input_or_rows_leave_the_biases() {
    for kernel in kernels() {
        let mut acc = vec![7, -9];
        kernel.accumulate(&[], &[], &mut acc);
        assert_eq!(acc, [7, -9]);
        kernel.accumulate(&[], &[1, 2, 3], &mut []);
    }
}

#[test]
#[should_panic(expected = "weights are rows × inputs")]
fn a_short_weight_matrix_is_refused() {
    QFast::detect().accumulate(&[1; 5], &[1, 2, 3], &mut [0, 0]);
}

#[test]
fn detect_picks_an_available_path_and_with_path_refuses_missing_ones() {
    assert!(QFast::detect().path().is_available());
    assert_eq!(
        QFast::with_path(QPath::Portable).map(QFast::path),
        Some(QPath::Portable)
    );
    for path in QPath::ALL {
        assert_eq!(QFast::with_path(path).is_some(), path.is_available());
    }
}

fn random_dense<const IN: usize, const OUT: usize>(rng: &mut Rng) -> QDense<IN, OUT> {
    let mut layer = QDense::<IN, OUT>::zeroed();
    layer
        .weights
        .as_flattened_mut()
        .copy_from_slice(&weights(rng, IN * OUT));
    for b in &mut layer.bias {
        *b = rng.next_u64() as i32 >> 12;
    }
    layer
}

#[test]
fn the_qkernel_of_every_path_equals_qreference_on_chains() {
    let mut rng = Rng::new(784);
    // The shifts keep the random hidden activations spread over 0..=255.
    let mnist: Box<QMlp<784, 64, 10>> = Box::new(QHidden::new(
        random_dense(&mut rng),
        Requantize::new([1 << 30; 64], [42; 64]),
        QOutput::new(random_dense(&mut rng), [1.0; 10]),
    ));
    let deep: QHidden<100, 37, QHidden<37, 5, QOutput<5, 3>>> = QHidden::new(
        random_dense(&mut rng),
        Requantize::new([1 << 30; 37], [41; 37]),
        QHidden::new(
            random_dense(&mut rng),
            Requantize::new([1 << 30; 5], [40; 5]),
            QOutput::new(random_dense(&mut rng), [1.0; 3]),
        ),
    );
    for kernel in kernels() {
        for _ in 0..20 {
            let x: [u8; 784] = bytes(&mut rng, 784).try_into().unwrap();
            let hidden = mnist.activations(&x);
            assert!(hidden.iter().any(|&h| h > 0) && hidden.iter().any(|&h| h < 255));
            assert_eq!(
                mnist.accumulators_with(&x, &kernel),
                mnist.accumulators_ref(&x)
            );
            let x: [u8; 100] = x[..100].try_into().unwrap();
            assert_eq!(
                deep.accumulators_with(&x, &kernel),
                deep.accumulators_ref(&x)
            );
        }
    }
}

/// A random `QNet` of `hidden.len()` hidden layers.
fn random_qnet(rng: &mut Rng, inputs: usize, hidden: &[usize], classes: usize) -> QNet {
    let widths: Vec<usize> = [inputs].into_iter().chain(hidden.iter().copied()).collect();
    let outs: Vec<usize> = hidden.iter().copied().chain([classes]).collect();
    let layers = widths
        .iter()
        .zip(&outs)
        .enumerate()
        .map(|(l, (&i, &o))| QLayer {
            weights: weights(rng, i * o),
            bias: (0..o).map(|_| rng.next_u64() as i32 >> 16).collect(),
            inputs: i,
            rescale: if l == hidden.len() {
                Rescale::Output {
                    scale: vec![1.0; o],
                }
            } else {
                // A sum of i products of ~2^14 is ~2^14·√i: scaled by about
                // 2^-8/√i it spreads over 0..=255.
                let shift = 38 + (i.ilog2() as u8) / 2;
                Rescale::Requantize {
                    multiplier: vec![1 << 30; o],
                    shift: vec![shift; o],
                }
            },
        })
        .collect();
    QNet {
        input: QInput::Pixels,
        layers,
    }
}

/// The output accumulators of `q` with the reference dot product.
fn qnet_reference(q: &QNet, x: &[u8]) -> Vec<i32> {
    let mut current = x.to_vec();
    for layer in &q.layers {
        let acc = reference(&layer.weights, &current, &layer.bias);
        match &layer.rescale {
            Rescale::Requantize { multiplier, shift } => {
                current = (0..acc.len())
                    .map(|o| requantize_u8(acc[o], multiplier[o], shift[o]))
                    .collect();
            }
            Rescale::Output { .. } => return acc,
        }
    }
    unreachable!("the last layer is an output layer")
}

#[test]
fn qnet_of_any_depth_equals_reference_through_every_path() {
    let mut rng = Rng::new(37);
    let kernels = kernels();
    for depth in 0..=5 {
        for _ in 0..6 {
            let inputs = 1 + rng.below(300) as usize;
            let hidden: Vec<usize> = (0..depth).map(|_| 1 + rng.below(37) as usize).collect();
            let classes = 1 + rng.below(37) as usize;
            let q = random_qnet(&mut rng, inputs, &hidden, classes);
            for _ in 0..4 {
                let x = bytes(&mut rng, inputs);
                let expected = qnet_reference(&q, &x);
                assert_eq!(
                    q.accumulators_u8(&x),
                    expected,
                    "detected, widths {:?}",
                    q.widths()
                );
                for &kernel in &kernels {
                    assert_eq!(q.accumulators_u8_with(&x, kernel), expected, "{kernel:?}");
                }
            }
        }
    }
}
