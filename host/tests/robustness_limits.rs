//! Bounds a hostile user cannot get past: options outside their documented
//! ranges fail before any data is read, naming the option; memory follows
//! what the user asked for (`--threads`, `--batch`), never what a file
//! claims; a checkpoint whose logits overflow is an error, not `NaN%`.
//! (Topic file of the robustness suite; see `robustness.rs`.)

mod common;

use std::collections::BTreeMap;

use common::{iris_model, run_host, s, write_mnist};
use host::model::{checkpoint, Checkpoint};

/// The peak RSS any command may reach at default options (the README's bound).
const DEFAULT_BOUND: u64 = 400 << 20;

#[test]
fn options_out_of_range_fail_before_the_data_is_read() {
    let dir = common::tempdir();
    let out = dir.path().join("out");
    for (option, value, words) in [
        ("--weight-decay", "-1", "--weight-decay must be"),
        ("--weight-decay", "nan", "--weight-decay must be"),
        ("--weight-decay", "1e9", "--weight-decay must be"),
        ("--lr", "-1", "--lr must be a positive number"),
        ("--lr", "nan", "--lr must be a positive number"),
        (
            "--epochs",
            "1000000000000",
            "--epochs must be between 1 and 100000",
        ),
        (
            "--epochs",
            "18446744073709551615",
            "--epochs must be between 1 and 100000",
        ),
        ("--threads", "257", "--threads must be between 1 and 256"),
        ("--batch", "65537", "--batch must be between 1 and 65536"),
    ] {
        // The data does not exist: the option is reported first.
        let run = run_host(&[
            "train",
            "--data",
            "/no/such/data",
            "--out",
            s(&out),
            option,
            value,
        ]);
        run.assert_error(&[words]);
        assert!(!run.stderr.contains("/no/such/data"), "{}", run.stderr);
        assert!(
            !out.exists(),
            "{option} {value}: the output directory was created"
        );
    }
    // A negative number after a space is a value, not an unknown option.
    run_host(&["train", "--data", "/no/such/data", "--lr", "-0.5"]).assert_error(&["--lr must be"]);
}

#[test]
fn a_checkpoint_whose_logits_overflow_is_an_error_not_nan() {
    let dir = common::tempdir();
    let path = iris_model(&dir.path().join("m"));
    let mut model = Checkpoint::read(&path).unwrap().load().unwrap();
    // Finite, but valid input overflows: every hidden unit is 3e38, and the
    // output weights (±3e38) take the logits to ±infinity.
    for t in 0..model.net.tensors() {
        let last = t >= 2;
        let weight = t % 2 == 0;
        for (i, w) in model.net.tensor_mut(t).iter_mut().enumerate() {
            *w = match (last, weight) {
                (false, true) => 0.0,
                (false, false) => 3e38,
                (true, true) if i % 2 == 0 => 3e38,
                (true, true) => -3e38,
                (true, false) => 0.0,
            };
        }
    }
    assert!(model.net.all_finite());
    let huge = dir.path().join("huge.safetensors");
    checkpoint::save(&huge, &model, &BTreeMap::new()).unwrap();
    let iris = common::data("iris/iris.csv");
    let data = ["--data", s(&iris), "--label-column", "species"];
    let mut predict = vec!["predict", "--model", s(&huge)];
    predict.extend(data);
    run_host(&predict).assert_error(&[s(&huge), "not a finite number", "--lr"]);
    predict.extend(["--index", "3"]);
    run_host(&predict).assert_error(&[s(&huge), "not a finite number"]);
    let mut eval = vec!["eval", "--model", s(&huge), "--out", s(dir.path())];
    eval.extend(data);
    let run = run_host(&eval);
    run.assert_error(&[s(&huge), "not a finite number"]);
    assert!(!run.stdout.contains("NaN"));
}

