//! `host train` through the binary: its outputs and summaries, any data and
//! any depth, and the errors that stop it before any training.

mod common;

use common::{data_dir, json, ok, run_host, run_host_with, s, without_last_column};
use host::fkernel::FPath;
use host::isa::Isa;
use host::qkernel::QPath;

fn texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).expect("the SVG is well-formed XML");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(|t| t.trim().to_string())
        .collect()
}

fn digits() -> (String, String) {
    let d = data_dir().join("digits-8x8");
    let path = |name: &str| d.join(name).display().to_string();
    (path("digits-train.csv"), path("digits-test.csv"))
}

#[test]
fn mnist_json_summary_bundle_and_learning_curves() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir();
    let summary = json(&ok(&[
        "train",
        "--json",
        "--epochs",
        "2",
        "--limit",
        "5000",
        "--hidden",
        "32",
        "--data",
        s(&data),
        "--out",
        s(dir.path()),
    ]));
    assert_eq!(summary["command"], "train");
    assert_eq!(summary["architecture"], "784-32-10");
    assert_eq!(summary["optimizer"], "sgd");
    assert_eq!(summary["train_samples"], 5000);
    assert_eq!(summary["classes"].as_array().unwrap().len(), 10);
    let accuracy = summary["test_accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.85, "test accuracy {accuracy}");
    let int8 = summary["int8_test_accuracy"].as_f64().unwrap();
    assert!(
        (accuracy - int8).abs() < 0.02,
        "int8 {int8} vs f32 {accuracy}"
    );
    let history = summary["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert!(history[1]["train_loss"].as_f64() < history[0]["train_loss"].as_f64());
    for file in [
        "model.safetensors",
        "metrics.json",
        "timings.json",
        "curves.svg",
        "weights.rs",
        "weights_int8.rs",
    ] {
        assert!(dir.path().join(file).is_file(), "{file}");
    }
    assert!(
        !dir.path().join("model.partial.safetensors").exists(),
        "the partial checkpoint is removed"
    );
    // metrics.json holds what identical runs share: no timings.
    let metrics = std::fs::read_to_string(dir.path().join("metrics.json")).unwrap();
    assert!(!metrics.contains("seconds"), "{metrics}");
    let momentum = json(&metrics)["momentum"].as_f64().unwrap() as f32;
    assert_eq!(momentum, 0.9, "{metrics}");

    let svg = std::fs::read_to_string(dir.path().join("curves.svg")).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    // One marker per epoch for each of train loss, train and test accuracy.
    let circles = doc
        .descendants()
        .filter(|n| n.has_tag_name("circle"))
        .count();
    assert_eq!(circles, 3 * 2);
    let texts = texts(&svg);
    for expected in ["training loss", "accuracy (%)", "epoch", "train", "test"] {
        assert!(
            texts.iter().any(|t| t == expected),
            "{expected:?} in {texts:?}"
        );
    }
}

#[test]
fn plain_sgd_from_the_command_line_is_recorded_and_momentum_refused_with_adam() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir();
    let args = [
        "--epochs",
        "1",
        "--limit",
        "600",
        "--hidden",
        "16",
        "--data",
        s(&data),
    ];
    let out = ["--out", s(dir.path()), "--quiet"];
    let plain = [
        &["train", "--momentum", "0", "--lr", "0.1"][..],
        &args,
        &out,
    ]
    .concat();
    ok(&plain);
    let metrics = std::fs::read_to_string(dir.path().join("metrics.json")).unwrap();
    assert_eq!(json(&metrics)["momentum"], 0.0, "{metrics}");
    // Any momentum given, the default's value too, is refused with Adam.
    for momentum in ["0.5", "0.9"] {
        let refused = [
            &["train", "--momentum", momentum, "--optimizer", "adam"][..],
            &args,
            &out,
        ]
        .concat();
        run_host(&refused).assert_error(&["--momentum", "--optimizer sgd"]);
    }
}

