//! The `host` binary against hostile inputs and interruptions.
//!
//! The data layer's own suite (`tests/data.rs`) checks every malformed input
//! at the library level; these tests check what a user sees: a non-zero exit,
//! one `error:` report naming the file and the problem, no panic, and peak
//! memory bounded by the file's real size (not by what its header claims).
//! Then the checkpoint reader through `host eval`, the divergence guard,
//! Ctrl-C, `--force` and determinism.
//!
//! Peak memory is measured with GNU time (`/usr/bin/time -f %M`, Debian
//! package `time`): std cannot read a child's `rusage`, and sampling
//! `/proc/<pid>/status` races with the child's exit. Without GNU time the
//! memory bounds are skipped (with a note on stderr); everything else runs.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{gz, idx, images_idx, labels_idx, run_host, s, write_mnist, Run, PIXELS};
use host::checkpoint::{self, Checkpoint};
use host::with_network;
use tinymlp::{Mlp, Network, Parameters, Rng};

/// Memory any run may use besides its input files: the binary, its thread
/// pool, a network and tiny data sets.
const BASE_RSS: u64 = 64 << 20;

const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// A data directory of 64 training and 16 test images, and an output directory.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        write_mnist(&dir.path().join("data"), 64, 16);
        Self { dir }
    }
    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }
    /// Replaces the data file `name` by `bytes` under the name `as_name`.
    fn replace(&self, name: &str, as_name: &str, bytes: &[u8]) -> PathBuf {
        std::fs::remove_file(self.data().join(name)).unwrap();
        let path = self.data().join(as_name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
    /// `host train` of one epoch of a 784-16-10 network; `extra` adds
    /// options or overrides those defaults.
    fn train(&self, extra: &[&str]) -> Run {
        let (data, out) = (self.data(), self.out());
        let mut args = vec![
            "train",
            "--data",
            s(&data),
            "--out",
            s(&out),
            "--limit",
            "64",
        ];
        for (option, default) in [("--epochs", "1"), ("--hidden", "16")] {
            if !extra.contains(&option) {
                args.extend([option, default]);
            }
        }
        args.extend_from_slice(extra);
        run_host(&args)
    }
    fn eval(&self, model: &Path) -> Run {
        run_host(&["eval", "--model", s(model), "--data", s(&self.data())])
    }
}

/// Runs `host train` with the data file `name` replaced by `bytes` (stored as
/// `as_name`), and checks the report names that file and says `words`, and
/// that memory stayed within twice the file's size plus [`BASE_RSS`].
fn train_fails(name: &str, as_name: &str, bytes: &[u8], words: &[&str]) -> Run {
    let f = Fixture::new();
    let path = f.replace(name, as_name, bytes);
    let run = f.train(&[]);
    let mut expected = vec![s(&path)];
    expected.extend_from_slice(words);
    run.assert_error(&expected)
        .assert_peak_rss_below(2 * bytes.len() as u64 + BASE_RSS);
    assert!(
        !f.out().join("model.safetensors").exists(),
        "a model was written"
    );
    run
}

fn valid_images() -> Vec<u8> {
    images_idx(64, 1)
}

#[test]
fn valid_fixture_trains_and_evaluates() {
    // The baseline the hostile cases are variations of.
    let f = Fixture::new();
    let run = f.train(&[]);
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert!(run.stdout.contains("accuracy"), "{run:#?}");
    run.assert_peak_rss_below(BASE_RSS);
    let eval = f.eval(&f.out().join("model.safetensors"));
    assert_eq!(eval.code, Some(0), "{eval:#?}");
    assert!(eval.stdout.contains("784-16-10"), "{eval:#?}");
}

#[test]
fn truncated_header() {
    train_fails(
        TRAIN_IMAGES,
        TRAIN_IMAGES,
        &valid_images()[..10],
        &["truncated header"],
    );
}

#[test]
fn truncated_payload() {
    let images = valid_images();
    train_fails(
        TRAIN_IMAGES,
        TRAIN_IMAGES,
        &images[..images.len() - 100],
        &["truncated", "64 images of 28x28", "cut short"],
    );
}

#[test]
fn wrong_magic() {
    let mut images = valid_images();
    images[..2].copy_from_slice(b"PK");
    train_fails(TRAIN_IMAGES, TRAIN_IMAGES, &images, &["not an IDX file"]);
}

#[test]
fn wrong_type_byte() {
    let mut images = valid_images();
    images[2] = 0x0D;
    train_fails(
        TRAIN_IMAGES,
        TRAIN_IMAGES,
        &images,
        &["unsupported IDX element type 0x0d", "f32"],
    );
}

#[test]
fn absurd_dimensions_overflow_usize() {
    let bytes = idx(0x08, &[u32::MAX; 3], &[0; 64]);
    train_fails(TRAIN_IMAGES, TRAIN_IMAGES, &bytes, &["overflow"]);
}

#[test]
fn four_billion_images_claimed_by_a_small_file() {
    // Declares ~3 TB of pixels: must fail as truncated without reserving it.
    let bytes = idx(0x08, &[4_000_000_000, 28, 28], &vec![7; 10 * PIXELS]);
    train_fails(
        TRAIN_IMAGES,
        TRAIN_IMAGES,
        &bytes,
        &["truncated", "4000000000 images"],
    );
}

#[test]
fn image_and_label_counts_differ() {
    let f = Fixture::new();
    let labels = f.replace(TRAIN_LABELS, TRAIN_LABELS, &labels_idx(63));
    let run = f.train(&[]);
    run.assert_error(&[
        s(&labels),
        s(&f.data().join(TRAIN_IMAGES)),
        "64 images",
        "63 labels",
    ]);
}

#[test]
fn label_out_of_range() {
    let mut labels = labels_idx(64);
    let last = labels.len() - 1;
    labels[last] = 10;
    train_fails(
        TRAIN_LABELS,
        TRAIN_LABELS,
        &labels,
        &["label 10 at index 63 is out of range"],
    );
}

#[test]
fn gzip_bad_crc() {
    let mut bytes = gz(&valid_images());
    let crc = bytes.len() - 8;
    bytes[crc] ^= 0xff;
    train_fails(
        TRAIN_IMAGES,
        &format!("{TRAIN_IMAGES}.gz"),
        &bytes,
        &["corrupt or incomplete gzip stream", "gzip -t"],
    );
}

#[test]
fn gzip_cut_short() {
    let bytes = gz(&valid_images());
    let run = train_fails(
        TRAIN_IMAGES,
        &format!("{TRAIN_IMAGES}.gz"),
        &bytes[..bytes.len() / 2],
        &["gzip", "cut short"],
    );
    // The decoder's message appears once: it is part of the top message and
    // not repeated as a cause.
    let report = run
        .stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap();
    let inner = report
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(inner, _)| inner)
        .expect("the decoder's error in parentheses");
    assert_eq!(run.stderr.matches(inner).count(), 1, "{}", run.stderr);
}

