//! The shipped bundles: their emitted source, compiled into this crate, is the
//! checkpoint bit for bit and predicts what the host recorded for the
//! firmware; emitting the checkpoint again gives the same bytes.

use std::path::{Path, PathBuf};

use host::data::{load, DataOptions, Role};
use host::export::write_bundle;
use host::model::Checkpoint;
use integration_tests::{f32_model, int8_model};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn word(bytes: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(bytes[24 + 4 * i..28 + 4 * i].try_into().unwrap())
}

#[test]
fn compiled_f32_source_is_the_checkpoint_bit_for_bit() {
    let model = Checkpoint::read(&root().join("model/model.safetensors"))
        .unwrap()
        .load()
        .unwrap();
    assert_eq!(model.net.architecture().widths(), f32_model::WIDTHS);
    for t in 0..model.net.tensors() {
        let emitted = tinymlp::Parameters::tensor(&f32_model::MODEL, t);
        let loaded = model.net.tensor(t);
        assert!(
            emitted
                .iter()
                .zip(loaded)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "tensor {} differs",
            model.net.tensor_info(t).name()
        );
    }
}

#[test]
fn compiled_networks_predict_what_the_host_recorded_for_the_firmware() {
    let test = load(&root().join("data"), &DataOptions::default(), Role::Test).unwrap();
    let expected_f32 = std::fs::read(root().join("model/predictions_f32.bin")).unwrap();
    let expected_int8 = std::fs::read(root().join("model/predictions_int8.bin")).unwrap();
    let classes = f32_model::CLASSES;
    let (mut f32_correct, mut int8_correct) = (0, 0);
    for i in 0..test.len() {
        let raw: &[u8; 784] = test.pixels(i).unwrap().try_into().unwrap();
        let at = i * (classes + 1);
        let logits = f32_model::logits(raw);
        let acc = int8_model::accumulators(raw);
        for c in 0..classes {
            assert_eq!(
                word(&expected_f32, at + c),
                logits[c].to_bits(),
                "sample {i}"
            );
            assert_eq!(word(&expected_int8, at + c) as i32, acc[c], "sample {i}");
        }
        let (class, class8) = (f32_model::classify(raw), int8_model::classify(raw));
        assert_eq!(word(&expected_f32, at + classes) as usize, class);
        assert_eq!(word(&expected_int8, at + classes) as usize, class8);
        f32_correct += usize::from(class == test.label(i));
        int8_correct += usize::from(class8 == test.label(i));
    }
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

/// Emits the bundle of `dir/model.safetensors` into a temporary directory and
/// compares every file with the shipped one.
fn bundle_is_up_to_date(dir: &Path, train: &Path, test: &Path) {
    let checkpoint = Checkpoint::read(&dir.join("model.safetensors")).unwrap();
    let model = checkpoint.load().unwrap();
    let classes = Some(model.classes.clone());
    let options = DataOptions {
        classes,
        ..DataOptions::default()
    };
    let train = load(train, &options, Role::Train).unwrap();
    let test = load(test, &options, Role::Test).unwrap();
    let seed = checkpoint.metadata()["seed"].parse().unwrap();
    let out = tempfile::tempdir().unwrap();
    let summary =
        write_bundle(&model, checkpoint.bytes(), seed, &train, &test, out.path()).unwrap();
    for file in &summary.files {
        let name = file.file_name().unwrap();
        assert!(
            std::fs::read(file).unwrap() == std::fs::read(dir.join(name)).unwrap(),
            "{} is stale: run `host emit --model {}`",
            dir.join(name).display(),
            dir.join("model.safetensors").display()
        );
    }
}

#[test]
fn the_shipped_mnist_bundle_is_what_emit_writes() {
    let data = root().join("data");
    bundle_is_up_to_date(&root().join("model"), &data, &data);
}

#[test]
fn the_digits_example_bundle_is_what_emit_writes() {
    let data = root().join("data/digits-8x8");
    bundle_is_up_to_date(
        &root().join("examples/digits/model"),
        &data.join("digits-train.csv"),
        &data.join("digits-test.csv"),
    );
}
