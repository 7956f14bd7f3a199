//! End-to-end tests of the `host` binary: train, eval, predict, inspect,
//! `--json`, `--quiet` and `--help`, on the real MNIST files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use image::{GrayImage, Luma};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data")
}

fn host(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_host"))
        .args(args)
        .output()
        .expect("the host binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `host args…`, asserts success, returns stdout.
fn ok(args: &[&str]) -> String {
    let out = host(args);
    assert!(
        out.status.success(),
        "host {args:?} failed\nstdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not one JSON object ({e}):\n{text}"))
}

/// A small model trained once for all tests (2 epochs on 5000 images,
/// ~90% test accuracy, under a second), with the `--json` summary of its run.
fn model() -> &'static (PathBuf, serde_json::Value) {
    static MODEL: OnceLock<(PathBuf, serde_json::Value)> = OnceLock::new();
    MODEL.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-model");
        let _ = std::fs::remove_dir_all(&dir);
        let summary = ok(&[
            "train",
            "--json",
            "--epochs",
            "2",
            "--limit",
            "5000",
            "--hidden",
            "32",
            "--data",
            data_dir().to_str().unwrap(),
            "--out",
            dir.to_str().unwrap(),
        ]);
        (dir, json(&summary))
    })
}

fn model_path() -> String {
    model_path_static().to_string()
}

fn model_path_static() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| model().0.join("model.safetensors").display().to_string())
}

fn texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).expect("the SVG is well-formed XML");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(|t| t.trim().to_string())
        .collect()
}

