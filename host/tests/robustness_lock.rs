//! Two processes and one `--out`: a second writer fails at once, naming the
//! first; a lock left by a killed run blocks nothing; and a command that
//! reads a model never sees a set of files a killed run left half renamed.
//! (Topic file of the robustness suite; see `robustness.rs`.)

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{run_host, s, write_mnist};
use host::export::rust::sha256_hex;
use host::fs::{LOCK, MANIFEST};

/// `host train` of a small 784-16-10 network into `out`.
fn train_args<'a>(data: &'a Path, out: &'a Path, seed: &'a str, epochs: &'a str) -> Vec<&'a str> {
    vec![
        "train",
        "--data",
        s(data),
        "--out",
        s(out),
        "--quiet",
        "--epochs",
        epochs,
        "--hidden",
        "16",
        "--seed",
        seed,
        "--threads",
        "1",
    ]
}

/// A child process killed (SIGKILL) when dropped, also when a test fails.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a long `train` into `out` and waits until it holds the lock.
fn start_long_run(data: &Path, out: &Path) -> Killed {
    let child = Command::new(common::host_bin())
        .args(train_args(data, out, "5", "100000"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(Killed)
        .unwrap();
    let mine = format!("process {} (host train)", child.0.id());
    let started = Instant::now();
    while std::fs::read_to_string(out.join(LOCK)).map_or(true, |t| !t.contains(&mine)) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the run never took the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

#[test]
fn a_second_writer_fails_at_once_and_a_killed_ones_lock_blocks_nothing() {
    let dir = common::tempdir();
    let (data, out) = (dir.path().join("data"), dir.path().join("out"));
    write_mnist(&data, 200, 50);
    run_host(&train_args(&data, &out, "1", "1")).assert_ok();
    let first = start_long_run(&data, &out);
    let holder = format!("process {} (host train)", first.0.id());
    let model = out.join("model.safetensors");
    let before = std::fs::read(&model).unwrap();
    // train, emit and finetune into that folder fail before any work.
    let started = Instant::now();
    run_host(&train_args(&data, &out, "2", "100000")).assert_error(&[
        s(&out),
        "another run",
        &holder,
        "--out",
    ]);
    run_host(&["emit", "--model", s(&model), "--data", s(&data)]).assert_error(&[
        s(&out),
        "another run",
        &holder,
    ]);
    let finetune = [
        "finetune",
        "--model",
        s(&model),
        "--data",
        s(&data),
        "--out",
        s(&out),
    ];
    run_host(&finetune).assert_error(&[s(&out), "another run", &holder]);
    assert!(started.elapsed() < Duration::from_secs(30), "not at once");
    // Into another folder, from the same model, is fine.
    let elsewhere = dir.path().join("elsewhere.rs");
    run_host(&[
        "emit",
        "--model",
        s(&model),
        "--data",
        s(&data),
        "--out",
        s(&elsewhere),
    ])
    .assert_ok();
    // A reader of a folder whose files a live run is renaming waits, then
    // says so (here the "renaming" never ends: a manifest planted under
    // the live run's lock).
    std::fs::write(out.join(MANIFEST), r#"{"pid":1,"rename":[],"remove":[]}"#).unwrap();
    run_host(&["eval", "--model", s(&model), "--data", s(&data)]).assert_error(&[
        s(&out),
        &holder,
        "replacing",
        "again when it has finished",
    ]);
    std::fs::remove_file(out.join(MANIFEST)).unwrap();
    assert_eq!(std::fs::read(&model).unwrap(), before);
    // Killed, its lock is gone with it: the next run proceeds.
    drop(first); // SIGKILL
    run_host(&train_args(&data, &out, "3", "1")).assert_ok();
    assert!(
        out.join(LOCK).exists(),
        "the lock file stays (ignored by git)"
    );
}

/// A folder holding the set of a seed-1 run, half replaced by a seed-2 run
/// that was "killed" after renaming `weights.rs`: built from two complete
/// runs, as `robustness_outputs.rs` does.
fn half_renamed(dir: &Path, data: &Path, name: &str) -> PathBuf {
    let (out, other) = (dir.join(name), dir.join(format!("{name}-other")));
    run_host(&train_args(data, &out, "1", "1")).assert_ok();
    run_host(&train_args(data, &other, "2", "1")).assert_ok();
    common::half_rename(&out, &other, &[]);
    out
}

/// The checkpoint's SHA-256 is the one `weights.rs` names, and it is the
/// seed-2 run's.
fn assert_whole_new_set(out: &Path) {
    assert!(!out.join(MANIFEST).exists(), "the commit was not completed");
    let sha = sha256_hex(&std::fs::read(out.join("model.safetensors")).unwrap());
    let weights = std::fs::read_to_string(out.join("weights.rs")).unwrap();
    assert!(
        weights.contains(&format!("checkpoint sha256: {sha}")),
        "a mixed set"
    );
    let checkpoint = host::model::Checkpoint::read(&out.join("model.safetensors")).unwrap();
    assert_eq!(checkpoint.metadata()["seed"], "2");
}

#[test]
fn readers_complete_a_set_a_killed_run_left_half_renamed() {
    let dir = common::tempdir();
    let data = dir.path().join("data");
    write_mnist(&data, 100, 30);
    let test_images = data.join(common::TEST_IMAGES);
    let readers: [(&str, Vec<&str>); 4] = [
        ("eval", vec!["--data", s(&data)]),
        ("predict", vec!["--data", s(&data), "--index", "0"]),
        ("finetune", vec!["--data", s(&data), "--steps", "5"]),
        ("inspect", vec![]),
    ];
    for (command, extra) in readers {
        let out = half_renamed(dir.path(), &data, command);
        let model = out.join("model.safetensors");
        let mut args = vec![command];
        if command == "inspect" {
            args.push(s(&test_images));
        } else {
            args.extend(["--model", s(&model)]);
        }
        args.extend(extra);
        let finetuned = dir.path().join(format!("{command}-finetuned"));
        if command == "finetune" {
            args.extend(["--out", s(&finetuned)]);
        }
        if command == "inspect" {
            // inspect reads a data file: plant the state beside it.
            for entry in std::fs::read_dir(&out).unwrap().flatten() {
                std::fs::copy(entry.path(), data.join(entry.file_name())).unwrap();
            }
            run_host(&args).assert_ok();
            assert_whole_new_set(&data);
            continue;
        }
        run_host(&args).assert_ok();
        assert_whole_new_set(&out);
    }
}
