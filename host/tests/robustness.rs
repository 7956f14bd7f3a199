//! `host train` against hostile inputs and interruptions.
//!
//! The data layer's own suites (`data_*.rs`) check every malformed input at
//! the library level; these tests check what a user sees: exit code 1, one
//! `error:` report naming the file and the problem, no panic, no model
//! written, and peak memory bounded by the file's real size (not by what its
//! header claims). Then the divergence guard, `--force`, Ctrl-C and
//! determinism through the binary.
//!
//! Peak memory is measured with GNU time (`/usr/bin/time -f %M`, Debian
//! package `time`): without it the memory bounds are skipped (with a note on
//! stderr); everything else runs.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    gz, idx, images_idx, labels_idx, run_host, s, write, write_mnist, Run, PIXELS, TEST_IMAGES,
    TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS,
};
use host::model::Checkpoint;

/// Memory any run may use besides its input files: the binary, its thread
/// pool, a network and tiny data sets.
const BASE_RSS: u64 = 64 << 20;

/// A data directory of 64 training and 16 test images, and an output directory.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = common::tempdir();
        write_mnist(&dir.path().join("data"), 64, 16);
        Self { dir }
    }
    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }
    fn model(&self) -> PathBuf {
        self.out().join("model.safetensors")
    }
    /// Replaces the data file `name` by `bytes` under the name `as_name`.
    fn replace(&self, name: &str, as_name: &str, bytes: &[u8]) -> PathBuf {
        std::fs::remove_file(self.data().join(name)).unwrap();
        write(&self.data(), as_name, bytes)
    }
    /// `host train` of one epoch of a 784-16-10 network on `--data data`;
    /// `extra` adds options or overrides those defaults.
    fn train(&self, extra: &[&str]) -> Run {
        self.train_on(&self.data(), extra)
    }
    /// The same on another `--data`.
    fn train_on(&self, data: &Path, extra: &[&str]) -> Run {
        let out = self.out();
        let mut args = vec!["train", "--data", s(data), "--out", s(&out), "--quiet"];
        for (option, default) in [("--epochs", "1"), ("--hidden", "16")] {
            if !extra.contains(&option) {
                args.extend([option, default]);
            }
        }
        args.extend_from_slice(extra);
        run_host(&args)
    }
}

/// Runs `host train` with the data file `name` replaced by `bytes` (stored as
/// `as_name`), and checks the report names that file and says `words`, that
/// memory stayed within twice the file's size plus [`BASE_RSS`], and that no
/// model was written.
fn train_fails(name: &str, as_name: &str, bytes: &[u8], words: &[&str]) -> Run {
    let f = Fixture::new();
    let path = f.replace(name, as_name, bytes);
    let run = f.train(&[]);
    let mut expected = vec![s(&path)];
    expected.extend_from_slice(words);
    run.assert_error(&expected)
        .assert_peak_rss_below(2 * bytes.len() as u64 + BASE_RSS);
    assert!(!f.model().exists(), "a model was written");
    run
}

fn valid_images() -> Vec<u8> {
    images_idx(64, 1)
}

#[test]
fn valid_fixture_trains() {
    // The baseline the hostile cases are variations of.
    let f = Fixture::new();
    let run = f.train(&[]);
    run.assert_ok().assert_peak_rss_below(BASE_RSS);
    assert!(run.stdout.contains("test accuracy"), "{run:#?}");
    let ckpt = Checkpoint::read(&f.model()).unwrap();
    assert_eq!(ckpt.architecture().to_string(), "784-16-10");
}

// ---------------------------------------------------------------------------
// IDX files that lie or are damaged.

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
        &["truncated", "64 samples of 28x28", "cut short"],
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
    images[2] = 0x0B;
    train_fails(
        TRAIN_IMAGES,
        TRAIN_IMAGES,
        &images,
        &["unsupported IDX element type 0x0b", "i16"],
    );
    // f32 is a type samples may have, but then the payload is four times too short.
    let mut images = valid_images();
    images[2] = 0x0D;
    train_fails(
        TRAIN_IMAGES,
        TRAIN_IMAGES,
        &images,
        &["truncated", "64 samples of 28x28 f32"],
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
        &["truncated", "4000000000 samples"],
    );
}