#[test]
fn gzip_bomb_is_cut_off_at_the_declared_size() {
    // A header declaring 64 images, then 512 MiB of zeros as concatenated
    // gzip members (read as one stream): the file is ~0.5 MB.
    let mut bytes = gz(&valid_images());
    let mut member = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    member.write_all(&vec![0u8; 1 << 20]).unwrap();
    let member = member.finish().unwrap();
    for _ in 0..512 {
        bytes.extend_from_slice(&member);
    }
    assert!(bytes.len() < 1 << 20);
    train_fails(
        TRAIN_IMAGES,
        &format!("{TRAIN_IMAGES}.gz"),
        &bytes,
        &["trailing data", "64 images of 28x28"],
    );
}

#[test]
fn empty_file() {
    train_fails(TEST_LABELS, TEST_LABELS, b"", &["file is empty"]);
}

#[test]
fn directory_where_a_file_is_expected() {
    let f = Fixture::new();
    let path = f.data().join(TEST_IMAGES);
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    f.train(&[])
        .assert_error(&[s(&path), "is a directory, expected a data file"]);
}

#[test]
fn missing_files_and_directories() {
    let f = Fixture::new();
    std::fs::remove_file(f.data().join(TEST_LABELS)).unwrap();
    f.train(&[]).assert_error(&[
        s(&f.data()),
        "MNIST test files not found: t10k-labels-idx1-ubyte(.gz)",
    ]);
    let nowhere = f.dir.path().join("nowhere");
    run_host(&["train", "--data", s(&nowhere), "--out", s(&f.out())])
        .assert_error(&[s(&nowhere), "not found"]);
    assert!(!f.out().exists());
}

