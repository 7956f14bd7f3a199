//! Export: the emitted const-generic chains compute exactly what the host's
//! run-time networks compute, for many shapes; emitted source compiles
//! cleanly, round-trips every value and is deterministic; the bundle's
//! files hold what they say.

#[path = "common/emitted.rs"]
mod emitted;

use std::fmt::Write as _;

use host::data::{Classes, Dataset, Shape};
use host::export::predictions::{
    self, PREDICTIONS_F32_MAGIC, PREDICTIONS_INT8_MAGIC, TEST_INPUTS_MAGIC,
};
use host::export::rust::{emit_f32, emit_int8, Header};
use host::export::{quantize_calibrated, write_bundle, ExportError, QInput};
use host::model::{Architecture, Model, Net, ScaleMode, Scaling};
use tinymlp::Rng;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Input {
    Pixels,
    Standardized,
    Unscaled,
}

/// `(widths, input)` of the shapes checked: 0 to 6 hidden layers, odd
/// widths, 2 to 12 classes, pixel and numeric inputs.
const SHAPES: [(&[usize], Input); 8] = [
    (&[5, 3], Input::Standardized),
    (&[7, 5, 2], Input::Pixels),
    (&[9, 6, 5, 12], Input::Unscaled),
    (&[10, 7, 3, 4, 5], Input::Standardized),
    (&[33, 17, 2], Input::Pixels),
    (&[3, 1, 11, 4], Input::Standardized),
    (&[11, 9, 7, 5, 8, 3], Input::Standardized),
    (&[13, 6, 5, 4, 3, 7, 6, 9], Input::Pixels),
];

/// Samples per data set.
const SAMPLES: usize = 40;

fn dataset(features: usize, classes: usize, input: Input, seed: u64) -> Dataset {
    let mut rng = Rng::new(seed);
    let shape = Shape {
        features,
        image: None,
    };
    let labels: Vec<u16> = (0..SAMPLES).map(|i| (i % classes) as u16).collect();
    let classes = Classes::new((0..classes).map(|c| format!("class \"{c}\"")).collect());
    if input == Input::Pixels {
        let mut pixels: Vec<u8> = (0..SAMPLES * features)
            .map(|_| rng.next_u64() as u8)
            .collect();
        pixels[0] = 0;
        pixels[1] = 255;
        Dataset::from_pixels("pixels", shape, pixels, labels, classes).unwrap()
    } else {
        // Features of different offsets and spreads, as real sensors have.
        let values = (0..SAMPLES * features)
            .map(|k| {
                let f = (k % features) as f32;
                10.0 * f - 7.0 + rng.uniform(-1.0, 1.0) * (f + 0.5)
            })
            .collect();
        Dataset::from_values("values", shape, values, labels, classes).unwrap()
    }
}

fn model(widths: &[usize], input: Input, data: &Dataset, seed: u64) -> Model {
    let arch = Architecture::from_widths(widths.to_vec()).unwrap();
    let mut net = Net::initialised(&arch, seed);
    let mut rng = Rng::new(seed ^ 0x5eed);
    for l in 0..arch.layers() {
        for b in net.layer_mut(l).bias.iter_mut() {
            *b = rng.uniform(-0.3, 0.3);
        }
    }
    let scaling = match input {
        Input::Pixels => Scaling::Pixels,
        Input::Standardized => Scaling::fit(data, ScaleMode::Standard),
        Input::Unscaled => Scaling::None,
    };
    Model {
        net,
        scaling,
        classes: data.classes().clone(),
        image: None,
    }
}

fn header() -> Header {
    Header {
        tool: "tinymlp host 0.0.0-test".into(),
        seed: 42,
        test_accuracy: Some(0.125),
        checkpoint_sha256: host::export::rust::sha256_hex(b"checkpoint"),
    }
}

/// The raw samples fed to the compiled chains: the data set's first ones,
/// plus out-of-range ones that hit the input clamps.
fn raw_samples(data: &Dataset) -> Vec<Vec<f32>> {
    let mut samples: Vec<Vec<f32>> = (0..6)
        .map(|i| {
            let mut raw = vec![0.0; data.features()];
            data.raw_f32(i, &mut raw);
            raw
        })
        .collect();
    if data.pixels(0).is_none() {
        samples.push(samples[0].iter().map(|v| v * 100.0).collect());
        samples.push(samples[1].iter().map(|v| -v * 100.0 - 1e3).collect());
    }
    samples
}

fn literal(v: f32, pixels: bool) -> String {
    if pixels {
        format!("{}", v as u8)
    } else {
        format!("{v:?}_f32")
    }
}