#[test]
fn memory_does_not_grow_with_threads_or_batch() {
    let dir = common::tempdir();
    let data = dir.path().join("data");
    write_mnist(&data, 2000, 100);
    let train = |out: &str, extra: &[&str]| {
        let out = dir.path().join(out);
        let mut args = vec!["train", "--data", s(&data), "--out", s(&out), "--quiet"];
        args.extend(["--epochs", "1"]);
        args.extend_from_slice(extra);
        let run = run_host(&args);
        run.assert_ok();
        (run, std::fs::read(out.join("model.safetensors")).unwrap())
    };
    // 64 row-split threads of a 2000-sample batch took 676 MB; now the
    // per-thread buffers are capped (128 MiB) whatever --threads and --batch.
    let (run, many) = train(
        "many",
        &["--threads", "256", "--hidden", "256", "--batch", "2000"],
    );
    run.assert_peak_rss_below(200 << 20);
    let (run, _) = train(
        "big",
        &["--threads", "8", "--hidden", "256", "--batch", "65536"],
    );
    run.assert_peak_rss_below(200 << 20);
    // Fewer buffers than threads does not change the model.
    let (_, one) = train(
        "one",
        &["--threads", "1", "--hidden", "256", "--batch", "2000"],
    );
    assert!(many == one, "the thread count changed the model");
    let (run, _) = train("default", &[]);
    run.assert_peak_rss_below(DEFAULT_BOUND);
}

/// Gzip of `parts` repeated `times` times (streamed: the test itself stays small).
fn gz_repeated(head: &[u8], part: &[u8], times: usize) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(head).unwrap();
    for _ in 0..times {
        gz.write_all(part).unwrap();
    }
    gz.finish().unwrap()
}

#[test]
fn an_idx_header_declaring_a_huge_image_is_refused_before_its_payload() {
    let dir = common::tempdir();
    // 408 KB of gzip declaring one 20480x20480 image (400 MiB).
    let head = common::idx(0x08, &[1, 20480, 20480], &[]);
    let images = common::write(
        dir.path(),
        "big-images-idx3-ubyte.gz",
        gz_repeated(&head, &[0u8; 1 << 20], 400),
    );
    common::write(
        dir.path(),
        "big-labels-idx1-ubyte",
        common::idx(0x08, &[1], &[1]),
    );
    let out = dir.path().join("out");
    let run = run_host(&[
        "train",
        "--data",
        s(&images),
        "--test",
        s(&images),
        "--out",
        s(&out),
    ]);
    run.assert_error(&[
        s(&images),
        "1 samples of 20480x20480 u8",
        "400.0 MiB",
        "128 MiB",
        "--max-data-mb 400",
    ])
    .assert_peak_rss_below(32 << 20);
    // inspect and eval read it the same way.
    run_host(&["inspect", s(&images)])
        .assert_error(&["--max-data-mb"])
        .assert_peak_rss_below(32 << 20);
}

#[test]
fn a_csv_gzip_bomb_is_cut_off_at_the_limit() {
    let dir = common::tempdir();
    // 100 columns of floats: 400 bytes of samples a row; 2 million rows
    // (760 MiB in memory) from ~2 MB of gzip.
    let row = format!("a,{}\n", vec!["0.5"; 99].join(","));
    let header: Vec<String> = (1..100).map(|i| format!("f{i}")).collect();
    let header = format!("label,{}\n", header.join(","));
    let bomb = common::write(
        dir.path(),
        "bomb.csv.gz",
        gz_repeated(header.as_bytes(), row.as_bytes(), 2_000_000),
    );
    let out = dir.path().join("out");
    let train = [
        "train",
        "--data",
        s(&bomb),
        "--test-fraction",
        "0.2",
        "--out",
        s(&out),
    ];
    run_host(&train)
        .assert_error(&[
            s(&bomb),
            "more than the limit of 128 MiB",
            "--max-data-mb 256",
        ])
        .assert_peak_rss_below(DEFAULT_BOUND);
    // A lower limit is obeyed too, and memory follows it.
    let mut low = vec!["--max-data-mb", "16"];
    low.extend(train);
    run_host(&low)
        .assert_error(&["more than the limit of 16 MiB"])
        .assert_peak_rss_below(64 << 20);
    // One endless line is not a line.
    let line = common::write(
        dir.path(),
        "line.csv.gz",
        gz_repeated(b"1,", b"0,", 20 << 20),
    );
    run_host(&[
        "train",
        "--data",
        s(&line),
        "--test-fraction",
        "0.2",
        "--out",
        s(&out),
    ])
    .assert_error(&[s(&line), "a line is longer than 16 MiB"])
    .assert_peak_rss_below(64 << 20);
}