#[test]
fn eval_reports_bad_test_files() {
    let f = Fixture::new();
    let model = f.dir.path().join("model.safetensors");
    std::fs::write(&model, valid_checkpoint()).unwrap();
    let images = images_idx(16, 2);
    let path = f.replace(TEST_IMAGES, TEST_IMAGES, &images[..images.len() - 1]);
    f.eval(&model)
        .assert_error(&[s(&path), "truncated", "16 images of 28x28"])
        .assert_peak_rss_below(BASE_RSS);
    std::fs::remove_file(&path).unwrap();
    f.eval(&model)
        .assert_error(&[s(&f.data()), "MNIST test files not found"]);
}

// ---------------------------------------------------------------------------
// Checkpoints through `host eval`.

/// One tensor of a hand-built safetensors file.
struct Tensor {
    name: String,
    dtype: &'static str,
    shape: Vec<usize>,
    data: Vec<u8>,
}

/// The tensors of a seeded `784-H-10` network, as F32.
fn tensors<const H: usize>() -> Vec<Tensor> {
    let mut net = Mlp::<784, H, 10>::zeroed();
    net.init(&mut Rng::new(3));
    (0..<Mlp<784, H, 10>>::TENSORS)
        .map(|i| {
            let info = <Mlp<784, H, 10>>::tensor_info(i);
            Tensor {
                name: info.name.to_string(),
                dtype: "F32",
                shape: info.shape().to_vec(),
                data: net.tensor(i).iter().flat_map(|v| v.to_le_bytes()).collect(),
            }
        })
        .collect()
}

