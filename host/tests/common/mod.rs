//! Helpers shared by the integration tests of `host` (one file per topic in
//! `host/tests/`). Use it with `mod common;` at the top of a test file.
//!
//! - Paths: [`data_dir`], [`data`] (the shipped files in `data/`).
//! - Fixtures: [`tempdir`], [`write`]; IDX bytes ([`idx`], [`images_idx`],
//!   [`labels_idx`], [`synthetic`], [`write_mnist`]); CSV text ([`csv_text`]);
//!   [`gz`] / [`gunzip`].
//! - The binary: [`run_host`] runs `host` to completion (under GNU time when
//!   installed, for the peak memory) and returns a [`Run`], with
//!   [`Run::assert_ok`], [`Run::assert_error`] and
//!   [`Run::assert_peak_rss_below`]; [`s`] turns a path into an argument;
//!   [`ok`] runs it and returns stdout, [`json`] parses that.
//! - Models: [`train_small`], [`iris_model`], [`digits_model`], [`image_model`].
//! - Output folders: [`half_rename`] (the state a run killed mid-commit leaves).
//! - Kernels: [`kernels`] (the `f32` kernel paths of this CPU, the values to feed them).
//!
//! `fuzz_checks.rs` beside this file is *not* part of this module: it is
//! included with `#[path]` by the fuzz targets and `fuzz_regressions.rs`.
#![allow(dead_code)] // Each test crate uses a different part of this module.

pub(crate) mod kernels;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use flate2::write::GzEncoder;
use flate2::Compression;

/// Pixels of an MNIST image.
pub(crate) const PIXELS: usize = 28 * 28;

/// The MNIST file names of a data directory.
pub(crate) const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
/// See [`TRAIN_IMAGES`].
pub(crate) const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
/// See [`TRAIN_IMAGES`].
pub(crate) const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
/// See [`TRAIN_IMAGES`].
pub(crate) const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// The repository's `data/` directory (MNIST, `digits-8x8/`, `iris/`).
pub(crate) fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data")
}

/// A file under `data/`, e.g. `data("iris/iris.csv")`.
pub(crate) fn data(relative: &str) -> PathBuf {
    data_dir().join(relative)
}

/// A fresh temporary directory, removed when dropped.
pub(crate) fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

/// Writes `bytes` to `dir/name` and returns the path.
pub(crate) fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path
}

/// An IDX file: zero, zero, type byte, dimension count, dimensions, payload.
/// Nothing is checked, so it can build lying headers.
pub(crate) fn idx(code: u8, dims: &[u32], payload: &[u8]) -> Vec<u8> {
    host::data::idx::encode_idx(code, dims, payload)
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

/// An IDX image file of `n` synthetic 28x28 images (see [`synthetic`]).
pub(crate) fn images_idx(n: usize, seed: u64) -> Vec<u8> {
    let (pixels, _) = synthetic(n, seed);
    idx(0x08, &[n as u32, 28, 28], &pixels)
}

/// An IDX label file of the `n` labels of [`synthetic`] (`i % 10`).
pub(crate) fn labels_idx(n: usize) -> Vec<u8> {
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    idx(0x08, &[n as u32], &labels)
}

/// Writes the four raw MNIST files of `train` and `test` synthetic samples
/// into `dir` (created if needed).
pub(crate) fn write_mnist(dir: &Path, train: usize, test: usize) {
    std::fs::create_dir_all(dir).unwrap();
    write(dir, TRAIN_IMAGES, images_idx(train, 1));
    write(dir, TRAIN_LABELS, labels_idx(train));
    write(dir, TEST_IMAGES, images_idx(test, 2));
    write(dir, TEST_LABELS, labels_idx(test));
}

/// CSV text: an optional header line, then one line per row, `,`-separated,
/// each line ended by `\n`.
pub(crate) fn csv_text(header: Option<&[&str]>, rows: &[Vec<String>]) -> String {
    let mut text = String::new();
    if let Some(header) = header {
        text.push_str(&header.join(","));
        text.push('\n');
    }
    for row in rows {
        text.push_str(&row.join(","));
        text.push('\n');
    }
    text
}

/// Gzips `bytes`.
pub(crate) fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Decompresses a complete gzip stream.
pub(crate) fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// The `host` binary built for these tests.
pub(crate) fn host_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_host"))
}

/// The path as a `&str` for command lines.
pub(crate) fn s(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
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
    run_host_with(args, &[])
}

/// [`run_host`] with the environment variables `envs` set.
pub(crate) fn run_host_with(args: &[&str], envs: &[(&str, &str)]) -> Run {
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
            .envs(envs.iter().copied())
            .output()
            .unwrap()
    } else {
        let mut command = Command::new(host_bin());
        command.args(args).envs(envs.iter().copied());
        command.output().unwrap()
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
    /// Asserts success (exit 0).
    pub(crate) fn assert_ok(&self) -> &Self {
        assert_eq!(self.code, Some(0), "expected success: {self:#?}");
        self
    }

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

/// Writes `src`, a CSV file, to `dst` without its last column (a file of
/// other columns than the one a model was trained on).
pub(crate) fn without_last_column(src: &Path, dst: &Path) {
    let text: Vec<String> = std::fs::read_to_string(src)
        .unwrap()
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string())
        .collect();
    std::fs::write(dst, text.join("\n")).unwrap();
}

/// A reader that yields one byte per `read` call (for readers that must not
/// assume full buffers).
pub(crate) struct OneByte<R>(pub(crate) R);

impl<R: std::io::Read> std::io::Read for OneByte<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match buf.first_mut() {
            Some(b) => self.0.read(std::slice::from_mut(b)),
            None => Ok(0),
        }
    }
}

/// Turns `out`, a complete `train` output folder, into what a run that was
/// killed right after renaming `weights.rs` into it leaves: that run's files
/// are taken from `other`, another complete folder (of another seed);
/// `weights.rs` is already in place, the rest still under temporary names of
/// a process that is gone, listed in the commit manifest with `remove`.
pub(crate) fn half_rename(out: &Path, other: &Path, remove: &[&str]) {
    std::fs::copy(other.join("weights.rs"), out.join("weights.rs")).unwrap();
    let mut rename = Vec::new();
    for name in [
        "weights_int8.rs",
        "predictions_f32.bin",
        "predictions_int8.bin",
        "test_inputs.bin.gz",
        "metrics.json",
        "timings.json",
        "curves.svg",
        "model.safetensors",
    ] {
        let tmp = format!(".{name}.4000000000.abcdef.tmp");
        std::fs::copy(other.join(name), out.join(&tmp)).unwrap();
        rename.push(serde_json::json!([tmp, name]));
    }
    let manifest = serde_json::json!({"pid": 4_000_000_000u32, "rename": rename, "remove": remove});
    std::fs::write(out.join(host::fs::MANIFEST), manifest.to_string()).unwrap();
}
