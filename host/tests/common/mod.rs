//! Helpers shared by the binary-level tests: tiny valid MNIST files, running
//! the `host` binary with its peak memory measured, and reading results.
#![allow(dead_code)] // Each test crate uses a different part of this module.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use flate2::write::GzEncoder;
use flate2::Compression;

/// Pixels per image.
pub(crate) const PIXELS: usize = 28 * 28;

/// The `host` binary built for these tests.
pub(crate) fn host_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_host"))
}

/// An IDX file: zero, zero, type byte, dimension count, dimensions, payload.
pub(crate) fn idx(code: u8, dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, code, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(payload);
    v
}

/// `n` synthetic 28x28 digits with labels `i % 10`: class `k` is a bright
/// bar on rows `2k+3 ..= 2k+4` plus seeded speckle, so a network can learn
/// them. Deterministic in `(n, seed)`.
pub(crate) fn synthetic(n: usize, seed: u64) -> (Vec<u8>, Vec<u8>) {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as u32
    };
    let mut pixels = vec![0u8; n * PIXELS];
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    for (image, &label) in pixels.chunks_exact_mut(PIXELS).zip(&labels) {
        let bar = 2 * usize::from(label) + 3;
        for row in bar..bar + 2 {
            for col in 4..24 {
                image[row * 28 + col] = 200 + (next() % 56) as u8;
            }
        }
        for _ in 0..20 {
            let at = next() as usize % PIXELS;
            image[at] = (next() % 256) as u8;
        }
    }
    (pixels, labels)
}

/// An IDX image file of `n` synthetic images.
pub(crate) fn images_idx(n: usize, seed: u64) -> Vec<u8> {
    let (pixels, _) = synthetic(n, seed);
    idx(0x08, &[n as u32, 28, 28], &pixels)
}

/// An IDX label file of `n` synthetic labels.
pub(crate) fn labels_idx(n: usize) -> Vec<u8> {
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    idx(0x08, &[n as u32], &labels)
}

/// Gzips `bytes`.
pub(crate) fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Writes the four raw MNIST files of `train` and `test` synthetic samples
/// into `dir` (created if needed).
pub(crate) fn write_mnist(dir: &Path, train: usize, test: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let write = |name: &str, bytes: Vec<u8>| std::fs::write(dir.join(name), bytes).unwrap();
    write("train-images-idx3-ubyte", images_idx(train, 1));
    write("train-labels-idx1-ubyte", labels_idx(train));
    write("t10k-images-idx3-ubyte", images_idx(test, 2));
    write("t10k-labels-idx1-ubyte", labels_idx(test));
}

/// What a finished `host` run left.
#[derive(Debug)]
pub(crate) struct Run {
    /// Exit code (`None` if killed by a signal).
    pub(crate) code: Option<i32>,
    /// Standard output.
    pub(crate) stdout: String,
    /// Standard error.
    pub(crate) stderr: String,
    /// Peak resident set size in bytes, if `/usr/bin/time` could measure it.
    pub(crate) peak_rss: Option<u64>,
}

/// GNU time, which reports a child's peak RSS (`getrusage`'s `ru_maxrss`,
/// in KiB, via `%M`).
const GNU_TIME: &str = "/usr/bin/time";

/// Runs `host args…` to completion. Under GNU time (Debian package `time`)
/// when it is installed, to measure the peak RSS: std cannot read a child's
/// `rusage`, and sampling `/proc/<pid>/status` races with the exit.
pub(crate) fn run_host(args: &[&str]) -> Run {
    let stats = tempfile::NamedTempFile::new().unwrap();
    let measured = Path::new(GNU_TIME).exists();
    let output: Output = if measured {
        Command::new(GNU_TIME)
            .arg("-f")
            .arg("%M")
            .arg("-o")
            .arg(stats.path())
            .arg(host_bin())
            .args(args)
            .output()
            .unwrap()
    } else {
        Command::new(host_bin()).args(args).output().unwrap()
    };
    let peak_rss = if measured {
        let text = std::fs::read_to_string(stats.path()).unwrap();
        // GNU time writes "Command exited with non-zero status N" first.
        let kib: u64 = text
            .lines()
            .last()
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or_else(|| panic!("cannot parse GNU time output {text:?}"));
        Some(kib * 1024)
    } else {
        None
    };
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        peak_rss,
    }
}

impl Run {
    /// Asserts a failure (exit 1) whose stderr is one `error:` report that
    /// contains every one of `words`, without a panic.
    pub(crate) fn assert_error(&self, words: &[&str]) -> &Self {
        assert_eq!(self.code, Some(1), "expected exit 1: {self:#?}");
        assert!(
            !self.stderr.contains("panicked"),
            "the binary panicked: {}",
            self.stderr
        );
        let report = self
            .stderr
            .lines()
            .skip_while(|l| !l.starts_with("error: "))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(!report.is_empty(), "no `error:` line: {}", self.stderr);
        for word in words {
            assert!(
                report.contains(word),
                "stderr lacks {word:?}:\n{}",
                self.stderr
            );
        }
        self
    }

    /// Asserts the peak RSS stayed under `bound` bytes (when measured).
    pub(crate) fn assert_peak_rss_below(&self, bound: u64) -> &Self {
        match self.peak_rss {
            Some(peak) => assert!(
                peak < bound,
                "peak RSS {} MiB exceeds the bound of {} MiB: {}",
                peak >> 20,
                bound >> 20,
                self.stderr
            ),
            None => eprintln!("note: {GNU_TIME} not installed: peak RSS not checked"),
        }
        self
    }
}

/// The path as a `&str` for command lines.
pub(crate) fn s(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// The repository's `data/` directory.
pub(crate) fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data")
}

/// Runs `host args…`, asserts success, returns stdout.
pub(crate) fn ok(args: &[&str]) -> String {
    let out = Command::new(host_bin()).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "host {args:?} failed\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Parses `text` as exactly one JSON value.
pub(crate) fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not one JSON object ({e}):\n{text}"))
}

/// Trains a small model (`--epochs 3 --quiet`, `--hidden 16`) on `train_args`
/// into `dir`; returns the path of its checkpoint.
pub(crate) fn train_small(dir: &Path, train_args: &[&str]) -> PathBuf {
    let mut args = vec![
        "train",
        "--quiet",
        "--epochs",
        "3",
        "--hidden",
        "16",
        "--out",
        s(dir),
    ];
    args.extend_from_slice(train_args);
    ok(&args);
    dir.join("model.safetensors")
}

/// An iris model (`--label-column species`, 30% held out) in `dir`.
pub(crate) fn iris_model(dir: &Path) -> PathBuf {
    let iris = data_dir().join("iris/iris.csv");
    train_small(
        dir,
        &[
            "--data",
            s(&iris),
            "--label-column",
            "species",
            "--test-fraction",
            "0.3",
        ],
    )
}

/// A digits-8x8 model in `dir`.
pub(crate) fn digits_model(dir: &Path) -> PathBuf {
    let d = data_dir().join("digits-8x8");
    let (train, test) = (d.join("digits-train.csv"), d.join("digits-test.csv"));
    train_small(dir, &["--data", s(&train), "--test", s(&test)])
}

/// A 28x28 image model trained on synthetic MNIST files written into
/// `dir/data` (300 train, 100 test); returns (model, data directory).
pub(crate) fn image_model(dir: &Path) -> (PathBuf, PathBuf) {
    let data = dir.join("data");
    write_mnist(&data, 300, 100);
    let model = train_small(&dir.join("model"), &["--data", s(&data)]);
    (model, data)
}
