//! `host eval` end to end: any class count with class names, pictures,
//! `--json`, and data that does not fit the model.

mod common;

use common::{data_dir, digits_model, image_model, iris_model, json, ok, run_host, s};

fn texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).expect("the SVG is well-formed XML");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(|t| t.trim().to_string())
        .collect()
}

#[test]
fn iris_table_names_the_classes_and_ends_with_the_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    let model = iris_model(dir.path());
    let iris = data_dir().join("iris/iris.csv");
    let out = ok(&[
        "eval",
        "--model",
        s(&model),
        "--data",
        s(&iris),
        "--label-column",
        "species",
    ]);
    assert!(out.contains("per-class accuracy:"), "{out}");
    for name in ["setosa", "versicolor", "virginica"] {
        assert!(
            out.lines()
                .any(|l| l.trim_start().starts_with(&format!("{name}:"))),
            "{name} in\n{out}"
        );
    }
    let last = out.lines().last().unwrap();
    assert!(
        last.starts_with("test accuracy: ") && last.ends_with('%'),
        "{out}"
    );
    // confusion.svg next to the model, no errors.png for a non-image model.
    let svg = std::fs::read_to_string(dir.path().join("confusion.svg")).unwrap();
    assert!(texts(&svg).iter().any(|t| t == "versicolor"));
    assert!(!dir.path().join("errors.png").exists());
}

#[test]
fn json_is_one_object_and_nothing_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let model = digits_model(dir.path());
    let test = data_dir().join("digits-8x8/digits-test.csv");
    let run = run_host(&["eval", "--json", "--model", s(&model), "--data", s(&test)]);
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert_eq!(run.stderr, "");
    let summary = json(&run.stdout);
    assert_eq!(summary["command"], "eval");
    assert_eq!(summary["samples"], 450);
    let confusion: Vec<Vec<usize>> = serde_json::from_value(summary["confusion"].clone()).unwrap();
    assert_eq!(confusion.len(), 10);
    assert_eq!(confusion.iter().flatten().sum::<usize>(), 450);
    let correct = summary["correct"].as_u64().unwrap() as usize;
    assert_eq!((0..10).map(|c| confusion[c][c]).sum::<usize>(), correct);
    // Eval agrees with train's test accuracy.
    let metrics: serde_json::Value =
        json(&std::fs::read_to_string(dir.path().join("metrics.json")).unwrap());
    let trained = metrics["test_accuracy"].as_f64().unwrap();
    assert!((summary["accuracy"].as_f64().unwrap() - trained).abs() < 1e-9);
    // No pictures with --json unless asked.
    assert!(!dir.path().join("confusion.svg").exists());
    assert_eq!(summary["files"], serde_json::json!([]));
    let out = tempfile::tempdir().unwrap();
    let summary = json(&ok(&[
        "eval",
        "--json",
        "--model",
        s(&model),
        "--data",
        s(&test),
        "--out",
        s(out.path()),
    ]));
    assert_eq!(summary["files"].as_array().unwrap().len(), 1);
    let svg = std::fs::read_to_string(out.path().join("confusion.svg")).unwrap();
    let texts = texts(&svg);
    assert!(
        texts[0].contains(&format!("{correct} of 450")),
        "{}",
        texts[0]
    );
}

#[test]
fn image_models_get_an_error_grid() {
    let dir = tempfile::tempdir().unwrap();
    let (model, data) = image_model(dir.path());
    let out = tempfile::tempdir().unwrap();
    let summary = json(&ok(&[
        "eval",
        "--json",
        "--pictures",
        "--errors",
        "13",
        "--model",
        s(&model),
        "--data",
        s(&data),
        "--out",
        s(out.path()),
    ]));
    let errors = 100 - summary["correct"].as_u64().unwrap() as u32;
    let png = image::open(out.path().join("errors.png")).unwrap();
    let shown = errors.min(13);
    let (cols, rows) = (shown.clamp(1, 10), shown.div_ceil(10).max(1));
    assert_eq!((png.width(), png.height()), (cols * 60, rows * 74));
}

#[test]
fn data_of_another_shape_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let model = digits_model(dir.path());
    let iris = data_dir().join("iris/iris.csv");
    let run = run_host(&[
        "eval",
        "--model",
        s(&model),
        "--data",
        s(&iris),
        "--label-column",
        "species",
    ]);
    run.assert_error(&["iris.csv", "4 features", "64 features", "model.safetensors"]);
    assert!(run.stdout.is_empty());
}