#[test]
fn image_and_label_counts_differ() {
    let f = Fixture::new();
    let labels = f.replace(TRAIN_LABELS, TRAIN_LABELS, &labels_idx(63));
    f.train(&[]).assert_error(&[
        s(&labels),
        s(&f.data().join(TRAIN_IMAGES)),
        "64 samples",
        "63 labels",
    ]);
}

/// MNIST refused labels over 9; now they are classes, so the hostile case is
/// a test label the training data does not have.
#[test]
fn test_label_unknown_to_the_training_data() {
    let mut labels = labels_idx(16);
    let last = labels.len() - 1;
    labels[last] = 10;
    train_fails(
        TEST_LABELS,
        TEST_LABELS,
        &labels,
        &["label 15", "\"10\" is not one of the 10 known classes"],
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
        &["trailing data", "64 samples of 28x28"],
    );
}

#[test]
fn empty_file() {
    train_fails(TEST_LABELS, TEST_LABELS, b"", &["file is empty"]);
}

/// A directory in place of an MNIST file counts as a missing file.
#[test]
fn directory_where_a_file_is_expected() {
    let f = Fixture::new();
    let path = f.data().join(TEST_IMAGES);
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    f.train(&[]).assert_error(&[
        s(&f.data()),
        "MNIST test files not found: t10k-images-idx3-ubyte(.gz)",
    ]);
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
    f.train_on(&nowhere, &[])
        .assert_error(&[s(&nowhere), "not found"]);
    assert!(!f.out().exists());
}

// ---------------------------------------------------------------------------
// CSV files and files of the wrong kind.

/// A CSV of `rows` samples of three features and text classes, `,`-separated.
fn small_csv(rows: usize) -> String {
    let mut text = String::from("label,a,b,c\n");
    for i in 0..rows {
        let class = ["cat", "dog", "eel"][i % 3];
        text.push_str(&format!(
            "{class},{},{}.5,{}\n",
            i % 7,
            i % 3,
            (i * 13) % 10
        ));
    }
    text
}

#[test]
fn csv_line_ends_bom_and_delimiters_train() {
    let f = Fixture::new();
    let text = small_csv(60);
    for (name, variant) in [
        ("crlf.csv", text.replace('\n', "\r\n")),
        ("cr-only.csv", text.replace('\n', "\r")),
        ("bom.csv", format!("\u{feff}{text}")),
        ("tabs.tsv", text.replace(',', "\t")),
        ("semicolons.csv", text.replace(',', ";")),
    ] {
        let path = write(f.dir.path(), name, &variant);
        let run = f.train_on(&path, &["--test-fraction", "0.25", "--force"]);
        run.assert_ok();
        let model = Checkpoint::read(&f.model()).unwrap().load().unwrap();
        assert_eq!(model.classes.names(), ["cat", "dog", "eel"], "{name}");
        assert_eq!(model.inputs(), 3, "{name}");
    }
    // A gzipped CSV trains too.
    let path = write(f.dir.path(), "data.csv.gz", gz(text.as_bytes()));
    f.train_on(&path, &["--test-fraction", "0.25", "--force"])
        .assert_ok();
}

#[test]
fn hostile_csv_files() {
    let f = Fixture::new();
    let text = small_csv(30);
    let ragged = text.replacen("dog,1,1.5,3\n", "dog,1,1.5\n", 1);
    assert_ne!(ragged, text);
    for (name, bytes, words) in [
        (
            "ragged.csv",
            ragged.into_bytes(),
            &["line 3 has 3 fields, expected 4", "the header on line 1"][..],
        ),
        (
            "text.csv",
            text.replacen("0,0.5,0", "0,zero,0", 1).into_bytes(),
            &["line 2, column 3 (b): \"zero\" is not a number"][..],
        ),
        ("empty.csv", Vec::new(), &["file is empty"][..]),
        (
            "header-only.csv",
            b"label,a,b,c\n\n".to_vec(),
            &["no data rows"][..],
        ),
        (
            "one-column.csv",
            b"1\n2\n3\n".to_vec(),
            &["a label and at least one feature", "--delimiter"][..],
        ),
        (
            "nan.csv",
            text.replacen("0,0.5,0", "0,NaN,0", 1).into_bytes(),
            &["is not a finite number"][..],
        ),
        (
            "binary.csv",
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\xff\xfe\0\0".to_vec(),
            &["named like a CSV file", "binary data"][..],
        ),
    ] {
        let path = write(f.dir.path(), name, &bytes);
        f.train_on(&path, &["--test-fraction", "0.25"])
            .assert_error(&[&[s(&path)][..], words].concat())
            .assert_peak_rss_below(BASE_RSS);
        assert!(!f.model().exists(), "{name}: a model was written");
    }
}

