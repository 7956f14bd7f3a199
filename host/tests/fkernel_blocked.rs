//! One-sample inference from weights in blocks of rows
//! (`host::fkernel::blocked`, `host::model::BlockedNet`) gives the bits of
//! `tinymlp::kernels::matvec` and of `Net::logits`, for every shape.

use host::fkernel::blocked::{BlockedRows, BLOCK};
use host::model::{Architecture, BlockedNet, Net};
use tinymlp::kernels::{matvec, LANES};
use tinymlp::Rng;

/// Values with the cases that matter for bits: signed zeros, tiny and large
/// magnitudes, and (when `infinite`) infinities.
fn values(rng: &mut Rng, n: usize, infinite: bool) -> Vec<f32> {
    (0..n)
        .map(|i| match (i * 7 + n) % 23 {
            0 => 0.0,
            1 => -0.0,
            2 => 1e-30,
            3 => -3e20,
            4 if infinite => f32::INFINITY,
            _ => rng.uniform(-1.0, 1.0),
        })
        .collect()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// `BlockedRows::matvec` against `matvec` on one shape.
fn check(rows: usize, inputs: usize, seed: u64, infinite: bool) {
    let mut rng = Rng::new(seed);
    let w = values(&mut rng, rows * inputs, infinite);
    let b = values(&mut rng, rows, false);
    let x = values(&mut rng, inputs, infinite);
    let (mut want, mut got) = (vec![0.0; rows], vec![f32::NAN; rows]);
    matvec(&w, &b, &x, &mut want);
    let blocked = BlockedRows::new(&w, inputs);
    assert_eq!((blocked.rows(), blocked.inputs()), (rows, inputs));
    blocked.matvec(&b, &x, &mut got);
    assert_eq!(bits(&got), bits(&want), "{rows}×{inputs}, seed {seed}");
}

#[test]
fn every_shape_gives_the_bits_of_matvec() {
    // Rows past and short of whole blocks, widths past and short of whole
    // chunks (the zero-padded tail), and the shapes of MNIST's layers.
    let mut seed = 1;
    for rows in (1..=3 * BLOCK + 1).chain([64, 10]) {
        for inputs in (1..=3 * LANES + 1).chain([784, 64]) {
            check(rows, inputs, seed, false);
            seed += 1;
        }
    }
}

#[test]
fn infinities_and_signed_zeros_give_the_same_bits() {
    for (seed, (rows, inputs)) in [(9, 17), (16, 24), (3, 5), (64, 784)]
        .into_iter()
        .enumerate()
    {
        check(rows, inputs, 100 + seed as u64, true);
    }
}

#[test]
fn a_blocked_network_gives_the_logits_of_the_net() {
    let shapes: [&[usize]; 5] = [
        &[784, 10],
        &[784, 64, 10],
        &[64, 33, 7],
        &[13, 9, 17, 3],
        &[5, 40, 24, 12, 2],
    ];
    for (seed, widths) in shapes.into_iter().enumerate() {
        let arch = Architecture::from_widths(widths.to_vec()).unwrap();
        let mut net = Net::initialised(&arch, seed as u64);
        // Non-zero biases, so that their paths are exercised.
        let mut rng = Rng::new(seed as u64 + 50);
        for l in 0..arch.layers() {
            for b in net.layer_mut(l).bias.iter_mut() {
                *b = rng.uniform(-0.3, 0.3);
            }
        }
        let blocked = BlockedNet::new(&net);
        assert_eq!(blocked.inputs(), widths[0]);
        for _ in 0..4 {
            let x: Vec<f32> = (0..widths[0]).map(|_| rng.uniform(-1.0, 2.0)).collect();
            assert_eq!(
                bits(&blocked.logits(&x)),
                bits(&net.logits(&x)),
                "{widths:?}"
            );
        }
    }
}

#[test]
#[should_panic(expected = "input width")]
fn a_wrong_input_width_is_refused() {
    let w = vec![0.5; 3 * 4];
    BlockedRows::new(&w, 4).matvec(&[0.0; 3], &[1.0; 5], &mut [0.0; 3]);
}
