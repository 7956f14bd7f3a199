//! Emitted source compiles, round-trips every value exactly and is deterministic;
//! the int8 network tracks the f32 one; the predictions files hold what they say.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use host::codegen::{
    emit_f32, emit_f32_mlp2, emit_int8, write_predictions_f32, write_predictions_int8,
    CodegenError, Header, PREDICTIONS_F32_MAGIC, PREDICTIONS_INT8_MAGIC,
};
use host::quantize::quantize;
use tinymlp::{argmax, pixels_to_input, Mlp, Mlp2, Network, Parameters, QMlp, Rng, Sgd};

fn header() -> Header {
    Header {
        tool: "tinymlp host".into(),
        version: "0.0.0-test".into(),
        architecture: "4-3-2".into(),
        seed: 42,
        test_accuracy: Some(12.5),
        checkpoint_sha256: host::codegen::sha256_hex(b"checkpoint"),
    }
}

/// Values whose literals are easy to get wrong.
fn tricky_net() -> Mlp<4, 3, 2> {
    let values = [
        -0.0,
        f32::from_bits(1), // 1e-45, smallest subnormal
        f32::MAX,
        0.1,
        -f32::MAX,
        f32::MIN_POSITIVE,
        1.0e-40, // subnormal
        -f32::from_bits(0x007f_ffff),
        std::f32::consts::PI, // clippy::approx_constant bait
        123_456.79,           // clippy::unreadable_literal bait
        1.0,
        -2.5e-7,
        16_777_216.0,
        0.333_333_34,
        7.0e30,
        -1.0e-38,
    ];
    let mut net = Mlp::zeroed();
    let mut k = 0;
    for t in 0..Mlp::<4, 3, 2>::TENSORS {
        for v in net.tensor_mut(t) {
            *v = values[k % values.len()];
            k += 1;
        }
    }
    net
}

