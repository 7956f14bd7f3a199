//! IDX → train → emitted source → the same predictions.

use std::io::Write;
use std::path::{Path, PathBuf};

use host::arch::Architecture;
use host::checkpoint::Checkpoint;
use host::codegen;
use host::dataset::{load_mnist, Split};
use host::emit::{self, Exportable};
use host::train::{self, Quiet, TrainConfig};
use integration_tests::{f32_model::MODEL, int8_model::MODEL_INT8};
use tinymlp::{pixels_to_input, Mlp, Network, Parameters};

type Net = Mlp<784, 64, 10>;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn shipped_network() -> (Checkpoint, Box<Net>) {
    let checkpoint = Checkpoint::read(&root().join("model/model.safetensors")).unwrap();
    assert_eq!(
        checkpoint.architecture(),
        &"64".parse::<Architecture>().unwrap()
    );
    let mut net: Box<Net> = bytemuck::zeroed_box();
    checkpoint.load_into(&mut *net).unwrap();
    (checkpoint, net)
}

#[test]
fn compiled_f32_source_is_the_checkpoint_bit_for_bit() {
    let (_, net) = shipped_network();
    for t in 0..Net::TENSORS {
        let (emitted, loaded) = (MODEL.tensor(t), net.tensor(t));
        assert!(
            emitted
                .iter()
                .zip(loaded)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "tensor {} differs",
            Net::tensor_info(t).name
        );
    }
}

#[test]
fn compiled_networks_predict_what_the_host_recorded_for_the_firmware() {
    let test = load_mnist(&root().join("data"), Split::Test).unwrap();
    let images = emit::images(&test).unwrap();
    let expected_f32 = std::fs::read(root().join("model/predictions_f32.bin")).unwrap();
    let expected_int8 = std::fs::read(root().join("model/predictions_int8.bin")).unwrap();
    // The same bytes the host writes for the firmware, recomputed from the compiled statics.
    assert!(codegen::write_predictions_f32(&MODEL, images) == expected_f32);
    assert!(codegen::write_predictions_int8(&MODEL_INT8, images) == expected_int8);

    let count = |predict: &dyn Fn(&[u8; 784]) -> usize| {
        images
            .iter()
            .zip(test.labels())
            .filter(|(x, &y)| predict(x) == usize::from(y))
            .count()
    };
    let f32_correct = count(&|x| MODEL.predict(&pixels_to_input(x)));
    let int8_correct = count(&|x| MODEL_INT8.predict(x));
    assert!(
        f32_correct >= 9840,
        "shipped f32 model: {f32_correct}/10000"
    );
    // The int8 target: at most 0.1 points below f32.
    assert!(
        int8_correct + 10 >= f32_correct,
        "int8 {int8_correct} vs f32 {f32_correct}"
    );
}

#[test]
fn quantizing_the_checkpoint_again_gives_the_compiled_int8_network() {
    let (_, net) = shipped_network();
    let train_set = load_mnist(&root().join("data"), Split::Train).unwrap();
    let calibration = emit::images(&train_set).unwrap();
    let quantized = net
        .quantize(&calibration[..emit::CALIBRATION_IMAGES])
        .unwrap();
    assert!(
        *quantized == MODEL_INT8,
        "the shipped weights_int8.rs is stale"
    );
}

/// Writes a gzipped IDX file, as a user's download would be.
fn write_idx_gz(path: &Path, magic: u32, dims: &[u32], payload: &[u8]) {
    let mut bytes = magic.to_be_bytes().to_vec();
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(payload);
    let file = std::fs::File::create(path).unwrap();
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    gz.write_all(&bytes).unwrap();
    gz.finish().unwrap();
}

#[test]
fn idx_files_train_to_a_network_whose_emitted_source_reproduces_it() {
    // A thousand training and two hundred test images, re-packed as fresh IDX
    // files in a temporary "download" directory.
    let full_train = load_mnist(&root().join("data"), Split::Train)
        .unwrap()
        .take(1000);
    let full_test = load_mnist(&root().join("data"), Split::Test)
        .unwrap()
        .take(200);
    let dir = tempfile::tempdir().unwrap();
    for (set, prefix) in [(&full_train, "train"), (&full_test, "t10k")] {
        let n = set.len() as u32;
        let images = dir.path().join(format!("{prefix}-images-idx3-ubyte.gz"));
        write_idx_gz(&images, 2051, &[n, 28, 28], set.pixels());
        let labels = dir.path().join(format!("{prefix}-labels-idx1-ubyte.gz"));
        write_idx_gz(&labels, 2049, &[n], set.labels());
    }
    let train_set = load_mnist(dir.path(), Split::Train).unwrap();
    let test_set = load_mnist(dir.path(), Split::Test).unwrap();
    assert_eq!(train_set.labels(), full_train.labels());

    let config = TrainConfig {
        epochs: 3,
        ..TrainConfig::default()
    };
    let (net, _) = train::train::<Net>(&config, &train_set, &test_set, &mut Quiet).unwrap();
    assert!(train::accuracy(&*net, &test_set) > 0.75);

    let header = emit::header("784-64-10", config.seed, b"checkpoint bytes", 0.5);
    let source = net.emit_f32(&header).unwrap();
    assert!(source.starts_with("// @generated"));
    assert!(source.contains("pub static MODEL: tinymlp::Mlp<784, 64, 10>"));
    // Every parameter appears as an exactly round-tripping literal, in order.
    let expected: Vec<u32> = (0..Net::TENSORS)
        .flat_map(|t| net.tensor(t).iter().map(|v| v.to_bits()))
        .collect();
    assert_eq!(parse_f32_literals(&source), expected);
}

/// The `…_f32` literals of an emitted file, in order (comments skipped).
fn parse_f32_literals(source: &str) -> Vec<u32> {
    let separators = |c: char| matches!(c, ',' | '[' | ']' | '(' | ')') || c.is_whitespace();
    source
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .flat_map(|line| line.split(separators))
        .filter_map(|token| token.strip_suffix("_f32"))
        .map(|number| number.parse::<f32>().unwrap().to_bits())
        .collect()
}