#[test]
fn emitted_chains_compute_what_the_run_time_networks_compute_for_every_shape() {
    let mut modules = Vec::new();
    let mut body = String::new();
    let mut expected = Vec::new();
    for (k, &(widths, input)) in SHAPES.iter().enumerate() {
        let classes = *widths.last().unwrap();
        let data = dataset(widths[0], classes, input, 10 + k as u64);
        let model = model(widths, input, &data, 20 + k as u64);
        let q = quantize_calibrated(&model, &data).unwrap();
        assert_eq!(matches!(q.input, QInput::Pixels), input == Input::Pixels);
        modules.push((format!("f{k}"), emit_f32(&model, &header()).unwrap()));
        modules.push((format!("q{k}"), emit_int8(&model, &q, &header()).unwrap()));

        let pixels = input == Input::Pixels;
        let samples = raw_samples(&data);
        let rows: Vec<String> = samples
            .iter()
            .map(|s| {
                let values: Vec<String> = s.iter().map(|&v| literal(v, pixels)).collect();
                format!("[{}]", values.join(", "))
            })
            .collect();
        let _ = write!(
            body,
            "    #[allow(clippy::approx_constant, clippy::excessive_precision)]\n    \
             let xs: [[f{k}::Raw; f{k}::INPUTS]; {n}] = [{rows}];\n    \
             for t in 0..<f{k}::Model as tinymlp::Parameters>::TENSORS {{\n        \
             for v in tinymlp::Parameters::tensor(&f{k}::MODEL, t) {{ print!(\"{{:08x}} \", v.to_bits()); }}\n    }}\n    \
             println!();\n    \
             for x in &xs {{\n        \
             for v in f{k}::logits(x) {{ print!(\"{{:08x}} \", v.to_bits()); }}\n        \
             println!();\n        \
             for a in q{k}::accumulators(x) {{ print!(\"{{:08x}} \", a as u32); }}\n        \
             println!();\n        \
             for v in q{k}::logits(x) {{ print!(\"{{:08x}} \", v.to_bits()); }}\n        \
             println!();\n        \
             println!(\"{{:x}} {{:x}}\", f{k}::classify(x), q{k}::classify(x));\n    }}\n",
            n = rows.len(),
            rows = rows.join(", "),
        );
        expected.push(model.net.params().iter().map(|v| v.to_bits()).collect());
        for raw in &samples {
            let logits = model.logits_raw(raw);
            expected.push(logits.iter().map(|v| v.to_bits()).collect());
            expected.push(q.accumulators(raw).iter().map(|&a| a as u32).collect());
            expected.push(q.logits(raw).iter().map(|v| v.to_bits()).collect());
            expected.push(vec![tinymlp::argmax(&logits) as u32, q.predict(raw) as u32]);
        }
    }
    let out = emitted::compile_and_run("tinymlp_export_shapes", &modules, &body);
    let got: Vec<Vec<u32>> = out.lines().map(emitted::parse_hex).collect();
    assert_eq!(got.len(), expected.len(), "{out}");
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g, e, "output line {i}");
    }
}

/// Values whose literals are easy to get wrong.
const TRICKY: [f32; 16] = [
    -0.0,
    1e-45, // smallest subnormal
    f32::MAX,
    0.1,
    -f32::MAX,
    f32::MIN_POSITIVE,
    1.0e-40, // subnormal
    -1.175_494_2e-38,
    std::f32::consts::PI, // clippy::approx_constant bait
    123_456.79,           // clippy::unreadable_literal bait
    1.0,
    -2.5e-7,
    16_777_216.0,
    0.333_333_34,
    7.0e30,
    -1.0e-38,
];

fn tricky_model() -> Model {
    let arch = Architecture::from_widths(vec![4, 3, 2]).unwrap();
    let params = (0..arch.parameter_count())
        .map(|i| TRICKY[i % TRICKY.len()])
        .collect();
    Model {
        net: Net::from_params(&arch, params),
        scaling: Scaling::Standardize {
            mean: vec![-0.0, 1e-45, 3.0, f32::MAX],
            inv_std: vec![1.0, 0.1, 1e-40, 2.5],
        },
        classes: Classes::new(vec!["cat".into(), "a \"quoted\" \\ name".into()]),
        image: None,
    }
}

#[test]
fn tricky_values_and_names_round_trip_bit_for_bit() {
    let model = tricky_model();
    let text = emit_f32(&model, &header()).unwrap();
    assert!(text.starts_with("// @generated by tinymlp host 0.0.0-test"));
    assert!(text.contains("test accuracy: 12.50%"));
    assert!(text.contains("pub static MODEL: Model = tinymlp::Hidden::new("));
    let body = "    for t in 0..4 { for v in tinymlp::Parameters::tensor(&m::MODEL, t) { print!(\"{:08x} \", v.to_bits()); } }\n    \
                println!();\n    \
                for v in m::SCALING.mean.iter().chain(&m::SCALING.inv_std) { print!(\"{:08x} \", v.to_bits()); }\n    \
                println!();\n    \
                println!(\"{}|{}\", m::CLASS_NAMES[0], m::CLASS_NAMES[1]);";
    let out = emitted::compile_and_run("tinymlp_export_tricky", &[("m".to_string(), text)], body);
    let lines: Vec<&str> = out.lines().collect();
    let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(emitted::parse_hex(lines[0]), bits(model.net.params()));
    let Scaling::Standardize { mean, inv_std } = &model.scaling else {
        unreachable!()
    };
    assert_eq!(
        emitted::parse_hex(lines[1]),
        bits(&[&mean[..], inv_std].concat())
    );
    assert_eq!(lines[2], "cat|a \"quoted\" \\ name");
}