#[test]
fn train_json_summary_and_learning_curves() {
    let (dir, summary) = model();
    assert_eq!(summary["command"], "train");
    assert_eq!(summary["architecture"], "784-32-10");
    assert_eq!(summary["train_samples"], 5000);
    let accuracy = summary["test_accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.85, "test accuracy {accuracy}");
    let int8 = summary["int8_test_accuracy"].as_f64().unwrap();
    assert!(
        (accuracy - int8).abs() < 0.02,
        "int8 {int8} vs f32 {accuracy}"
    );
    let epochs = summary["epochs"].as_array().unwrap();
    assert_eq!(epochs.len(), 2);
    assert!(epochs[1]["train_loss"].as_f64() < epochs[0]["train_loss"].as_f64());

    let svg = std::fs::read_to_string(dir.join("curves.svg")).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    // One marker per epoch for each of train loss, train and test accuracy.
    let circles = doc
        .descendants()
        .filter(|n| n.has_tag_name("circle"))
        .count();
    assert_eq!(circles, 3 * 2);
    let texts = texts(&svg);
    for expected in [
        "training loss",
        "accuracy (%)",
        "epoch",
        "train",
        "test",
        "1",
        "2",
    ] {
        assert!(
            texts.iter().any(|t| t == expected),
            "{expected:?} in {texts:?}"
        );
    }
}

#[test]
fn quiet_train_prints_only_the_result_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = host(&[
        "train",
        "--quiet",
        "--epochs",
        "1",
        "--limit",
        "1000",
        "--hidden",
        "16",
        "--data",
        data_dir().to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    let text = stdout(&out);
    assert!(
        text.starts_with("test accuracy: ") && text.ends_with("%\n"),
        "{text:?}"
    );
    assert_eq!(text.lines().count(), 1);
    assert!(dir.path().join("curves.svg").exists());
}

#[test]
fn predict_a_test_image() {
    let out = ok(&[
        "predict",
        "--model",
        &model_path(),
        "--index",
        "0",
        "--data",
        data_dir().to_str().unwrap(),
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.contains(&"predicted: 7"), "{out}");
    assert!(lines.contains(&"label: 7"), "{out}");
    // The digit is drawn: a frame of 28 rows, 56 characters wide, with ink.
    let drawing: Vec<&&str> = lines.iter().filter(|l| l.starts_with('│')).collect();
    assert_eq!(drawing.len(), 28);
    assert!(drawing.iter().all(|l| l.chars().count() == 58));
    assert!(out.contains('█'));
    // Top 3: "  7:  94.90%", best first.
    let top: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("  ") && l.ends_with('%'))
        .collect();
    assert_eq!(top.len(), 3, "{out}");
    assert!(top[0].trim_start().starts_with("7:"), "{out}");

    // --quiet keeps the result lines only; --json only the object.
    let quiet = ok(&[
        "predict",
        "--quiet",
        "--model",
        &model_path(),
        "--index",
        "0",
        "--data",
        data_dir().to_str().unwrap(),
    ]);
    assert_eq!(quiet, "predicted: 7\nlabel: 7\n");
    let summary = json(&ok(&[
        "predict",
        "--json",
        "--model",
        &model_path(),
        "--index",
        "1",
        "--set",
        "train",
        "--data",
        data_dir().to_str().unwrap(),
    ]));
    assert_eq!(summary["command"], "predict");
    assert_eq!(summary["source"]["set"], "train");
    assert_eq!(summary["label"], 0, "train image 1 is a 0");
    let top = summary["top"].as_array().unwrap();
    assert_eq!(top.len(), 3);
    assert_eq!(summary["predicted"], top[0]["class"]);
    let p: Vec<f64> = top
        .iter()
        .map(|r| r["probability"].as_f64().unwrap())
        .collect();
    assert!(p[0] >= p[1] && p[1] >= p[2] && p[0] <= 1.0);
}

#[test]
fn predict_with_the_int8_network() {
    let data = data_dir();
    let args = |int8: bool| {
        let mut a = vec![
            "predict",
            "--json",
            "--model",
            model_path_static(),
            "--index",
            "0",
            "--data",
        ];
        a.push(data.to_str().unwrap());
        if int8 {
            a.push("--int8");
        }
        json(&ok(&a.iter().map(|s| &**s).collect::<Vec<&str>>()))
    };
    let (f32_summary, int8_summary) = (args(false), args(true));
    assert_eq!(int8_summary["int8"], true);
    assert_eq!(int8_summary["predicted"], 7);
    assert_eq!(int8_summary["label"], 7);
    // Quantized logits are close to the f32 ones, but not the same numbers.
    let logits = |v: &serde_json::Value| -> Vec<f64> {
        serde_json::from_value(v["logits"].clone()).unwrap()
    };
    let (a, b) = (logits(&f32_summary), logits(&int8_summary));
    assert_ne!(a, b, "--int8 must use the quantized network");
    let spread = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() < 0.2 * spread, "f32 {a:?}\nint8 {b:?}");
    }
    let out = ok(&[
        "predict",
        "--int8",
        "--quiet",
        "--model",
        model_path_static(),
        "--index",
        "0",
        "--data",
        data.to_str().unwrap(),
    ]);
    assert_eq!(out, "predicted: 7\nlabel: 7\n");
}

/// Test image 0 (a 7) as a person would draw it: dark on light, 100x100.
fn drawn_seven() -> GrayImage {
    let test = host::dataset::load_mnist(&data_dir(), host::dataset::Split::Test).unwrap();
    let small = GrayImage::from_raw(28, 28, test.image(0).to_vec()).unwrap();
    let mut big = image::imageops::resize(&small, 100, 100, image::imageops::FilterType::Triangle);
    image::imageops::invert(&mut big);
    big
}

