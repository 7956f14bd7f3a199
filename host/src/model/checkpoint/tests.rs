//! Unit tests of reading and writing checkpoints.

use super::*;
use crate::model::HiddenLayers;

fn sample(scaling: Scaling) -> Model {
    let arch = Architecture::new(3, &HiddenLayers(vec![4, 2]), 3).unwrap();
    Model {
        net: Net::initialised(&arch, 4),
        scaling,
        classes: Classes::new(vec![
            "setosa".into(),
            "versicolor".into(),
            "virginica".into(),
        ]),
        image: None,
    }
}

fn meta() -> BTreeMap<String, String> {
    [("seed", "4"), ("zeta", "z"), ("alpha", "a")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn round_trips_bit_exactly_and_deterministically() {
    let model = sample(Scaling::Standardize {
        mean: vec![1.5, -2.0, 0.25],
        inv_std: vec![0.5, 1.0, 3.0],
    });
    let a = to_bytes(&model, &meta()).unwrap();
    for _ in 0..5 {
        assert_eq!(
            a,
            to_bytes(&model, &meta()).unwrap(),
            "bytes differ between two saves"
        );
    }
    let ckpt = Checkpoint::from_bytes(Path::new("m.safetensors"), a).unwrap();
    assert_eq!(ckpt.architecture().to_string(), "3-4-2-3");
    assert_eq!(ckpt.metadata()["seed"], "4");
    assert_eq!(ckpt.load().unwrap(), model);
    let pixels = sample(Scaling::Pixels);
    let bytes = to_bytes(&pixels, &meta()).unwrap();
    let back = Checkpoint::from_bytes(Path::new("p"), bytes)
        .unwrap()
        .load()
        .unwrap();
    assert_eq!(back, pixels);
}

#[test]
fn a_checkpoint_without_classes_or_scaling_is_an_mnist_one() {
    let mut model = sample(Scaling::Pixels);
    let arch = Architecture::new(784, &HiddenLayers(vec![16]), 10).unwrap();
    model.net = Net::initialised(&arch, 1);
    let bytes = to_bytes(&model, &BTreeMap::new()).unwrap();
    // Strip the new keys the way an old checkpoint lacks them: rewrite the header.
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    let meta = header["__metadata__"].as_object_mut().unwrap();
    meta.remove(CLASSES_KEY);
    meta.remove(IMAGE_KEY);
    meta.insert(
        INPUT_KEY.into(),
        "28x28 u8 pixels scaled by 1/255, row-major".into(),
    );
    let mut new_header = serde_json::to_vec(&header).unwrap();
    new_header.resize(new_header.len().next_multiple_of(8), b' ');
    let mut old = (new_header.len() as u64).to_le_bytes().to_vec();
    old.extend(&new_header);
    old.extend(&bytes[8 + header_len..]);
    let loaded = Checkpoint::from_bytes(Path::new("old"), old)
        .unwrap()
        .load()
        .unwrap();
    assert_eq!(loaded.classes, Classes::numeric(10));
    assert_eq!(loaded.scaling, Scaling::Pixels);
    assert_eq!(loaded.image, Some((28, 28)));
    assert_eq!(loaded.net, model.net);
}

/// The model shipped before class names and scaling existed still loads,
/// as what it is.
#[test]
fn the_checkpoint_shipped_before_this_format_loads() {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/legacy-784-64-10.safetensors"
    ));
    let model = Checkpoint::read(path).unwrap().load().unwrap();
    assert_eq!(model.net.architecture().to_string(), "784-64-10");
    assert_eq!(
        (model.classes.clone(), model.scaling.clone(), model.image),
        (Classes::numeric(10), Scaling::Pixels, Some((28, 28)))
    );
}

#[test]
fn shape_mismatch_lying_metadata_and_junk_are_errors() {
    let model = sample(Scaling::None);
    let mut meta = meta();
    // Metadata claims another architecture than the tensors have.
    let mut bytes = to_bytes(&model, &meta).unwrap();
    let at = bytes.windows(7).position(|w| w == b"3-4-2-3").unwrap();
    bytes[at..at + 7].copy_from_slice(b"3-4-4-3");
    let ckpt = Checkpoint::from_bytes(Path::new("liar.safetensors"), bytes);
    let err = ckpt.and_then(|c| c.load()).unwrap_err().to_string();
    assert!(
        err.contains("liar.safetensors") && err.contains("[4, 4]"),
        "{err}"
    );

    meta.insert(CLASSES_KEY.into(), "[\"a\"]".into());
    let bytes = to_bytes(&model, &meta).unwrap();
    // to_bytes writes the model's own classes over a stale key.
    assert!(Checkpoint::from_bytes(Path::new("ok"), bytes)
        .unwrap()
        .load()
        .is_ok());

    let err =
        Checkpoint::from_bytes(Path::new("junk.bin"), b"not a checkpoint".to_vec()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("junk.bin: not a valid safetensors"),
        "{err}"
    );
    let bytes = to_bytes(&model, &BTreeMap::new()).unwrap();
    let cut = Checkpoint::from_bytes(Path::new("cut"), bytes[..bytes.len() - 3].to_vec())
        .and_then(|c| c.load());
    assert!(cut.is_err(), "a truncated checkpoint must not load");
}
