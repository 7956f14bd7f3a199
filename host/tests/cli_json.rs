//! `--json` is machine output for every subcommand: stdout holds exactly one
//! JSON object, stderr nothing (no progress, no result lines), and no side
//! file is written that was not asked for. Data files are sniffed from their
//! bytes, whatever their names.

mod common;

use common::{data_dir, json, run_host, s};

/// Runs `host --json args…`: success, one JSON object on stdout, an empty stderr.
fn machine(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let run = run_host(&all);
    assert_eq!(run.code, Some(0), "host {all:?}: {}", run.stderr);
    assert_eq!(run.stderr, "", "host {all:?} wrote to stderr");
    json(&run.stdout)
}

#[test]
fn every_subcommand_keeps_json_on_stdout_and_stderr_empty() {
    let dir = tempfile::tempdir().unwrap();
    let d = data_dir().join("digits-8x8");
    let (train, test) = (d.join("digits-train.csv"), d.join("digits-test.csv"));
    let out = dir.path().join("model");
    let summary = machine(&[
        "train",
        "--epochs",
        "2",
        "--data",
        s(&train),
        "--test",
        s(&test),
        "--out",
        s(&out),
    ]);
    assert_eq!(summary["command"], "train");
    let model = out.join("model.safetensors");

    let eval = machine(&["eval", "--model", s(&model), "--data", s(&test)]);
    assert!(eval["accuracy"].as_f64().is_some(), "{eval}");
    assert!(
        !out.join("confusion.svg").exists(),
        "eval --json wrote a picture nobody asked for"
    );
    machine(&[
        "eval",
        "--model",
        s(&model),
        "--data",
        s(&test),
        "--pictures",
    ]);
    assert!(
        out.join("confusion.svg").exists(),
        "--pictures asks for them"
    );

    let predicted = machine(&["predict", "--model", s(&model), "--data", s(&test)]);
    assert_eq!(predicted["predictions"].as_array().unwrap().len(), 450);
    machine(&[
        "predict",
        "--model",
        s(&model),
        "--data",
        s(&test),
        "--index",
        "3",
    ]);
    machine(&["inspect", s(&test)]);
    let emitted = machine(&[
        "emit",
        "--model",
        s(&model),
        "--data",
        s(&train),
        "--test",
        s(&test),
    ]);
    assert!(emitted["files"].as_array().is_some(), "{emitted}");
}

#[test]
fn data_files_are_sniffed_whatever_their_names() {
    let dir = tempfile::tempdir().unwrap();
    // A CSV file not named .csv is read as CSV.
    let d = data_dir().join("digits-8x8");
    let txt = dir.path().join("digits-test.txt");
    std::fs::copy(d.join("digits-test.csv"), &txt).unwrap();
    let described = machine(&["inspect", s(&txt)]);
    assert_eq!(described["format"], "csv", "{described}");
    // Asked for as IDX, it says what it looks like and which option to use.
    let out = dir.path().join("out");
    run_host(&[
        "train",
        "--data",
        s(&txt),
        "--format",
        "idx",
        "--out",
        s(&out),
    ])
    .assert_error(&["digits-test.txt", "looks like CSV text", "--format csv"]);
    // An IDX file asked for as CSV likewise.
    let idx = data_dir().join("t10k-images-idx3-ubyte.gz");
    run_host(&[
        "train",
        "--data",
        s(&idx),
        "--format",
        "csv",
        "--out",
        s(&out),
    ])
    .assert_error(&["t10k-images-idx3-ubyte.gz", "gzipped IDX", "--format idx"]);
    assert!(!out.exists());
}