#[test]
fn wrong_kinds_and_wrong_options() {
    let f = Fixture::new();
    let csv = write(f.dir.path(), "data.csv", small_csv(30));
    // A CSV read as IDX, an IDX file read as CSV, a directory read as CSV.
    f.train_on(&csv, &["--test-fraction", "0.25", "--format", "idx"])
        .assert_error(&[s(&csv), "--format idx expects an IDX file", "--format csv"]);
    let images = f.data().join(TRAIN_IMAGES);
    f.train_on(&images, &["--test-fraction", "0.25", "--format", "csv"])
        .assert_error(&[s(&images), "--format csv expects CSV text", "--format idx"]);
    f.train_on(&f.data(), &["--format", "csv"]).assert_error(&[
        s(&f.data()),
        "is a directory",
        "--format csv needs a CSV file",
    ]);
    // An IDX labels file given as the data.
    let labels = f.data().join(TRAIN_LABELS);
    f.train_on(&labels, &["--test-fraction", "0.25"])
        .assert_error(&[s(&labels), "IDX labels file", "pass the images file"]);
    // A label column that does not exist; one file and no test set.
    f.train_on(&csv, &["--test-fraction", "0.25", "--label-column", "kind"])
        .assert_error(&[s(&csv), "no column named \"kind\"", "--label-column"]);
    f.train_on(&csv, &[])
        .assert_error(&[s(&csv), "--test FILE", "--test-fraction"]);
    // A test file with other columns than the training file.
    let other = write(f.dir.path(), "other.csv", "label,a,b\ncat,1,2\n");
    f.train_on(&csv, &["--test", s(&other)])
        .assert_error(&[s(&other), s(&csv), "2 features"]);
    // Options out of range name the option.
    for (option, value) in [
        ("--epochs", "0"),
        ("--batch", "0"),
        ("--lr", "-1"),
        ("--threads", "0"),
        ("--weight-decay", "2"),
        ("--shift", "9"),
    ] {
        f.train(&[option, value]).assert_error(&[option]);
    }
    f.train_on(&csv, &["--test-fraction", "0.25", "--shift", "1"])
        .assert_error(&["--shift 0"]);
    f.train_on(&csv, &["--test-fraction", "1.5"])
        .assert_error(&["--test-fraction 1.5"]);
    f.train(&["--val", "64"]).assert_error(&["--val 64"]);
    assert!(!f.model().exists());
}

// ---------------------------------------------------------------------------
// Divergence, --force, Ctrl-C, determinism.

/// Loads a checkpoint completely; checks it is finite.
fn load_checkpoint(path: &Path) -> Checkpoint {
    let ckpt = Checkpoint::read(path).unwrap_or_else(|e| panic!("{e}"));
    let model = ckpt.load().unwrap_or_else(|e| panic!("{e}"));
    assert!(model.net.all_finite());
    ckpt
}

fn assert_no_temporary_files(dir: &Path) {
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp") || n.starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn divergence_fails_cleanly_and_keeps_the_model() {
    let f = Fixture::new();
    f.train(&[]).assert_ok();
    let before = std::fs::read(f.model()).unwrap();

    let run = f.train(&["--lr", "1e6", "--epochs", "3"]);
    run.assert_error(&["training diverged", "try a lower --lr than 1000000"]);
    // The model in --out is untouched; an epoch that finished before the
    // divergence is in the partial checkpoint, and it is finite.
    assert_eq!(std::fs::read(f.model()).unwrap(), before);
    let partial = f.out().join("model.partial.safetensors");
    if run.stderr.contains("no checkpoint was written") {
        assert!(!partial.exists());
    } else {
        assert!(
            run.stderr
                .contains(&format!("the last finite epoch is in {}", s(&partial))),
            "{}",
            run.stderr
        );
        let ckpt = load_checkpoint(&partial);
        assert_eq!(ckpt.metadata()["learning_rate"], "1000000");
    }
    assert_no_temporary_files(&f.out());
}