#[test]
fn predict_a_png_and_a_pgm_drawing() {
    let dir = tempfile::tempdir().unwrap();
    let img = drawn_seven();
    assert!(img.get_pixel(0, 0).0[0] > 200, "light background");
    let png = dir.path().join("seven.png");
    img.save(&png).unwrap();
    let out = ok(&[
        "predict",
        "--model",
        &model_path(),
        "--image",
        png.to_str().unwrap(),
    ]);
    assert!(out.lines().any(|l| l == "predicted: 7"), "{out}");
    assert!(!out.contains("label:"), "no label for a picture");

    // The same as a binary PGM, written by hand.
    let pgm = dir.path().join("seven.pgm");
    let mut bytes = b"P5\n100 100\n255\n".to_vec();
    bytes.extend_from_slice(img.as_raw());
    std::fs::write(&pgm, bytes).unwrap();
    let out = ok(&[
        "predict",
        "--quiet",
        "--model",
        &model_path(),
        "--image",
        pgm.to_str().unwrap(),
    ]);
    assert_eq!(out, "predicted: 7\n");

    // A blank picture is an error that names the file.
    let blank = dir.path().join("blank.png");
    GrayImage::from_pixel(50, 50, Luma([255]))
        .save(&blank)
        .unwrap();
    let out = host(&[
        "predict",
        "--model",
        &model_path(),
        "--image",
        blank.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("blank.png"), "{}", stderr(&out));
}

#[test]
fn eval_writes_confusion_matrix_and_error_grid() {
    let out_dir = tempfile::tempdir().unwrap();
    let summary = json(&ok(&[
        "eval",
        "--json",
        "--model",
        &model_path(),
        "--data",
        data_dir().to_str().unwrap(),
        "--out",
        out_dir.path().to_str().unwrap(),
    ]));
    assert_eq!(summary["command"], "eval");
    assert_eq!(summary["samples"], 10_000);
    let correct = summary["correct"].as_u64().unwrap() as usize;
    let confusion: Vec<Vec<usize>> = serde_json::from_value(summary["confusion"].clone()).unwrap();
    assert_eq!(confusion.iter().flatten().sum::<usize>(), 10_000);
    assert_eq!((0..10).map(|c| confusion[c][c]).sum::<usize>(), correct);
    assert!(
        (summary["accuracy"].as_f64().unwrap() - model().1["test_accuracy"].as_f64().unwrap())
            .abs()
            < 1e-9,
        "eval agrees with train"
    );

    // Every non-zero count of the matrix is written in its SVG.
    let svg = std::fs::read_to_string(out_dir.path().join("confusion.svg")).unwrap();
    let texts = texts(&svg);
    let mut shown: Vec<usize> = texts.iter().filter_map(|t| t.parse().ok()).collect();
    for &count in confusion.iter().flatten().filter(|&&c| c > 0) {
        let at = shown
            .iter()
            .position(|&s| s == count)
            .unwrap_or_else(|| panic!("count {count} missing from {texts:?}"));
        shown.swap_remove(at);
    }
    assert!(
        texts[0].contains(&format!("{correct} of 10000")),
        "{}",
        texts[0]
    );

    // errors.png: the first 100 errors, 10 a row, tiles of 60x74 pixels.
    let errors = 10_000 - correct;
    assert!(errors >= 100);
    let png = image::open(out_dir.path().join("errors.png")).unwrap();
    assert_eq!((png.width(), png.height()), (10 * 60, 10 * 74));
    let small = tempfile::tempdir().unwrap();
    ok(&[
        "eval",
        "--quiet",
        "--errors",
        "13",
        "--model",
        &model_path(),
        "--data",
        data_dir().to_str().unwrap(),
        "--out",
        small.path().to_str().unwrap(),
    ]);
    let png = image::open(small.path().join("errors.png")).unwrap();
    assert_eq!((png.width(), png.height()), (10 * 60, 2 * 74));
}

#[test]
fn eval_writes_pictures_next_to_the_model_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    std::fs::copy(model_path(), &model).unwrap();
    let out = ok(&[
        "eval",
        "--model",
        model.to_str().unwrap(),
        "--data",
        data_dir().to_str().unwrap(),
    ]);
    assert!(
        out.contains("per-class accuracy:") && out.ends_with("%\n"),
        "{out}"
    );
    assert!(dir.path().join("confusion.svg").exists());
    assert!(dir.path().join("errors.png").exists());
}

const TEST_LABEL_COUNTS: [usize; 10] = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];

