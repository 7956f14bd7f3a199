//! `host inspect` on IDX and CSV files of any shape.

mod common;

use common::{data_dir, json, ok, s};

const TEST_LABEL_COUNTS: [usize; 10] = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];

#[test]
fn inspect_the_real_test_labels_and_images() {
    let file = data_dir().join("t10k-labels-idx1-ubyte.gz");
    let out = ok(&["inspect", s(&file)]);
    assert!(out.contains("format: idx (gzipped), labels of u8"), "{out}");
    assert!(out.contains("dimensions: 10000\n"), "{out}");
    for (class, count) in TEST_LABEL_COUNTS.iter().enumerate() {
        let line = format!("  {class}: {count:>6}  ");
        assert!(out.contains(&line), "{line:?} in\n{out}");
    }
    let summary = json(&ok(&["inspect", "--json", s(&file)]));
    assert_eq!(summary["content"], "labels");
    assert_eq!(summary["dims"], serde_json::json!([10000]));
    assert_eq!(
        summary["label_histogram"],
        serde_json::json!(TEST_LABEL_COUNTS)
    );

    let images = data_dir().join("t10k-images-idx3-ubyte.gz");
    let summary = json(&ok(&["inspect", "--json", s(&images)]));
    assert_eq!(summary["content"], "images");
    assert_eq!(summary["dims"], serde_json::json!([10000, 28, 28]));
    assert_eq!(summary["image"], serde_json::json!([28, 28]));
    let mean = summary["mean_pixel"].as_f64().unwrap();
    assert!(
        (33.0..34.0).contains(&mean),
        "MNIST test mean pixel is 33.8, got {mean}"
    );
}

#[test]
fn inspect_csv_files_with_class_names() {
    let iris = data_dir().join("iris/iris.csv");
    let out = ok(&["inspect", s(&iris), "--label-column", "species"]);
    assert!(out.contains("dimensions: 150 x 4"), "{out}");
    assert!(out.contains("encoding: values"), "{out}");
    assert!(out.contains("   setosa:     50  33.33%"), "{out}");
    let digits = data_dir().join("digits-8x8/digits-train.csv");
    let summary = json(&ok(&["inspect", "--json", s(&digits)]));
    assert_eq!(summary["format"], "csv");
    assert_eq!(summary["features"], 64);
    assert_eq!(summary["classes"].as_array().unwrap().len(), 10);
    let total: u64 = summary["label_histogram"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total, summary["samples"].as_u64().unwrap());
}

#[test]
fn inspect_errors_name_the_file() {
    common::run_host(&["inspect", "/no/such/file.csv"]).assert_error(&["/no/such/file.csv"]);
}
