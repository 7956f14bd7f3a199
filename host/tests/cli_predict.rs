//! `host predict` end to end: every row of a file (with and without
//! labels), `--out` CSV, `--json` predictions, `--index`, `--image`, and
//! errors.

mod common;

use common::{data_dir, digits_model, image_model, iris_model, json, ok, run_host, s};
use image::{GrayImage, Luma};

#[test]
fn iris_rows_with_labels_lines_csv_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let model = iris_model(dir.path());
    let iris = data_dir().join("iris/iris.csv");
    let out = ok(&[
        "predict",
        "--model",
        s(&model),
        "--data",
        s(&iris),
        "--label-column",
        "species",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 151, "one line per row and the accuracy: {out}");
    assert!(
        lines[0].starts_with("0: ") && lines[0].ends_with("label: setosa"),
        "{out}"
    );
    assert!(lines[150].starts_with("accuracy: "), "{out}");

    let csv = dir.path().join("p.csv");
    let run = run_host(&[
        "predict",
        "--json",
        "--model",
        s(&model),
        "--data",
        s(&iris),
        "--label-column",
        "species",
        "--out",
        s(&csv),
    ]);
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert_eq!(run.stderr, "", "--json: nothing on stderr");
    let summary = json(&run.stdout);
    let predictions = summary["predictions"].as_array().unwrap();
    assert_eq!(predictions.len(), 150);
    let names = ["setosa", "versicolor", "virginica"];
    for p in predictions {
        let index = p["index"].as_u64().unwrap() as usize;
        assert_eq!(p["class"], names[index]);
    }
    assert_eq!(predictions[0]["label"], "setosa");
    let text = std::fs::read_to_string(&csv).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows[0], "index,class,confidence,label");
    assert_eq!(rows.len(), 151);
    assert!(
        rows[1].starts_with(&format!("0,{},", predictions[0]["class"].as_str().unwrap())),
        "{text}"
    );
    assert!(rows[1].ends_with(",setosa"), "{text}");
    // The human lines agree with the JSON.
    let first = format!("0: {} (", predictions[0]["class"].as_str().unwrap());
    assert!(lines[0].starts_with(&first), "{out}");
}

#[test]
fn rows_without_labels() {
    let dir = tempfile::tempdir().unwrap();
    let model = iris_model(dir.path());
    // The four feature columns only: no label column, by shape.
    let text = std::fs::read_to_string(data_dir().join("iris/iris.csv")).unwrap();
    let features: String = text
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_owned() + "\n")
        .collect();
    let file = dir.path().join("rows.csv");
    std::fs::write(&file, features).unwrap();
    let out = ok(&["predict", "--model", s(&model), "--data", s(&file)]);
    assert_eq!(out.lines().count(), 150, "{out}");
    assert!(!out.contains("label"), "{out}");
    let csv = dir.path().join("p.csv");
    ok(&[
        "predict",
        "--quiet",
        "--model",
        s(&model),
        "--data",
        s(&file),
        "--label-column",
        "none",
        "--out",
        s(&csv),
    ]);
    let written = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(written.lines().next(), Some("index,class,confidence"));
    assert_eq!(written.lines().count(), 151);
    // A folder as --out is refused before any row is classified.
    run_host(&[
        "predict",
        "--model",
        s(&model),
        "--data",
        s(&file),
        "--out",
        s(dir.path()),
    ])
    .assert_error(&[s(dir.path()), "is a directory", "--out"]);
    let summary = json(&ok(&[
        "predict",
        "--json",
        "--model",
        s(&model),
        "--data",
        s(&file),
    ]));
    assert_eq!(summary["labelled"], false);
    assert_eq!(summary["predictions"].as_array().unwrap().len(), 150);
}

