//! Stand-in for `host emit` until the trainer exists: trains a 784-64-10
//! network briefly on MNIST, quantises it and writes the firmware's files into
//! `model/` through [`host::codegen::write_firmware_files`].
//!
//! ```text
//! cargo run --release -p host --example firmware_model [epochs]
//! ```

use std::io::Read;
use std::path::{Path, PathBuf};

use host::codegen::{sha256_hex, write_firmware_files, Provenance};
use host::quantize::quantize;
use tinymlp::{pixels_to_input, Mlp, Network, Parameters, Rng, Sgd};

fn read_idx(path: &Path, header_len: usize) -> Vec<u8> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut bytes)
        .expect("gzip");
    bytes.split_off(header_len)
}

fn images(path: &Path) -> Vec<[u8; 784]> {
    let raw = read_idx(path, 16);
    let (chunks, rest) = raw.as_chunks::<784>();
    assert!(rest.is_empty());
    chunks.to_vec()
}

fn main() {
    let epochs: usize = std::env::args()
        .nth(1)
        .map_or(1, |s| s.parse().expect("epochs"));
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let data = root.join("data");
    let train_x = images(&data.join("train-images-idx3-ubyte.gz"));
    let train_y = read_idx(&data.join("train-labels-idx1-ubyte.gz"), 8);
    let test_x = images(&data.join("t10k-images-idx3-ubyte.gz"));
    let test_y = read_idx(&data.join("t10k-labels-idx1-ubyte.gz"), 8);

    let seed = 7;
    let mut rng = Rng::new(seed);
    let mut net = Mlp::<784, 64, 10>::zeroed();
    net.init(&mut rng);
    let (mut grads, mut velocity) = (Mlp::zeroed(), Mlp::zeroed());
    let mut scratch = Default::default();
    let sgd = Sgd {
        learning_rate: 0.05,
        momentum: 0.9,
        weight_decay: 0.0,
        nesterov: false,
    };
    let batch = 32;
    for _ in 0..epochs {
        for (xs, ys) in train_x.chunks(batch).zip(train_y.chunks(batch)) {
            grads.set_zero();
            for (x, &y) in xs.iter().zip(ys) {
                net.train_sample(
                    &pixels_to_input(x),
                    usize::from(y),
                    &mut scratch,
                    &mut grads,
                );
            }
            sgd.step(&mut net, &grads, &mut velocity, 1.0 / xs.len() as f32);
        }
    }

    // No checkpoint file here: hash the parameters' little-endian bytes instead.
    let mut bytes = Vec::new();
    for t in 0..Mlp::<784, 64, 10>::TENSORS {
        for v in net.tensor(t) {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    let qnet = quantize(&net, train_x.iter().take(5000)).expect("quantise");
    let provenance = Provenance {
        tool: "tinymlp host (examples/firmware_model.rs)".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        seed,
        checkpoint_sha256: sha256_hex(&bytes),
    };
    let summary = write_firmware_files(
        &net,
        &qnet,
        &provenance,
        &test_x,
        &test_y,
        &root.join("model"),
    )
    .expect("write firmware files");
    println!(
        "model/: f32 test accuracy {:.2}%, int8 {:.2}%",
        summary.f32_accuracy, summary.int8_accuracy
    );
}
