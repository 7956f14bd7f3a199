//! What `host train` leaves in `--out` when it is killed, runs out of disk,
//! or cannot write: the checkpoint and the firmware bundle always describe
//! the same model, a failed run leaves the previous set whole, and the next
//! run cleans up after a killed one. (Topic file of the robustness suite;
//! see `robustness.rs`.)

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{run_host, s, write_mnist};
use host::export::rust::sha256_hex;
use host::fs::{LOCK, MANIFEST};

/// `host train` of a small 784-16-10 network into `out` with `seed`.
fn train_args<'a>(data: &'a Path, out: &'a Path, seed: &'a str) -> Vec<&'a str> {
    vec![
        "train",
        "--data",
        s(data),
        "--out",
        s(out),
        "--quiet",
        "--epochs",
        "3",
        "--hidden",
        "16",
        "--seed",
        seed,
        "--threads",
        "2",
    ]
}

/// The set of files in `out` is one run's: `weights.rs` and
/// `weights_int8.rs` name the checkpoint's SHA-256, and `metrics.json` has
/// its seed. Returns that seed.
fn assert_consistent(out: &Path) -> String {
    let ckpt = std::fs::read(out.join("model.safetensors")).expect("a checkpoint");
    let sha = sha256_hex(&ckpt);
    for name in ["weights.rs", "weights_int8.rs"] {
        let text = std::fs::read_to_string(out.join(name)).unwrap();
        assert!(
            text.contains(&format!("checkpoint sha256: {sha}")),
            "{name} does not describe model.safetensors ({sha})"
        );
    }
    let checkpoint = host::model::Checkpoint::read(&out.join("model.safetensors")).unwrap();
    let seed = checkpoint.metadata()["seed"].clone();
    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(
        metrics["seed"].to_string(),
        seed,
        "metrics.json is another run's"
    );
    seed
}

/// Temporaries, probes and manifests left in `dir` (the lock file is meant
/// to stay).
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != LOCK && (n.ends_with(".tmp") || n.starts_with(".tinymlp")))
        .collect()
}

/// A tiny deterministic generator for the kill times.
fn next(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *state >> 33
}

#[test]
fn sigkill_at_random_moments_never_leaves_a_mixed_set() {
    let dir = common::tempdir();
    let (data, out) = (dir.path().join("data"), dir.path().join("out"));
    write_mnist(&data, 512, 64);
    // A complete first set, and how long a run takes.
    let started = Instant::now();
    run_host(&train_args(&data, &out, "1")).assert_ok();
    let run_time = started.elapsed();
    assert_eq!(assert_consistent(&out), "1");
    let mut state = 7u64;
    let mut recovered = 0;
    for round in 2..26u64 {
        let seed = round.to_string();
        let mut child = Command::new(common::host_bin())
            .args(train_args(&data, &out, &seed))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Anywhere from start-up to past the end of the run.
        let at = run_time.mul_f64((next(&mut state) % 1200) as f64 / 1000.0);
        std::thread::sleep(at);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Killed during the renames, the manifest says so; completing it
        // (what the next run does first) gives the new set.
        if out.join(MANIFEST).exists() {
            assert!(host::fs::recover(&out).unwrap());
            recovered += 1;
        }
        let now = assert_consistent(&out);
        assert!(
            now == seed || now.parse::<u64>().unwrap() < round,
            "round {round}: {now}"
        );
    }
    eprintln!("{recovered} kills landed in a commit");
    // The next run removes what the killed ones left and completes.
    run_host(&train_args(&data, &out, "99")).assert_ok();
    assert_eq!(assert_consistent(&out), "99");
    assert_eq!(leftovers(&out), Vec::<String>::new());
}

#[test]
fn the_next_run_completes_a_half_renamed_set() {
    let dir = common::tempdir();
    let (data, out) = (dir.path().join("data"), dir.path().join("out"));
    write_mnist(&data, 64, 16);
    run_host(&train_args(&data, &out, "1")).assert_ok();
    // A run of seed 2, "killed" after it renamed weights.rs: build that
    // state from a complete run in another folder.
    let other = dir.path().join("other");
    run_host(&train_args(&data, &other, "2")).assert_ok();
    common::half_rename(&out, &other, &["model.partial.safetensors"]);
    // `emit` next to the checkpoint completes it too; here `train` does,
    // before it checks the existing model.
    let run = run_host(&[
        "train",
        "--data",
        s(&data),
        "--out",
        s(&out),
        "--epochs",
        "0",
    ]);
    run.assert_error(&["--epochs must be between 1 and"]);
    // Options are checked before the folder is touched: still half renamed.
    assert!(out.join(MANIFEST).exists());
    let args = train_args(&data, &out, "3");
    let run = run_host(&[
        "train",
        "--data",
        s(&data),
        "--out",
        s(&out),
        "--test",
        "/no/such/test",
    ]);
    run.assert_error(&["/no/such/test"]);
    // The output folder was prepared (and the set completed) before the data failed.
    assert!(!out.join(MANIFEST).exists());
    assert_eq!(assert_consistent(&out), "2");
    run_host(&args).assert_ok();
    assert_eq!(assert_consistent(&out), "3");
    assert_eq!(leftovers(&out), Vec::<String>::new());
}