/// A safetensors file: 8-byte little-endian header length, JSON header,
/// tensor data, written by hand so that any of it can be wrong.
fn safetensors(architecture: Option<&str>, tensors: &[Tensor]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let mut metadata = serde_json::Map::new();
    if let Some(arch) = architecture {
        metadata.insert("architecture".into(), arch.into());
    }
    header.insert("__metadata__".into(), metadata.into());
    let mut offset = 0;
    for t in tensors {
        header.insert(
            t.name.clone(),
            serde_json::json!({
                "dtype": t.dtype,
                "shape": t.shape,
                "data_offsets": [offset, offset + t.data.len()],
            }),
        );
        offset += t.data.len();
    }
    let json = serde_json::to_vec(&header).unwrap();
    let mut bytes = (json.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(&json);
    for t in tensors {
        bytes.extend_from_slice(&t.data);
    }
    bytes
}

fn valid_checkpoint() -> Vec<u8> {
    safetensors(Some("784-16-10"), &tensors::<16>())
}

/// Runs `host eval` on a checkpoint of `bytes`; checks the report names it and
/// says `words`.
fn eval_fails(bytes: &[u8], words: &[&str]) -> Run {
    let f = Fixture::new();
    let model = f.dir.path().join("model.safetensors");
    std::fs::write(&model, bytes).unwrap();
    let run = f.eval(&model);
    let mut expected = vec![s(&model)];
    expected.extend_from_slice(words);
    run.assert_error(&expected)
        .assert_peak_rss_below(2 * bytes.len() as u64 + BASE_RSS);
    run
}

#[test]
fn hand_built_checkpoint_is_valid() {
    // The baseline of the hostile checkpoints below: it loads, through the
    // library and the binary, and matches the library's own writer.
    let ckpt = Checkpoint::from_bytes(Path::new("m"), valid_checkpoint()).unwrap();
    let mut net = Mlp::<784, 16, 10>::zeroed();
    ckpt.load_into(&mut net).unwrap();
    let mut expected = Mlp::<784, 16, 10>::zeroed();
    expected.init(&mut Rng::new(3));
    assert_eq!(net, expected);
    let f = Fixture::new();
    let model = f.dir.path().join("model.safetensors");
    std::fs::write(&model, valid_checkpoint()).unwrap();
    let run = f.eval(&model);
    assert_eq!(run.code, Some(0), "{run:#?}");
}

#[test]
fn checkpoint_not_safetensors() {
    eval_fails(
        b"PK\x03\x04 this is a zip file, not a checkpoint",
        &["not a valid safetensors checkpoint", "host train"],
    );
    eval_fails(b"", &["too short", "empty"]);
}

#[test]
fn checkpoint_truncated() {
    let bytes = valid_checkpoint();
    eval_fails(
        &bytes[..bytes.len() - 1],
        &["not a valid safetensors checkpoint", "cut short"],
    );
    eval_fails(&bytes[..100], &["declare", "cut short"]);
}

#[test]
fn checkpoint_header_length_absurd() {
    for declared in [u64::MAX, 1 << 40, 200_000_000] {
        let mut bytes = valid_checkpoint();
        bytes[..8].copy_from_slice(&declared.to_le_bytes());
        eval_fails(&bytes, &[&format!("declare a {declared}-byte JSON header")]);
    }
}

#[test]
fn checkpoint_wrong_shapes() {
    let mut t = tensors::<16>();
    t[0].shape = vec![784, 16]; // transposed, same size
    eval_fails(
        &safetensors(Some("784-16-10"), &t),
        &[
            "`fc1.weight` has shape [784, 16]",
            "needs [16, 784]",
            "disagree",
        ],
    );
}

#[test]
fn checkpoint_wrong_dtypes() {
    let mut t = tensors::<16>();
    t[1].dtype = "F64";
    let len = t[1].data.len();
    t[1].data.extend(vec![0u8; len]);
    eval_fails(
        &safetensors(Some("784-16-10"), &t),
        &["`fc1.bias` is F64, expected F32"],
    );
    let mut t = tensors::<16>();
    t[3].dtype = "I8";
    t[3].data.truncate(10);
    eval_fails(
        &safetensors(Some("784-16-10"), &t),
        &["`fc2.bias` is I8, expected F32"],
    );
}

#[test]
fn checkpoint_missing_and_extra_tensors() {
    let mut t = tensors::<16>();
    t.pop();
    eval_fails(
        &safetensors(Some("784-16-10"), &t),
        &["missing tensor `fc2.bias` of shape [10]"],
    );
    let mut t = tensors::<16>();
    t.push(Tensor {
        name: "fc3.weight".into(),
        dtype: "F32",
        shape: vec![1],
        data: vec![0; 4],
    });
    eval_fails(
        &safetensors(Some("784-16-10"), &t),
        &["unexpected tensor `fc3.weight`"],
    );
}

#[test]
fn checkpoint_metadata_that_lies() {
    eval_fails(
        &safetensors(Some("784-64-10"), &tensors::<32>()),
        &[
            "has shape [32, 784]",
            "architecture 784-64-10 needs [64, 784]",
            "the metadata and the tensors disagree",
        ],
    );
}

#[test]
fn checkpoint_unknown_or_no_architecture() {
    eval_fails(
        &safetensors(Some("784-65-10"), &tensors::<16>()),
        &["hidden layers `65` are not compiled in", "supported: 16"],
    );
    eval_fails(
        &safetensors(Some("seven"), &tensors::<16>()),
        &["not a list of layer sizes"],
    );
    eval_fails(
        &safetensors(None, &tensors::<16>()),
        &["no `architecture` in the metadata"],
    );
}

#[test]
fn checkpoint_nan_values() {
    let mut t = tensors::<16>();
    t[2].data[40..44].copy_from_slice(&f32::NAN.to_le_bytes());
    eval_fails(
        &safetensors(Some("784-16-10"), &t),
        &["fc2.weight holds a NaN or infinite value", "--lr"],
    );
}

#[test]
fn checkpoint_too_large_missing_or_a_directory() {
    let f = Fixture::new();
    let big = f.dir.path().join("big.safetensors");
    // Sparse: no disk space, and the reader must refuse it before reading.
    std::fs::File::create(&big)
        .unwrap()
        .set_len(checkpoint::MAX_CHECKPOINT_BYTES + 1)
        .unwrap();
    f.eval(&big)
        .assert_error(&[s(&big), "far larger than any tinymlp checkpoint"])
        .assert_peak_rss_below(BASE_RSS);
    let missing = f.dir.path().join("missing.safetensors");
    f.eval(&missing)
        .assert_error(&[s(&missing), "not found", "host train"]);
    f.eval(f.dir.path())
        .assert_error(&[s(f.dir.path()), "is a directory, expected a checkpoint"]);
}

// ---------------------------------------------------------------------------
// Divergence, --force, Ctrl-C, determinism.

/// Loads a checkpoint into the network its metadata names; checks it is finite.
fn load_checkpoint(path: &Path) -> Checkpoint {
    let ckpt = Checkpoint::read(path).unwrap_or_else(|e| panic!("{e}"));
    let arch = ckpt.architecture().clone();
    with_network!(arch, Net => {
        let mut net: Box<Net> = bytemuck::zeroed_box();
        ckpt.load_into(&mut *net).unwrap_or_else(|e| panic!("{e}"));
        assert!(net.all_finite());
    });
    ckpt
}

#[test]
fn divergence_fails_cleanly_and_keeps_the_last_good_checkpoint() {
    let f = Fixture::new();
    let good = f.train(&[]);
    assert_eq!(good.code, Some(0), "{good:#?}");
    let model = f.out().join("model.safetensors");
    let before = std::fs::read(&model).unwrap();

    let run = f.train(&["--lr", "1e6", "--epochs", "3"]);
    run.assert_error(&["training diverged", "try a lower --lr than 1000000"]);
    // Every epoch checkpoint is written only after the finiteness check: what
    // is there loads, and is finite (the earlier run's, or an epoch of this
    // run that completed before it diverged).
    let ckpt = load_checkpoint(&model);
    if run.stderr.contains("no checkpoint was written") {
        assert_eq!(std::fs::read(&model).unwrap(), before);
    } else {
        assert!(
            run.stderr
                .contains(&format!("the last complete checkpoint is {}", s(&model))),
            "{}",
            run.stderr
        );
        assert_eq!(ckpt.metadata()["learning_rate"], "1000000");
    }
    assert_no_temporary_files(&f.out());
}

#[test]
fn another_architecture_is_not_replaced_without_force() {
    let f = Fixture::new();
    assert_eq!(f.train(&[]).code, Some(0));
    let model = f.out().join("model.safetensors");
    let before = std::fs::read(&model).unwrap();
    let run = run_host(&[
        "train",
        "--data",
        s(&f.data()),
        "--out",
        s(&f.out()),
        "--epochs",
        "1",
        "--hidden",
        "32",
    ]);
    run.assert_error(&[s(&model), "784-16-10", "784-32-10", "--force"]);
    assert_eq!(std::fs::read(&model).unwrap(), before);

    let forced = run_host(&[
        "train",
        "--data",
        s(&f.data()),
        "--out",
        s(&f.out()),
        "--epochs",
        "1",
        "--hidden",
        "32",
        "--force",
    ]);
    assert_eq!(forced.code, Some(0), "{forced:#?}");
    assert_eq!(
        load_checkpoint(&model).architecture().to_string(),
        "784-32-10"
    );
    // The same architecture again needs no --force.
    assert_eq!(f.train(&["--hidden", "32"]).code, Some(0));
}

fn assert_no_temporary_files(dir: &Path) {
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn ctrl_c_stops_at_a_batch_boundary_and_keeps_a_complete_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (data, out) = (dir.path().join("data"), dir.path().join("out"));
    // Epochs of a few thousand images: long enough that the signal lands in
    // the middle of one, short enough that one completes quickly.
    write_mnist(&data, 4096, 16);
    let mut child = Command::new(common::host_bin())
        .args(["train", "--data", s(&data), "--out", s(&out)])
        .args(["--epochs", "10000", "--hidden", "16", "--threads", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            if lines_tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    loop {
        let line = lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| {
                child.kill().ok();
                panic!("no epoch finished in time: {seen:#?}")
            });
        seen.push(line);
        if seen.last().unwrap().starts_with("epoch   1:") {
            break;
        }
    }
    let signalled = Instant::now();
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if signalled.elapsed() > Duration::from_secs(30) {
            child.kill().ok();
            panic!("training did not stop after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stopped_after = signalled.elapsed();
    seen.extend(lines.iter());
    let stderr = seen.join("\n");
    assert_eq!(code, Some(130), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let model = out.join("model.safetensors");
    assert!(
        stderr.contains(&format!(
            "error: interrupted; the last complete checkpoint is {}",
            s(&model)
        )),
        "{stderr}"
    );
    // It stopped within a batch or an epoch's end, not after 10000 epochs.
    assert!(stopped_after < Duration::from_secs(10), "{stopped_after:?}");
    let ckpt = load_checkpoint(&model);
    let epochs: usize = ckpt.metadata()["epochs"].parse().unwrap();
    assert!(epochs >= 1, "{:?}", ckpt.metadata());
    assert_no_temporary_files(&out);
}

/// metrics.json without its timing fields (`seconds`, `samples_per_second`).
fn metrics_without_timing(path: &Path) -> serde_json::Value {
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    for epoch in json["epochs"].as_array_mut().unwrap() {
        let epoch = epoch.as_object_mut().unwrap();
        assert!(epoch.remove("seconds").is_some());
        assert!(epoch.remove("samples_per_second").is_some());
    }
    json
}

#[test]
fn same_seed_same_bytes_whatever_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_mnist(&data, 256, 32);
    let train = |name: &str, threads: &str, seed: &str| {
        let out = dir.path().join(name);
        let run = run_host(&[
            "train",
            "--data",
            s(&data),
            "--out",
            s(&out),
            "--epochs",
            "2",
            "--limit",
            "200",
            "--hidden",
            "32",
            "--threads",
            threads,
            "--seed",
            seed,
        ]);
        assert_eq!(run.code, Some(0), "{run:#?}");
        (
            std::fs::read(out.join("model.safetensors")).unwrap(),
            metrics_without_timing(&out.join("metrics.json")),
        )
    };
    let a = train("a", "2", "7");
    let b = train("b", "2", "7");
    let one = train("one", "1", "7");
    let other_seed = train("other", "2", "8");
    assert!(a.0 == b.0, "two runs wrote different checkpoints");
    assert_eq!(a.1, b.1);
    assert!(
        a.0 == one.0,
        "--threads 1 and 2 wrote different checkpoints"
    );
    assert_eq!(a.1, one.1);
    assert!(a.0 != other_seed.0, "the seed changed nothing");
    let meta: BTreeMap<_, _> = Checkpoint::from_bytes(Path::new("a"), a.0)
        .unwrap()
        .metadata()
        .clone();
    assert_eq!(meta["seed"], "7");
}

/// Records whether every network offered for checkpointing was finite.
#[derive(Default)]
struct Saves {
    epochs: usize,
    all_finite: bool,
}

impl host::train::Observer for Saves {
    fn epoch<N: Parameters>(&mut self, _: &host::train::EpochMetrics, net: &N) -> bool {
        self.all_finite = (self.epochs == 0 || self.all_finite) && net.all_finite();
        self.epochs += 1;
        true
    }
}

#[test]
fn a_diverging_run_never_offers_non_finite_weights_for_saving() {
    use host::train::{train, TrainConfig, TrainError};
    let (pixels, labels) = common::synthetic(256, 5);
    let data = host::dataset::Dataset::new(28, 28, pixels, labels).unwrap();
    // Learning rates that blow up at different points: in the first epoch,
    // or after epochs whose weights are still finite (here after 1, 2 and 6).
    let mut saved = 0;
    for learning_rate in [1e6, 1e4, 3e3, 1e3] {
        let config = TrainConfig {
            architecture: "16".parse().unwrap(),
            epochs: 8,
            learning_rate,
            // Pinned: the divergence points above were found with these, not the defaults.
            weight_decay: 5e-4,
            threads: 1,
            ..TrainConfig::default()
        };
        let mut saves = Saves::default();
        let result = train::<Mlp<784, 16, 10>>(&config, &data, &data.take(32), &mut saves);
        assert!(
            matches!(result, Err(TrainError::Diverged { .. })),
            "lr {learning_rate}: {:?}",
            result.map(|(_, history)| history)
        );
        assert!(
            saves.epochs == 0 || saves.all_finite,
            "lr {learning_rate}: non-finite weights offered for saving"
        );
        saved += saves.epochs;
    }
    assert!(saved > 0, "no run completed an epoch before diverging");
}