#[test]
fn digits_rows_and_one_sample() {
    let dir = tempfile::tempdir().unwrap();
    let model = digits_model(dir.path());
    let test = data_dir().join("digits-8x8/digits-test.csv");
    let summary = json(&ok(&[
        "predict",
        "--json",
        "--model",
        s(&model),
        "--data",
        s(&test),
    ]));
    assert_eq!(summary["labelled"], true);
    assert_eq!(summary["predictions"].as_array().unwrap().len(), 450);
    let metrics = json(&std::fs::read_to_string(dir.path().join("metrics.json")).unwrap());
    assert!(
        (summary["accuracy"].as_f64().unwrap() - metrics["test_accuracy"].as_f64().unwrap()).abs()
            < 1e-9
    );
    let quiet = ok(&[
        "predict",
        "--quiet",
        "--model",
        s(&model),
        "--data",
        s(&test),
        "--index",
        "0",
    ]);
    let lines: Vec<&str> = quiet.lines().collect();
    assert_eq!(lines.len(), 2, "{quiet}");
    assert!(
        lines[0].starts_with("predicted: ") && lines[1].starts_with("label: "),
        "{quiet}"
    );
}

#[test]
fn data_of_another_shape_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let model = digits_model(dir.path());
    let iris = data_dir().join("iris/iris.csv");
    let run = run_host(&[
        "predict",
        "--model",
        s(&model),
        "--data",
        s(&iris),
        "--label-column",
        "species",
    ]);
    run.assert_error(&["iris.csv", "4 features", "64 features"]);
    // Without --label-column the species are found as the only text column:
    // the same error.
    let run = run_host(&["predict", "--model", s(&model), "--data", s(&iris)]);
    run.assert_error(&["iris.csv", "4 features", "64 features"]);
}

#[test]
fn image_on_a_non_image_model_names_its_shape() {
    let dir = tempfile::tempdir().unwrap();
    let model = digits_model(dir.path());
    let png = dir.path().join("x.png");
    GrayImage::from_pixel(20, 20, Luma([0])).save(&png).unwrap();
    run_host(&["predict", "--model", s(&model), "--image", s(&png)])
        .assert_error(&["--image", "64 features"]);
}

#[test]
fn image_models_draw_the_sample_and_read_pictures() {
    let dir = tempfile::tempdir().unwrap();
    let (model, data) = image_model(dir.path());
    let out = ok(&[
        "predict",
        "--model",
        s(&model),
        "--index",
        "3",
        "--data",
        s(&data),
    ]);
    let lines: Vec<&str> = out.lines().collect();
    let drawing: Vec<&&str> = lines.iter().filter(|l| l.starts_with('│')).collect();
    assert_eq!(drawing.len(), 28);
    assert!(drawing.iter().all(|l| l.chars().count() == 58));
    assert!(lines.contains(&"label: 3"), "{out}");
    let top: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("  ") && l.ends_with('%'))
        .collect();
    assert_eq!(top.len(), 3, "{out}");
    let quiet = ok(&[
        "predict",
        "--quiet",
        "--model",
        s(&model),
        "--index",
        "3",
        "--data",
        s(&data),
    ]);
    assert!(
        quiet.starts_with("predicted: ") && quiet.ends_with("label: 3\n"),
        "{quiet}"
    );
    let summary = json(&ok(&[
        "predict",
        "--json",
        "--model",
        s(&model),
        "--index",
        "1",
        "--set",
        "train",
        "--data",
        s(&data),
    ]));
    assert_eq!(summary["source"]["set"], "train");
    assert_eq!(summary["label"], 1);
    let top = summary["top"].as_array().unwrap();
    assert_eq!(summary["predicted"], top[0]["class"]);

    // A picture: a bar like class 5's, dark on light.
    let mut img = GrayImage::from_pixel(100, 100, Luma([250]));
    for y in 45..52 {
        for x in 15..85 {
            img.put_pixel(x, y, Luma([10]));
        }
    }
    let png = dir.path().join("bar.png");
    img.save(&png).unwrap();
    let out = ok(&["predict", "--model", s(&model), "--image", s(&png)]);
    assert!(out.lines().any(|l| l.starts_with("predicted: ")), "{out}");
    assert!(!out.contains("label:"), "no label for a picture");
    let blank = dir.path().join("blank.png");
    GrayImage::from_pixel(50, 50, Luma([255]))
        .save(&blank)
        .unwrap();
    run_host(&["predict", "--model", s(&model), "--image", s(&blank)]).assert_error(&["blank.png"]);
}