#[test]
fn inspect_the_real_test_labels() {
    let file = data_dir().join("t10k-labels-idx1-ubyte.gz");
    let out = ok(&["inspect", file.to_str().unwrap()]);
    assert!(out.contains("format: idx (gzipped), labels of u8"), "{out}");
    assert!(out.contains("dimensions: 10000\n"), "{out}");
    for (class, count) in TEST_LABEL_COUNTS.iter().enumerate() {
        let line = format!("  {class}: {count:>6}  ");
        assert!(out.contains(&line), "{line:?} in\n{out}");
    }

    let summary = json(&ok(&["inspect", "--json", file.to_str().unwrap()]));
    assert_eq!(summary["content"], "labels");
    assert_eq!(summary["dims"], serde_json::json!([10000]));
    assert_eq!(
        summary["label_histogram"],
        serde_json::json!(TEST_LABEL_COUNTS)
    );

    let images = data_dir().join("t10k-images-idx3-ubyte.gz");
    let summary = json(&ok(&["inspect", "--json", images.to_str().unwrap()]));
    assert_eq!(summary["content"], "images");
    assert_eq!(summary["dims"], serde_json::json!([10000, 28, 28]));
    let mean = summary["mean_pixel"].as_f64().unwrap();
    assert!(
        (33.0..34.0).contains(&mean),
        "MNIST test mean pixel is 33.8, got {mean}"
    );
}

#[test]
fn help_shows_every_default() {
    let expectations: &[(&str, &[&str])] = &[
        (
            "train",
            &[
                "[default: data]",
                "[default: model]",
                "[default: 64]",
                "[default: 25]",
                "[default: 32]",
                "[default: 0.05]",
                "[default: 1]",
                "--quiet",
                "--json",
            ],
        ),
        (
            "eval",
            &[
                "[default: model/model.safetensors]",
                "[default: data]",
                "[default: 100]",
                "model's directory",
            ],
        ),
        (
            "predict",
            &[
                "[default: model/model.safetensors]",
                "[default: test]",
                "--int8",
                "[default: data]",
                "--image",
                "--index",
            ],
        ),
        ("inspect", &["<FILE>", "CSV", "--json"]),
        (
            "emit",
            &[
                "[default: model/model.safetensors]",
                "[default: rust]",
                "--int8",
                "[default: data]",
            ],
        ),
    ];
    for (command, needles) in expectations {
        let help = ok(&[command, "--help"]);
        for needle in *needles {
            assert!(
                help.contains(needle),
                "`host {command} --help` lacks {needle:?}:\n{help}"
            );
        }
    }
    let top = ok(&["--help"]);
    for command in ["train", "eval", "predict", "inspect", "emit"] {
        assert!(top.contains(command), "{top}");
    }
}

