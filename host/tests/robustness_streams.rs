//! No silent success: a command whose stdout or stderr cannot be written
//! exits non-zero (a closed stdout pipe, `host … | head`, stays a quiet exit
//! 0), and no failed write to either stream panics. (Topic file of the
//! robustness suite; see `robustness.rs`.)

mod common;

use std::fs::File;
use std::process::{Command, Stdio};

use common::{data, host_bin, iris_model, s};

/// `/dev/full`: every write fails with "No space left on device".
fn dev_full() -> Option<File> {
    let full = File::options().write(true).open("/dev/full").ok();
    if full.is_none() {
        eprintln!("note: no /dev/full here: the full-stream cases are not checked");
    }
    full
}

fn iris_args(model: &str) -> Vec<String> {
    [
        "--model",
        model,
        "--data",
        s(&data("iris/iris.csv")),
        "--label-column",
        "species",
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn json_to_a_full_stdout_fails_with_a_message() {
    let dir = common::tempdir();
    let model = iris_model(&dir.path().join("m"));
    let Some(full) = dev_full() else { return };
    let mut eval = vec!["eval".to_string(), "--json".into()];
    eval.extend(iris_args(s(&model)));
    let inspect = [
        "inspect",
        "--json",
        s(&data("iris/iris.csv")),
        "--label-column",
        "species",
    ]
    .map(String::from)
    .to_vec();
    for args in [eval, inspect] {
        let out = Command::new(host_bin())
            .args(&args)
            .stdout(full.try_clone().unwrap())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("error: cannot write to stdout: No space left on device"),
            "{stderr}"
        );
        assert_eq!(
            stderr.matches("cannot write to stdout").count(),
            1,
            "{stderr}"
        );
    }
}

#[test]
fn a_closed_stdout_pipe_is_a_quiet_success() {
    let dir = common::tempdir();
    let model = iris_model(&dir.path().join("m"));
    let mut args = vec!["eval".to_string()];
    args.extend(iris_args(s(&model)));
    let mut child = Command::new(host_bin())
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader is gone: writes get EPIPE
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains("error") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

/// `train` with its stderr `full` or closed: no panic (exit 101), exit 1,
/// and the model it trained is written all the same.
#[test]
fn a_failed_write_to_stderr_is_an_exit_1_not_a_panic() {
    let dir = common::tempdir();
    let iris = data("iris/iris.csv");
    let train = |out: &std::path::Path| {
        let mut cmd = Command::new(host_bin());
        cmd.args(["train", "--data", s(&iris), "--label-column", "species"])
            .args(["--test-fraction", "0.3", "--epochs", "30", "--out", s(out)])
            .stdout(Stdio::null());
        cmd
    };
    if let Some(full) = dev_full() {
        let out = dir.path().join("full");
        let status = train(&out).stderr(full).status().unwrap();
        assert_eq!(status.code(), Some(1));
        assert!(out.join("model.safetensors").exists());
    }
    // `train … 2>&1 | head -1`: stderr's reader goes away.
    let out = dir.path().join("closed");
    let mut child = train(&out).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    assert!(out.join("model.safetensors").exists());
}