fn all_bits<P: Parameters>(net: &P) -> Vec<u32> {
    (0..P::TENSORS)
        .flat_map(|t| {
            net.tensor(t)
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Builds (and lints) a tiny crate that `include!`s the emitted files under
/// `#![deny(warnings)]` and prints what it holds; returns that output.
fn compile_and_run(name: &str, files: &[(&str, &str)], main_body: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let core = Path::new(env!("CARGO_MANIFEST_DIR")).join("../core");
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n\
             [dependencies]\ntinymlp = {{ path = {:?} }}\n\n[workspace]\n",
            core.canonicalize().unwrap()
        ),
    )
    .unwrap();
    let mut main = String::from("#![deny(warnings)]\n#![deny(clippy::all)]\n\n");
    for (file, text) in files {
        std::fs::write(dir.join("src").join(file), text).unwrap();
        main.push_str(&format!("include!({file:?});\n"));
    }
    main.push_str(&format!(
        "\nfn main() {{\n    use tinymlp::Parameters as _;\n{main_body}\n}}\n"
    ));
    std::fs::write(dir.join("src/main.rs"), main).unwrap();
    // Copy the workspace's lock file so the build resolves the same versions offline.
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    std::fs::copy(lock, dir.join("Cargo.lock")).unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let clippy = Command::new(&cargo)
        .args(["clippy", "--quiet", "--offline", "--", "-D", "warnings"])
        .current_dir(&dir)
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    assert!(
        clippy.status.success(),
        "clippy failed:\n{}",
        String::from_utf8_lossy(&clippy.stderr)
    );
    let run = Command::new(&cargo)
        .args(["run", "--quiet", "--offline"])
        .current_dir(&dir)
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "build failed:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8(run.stdout).unwrap()
}

fn parse_bits(out: &str) -> Vec<u32> {
    out.split_whitespace()
        .map(|w| u32::from_str_radix(w, 16).unwrap())
        .collect()
}

#[test]
fn emitted_source_compiles_cleanly_and_round_trips_bit_for_bit() {
    let net = tricky_net();
    let mut net2 = Mlp2::<4, 3, 2, 2>::zeroed();
    net2.init(&mut Rng::new(3));
    net2.hidden2.bias[1] = -0.0;
    let mut rng = Rng::new(9);
    let mut qnet = QMlp::<4, 3, 2>::new(
        tinymlp::QDense::zeroed(),
        tinymlp::Requantize::new([1 << 30, i32::MAX, 1_234_567_890], [31, 62, 1]),
        tinymlp::QDense::zeroed(),
        [f32::from_bits(1), -0.0],
    );
    for w in qnet.hidden.weights.as_flattened_mut() {
        *w = (rng.next_u64() as i8).max(-127);
    }
    qnet.hidden.bias = [i32::MIN, i32::MAX, 0];
    qnet.output.weights = [[127, -127, 0], [1, -1, 5]];

    let files = [
        ("weights.rs", emit_f32(&net, &header()).unwrap()),
        (
            "weights2.rs",
            emit_f32_mlp2(&net2, &header())
                .unwrap()
                .replace("MODEL", "MODEL2"),
        ),
        ("weights_int8.rs", emit_int8(&qnet, &header()).unwrap()),
    ];
    for (_, text) in &files {
        assert!(text.starts_with("// @generated by tinymlp host 0.0.0-test"));
        assert!(text.contains("test accuracy: 12.50%"));
        assert!(!text.contains("pub const"));
    }
    let body = r#"

    for t in 0..4 { for v in MODEL.tensor(t) { print!("{:08x} ", v.to_bits()); } }
    println!();
    for t in 0..6 { for v in MODEL2.tensor(t) { print!("{:08x} ", v.to_bits()); } }
    println!();
    let q = &MODEL_INT8;
    for w in q.hidden.weights.as_flattened().iter().chain(q.output.weights.as_flattened()) { print!("{:08x} ", *w as u8); }
    for b in q.hidden.bias.iter().chain(&q.output.bias).chain(&q.hidden_requant.multiplier) { print!("{:08x} ", *b as u32); }
    for s in &q.hidden_requant.shift { print!("{:08x} ", s); }
    for s in &q.output_scale { print!("{:08x} ", s.to_bits()); }
    println!();"#;
    let refs: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let out = compile_and_run("tinymlp_codegen_check", &refs, body);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(parse_bits(lines[0]), all_bits(&net));
    assert_eq!(parse_bits(lines[1]), all_bits(&net2));
    let mut expected: Vec<u32> = Vec::new();
    let q = &qnet;
    expected.extend(
        q.hidden
            .weights
            .as_flattened()
            .iter()
            .chain(q.output.weights.as_flattened())
            .map(|&w| u32::from(w as u8)),
    );
    expected.extend(
        q.hidden
            .bias
            .iter()
            .chain(&q.output.bias)
            .chain(&q.hidden_requant.multiplier)
            .map(|&b| b as u32),
    );
    expected.extend(q.hidden_requant.shift.iter().map(|&s| u32::from(s)));
    expected.extend(q.output_scale.iter().map(|s| s.to_bits()));
    assert_eq!(parse_bits(lines[2]), expected);
}

#[test]
fn same_network_gives_identical_text() {
    let a = emit_f32(&tricky_net(), &header()).unwrap();
    let b = emit_f32(&tricky_net().clone(), &header()).unwrap();
    assert_eq!(a, b);
    let mut other = tricky_net();
    other.output.bias[0] = f32::from_bits(other.output.bias[0].to_bits() ^ 1);
    assert_ne!(a, emit_f32(&other, &header()).unwrap());
}

#[test]
fn non_finite_values_are_rejected() {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut net = tricky_net();
        net.hidden.weights[2][1] = bad;
        assert_eq!(
            emit_f32(&net, &header()),
            Err(CodegenError::NonFinite {
                tensor: "fc1.weight",
                index: 2 * 4 + 1
            })
        );
    }
}