#[test]
fn csv_files_of_other_separators_and_line_ends() {
    let dir = common::tempdir();
    let out = dir.path().join("out");
    let rows = ["label,a,b", "1,2,3", "0,4,5", "1,2,3", "0,5,5"];
    // Old Mac line ends (CR only) train as they are.
    let cr = common::write(dir.path(), "cr.csv", rows.join("\r") + "\r");
    run_host(&[
        "train",
        "--data",
        s(&cr),
        "--test",
        s(&cr),
        "--out",
        s(&out),
        "--epochs",
        "1",
    ])
    .assert_ok();
    // Tabs are detected; with the wrong --delimiter the message says so.
    let tab = common::write(dir.path(), "tab.csv", rows.join("\n").replace(',', "\t"));
    let train = [
        "train",
        "--data",
        s(&tab),
        "--test",
        s(&tab),
        "--out",
        s(&out),
    ];
    run_host(&[&train[..], &["--epochs", "1"]].concat()).assert_ok();
    run_host(&[&train[..], &["--delimiter", ","]].concat()).assert_error(&[
        s(&tab),
        "tab-separated",
        "--delimiter tab",
    ]);
    let spaces = common::write(dir.path(), "spaces.csv", rows.join("\n").replace(',', " "));
    run_host(&[
        "train",
        "--data",
        s(&spaces),
        "--test",
        s(&spaces),
        "--out",
        s(&out),
    ])
    .assert_error(&[s(&spaces), "separated by spaces", "replace them by commas"]);
}

#[test]
fn predict_reads_a_file_without_labels_as_a_stream() {
    let dir = common::tempdir();
    // A one-input model, and 3,000,000 rows without a label column (15 MB
    // of text, 18 MB of samples and their constant labels): holding the
    // text and a copy of it with a label column added took 77 MB.
    let small: String = std::iter::once("label,x\n".to_string())
        .chain((0..400).map(|i| {
            let x = (i % 199) as f32 / 99.0 - 1.0;
            format!("{},{x:.2}\n", if x < 0.0 { "a" } else { "b" })
        }))
        .collect();
    let small = common::write(dir.path(), "small.csv", small);
    let model = common::train_small(
        &dir.path().join("m"),
        &["--data", s(&small), "--test-fraction", "0.25"],
    );
    let big: String = std::iter::once("x\n".to_string())
        .chain((0..3_000_000).map(|i| format!("{:.2}\n", (i % 199) as f32 / 99.0 - 1.0)))
        .collect();
    let big = common::write(dir.path(), "big.csv", big);
    let run = run_host(&["predict", "--model", s(&model), "--data", s(&big)]);
    run.assert_ok().assert_peak_rss_below(50 << 20);
    assert_eq!(run.stdout.lines().count(), 3_000_000);
    assert!(run.stdout.lines().last().unwrap().starts_with("2999999: "));
    // Over the cap, the cap is what the message names (it used to be
    // masked by a second reading of the file with a label column).
    let over = [
        "predict",
        "--max-data-mb",
        "8",
        "--model",
        s(&model),
        "--data",
        s(&big),
    ];
    run_host(&over).assert_error(&["big.csv", "limit of 8 MiB", "pass --max-data-mb 16"]);
}

#[test]
fn predict_memory_does_not_grow_with_the_rows() {
    let dir = common::tempdir();
    // A model of one input, and 300,000 rows of it (2 MB of CSV, 1.8 MB of
    // samples): every row's prediction, line or JSON object held at once
    // took 50 MB (lines, --out) to 500 MB (--json) more than the data.
    let rows = |n: usize| -> String {
        let mut text = String::from("label,x\n");
        for i in 0..n {
            let x = (i % 199) as f32 / 99.0 - 1.0;
            let label = if x < 0.0 { "a" } else { "b" };
            text.push_str(&format!("{label},{x:.2}\n"));
        }
        text
    };
    let small = common::write(dir.path(), "small.csv", rows(400));
    let model = common::train_small(
        &dir.path().join("m"),
        &["--data", s(&small), "--test-fraction", "0.25"],
    );
    let big = common::write(dir.path(), "big.csv", rows(300_000));
    let out = dir.path().join("p.csv");
    let predict = ["predict", "--model", s(&model), "--data", s(&big)];
    for extra in [&[][..], &["--json"], &["--out", s(&out)]] {
        let run = run_host(&[&predict[..], extra].concat());
        run.assert_ok().assert_peak_rss_below(40 << 20);
        match extra.first() {
            Some(&"--json") => {
                let summary = common::json(&run.stdout);
                assert_eq!(summary["predictions"].as_array().unwrap().len(), 300_000);
                assert_eq!(summary["samples"], 300_000);
                assert!(summary["accuracy"].as_f64().is_some());
            }
            Some(_) => {
                let written = std::fs::read_to_string(&out).unwrap();
                assert_eq!(written.lines().count(), 300_001);
            }
            None => assert_eq!(run.stdout.lines().count(), 300_001),
        }
    }
}