#[test]
fn quiet_train_prints_only_the_result_line() {
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = digits();
    let run = run_host(&[
        "train",
        "--quiet",
        "--epochs",
        "1",
        "--hidden",
        "16",
        "--data",
        &train,
        "--test",
        &test,
        "--out",
        s(dir.path()),
    ]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stderr, "");
    assert!(
        run.stdout.starts_with("test accuracy: ") && run.stdout.ends_with("%\n"),
        "{:?}",
        run.stdout
    );
    assert_eq!(run.stdout.lines().count(), 1);
}

/// The issue's own-data walkthrough: a single CSV with text classes, held-out
/// share, then predictions with class names and an emitted file naming them.
#[test]
fn iris_from_one_csv_with_text_classes() {
    let dir = tempfile::tempdir().unwrap();
    let iris = data_dir().join("iris/iris.csv");
    let summary = json(&ok(&[
        "train",
        "--json",
        "--data",
        s(&iris),
        "--label-column",
        "species",
        "--test-fraction",
        "0.25",
        "--hidden",
        "8",
        "--out",
        s(dir.path()),
    ]));
    assert_eq!(summary["architecture"], "4-8-3");
    assert_eq!(summary["optimizer"], "adam");
    assert_eq!(
        summary["classes"],
        serde_json::json!(["setosa", "versicolor", "virginica"])
    );
    // 150 rows, a quarter of each species held out.
    assert_eq!(summary["train_samples"], 150 - 3 * 13);
    // Small data gets enough optimiser steps: 111 rows in batches of 32 is 4 a epoch.
    assert!(
        summary["epochs"].as_u64().unwrap() >= 1000,
        "{}",
        summary["epochs"]
    );
    assert!(
        summary["test_accuracy"].as_f64().unwrap() > 0.85,
        "{summary}"
    );
    let weights = std::fs::read_to_string(dir.path().join("weights.rs")).unwrap();
    assert!(
        weights.contains("\"setosa\"") && weights.contains("pub fn classify"),
        "{weights}"
    );
    let rows = dir.path().join("rows.csv");
    std::fs::write(
        &rows,
        "sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n6.7,3.1,5.6,2.4\n",
    )
    .unwrap();
    let model = dir.path().join("model.safetensors");
    let out = ok(&["predict", "--model", s(&model), "--data", s(&rows)]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("0: setosa"), "{out}");
    assert!(lines[1].starts_with("1: virginica"), "{out}");
}