#[test]
fn same_model_gives_identical_text_and_non_finite_values_are_rejected() {
    let a = emit_f32(&tricky_model(), &header()).unwrap();
    assert_eq!(a, emit_f32(&tricky_model(), &header()).unwrap());
    let mut other = tricky_model();
    let last = other.net.params().len() - 1;
    other.net.params_mut()[last] = f32::from_bits(other.net.params()[last].to_bits() ^ 1);
    assert_ne!(a, emit_f32(&other, &header()).unwrap());
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut model = tricky_model();
        model.net.tensor_mut(0)[2 * 4 + 1] = bad;
        let err = emit_f32(&model, &header()).unwrap_err();
        assert!(
            matches!(&err, ExportError::NonFinite { tensor, index: 9 } if tensor == "fc1.weight"),
            "{err}"
        );
    }
}

fn word(bytes: &[u8], offset: usize, i: usize) -> u32 {
    u32::from_le_bytes(
        bytes[offset + 4 * i..offset + 4 * i + 4]
            .try_into()
            .unwrap(),
    )
}

#[test]
fn the_bundle_holds_predictions_and_inputs_and_is_deterministic() {
    for &(widths, input) in &SHAPES[..3] {
        let classes = *widths.last().unwrap();
        let data = dataset(widths[0], classes, input, 3);
        let model = model(widths, input, &data, 4);
        let dir = tempfile::tempdir().unwrap();
        let summary = write_bundle(&model, b"ckpt", 9, &data, &data, dir.path()).unwrap();
        let names: Vec<String> = summary
            .files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "weights.rs",
                "weights_int8.rs",
                "predictions_f32.bin",
                "predictions_int8.bin",
                "test_inputs.bin.gz"
            ]
        );
        let again = tempfile::tempdir().unwrap();
        write_bundle(&model, b"ckpt", 9, &data, &data, again.path()).unwrap();
        for name in &names {
            let a = std::fs::read(dir.path().join(name)).unwrap();
            assert!(
                a == std::fs::read(again.path().join(name)).unwrap(),
                "{name}"
            );
        }

        let q = quantize_calibrated(&model, &data).unwrap();
        let raw_type = u32::from(input != Input::Pixels);
        let f = std::fs::read(dir.path().join("predictions_f32.bin")).unwrap();
        let i8 = std::fs::read(dir.path().join("predictions_int8.bin")).unwrap();
        let header = [SAMPLES as u32, classes as u32, widths[0] as u32, raw_type];
        for (bytes, magic) in [(&f, PREDICTIONS_F32_MAGIC), (&i8, PREDICTIONS_INT8_MAGIC)] {
            assert_eq!(bytes[..8], magic);
            assert_eq!(
                (0..4).map(|i| word(bytes, 8, i)).collect::<Vec<_>>(),
                header
            );
            assert_eq!(bytes.len(), 24 + SAMPLES * (classes + 1) * 4);
        }
        let inputs = {
            let gz = std::fs::read(dir.path().join("test_inputs.bin.gz")).unwrap();
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut out)
                .unwrap();
            out
        };
        assert_eq!(inputs, predictions::test_inputs(&model, &data));
        assert_eq!(inputs[..8], TEST_INPUTS_MAGIC);
        let size = if input == Input::Pixels { 1 } else { 4 };
        let record = widths[0] * size + 4;
        assert_eq!(inputs.len(), 20 + SAMPLES * record);
        let mut correct = 0;
        for n in 0..SAMPLES {
            let mut raw = vec![0.0; widths[0]];
            data.raw_f32(n, &mut raw);
            let stored = &inputs[20 + n * record..20 + (n + 1) * record];
            let decoded: Vec<f32> = if size == 1 {
                stored[..widths[0]].iter().map(|&p| f32::from(p)).collect()
            } else {
                stored[..4 * widths[0]]
                    .chunks(4)
                    .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                    .collect()
            };
            assert_eq!(decoded, raw);
            assert_eq!(word(stored, widths[0] * size, 0) as usize, data.label(n));
            let at = 24 + n * (classes + 1) * 4;
            let logits = model.logits_raw(&raw);
            for (c, l) in logits.iter().enumerate() {
                assert_eq!(word(&f, at, c), l.to_bits());
            }
            assert_eq!(word(&f, at, classes) as usize, tinymlp::argmax(&logits));
            let acc = q.accumulators(&raw);
            for (c, &a) in acc.iter().enumerate() {
                assert_eq!(word(&i8, at, c) as i32, a);
            }
            assert_eq!(word(&i8, at, classes) as usize, q.predict(&raw));
            correct += usize::from(q.predict(&raw) == data.label(n));
        }
        assert_eq!(summary.int8_accuracy, correct as f64 / SAMPLES as f64);
    }
}
