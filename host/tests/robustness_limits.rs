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