#[test]
fn another_architecture_is_not_replaced_without_force() {
    let f = Fixture::new();
    f.train(&[]).assert_ok();
    let before = std::fs::read(f.model()).unwrap();
    f.train(&["--hidden", "32"]).assert_error(&[
        s(&f.model()),
        "784-16-10",
        "784-32-10",
        "--force",
    ]);
    assert_eq!(std::fs::read(f.model()).unwrap(), before);

    f.train(&["--hidden", "32", "--force"]).assert_ok();
    assert_eq!(
        load_checkpoint(&f.model()).architecture().to_string(),
        "784-32-10"
    );
    // The same architecture again needs no --force.
    f.train(&["--hidden", "32"]).assert_ok();
}

#[test]
fn ctrl_c_stops_at_a_batch_boundary_and_keeps_a_complete_checkpoint() {
    let dir = common::tempdir();
    let (data, out) = (dir.path().join("data"), dir.path().join("out"));
    // Epochs of a few thousand images: long enough that the signal lands in
    // the middle of one, short enough that one completes quickly.
    write_mnist(&data, 4096, 16);
    let mut child = Command::new(common::host_bin())
        .args(["train", "--data", s(&data), "--out", s(&out)])
        .args(["--epochs", "10000", "--hidden", "16", "--threads", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The partial checkpoint appears (atomically) after the first epoch.
    let partial = out.join("model.partial.safetensors");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !partial.exists() {
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            child.kill().ok();
            panic!("no epoch finished in time");
        }
        std::thread::sleep(Duration::from_millis(20));
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
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(code, Some(130), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: interrupted; the model in the output directory is unchanged, and a recent \
             finished epoch is in {}",
            s(&partial)
        )),
        "{stderr}"
    );
    // It stopped within a batch or an epoch's end, not after 10000 epochs.
    assert!(stopped_after < Duration::from_secs(10), "{stopped_after:?}");
    assert!(!out.join("model.safetensors").exists());
    let ckpt = load_checkpoint(&partial);
    let epochs: usize = ckpt.metadata()["epochs"].parse().unwrap();
    assert!(epochs >= 1, "{:?}", ckpt.metadata());
    assert_no_temporary_files(&out);
}

#[test]
fn same_seed_same_bytes_whatever_the_thread_count() {
    let dir = common::tempdir();
    let data = dir.path().join("data");
    write_mnist(&data, 256, 32);
    let digits = common::data("digits-8x8/digits-test.csv");
    let train = |name: &str, data: &Path, extra: &[&str], threads: &str, seed: &str| {
        let out = dir.path().join(name);
        let mut args = vec![
            "train",
            "--data",
            s(data),
            "--out",
            s(&out),
            "--epochs",
            "2",
            "--threads",
            threads,
            "--seed",
            seed,
            "--quiet",
        ];
        args.extend_from_slice(extra);
        run_host(&args).assert_ok();
        (
            std::fs::read(out.join("model.safetensors")).unwrap(),
            std::fs::read(out.join("metrics.json")).unwrap(),
        )
    };
    // One hidden layer of MNIST (the row split with 2 and 3 threads), and a
    // two-hidden-layer digits CSV model with --test-fraction (sharded).
    let mnist: &[&str] = &["--limit", "200", "--hidden", "32"];
    let csv: &[&str] = &["--test-fraction", "0.2", "--hidden", "24,12"];
    for (name, data, extra) in [
        ("mnist", data.as_path(), mnist),
        ("digits", digits.as_path(), csv),
    ] {
        let a = train(&format!("{name}-a"), data, extra, "2", "7");
        let b = train(&format!("{name}-b"), data, extra, "2", "7");
        let one = train(&format!("{name}-1"), data, extra, "1", "7");
        let three = train(&format!("{name}-3"), data, extra, "3", "7");
        let other_seed = train(&format!("{name}-other"), data, extra, "2", "8");
        assert!(a == b, "{name}: two runs wrote different files");
        assert!(a == one, "{name}: --threads 1 and 2 wrote different files");
        assert!(
            a == three,
            "{name}: --threads 3 and 2 wrote different files"
        );
        assert!(a.0 != other_seed.0, "{name}: the seed changed nothing");
        let ckpt = Checkpoint::from_bytes(Path::new("a"), a.0).unwrap();
        assert_eq!(ckpt.metadata()["seed"], "7");
    }
}