/// Mounts a tmpfs of `kib` KiB at a new directory under `parent`; `None`
/// where mounting is not allowed (not root, no CAP_SYS_ADMIN).
fn small_tmpfs(parent: &Path, kib: u32) -> Option<TmpfsGuard> {
    let dir = parent.join("full");
    std::fs::create_dir(&dir).unwrap();
    let ok = Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            &format!("size={kib}k"),
            "tmpfs",
            s(&dir),
        ])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|st| st.success());
    if !ok {
        eprintln!("note: cannot mount a tmpfs here: the disk-full case is not checked");
        return None;
    }
    Some(TmpfsGuard(dir))
}

struct TmpfsGuard(std::path::PathBuf);

impl Drop for TmpfsGuard {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_leaves_the_old_set_and_says_once_what_failed() {
    let dir = common::tempdir();
    let data = dir.path().join("data");
    write_mnist(&data, 256, 64);
    let Some(fs) = small_tmpfs(dir.path(), 1024) else {
        return;
    };
    let out = fs.0.join("out");
    run_host(&train_args(&data, &out, "1")).assert_ok();
    let set = dir_size(&out);
    let before: Vec<(String, Vec<u8>)> = ["model.safetensors", "weights.rs", "metrics.json"]
        .iter()
        .map(|n| (n.to_string(), std::fs::read(out.join(n)).unwrap()))
        .collect();
    // Leave room for half a set: the second run's files do not all fit.
    let free = 1024 * 1024 - dir_size(&fs.0);
    let filler = vec![0u8; (free - set / 2) as usize];
    std::fs::write(fs.0.join("filler"), filler).unwrap();
    let run = run_host(&train_args(&data, &out, "2"));
    run.assert_error(&["No space left on device"]);
    let report = run
        .stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap();
    assert_eq!(
        report.matches("No space left on device").count(),
        1,
        "the cause repeats: {}",
        run.stderr
    );
    for (name, bytes) in &before {
        assert_eq!(
            &std::fs::read(out.join(name)).unwrap(),
            bytes,
            "{name} changed"
        );
    }
    assert_eq!(assert_consistent(&out), "1");
    assert_eq!(leftovers(&out), Vec::<String>::new());
}

fn dir_size(dir: &Path) -> u64 {
    walk(dir)
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len().div_ceil(4096) * 4096))
        .sum()
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// `host train` into `out` fails with an error naming `words`, before any
/// epoch: it is asked for so many that they would take hours.
fn refused_before_training(data: &Path, out: &Path, words: &[&str]) {
    let started = Instant::now();
    let run = run_host(&[
        "train",
        "--data",
        s(data),
        "--out",
        s(out),
        "--epochs",
        "100000",
        "--hidden",
        "16",
    ]);
    run.assert_error(words);
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn an_output_name_taken_by_a_directory_fails_before_training() {
    let dir = common::tempdir();
    let (data, out) = (dir.path().join("data"), dir.path().join("out"));
    write_mnist(&data, 64, 16);
    for name in ["model.safetensors", "weights.rs", "curves.svg"] {
        std::fs::create_dir_all(out.join(name)).unwrap();
        refused_before_training(
            &data,
            &out,
            &[s(&out.join(name)), "is a directory", "--out"],
        );
        std::fs::remove_dir(out.join(name)).unwrap();
    }
}

/// A folder no one may create files in, root included: sysfs takes no new
/// files (so the test holds in CI, which runs as root, where a `chmod`-ed
/// folder would still be writable). `None` off Linux.
fn unwritable_folder() -> Option<&'static Path> {
    let sys = Path::new("/sys/kernel");
    if !sys.is_dir() {
        eprintln!("no /sys/kernel: not Linux, the unwritable folder is not tried");
        return None;
    }
    assert!(
        std::fs::write(sys.join(".tinymlp-write-test"), b"x").is_err(),
        "/sys/kernel took a new file"
    );
    Some(sys)
}

#[test]
fn an_unwritable_output_folder_fails_before_training() {
    let Some(sys) = unwritable_folder() else {
        return;
    };
    let dir = common::tempdir();
    let data = dir.path().join("data");
    write_mnist(&data, 64, 16);
    // The folder exists and takes no file; the folder would be created in one
    // that takes none.
    let cases = [
        (sys.to_path_buf(), "cannot write into the output directory"),
        (
            sys.join("tinymlp-out"),
            "cannot create the output directory",
        ),
    ];
    for (out, what) in cases {
        refused_before_training(&data, &out, &[s(&out), what]);
        assert!(!out.join("model.safetensors").exists());
    }
}