#[test]
fn any_depth_from_none_to_six_hidden_layers() {
    let (train, test) = digits();
    for (hidden, architecture) in [
        ("none", "64-10"),
        ("32,16", "64-32-16-10"),
        ("7,6,5,4,3,2", "64-7-6-5-4-3-2-10"),
        ("100", "64-100-10"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let summary = json(&ok(&[
            "train",
            "--json",
            "--epochs",
            "2",
            "--hidden",
            hidden,
            "--data",
            &train,
            "--test",
            &test,
            "--out",
            s(dir.path()),
        ]));
        assert_eq!(summary["architecture"], architecture);
        let weights = std::fs::read_to_string(dir.path().join("weights.rs")).unwrap();
        assert!(
            weights.contains("pub const INPUTS: usize = 64;"),
            "{hidden}"
        );
    }
}

#[test]
fn mismatched_files_and_missing_test_sets_fail_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = digits();
    // The test file lacks the last column.
    let narrow = dir.path().join("narrow.csv");
    without_last_column(std::path::Path::new(&test), &narrow);
    let out_dir = dir.path().join("out");
    let out = s(&out_dir);
    run_host(&[
        "train",
        "--data",
        &train,
        "--test",
        s(&narrow),
        "--out",
        out,
    ])
    .assert_error(&["narrow.csv", "digits-train.csv", "63", "64"]);
    // Another file altogether: read (its species are its only text column),
    // then refused for its shape.
    let iris = data_dir().join("iris/iris.csv");
    run_host(&["train", "--data", &train, "--test", s(&iris), "--out", out]).assert_error(&[
        "iris.csv",
        "4 features",
        "has 64",
        "same columns",
    ]);
    // A file whose labels cannot be found says which option would fix it.
    let two_texts = dir.path().join("two-texts.csv");
    std::fs::write(&two_texts, "id,x,kind\nr1,2,a\nr2,3,b\n").unwrap();
    run_host(&[
        "train",
        "--data",
        s(&two_texts),
        "--test-fraction",
        "0.5",
        "--out",
        out,
    ])
    .assert_error(&["two-texts.csv", "kind", "--label-column"]);
    // Its only text column holds a timestamp per row: not taken for classes.
    let stamped = dir.path().join("stamped.csv");
    let rows: String = (0..40)
        .map(|i| format!("{i},2026-12-02T{i:02},{}\n", i % 2))
        .collect();
    std::fs::write(&stamped, format!("x,time,kind\n{rows}")).unwrap();
    let split = ["--test-fraction", "0.5", "--out", out];
    run_host(&[&["train", "--data", s(&stamped)][..], &split].concat()).assert_error(&[
        "stamped.csv",
        "column 2 (time)",
        "40 different values",
        "--label-column",
    ]);
    run_host(&["train", "--data", &train, "--out", out])
        .assert_error(&["--test", "--test-fraction"]);
    run_host(&[
        "train",
        "--data",
        &train,
        "--test-fraction",
        "1.5",
        "--out",
        out,
    ])
    .assert_error(&["--test-fraction"]);
    // clap's usage errors exit 2, naming the option.
    let usage = run_host(&[
        "train",
        "--data",
        &train,
        "--test-fraction",
        "0.2",
        "--hidden",
        "6x",
        "--out",
        out,
    ]);
    assert_eq!(usage.code, Some(2));
    assert!(
        usage.stderr.contains("--hidden") && usage.stderr.contains("6x"),
        "{}",
        usage.stderr
    );
    run_host(&[
        "train",
        "--data",
        &train,
        "--test-fraction",
        "0.2",
        "--weight-decay",
        "-1",
        "--out",
        out,
    ])
    .assert_error(&["--weight-decay"]);
    run_host(&[
        "train",
        "--data",
        &train,
        "--test-fraction",
        "0.2",
        "--shift",
        "1",
        "--out",
        out,
    ])
    .assert_error(&["--shift"]);
    assert!(!out_dir.exists(), "nothing written");
}

#[test]
fn a_failed_run_leaves_the_previous_model_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = digits();
    let out = s(dir.path());
    ok(&[
        "train", "--quiet", "--epochs", "1", "--hidden", "16", "--data", &train, "--test", &test,
        "--out", out,
    ]);
    let before = std::fs::read(dir.path().join("model.safetensors")).unwrap();
    let weights = std::fs::read(dir.path().join("weights.rs")).unwrap();
    // A learning rate that diverges in the first epoch.
    run_host(&[
        "train",
        "--epochs",
        "3",
        "--hidden",
        "16",
        "--optimizer",
        "sgd",
        "--lr",
        "1e30",
        "--data",
        &train,
        "--test",
        &test,
        "--out",
        out,
    ])
    .assert_error(&["diverged", "--lr", "unchanged"]);
    assert!(!dir.path().join("model.partial.safetensors").exists());
    assert_eq!(
        std::fs::read(dir.path().join("model.safetensors")).unwrap(),
        before
    );
    assert_eq!(
        std::fs::read(dir.path().join("weights.rs")).unwrap(),
        weights
    );
}

