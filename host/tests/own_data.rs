//! A user's own data end to end, as the README's walkthrough runs it: one CSV
//! with text classes → `train` → `predict --data` → `emit` → the emitted
//! Rust compiled and run on the same rows, giving the same answers.

mod common;
#[path = "common/emitted.rs"]
mod emitted;

use common::{data_dir, json, ok, s};

#[test]
fn iris_train_predict_emit_and_the_emitted_classify_agree() {
    let dir = tempfile::tempdir().unwrap();
    let iris = data_dir().join("iris/iris.csv");
    // As the README runs it: the species are the only text column.
    let split = ["--test-fraction", "0.25"];
    let mut train = vec![
        "train",
        "--quiet",
        "--data",
        s(&iris),
        "--hidden",
        "8",
        "--out",
        s(dir.path()),
    ];
    train.extend(split);
    ok(&train);
    // Naming the label column changes nothing.
    let named = tempfile::tempdir().unwrap();
    let mut explicit = train.clone();
    let out = explicit.len() - split.len() - 1;
    explicit[out] = s(named.path());
    explicit.extend(["--label-column", "species"]);
    ok(&explicit);
    let checkpoint = |d: &std::path::Path| std::fs::read(d.join("model.safetensors")).unwrap();
    assert_eq!(checkpoint(dir.path()), checkpoint(named.path()));

    // emit, given the training run's data options, rewrites the same bundle.
    let files = [
        "weights.rs",
        "weights_int8.rs",
        "predictions_f32.bin",
        "predictions_int8.bin",
        "test_inputs.bin.gz",
    ];
    let read = |f: &str| std::fs::read(dir.path().join(f)).unwrap();
    let before: Vec<Vec<u8>> = files.iter().map(|f| read(f)).collect();
    let model = dir.path().join("model.safetensors");
    let mut emit = vec!["emit", "--quiet", "--model", s(&model), "--data", s(&iris)];
    emit.extend(split);
    ok(&emit);
    for (file, bytes) in files.iter().zip(&before) {
        assert_eq!(&read(file), bytes, "{file} differs after emit");
    }

    // The host's answers for all 150 flowers.
    let predicted = json(&ok(&[
        "predict",
        "--json",
        "--model",
        s(&model),
        "--data",
        s(&iris),
        "--label-column",
        "species",
    ]));
    let host: Vec<u64> = predicted["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["index"].as_u64().unwrap())
        .collect();
    assert_eq!(host.len(), 150);

    // The emitted f32 and int8 files, compiled, on the same raw rows.
    let rows: Vec<String> = std::fs::read_to_string(&iris)
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| {
            let values: Vec<String> = line
                .split(',')
                .take(4)
                .map(|v| format!("{:?}", v.parse::<f32>().unwrap()))
                .collect();
            format!("[{}]", values.join(", "))
        })
        .collect();
    let modules = [
        (
            "f".to_string(),
            String::from_utf8(read("weights.rs")).unwrap(),
        ),
        (
            "q".to_string(),
            String::from_utf8(read("weights_int8.rs")).unwrap(),
        ),
    ];
    let body = format!(
        "    #[allow(clippy::approx_constant)]\n    let rows: [[f32; f::INPUTS]; {}] = [{}];\n    \
         for r in &rows {{ println!(\"{{}} {{}} {{}}\", f::classify(r), q::classify(r), f::CLASS_NAMES[f::classify(r)]); }}\n",
        rows.len(),
        rows.join(", ")
    );
    let out = emitted::compile_and_run("tinymlp_iris_walkthrough", &modules, &body);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 150);
    let names = ["setosa", "versicolor", "virginica"];
    let mut int8_agree = 0;
    for (i, (line, &h)) in lines.iter().zip(&host).enumerate() {
        let parts: Vec<&str> = line.split(' ').collect();
        assert_eq!(
            parts[0],
            h.to_string(),
            "row {i}: emitted f32 classify vs host predict"
        );
        assert_eq!(parts[2], names[h as usize], "row {i}: class name");
        int8_agree += usize::from(parts[1] == parts[0]);
    }
    // int8 is a different network; on iris it agrees on nearly every row.
    assert!(int8_agree >= 145, "int8 agrees on {int8_agree} of 150 rows");
}

/// A data file whose columns do not fit the model is one clear error in
/// every subcommand that reads data, naming the file and both shapes.
#[test]
fn every_subcommand_refuses_data_of_another_shape() {
    let dir = tempfile::tempdir().unwrap();
    let d = data_dir().join("digits-8x8");
    let (train, test) = (d.join("digits-train.csv"), d.join("digits-test.csv"));
    let out = dir.path().join("model");
    ok(&[
        "train",
        "--quiet",
        "--epochs",
        "1",
        "--data",
        s(&train),
        "--test",
        s(&test),
        "--out",
        s(&out),
    ]);
    let model = out.join("model.safetensors");
    // The test file without its last column: 63 features for a 64-input model.
    let narrow = dir.path().join("narrow.csv");
    common::without_last_column(std::path::Path::new(&test), &narrow);
    let words = ["narrow.csv", "63", "64"];
    common::run_host(&["eval", "--model", s(&model), "--data", s(&narrow)]).assert_error(&words);
    common::run_host(&[
        "predict",
        "--model",
        s(&model),
        "--data",
        s(&narrow),
        "--label-column",
        "first",
    ])
    .assert_error(&words);
    common::run_host(&[
        "emit",
        "--model",
        s(&model),
        "--data",
        s(&train),
        "--test",
        s(&narrow),
    ])
    .assert_error(&words);
    common::run_host(&[
        "train",
        "--data",
        s(&train),
        "--test",
        s(&narrow),
        "--out",
        s(&dir.path().join("other")),
    ])
    .assert_error(&words);
}