fn read_gz(path: &Path, header_len: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_end(&mut bytes)
        .unwrap();
    bytes.split_off(header_len)
}

/// 6000 training and 1000 test images of MNIST, from the repository's `data/`.
fn mnist_subset() -> (Vec<[u8; 784]>, Vec<u8>, Vec<[u8; 784]>) {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data");
    let train = read_gz(&data.join("train-images-idx3-ubyte.gz"), 16);
    let labels = read_gz(&data.join("train-labels-idx1-ubyte.gz"), 8);
    let test = read_gz(&data.join("t10k-images-idx3-ubyte.gz"), 16);
    let images = |raw: &[u8], n: usize| raw.as_chunks::<784>().0[..n].to_vec();
    (
        images(&train, 6000),
        labels[..6000].to_vec(),
        images(&test, 1000),
    )
}

fn briefly_trained(train: &[[u8; 784]], labels: &[u8]) -> Mlp<784, 64, 10> {
    let mut net = Mlp::zeroed();
    net.init(&mut Rng::new(5));
    let (mut grads, mut velocity) = (Mlp::zeroed(), Mlp::zeroed());
    let mut scratch = Default::default();
    let sgd = Sgd {
        learning_rate: 0.05,
        momentum: 0.9,
        weight_decay: 0.0,
        nesterov: false,
    };
    for (xs, ys) in train.chunks(32).zip(labels.chunks(32)) {
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
    net
}

#[test]
fn int8_network_agrees_with_f32_and_its_kernels_agree_exactly() {
    let (train, labels, test) = mnist_subset();
    let net = briefly_trained(&train, &labels);
    let qnet = quantize(&net, train.iter().take(2000)).unwrap();
    let agree = test
        .iter()
        .filter(|x| qnet.predict(x) == net.predict(&pixels_to_input(x)))
        .count();
    assert!(
        agree >= 990,
        "int8 agrees with f32 on only {agree}/1000 test images"
    );

    // Reference and unrolled kernels: exactly the same accumulators, also on noise.
    let mut rng = Rng::new(11);
    let mut noise = [0u8; 784];
    for x in test.iter().take(200) {
        assert_eq!(qnet.accumulators(x), qnet.accumulators_ref(x));
        for p in &mut noise {
            *p = rng.next_u64() as u8;
        }
        assert_eq!(qnet.accumulators(&noise), qnet.accumulators_ref(&noise));
    }
}

#[test]
fn predictions_files_hold_logits_accumulators_and_classes() {
    let (train, labels, test) = mnist_subset();
    let net = briefly_trained(&train[..640], &labels[..640]);
    let qnet = quantize(&net, train.iter().take(500)).unwrap();
    let images = &test[..50];
    let word =
        |b: &[u8], i: usize| u32::from_le_bytes(b[16 + 4 * i..20 + 4 * i].try_into().unwrap());

    let f = write_predictions_f32(&net, images);
    assert_eq!(f[..8], PREDICTIONS_F32_MAGIC);
    assert_eq!(f[8..16], [50, 0, 0, 0, 10, 0, 0, 0]);
    assert_eq!(f.len(), 16 + 50 * 11 * 4);
    for (n, x) in images.iter().enumerate() {
        let logits = net.logits(&pixels_to_input(x));
        for (c, l) in logits.iter().enumerate() {
            assert_eq!(word(&f, n * 11 + c), l.to_bits());
        }
        assert_eq!(word(&f, n * 11 + 10) as usize, argmax(&logits));
    }

    let q = write_predictions_int8(&qnet, images);
    assert_eq!(q[..8], PREDICTIONS_INT8_MAGIC);
    assert_eq!(q.len(), f.len());
    for (n, x) in images.iter().enumerate() {
        for (c, a) in qnet.accumulators(x).iter().enumerate() {
            assert_eq!(word(&q, n * 11 + c) as i32, *a);
        }
        assert_eq!(word(&q, n * 11 + 10) as usize, qnet.predict(x));
    }
}