#[test]
fn errors_are_short_and_name_the_file() {
    let out = host(&[
        "predict",
        "--model",
        "/no/such/model.safetensors",
        "--index",
        "0",
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("/no/such/model.safetensors"), "{err}");
    assert!(err.lines().count() <= 2, "{err}");
    assert!(stdout(&out).is_empty());

    let out = host(&[
        "predict",
        "--model",
        &model_path(),
        "--index",
        "10000",
        "--data",
        data_dir().to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("--index 10000 is out of range") && err.contains("0 to 9999"),
        "{err}"
    );
    assert!(err.lines().count() <= 2, "{err}");

    // Neither --index nor --image: clap says what is missing.
    let out = host(&["predict", "--model", &model_path()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--index"), "{}", stderr(&out));
}

#[test]
fn emit_rust_source_int8_source_and_csv_tensors() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir().display().to_string();
    let f32_file = dir.path().join("weights.rs");
    let summary = json(&ok(&[
        "--json",
        "emit",
        "--model",
        model_path_static(),
        "--data",
        &data,
        "--out",
        f32_file.to_str().unwrap(),
    ]));
    assert_eq!(summary["architecture"], "784-32-10");
    let accuracy = summary["test_accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.85, "{summary}");
    let source = std::fs::read_to_string(&f32_file).unwrap();
    assert!(
        source.starts_with("// @generated by tinymlp host"),
        "{}",
        &source[..200]
    );
    assert!(source.contains("pub static MODEL: tinymlp::Mlp<784, 32, 10>"));
    assert!(source.contains(&format!("test accuracy: {:.2}%", accuracy * 100.0)));

    let int8_file = dir.path().join("weights_int8.rs");
    let quiet = ok(&[
        "--quiet",
        "emit",
        "--model",
        model_path_static(),
        "--data",
        &data,
        "--int8",
        "--out",
        int8_file.to_str().unwrap(),
    ]);
    assert_eq!(quiet.trim(), format!("wrote {}", int8_file.display()));
    let int8_source = std::fs::read_to_string(&int8_file).unwrap();
    assert!(int8_source.contains("pub static MODEL_INT8: tinymlp::QMlp<784, 32, 10>"));

    // The same checkpoint gives the same bytes.
    ok(&[
        "emit",
        "--model",
        model_path_static(),
        "--data",
        &data,
        "--out",
        f32_file.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(&f32_file).unwrap(), source);

    let csv_dir = dir.path().join("csv");
    ok(&[
        "emit",
        "--model",
        model_path_static(),
        "--format",
        "csv",
        "--out",
        csv_dir.to_str().unwrap(),
    ]);
    let weight = std::fs::read_to_string(csv_dir.join("fc1.weight.csv")).unwrap();
    assert_eq!(weight.lines().count(), 32);
    assert!(weight.lines().all(|row| row.split(',').count() == 784));
    let bias = std::fs::read_to_string(csv_dir.join("fc2.bias.csv")).unwrap();
    assert_eq!(bias.lines().count(), 10);
}

/// Writes the first `n` images of an MNIST split as a `label,p0,…,p783` CSV file.
fn write_csv(path: &Path, split: host::dataset::Split, n: usize, header: bool) {
    let data = host::dataset::load_mnist(&data_dir(), split)
        .unwrap()
        .take(n);
    let mut text = String::new();
    if header {
        text.push_str("label");
        for i in 0..784 {
            text.push_str(&format!(",pixel{i}"));
        }
        text.push('\n');
    }
    for i in 0..data.len() {
        text.push_str(&data.label(i).to_string());
        for p in data.image(i) {
            text.push_str(&format!(",{p}"));
        }
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn train_and_eval_on_csv_files() {
    let dir = tempfile::tempdir().unwrap();
    let (train_csv, test_csv) = (
        dir.path().join("mnist_train.csv"),
        dir.path().join("mnist_test.csv"),
    );
    write_csv(&train_csv, host::dataset::Split::Train, 3000, true);
    write_csv(&test_csv, host::dataset::Split::Test, 500, false);
    let out = dir.path().join("model");
    let (train, test, out_s) = (
        train_csv.to_str().unwrap(),
        test_csv.to_str().unwrap(),
        out.to_str().unwrap(),
    );

    let line = ok(&[
        "--quiet", "train", "--data", train, "--test", test, "--epochs", "2", "--hidden", "32",
        "--out", out_s,
    ]);
    let accuracy: f64 = line
        .trim()
        .strip_prefix("test accuracy: ")
        .unwrap()
        .trim_end_matches('%')
        .parse()
        .unwrap();
    assert!(accuracy > 80.0, "{line}");

    // eval reads the same CSV test set and agrees.
    let model = out.join("model.safetensors");
    let eval = ok(&[
        "--quiet",
        "eval",
        "--model",
        model.to_str().unwrap(),
        "--data",
        test,
    ]);
    assert_eq!(eval.lines().last().unwrap(), line.trim());

    // A CSV training file without a test set is a clear error, not a guess.
    let missing = host(&["train", "--data", train, "--epochs", "1", "--out", out_s]);
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("--test"), "{}", stderr(&missing));

    // A ragged row names the file and the line.
    let ragged = dir.path().join("ragged.csv");
    std::fs::write(
        &ragged,
        format!(
            "{}\n7,0,0\n",
            std::fs::read_to_string(&test_csv)
                .unwrap()
                .lines()
                .next()
                .unwrap()
        ),
    )
    .unwrap();
    let bad = host(&[
        "eval",
        "--model",
        model.to_str().unwrap(),
        "--data",
        ragged.to_str().unwrap(),
    ]);
    assert!(!bad.status.success());
    let message = stderr(&bad);
    assert!(
        message.contains("ragged.csv")
            && message.contains("line 2")
            && !message.contains("panicked"),
        "{message}"
    );
}