#[test]
fn help_shows_every_default() {
    let help = ok(&["train", "--help"]);
    for needle in [
        "[default: data]",
        "[default: model]",
        "[default: 64]",
        "[default: 32]",
        "[default: auto]",
        "--test-fraction",
        "--label-column",
        "--optimizer",
        "--momentum",
        "--scale",
        "none",
        "--quiet",
        "--json",
    ] {
        assert!(
            help.contains(needle),
            "`host train --help` lacks {needle:?}:\n{help}"
        );
    }
    let top = ok(&["--help"]);
    for command in ["train", "eval", "predict", "inspect", "emit"] {
        assert!(top.contains(command), "{top}");
    }
}

#[test]
fn capping_the_instruction_set_changes_no_bit_and_a_wrong_cap_is_refused() {
    let data = data_dir();
    // 64 rows: the first layer's fused step; one thread and two.
    let train = |cap: Option<&str>, threads: &str| {
        let dir = tempfile::tempdir().unwrap();
        let args = [
            "train",
            "--quiet",
            "--epochs",
            "1",
            "--limit",
            "2000",
            "--hidden",
            "64",
            "--threads",
            threads,
            "--data",
            s(&data),
            "--out",
            s(dir.path()),
        ];
        let envs: Vec<(&str, &str)> = cap.map(|c| ("TINYMLP_MAX_ISA", c)).into_iter().collect();
        run_host_with(&args, &envs).assert_ok();
        let read = |name: &str| std::fs::read(dir.path().join(name)).unwrap();
        let timings = json(&String::from_utf8(read("timings.json")).unwrap());
        let kernel = |kind: &str| timings["kernels"][kind].as_str().unwrap().to_owned();
        // A count given with --threads is every epoch's, busy cores or not.
        let took = timings["epochs"][0]["threads"].as_u64();
        assert_eq!(took, threads.parse().ok(), "{timings}");
        let files = (read("model.safetensors"), read("metrics.json"));
        (files, [kernel("f32"), kernel("int8")])
    };
    let (all, [widest, widest_int8]) = train(None, "1");
    let widest = FPath::ALL.into_iter().find(|p| p.name() == widest).unwrap();
    let widest_int8 = QPath::ALL
        .into_iter()
        .find(|p| p.name() == widest_int8)
        .unwrap();
    assert!(widest.is_available() && widest_int8.is_available());
    for (cap, threads) in [
        (Some("portable"), "1"),
        (Some("avx2"), "1"),
        (Some("AVX2"), "2"),
        (Some("avxvnni"), "1"),
        (Some("avx512"), "2"),
        (Some(""), "1"),
    ] {
        let (files, [f32_kernel, int8_kernel]) = train(cap, threads);
        assert!(files == all, "{cap:?} on {threads} threads");
        // The widest path at or under the cap that this CPU has.
        let cap = cap.and_then(|c| Isa::parse(c).ok());
        let under = |isa: Isa| cap.is_none_or(|cap| isa <= cap);
        let f32_path = FPath::ALL
            .into_iter()
            .rev()
            .find(|p| p.is_available() && under(p.isa()));
        let int8_path = QPath::ALL
            .into_iter()
            .rev()
            .find(|p| p.is_available() && under(p.isa()));
        assert_eq!(f32_kernel, f32_path.unwrap().name(), "{cap:?}");
        assert_eq!(int8_kernel, int8_path.unwrap().name(), "{cap:?}");
        if cap.is_none() {
            assert_eq!(
                [f32_kernel.as_str(), int8_kernel.as_str()],
                [widest.name(), widest_int8.name()]
            );
        }
        // AVX2 alone, as on CPUs without AVX-VNNI: no VNNI int8 kernel.
        if cap == Some(Isa::Avx2) {
            assert!(!int8_kernel.contains("vnni"), "{int8_kernel}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "train",
        "--epochs",
        "1",
        "--data",
        s(&data),
        "--out",
        s(dir.path()),
    ];
    run_host_with(&args, &[("TINYMLP_MAX_ISA", "sse4")]).assert_error(&[
        "TINYMLP_MAX_ISA=\"sse4\"",
        "portable, avx2, avxvnni or avx512",
    ]);
    assert!(!dir.path().join("model.safetensors").exists());
}
