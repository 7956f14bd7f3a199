//! IDX files through the library: facts about the shipped MNIST files,
//! gzip/raw equivalence, and malformed headers and payloads built on the fly.
//! Every error names the file; no reader allocates what a header claims.

mod common;

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{data_dir, gunzip, gz, idx, tempdir, write};
use host::data::idx::{
    parse_idx_labels, parse_idx_samples, read_idx_header, read_idx_labels, read_idx_samples,
    ElementType, IdxValues,
};
use host::data::load::{load_idx_pair, load_mnist_dir};
use host::data::{load, Classes, DataError, DataOptions, Dataset, Encoding, Format, Role, Shape};

fn check_mnist(d: &Dataset, len: usize, first: [u16; 10], counts: [usize; 10]) {
    assert_eq!(d.len(), len);
    assert_eq!(
        d.shape(),
        Shape {
            features: 784,
            image: Some((28, 28))
        }
    );
    assert_eq!(d.encoding(), Encoding::Pixels);
    assert_eq!(d.classes(), &Classes::numeric(10));
    assert_eq!(&d.labels()[..10], &first);
    assert_eq!(d.class_counts(), counts);
    assert_eq!(d.class_counts().iter().sum::<usize>(), len);
}

#[test]
fn mnist_train_facts() {
    let d = load(&data_dir(), &DataOptions::default(), Role::Train).unwrap();
    check_mnist(
        &d,
        60000,
        [5, 0, 4, 1, 9, 2, 1, 3, 1, 4],
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    );
    // The images are digits, not noise: mostly background with some ink.
    let img = d.pixels(0).unwrap();
    let ink = img.iter().filter(|&&p| p > 128).count();
    assert!((50..400).contains(&ink), "{ink} inked pixels");
    assert_eq!(img[0], 0);
    assert!(
        d.name().ends_with("train-images-idx3-ubyte.gz"),
        "{}",
        d.name()
    );
}

#[test]
fn mnist_test_facts() {
    let d = load(&data_dir(), &DataOptions::default(), Role::Test).unwrap();
    check_mnist(
        &d,
        10000,
        [7, 2, 1, 0, 4, 1, 4, 9, 5, 9],
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
    );
}

// ---------------------------------------------------------------------------
// Helpers.

/// A valid samples file of `n` images of 3x4 with distinct pixel values.
fn images(n: u32) -> Vec<u8> {
    let payload: Vec<u8> = (0..n * 12).map(|i| (i * 7 % 256) as u8).collect();
    idx(0x08, &[n, 3, 4], &payload)
}

fn labels(l: &[u8]) -> Vec<u8> {
    idx(0x08, &[l.len() as u32], l)
}

/// Asserts the message names `path` and contains every one of `words`.
fn says(e: &DataError, path: &Path, words: &[&str]) {
    let msg = e.to_string();
    assert!(
        msg.contains(&path.display().to_string()),
        "message does not name {}: {msg}",
        path.display()
    );
    for w in words {
        assert!(msg.contains(w), "message lacks {w:?}: {msg}");
    }
}

fn samples_err(dir: &Path, name: &str, bytes: &[u8]) -> (PathBuf, DataError) {
    let p = write(dir, name, bytes);
    let e = read_idx_samples(&p).expect_err("malformed samples file was accepted");
    (p, e)
}

fn labels_err(dir: &Path, name: &str, bytes: &[u8]) -> (PathBuf, DataError) {
    let p = write(dir, name, bytes);
    let e = read_idx_labels(&p).expect_err("malformed labels file was accepted");
    (p, e)
}

/// Asserts two data sets hold the same samples (their names may differ).
fn same_data(a: &Dataset, b: &Dataset) {
    assert_eq!(
        (a.len(), a.shape(), a.encoding()),
        (b.len(), b.shape(), b.encoding())
    );
    assert_eq!(a.labels(), b.labels());
    assert_eq!(a.classes(), b.classes());
    let mut x = vec![0.0; a.features()];
    let mut y = vec![0.0; b.features()];
    for i in 0..a.len() {
        a.raw_f32(i, &mut x);
        b.raw_f32(i, &mut y);
        assert!(x == y, "sample {i} differs");
    }
}

/// Yields one byte per `read` call.
struct OneByte<R>(R);

impl<R: Read> Read for OneByte<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match buf.first_mut() {
            Some(b) => self.0.read(std::slice::from_mut(b)),
            None => Ok(0),
        }
    }
}

// ---------------------------------------------------------------------------
// Raw and gzipped are the same data, whatever the names.

#[test]
fn raw_and_gz_load_the_same() {
    let t = tempdir();
    let gz_images = std::fs::read(data_dir().join("t10k-images-idx3-ubyte.gz")).unwrap();
    let gz_labels = std::fs::read(data_dir().join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let raw_images = gunzip(&gz_images);
    let raw_labels = gunzip(&gz_labels);
    assert_eq!(raw_labels.len(), 8 + 10000);
    assert_eq!(raw_images.len(), 16 + 10000 * 784);
    write(t.path(), "t10k-images-idx3-ubyte", &raw_images);
    write(t.path(), "t10k-labels-idx1-ubyte", &raw_labels);
    let from_gz = load_mnist_dir(&data_dir(), Role::Test, None).unwrap();
    let from_raw = load_mnist_dir(t.path(), Role::Test, None).unwrap();
    same_data(&from_gz, &from_raw);

    // A raw file named .gz, a gzipped one without extension.
    let imgs = write(t.path(), "raw-named.gz", &raw_images);
    let lbls = write(t.path(), "gz-unnamed", &gz_labels);
    same_data(&load_idx_pair(&imgs, &lbls, None).unwrap(), &from_gz);

    // The train split is missing from the temp dir: the error names both files.
    let e = load(t.path(), &DataOptions::default(), Role::Train).unwrap_err();
    assert!(matches!(e, DataError::MissingMnist { .. }), "{e:?}");
    says(
        &e,
        t.path(),
        &[
            "MNIST train files not found",
            "train-images-idx3-ubyte(.gz)",
            "train-labels-idx1-ubyte(.gz)",
        ],
    );
}

#[test]
fn mnist_dir_prefers_gz_and_names_only_the_missing_file() {
    let t = tempdir();
    // The .gz files are valid, the raw ones garbage: .gz must be chosen.
    write(t.path(), "t10k-images-idx3-ubyte.gz", gz(&images(2)));
    write(t.path(), "t10k-labels-idx1-ubyte.gz", gz(&labels(&[3, 9])));
    write(t.path(), "t10k-images-idx3-ubyte", b"garbage");
    write(t.path(), "t10k-labels-idx1-ubyte", b"garbage");
    let d = load_mnist_dir(t.path(), Role::Test, None).unwrap();
    assert_eq!((d.len(), d.shape().image), (2, Some((3, 4))));
    assert_eq!(d.labels(), &[3, 9]);
    assert_eq!(d.pixels(1).unwrap(), &images(2)[16 + 12..]);

    // Only the raw labels file for train: the error names the images only.
    write(t.path(), "train-labels-idx1-ubyte", labels(&[1, 2]));
    let e = load_mnist_dir(t.path(), Role::Train, None).unwrap_err();
    says(&e, t.path(), &["train-images-idx3-ubyte(.gz)"]);
    assert!(!e.to_string().contains("train-labels"), "{e}");

    // A directory that does not exist, and a file given as directory.
    let missing = t.path().join("nope");
    let e = load_mnist_dir(&missing, Role::Train, None).unwrap_err();
    assert!(matches!(e, DataError::NotFound { .. }), "{e:?}");
    says(&e, &missing, &["not found"]);
    let file = t.path().join("t10k-images-idx3-ubyte");
    let e = load_mnist_dir(&file, Role::Test, None).unwrap_err();
    assert!(matches!(e, DataError::NotADirectory { .. }), "{e:?}");
}

#[test]
fn header_of_real_and_other_types() {
    let h = read_idx_header(&data_dir().join("train-images-idx3-ubyte.gz")).unwrap();
    assert_eq!(h.element_type, ElementType::U8);
    assert_eq!(h.dims, vec![60000, 28, 28]);
    assert!(h.gzipped);
    assert_eq!(h.payload_bytes(), Some(47_040_000));

    let t = tempdir();
    let p = write(t.path(), "floats", idx(0x0D, &[5, 2], &[0; 40]));
    let h = read_idx_header(&p).unwrap();
    assert_eq!(h.element_type, ElementType::F32);
    assert_eq!(h.dims, vec![5, 2]);
    assert!(!h.gzipped);
    assert_eq!((h.element_count(), h.payload_bytes()), (Some(10), Some(40)));
    // The header reader still rejects non-IDX data.
    let p = write(t.path(), "text", b"hello world");
    let e = read_idx_header(&p).unwrap_err();
    assert!(matches!(e, DataError::NotIdx { .. }), "{e:?}");
}

#[test]
fn generic_readers_accept_one_byte_at_a_time() {
    let gz_labels = std::fs::read(data_dir().join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let name = Path::new("one-byte");
    let a = parse_idx_labels(OneByte(&gz_labels[..]), name).unwrap();
    let b = parse_idx_labels(&gz_labels[..], name).unwrap();
    assert_eq!(a.len(), 10000);
    assert_eq!(a, b);
    let raw = images(3);
    let s = parse_idx_samples(OneByte(&raw[..]), name).unwrap();
    assert_eq!((s.count, s.shape.image), (3, Some((3, 4))));
    assert_eq!(s.values, IdxValues::U8(raw[16..].to_vec()));
}

// ---------------------------------------------------------------------------
// Shapes other than 28x28: images of any size, vectors, f32 values.

#[test]
fn vectors_and_f32_values() {
    let t = tempdir();
    // N x F of u8: vectors, not images.
    let p = write(
        t.path(),
        "v",
        idx(0x08, &[2, 5], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
    );
    let s = read_idx_samples(&p).unwrap();
    assert_eq!(
        (s.count, s.shape),
        (
            2,
            Shape {
                features: 5,
                image: None
            }
        )
    );
    // Big-endian f32.
    let values = [1.5f32, -2.0, 0.25, 1e-3];
    let payload: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
    let p = write(t.path(), "f", idx(0x0D, &[2, 2], &payload));
    assert_eq!(
        read_idx_samples(&p).unwrap().values,
        IdxValues::F32(values.to_vec())
    );
    // NaN and infinities name the sample and element.
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut v = values;
        v[3] = bad;
        let payload: Vec<u8> = v.iter().flat_map(|v| v.to_be_bytes()).collect();
        let (p, e) = samples_err(t.path(), "nan", &idx(0x0D, &[2, 2], &payload));
        assert!(
            matches!(
                e,
                DataError::NonFinite {
                    sample: 1,
                    element: 1,
                    ..
                }
            ),
            "{e:?}"
        );
        says(&e, &p, &["sample 1", "not a finite number"]);
    }

    // Through `load`: the labels file is found beside the samples file.
    let p = write(
        t.path(),
        "x-images-idx2-ubyte",
        idx(0x0D, &[2, 2], &payload),
    );
    let e = load(&p, &DataOptions::default(), Role::Train).unwrap_err();
    assert!(matches!(e, DataError::MissingLabels { .. }), "{e:?}");
    says(&e, &p, &["labels file", "x-labels-idx1-ubyte"]);
    write(t.path(), "x-labels-idx1-ubyte.gz", gz(&labels(&[4, 1])));
    let d = load(&p, &DataOptions::default(), Role::Train).unwrap();
    assert_eq!(
        (d.len(), d.features(), d.encoding()),
        (2, 2, Encoding::Values)
    );
    assert_eq!(d.values(1).unwrap(), &values[2..]);
    assert_eq!((d.labels(), d.classes().len()), (&[4u16, 1][..], 5));

    // The labels file given as data, and a samples file whose name has no "images".
    let labels_path = t.path().join("x-labels-idx1-ubyte.gz");
    let e = load(&labels_path, &DataOptions::default(), Role::Train).unwrap_err();
    assert!(
        matches!(e, DataError::LabelsGivenAsData { count: 2, .. }),
        "{e:?}"
    );
    says(
        &e,
        &labels_path,
        &["IDX labels file", "pass the images file"],
    );
    let p = write(t.path(), "samples.idx", idx(0x08, &[1, 2], &[0, 1]));
    let e = load(&p, &DataOptions::default(), Role::Train).unwrap_err();
    assert!(matches!(e, DataError::MissingLabels { .. }), "{e:?}");
    says(&e, &p, &["no \"images\""]);
}

// ---------------------------------------------------------------------------
// Malformed headers.

#[test]
fn wrong_magic_is_not_idx() {
    let t = tempdir();
    for (name, bytes) in [
        ("text", &b"hello, world, this is not idx"[..]),
        ("png", &b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"[..]),
        ("nonzero0", &[1, 0, 8, 1, 0, 0, 0, 1, 0][..]),
        ("nonzero1", &[0, 1, 8, 1, 0, 0, 0, 1, 0][..]),
    ] {
        let (p, e) = labels_err(t.path(), name, bytes);
        assert!(matches!(e, DataError::NotIdx { .. }), "{name}: {e:?}");
        says(&e, &p, &["not an IDX file"]);
    }
    // Same inside gzip.
    let (p, e) = samples_err(t.path(), "text.gz", &gz(b"hello, world"));
    assert!(matches!(e, DataError::NotIdx { .. }), "{e:?}");
    says(&e, &p, &["not an IDX file", "after gzip"]);
}

#[test]
fn element_types() {
    let t = tempdir();
    // Labels are u8 only.
    for code in [0x09u8, 0x0B, 0x0C, 0x0D, 0x0E] {
        let (p, e) = labels_err(t.path(), "typed", &idx(code, &[1], &[0; 8]));
        match e {
            DataError::UnsupportedElementType { code: c, .. } => assert_eq!(c, code),
            ref other => panic!("0x{code:02x}: {other:?}"),
        }
        says(
            &e,
            &p,
            &[
                "unsupported IDX element type",
                &format!("0x{code:02x}"),
                "labels must be u8",
            ],
        );
    }
    // Samples are u8 or f32.
    for code in [0x09u8, 0x0B, 0x0C, 0x0E] {
        let (p, e) = samples_err(t.path(), "typed", &idx(code, &[1, 1, 1], &[0; 8]));
        assert!(
            matches!(e, DataError::UnsupportedElementType { .. }),
            "{e:?}"
        );
        says(&e, &p, &["u8 (0x08) or f32 (0x0D)", "convert the file"]);
    }
    // Bytes that are no IDX type at all.
    for code in [0x00u8, 0x07, 0x0A, 0x0F, 0x10, 0x80, 0xFF] {
        let (p, e) = labels_err(t.path(), "badtype", &idx(code, &[1], &[0]));
        assert!(matches!(e, DataError::NotIdx { .. }), "0x{code:02x}: {e:?}");
        says(&e, &p, &["not an IDX file", &format!("0x{code:02x}")]);
    }
}

#[test]
fn wrong_dimension_counts() {
    let t = tempdir();
    // A samples file read as labels and vice versa (the usual swap).
    let (p, e) = labels_err(t.path(), "imgs", &images(1));
    assert!(
        matches!(e, DataError::WrongDimensionCount { found: 3, .. }),
        "{e:?}"
    );
    says(
        &e,
        &p,
        &["dimensions", "labels need 1", "declares 3", "swapped"],
    );
    let (p, e) = samples_err(t.path(), "lbls", &labels(&[1, 2, 3]));
    assert!(
        matches!(e, DataError::WrongDimensionCount { found: 1, .. }),
        "{e:?}"
    );
    says(
        &e,
        &p,
        &["samples need 2", "or 3", "declares 1", "labels file"],
    );
    for n in [0u32, 4, 255] {
        let dims = vec![1u32; n as usize];
        let (_, e) = samples_err(t.path(), "dims", &idx(0x08, &dims, &[0]));
        assert!(
            matches!(e, DataError::WrongDimensionCount { .. }),
            "{n}: {e:?}"
        );
    }
}

#[test]
fn zero_dimensions() {
    let t = tempdir();
    for (dims, index) in [
        (&[0u32, 28, 28][..], 0),
        (&[5, 0, 28][..], 1),
        (&[5, 28, 0][..], 2),
        (&[5, 0][..], 1),
    ] {
        let (p, e) = samples_err(t.path(), "zero", &idx(0x08, dims, &[]));
        match e {
            DataError::ZeroDimension { index: i, .. } => assert_eq!(i, index),
            ref other => panic!("{dims:?}: {other:?}"),
        }
        says(&e, &p, &["is zero"]);
    }
    let (_, e) = labels_err(t.path(), "zero", &idx(0x08, &[0], &[]));
    assert!(
        matches!(e, DataError::ZeroDimension { index: 0, .. }),
        "{e:?}"
    );
}

#[test]
fn dimensions_whose_product_overflows() {
    let t = tempdir();
    let (p, e) = samples_err(t.path(), "huge", &idx(0x08, &[u32::MAX; 3], &[0; 100]));
    assert!(matches!(e, DataError::SizeOverflow { .. }), "{e:?}");
    says(&e, &p, &["overflow", "4294967295"]);
}

#[test]
#[cfg(target_pointer_width = "64")] // on 32 bits the size overflows instead
fn four_billion_samples_fail_fast() {
    let t = tempdir();
    // 40 bytes: a 16-byte header claiming 4e9 images, then 24 bytes.
    let bytes = idx(0x08, &[4_000_000_000, 28, 28], &[7; 24]);
    assert_eq!(bytes.len(), 40);
    let start = Instant::now();
    let (p, e) = samples_err(t.path(), "claims-4e9", &bytes);
    match e {
        DataError::Truncated { expected, got, .. } => {
            assert_eq!(expected, 4_000_000_000 * 784);
            assert_eq!(got, 24);
        }
        ref other => panic!("{other:?}"),
    }
    says(
        &e,
        &p,
        &[
            "truncated",
            "4000000000 samples of 28x28",
            "3136000000000 bytes",
            "after 24 bytes",
        ],
    );
    // The same for f32 vectors (four bytes an element), and for labels, gzipped.
    let (_, e) = samples_err(
        t.path(),
        "f32",
        &idx(0x0D, &[4_000_000_000, 1000], &[0; 24]),
    );
    assert!(
        matches!(
            e,
            DataError::Truncated {
                expected: 16_000_000_000_000,
                got: 24,
                ..
            }
        ),
        "{e:?}"
    );
    let (_, e) = labels_err(
        t.path(),
        "claims-4e9.gz",
        &gz(&idx(0x08, &[4_000_000_000], &[1; 24])),
    );
    assert!(matches!(e, DataError::Truncated { got: 24, .. }), "{e:?}");
    assert!(
        start.elapsed() < Duration::from_millis(500),
        "took {:?}",
        start.elapsed()
    );
}

// ---------------------------------------------------------------------------
// Payload length.

#[test]
fn truncation_at_every_byte() {
    let t = tempdir();
    let full = images(2); // 16 header + 24 payload
    for cut in 0..full.len() {
        let (p, e) = samples_err(t.path(), "cut", &full[..cut]);
        match (cut, &e) {
            (0, DataError::Empty { gzipped: false, .. }) => says(&e, &p, &["empty"]),
            (1..=15, DataError::TruncatedHeader { got, needed, .. }) => {
                assert_eq!(*got, cut);
                assert_eq!(*needed, if cut < 4 { 4 } else { 16 });
                says(&e, &p, &["truncated header"]);
            }
            (
                16..,
                DataError::Truncated {
                    got, expected: 24, ..
                },
            ) => {
                assert_eq!(*got, cut - 16);
                says(&e, &p, &["truncated", "2 samples of 3x4 u8 (24 bytes)"]);
            }
            _ => panic!("cut at {cut}: {e:?}"),
        }
        // The same truncated content, gzipped, gives the same error.
        let (_, gz_e) = samples_err(t.path(), "cut.gz", &gz(&full[..cut]));
        match (&e, &gz_e) {
            (DataError::Empty { .. }, DataError::Empty { gzipped: true, .. }) => {}
            (
                DataError::TruncatedHeader { got: a, .. },
                DataError::TruncatedHeader { got: b, .. },
            ) => assert_eq!(a, b),
            (DataError::Truncated { got: a, .. }, DataError::Truncated { got: b, .. }) => {
                assert_eq!(a, b)
            }
            _ => panic!("cut at {cut}: raw {e:?}, gzipped {gz_e:?}"),
        }
    }
    let full = labels(&[1, 2, 3]); // 8 header + 3 payload
    for cut in 0..full.len() {
        let (_, e) = labels_err(t.path(), "cut", &full[..cut]);
        let ok = match cut {
            0 => matches!(e, DataError::Empty { .. }),
            1..=7 => matches!(e, DataError::TruncatedHeader { .. }),
            _ => matches!(e, DataError::Truncated { .. }),
        };
        assert!(ok, "cut at {cut}: {e:?}");
    }
}

#[test]
fn trailing_data() {
    let t = tempdir();
    let mut bytes = images(2);
    bytes.push(0);
    let (p, e) = samples_err(t.path(), "trailing", &bytes);
    assert!(
        matches!(e, DataError::TrailingData { expected: 24, .. }),
        "{e:?}"
    );
    says(&e, &p, &["trailing data", "2 samples of 3x4 u8 (24 bytes)"]);
    let (_, e) = samples_err(t.path(), "trailing.gz", &gz(&bytes));
    assert!(matches!(e, DataError::TrailingData { .. }), "{e:?}");
    let mut bytes = labels(&[1, 2]);
    bytes.extend_from_slice(b"extra");
    let (p, e) = labels_err(t.path(), "trailing", &bytes);
    says(&e, &p, &["trailing data", "2 labels"]);
}

#[test]
fn endless_stream_stops_after_declared_plus_one() {
    // A reader that never ends: the parser must stop on its own.
    let header = idx(0x08, &[1, 28, 28], &[]);
    let endless = (&header[..]).chain(io::repeat(0));
    let e = parse_idx_samples(endless, Path::new("endless")).unwrap_err();
    assert!(
        matches!(e, DataError::TrailingData { expected: 784, .. }),
        "{e:?}"
    );
}

#[test]
fn gzip_bomb_is_cut_off() {
    let t = tempdir();
    // Header: 1 image of 28x28; payload: 10 MB of zeros; ~10 KB gzipped.
    let mut big = idx(0x08, &[1, 28, 28], &[]);
    big.resize(big.len() + 10 * 1024 * 1024, 0);
    let bomb = gz(&big);
    assert!(bomb.len() < 100_000);
    let start = Instant::now();
    let (p, e) = samples_err(t.path(), "bomb.gz", &bomb);
    assert!(
        matches!(e, DataError::TrailingData { expected: 784, .. }),
        "{e:?}"
    );
    says(&e, &p, &["trailing data", "1 samples of 28x28"]);
    assert!(
        start.elapsed() < Duration::from_millis(200),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn count_mismatch_names_both_files() {
    let t = tempdir();
    let imgs = write(t.path(), "imgs", images(2));
    let lbls = write(t.path(), "lbls", labels(&[1, 2, 3]));
    let e = load_idx_pair(&imgs, &lbls, None).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::CountMismatch {
                samples: 2,
                labels: 3,
                ..
            }
        ),
        "{e:?}"
    );
    says(&e, &imgs, &["2 samples", "3 labels"]);
    says(&e, &lbls, &[]);
}

/// MNIST's labels were 0..=9 and anything else was an error; now any `u8`
/// label is a class, and only a label outside known classes is refused.
#[test]
fn labels_are_classes_up_to_the_largest() {
    let t = tempdir();
    let imgs = write(t.path(), "imgs", images(4));
    for bad in [10u8, 11, 255] {
        let lbls = write(t.path(), "labels", labels(&[0, 9, bad, 1]));
        let d = load_idx_pair(&imgs, &lbls, None).unwrap();
        assert_eq!(d.labels(), &[0, 9, u16::from(bad), 1]);
        assert_eq!(d.classes(), &Classes::numeric(usize::from(bad) + 1));
        // Mapped into the ten classes of a model: refused, naming the label.
        let e = load_idx_pair(&imgs, &lbls, Some(&Classes::numeric(10))).unwrap_err();
        assert!(matches!(e, DataError::UnknownLabel { .. }), "{e:?}");
        says(
            &e,
            &lbls,
            &[
                "label 2",
                &format!("{:?}", bad.to_string()),
                "10 known classes",
            ],
        );
    }
    let lbls = write(t.path(), "ok", labels(&[0, 9, 3, 1]));
    let d = load_idx_pair(&imgs, &lbls, Some(&Classes::numeric(10))).unwrap();
    assert_eq!(d.labels(), &[0, 9, 3, 1]);
}

// ---------------------------------------------------------------------------
// Files that are not there, not files, or damaged gzip.

#[test]
fn empty_missing_and_directory() {
    let t = tempdir();
    let (p, e) = samples_err(t.path(), "empty", &[]);
    assert!(
        matches!(e, DataError::Empty { gzipped: false, .. }),
        "{e:?}"
    );
    says(&e, &p, &["empty"]);
    let (p, e) = labels_err(t.path(), "empty.gz", &gz(&[]));
    assert!(matches!(e, DataError::Empty { gzipped: true, .. }), "{e:?}");
    says(&e, &p, &["empty", "gzip"]);

    let missing = t.path().join("missing-idx1-ubyte.gz");
    let e = read_idx_labels(&missing).unwrap_err();
    assert!(matches!(e, DataError::NotFound { .. }), "{e:?}");
    says(&e, &missing, &["not found"]);
    let e = read_idx_header(&missing).unwrap_err();
    assert!(matches!(e, DataError::NotFound { .. }), "{e:?}");

    let e = read_idx_samples(t.path()).unwrap_err();
    assert!(matches!(e, DataError::IsDirectory { .. }), "{e:?}");
    says(&e, t.path(), &["is a directory"]);
    let csv = DataOptions {
        format: Format::Csv,
        ..DataOptions::default()
    };
    let e = load(t.path(), &csv, Role::Train).unwrap_err();
    assert!(matches!(e, DataError::IsDirectory { .. }), "{e:?}");
    says(&e, t.path(), &["--format csv needs a CSV file"]);
}

#[test]
fn bad_gzip_crc() {
    let t = tempdir();
    let good = gz(&images(3));
    // Trailer: CRC32 (4 bytes) then ISIZE (4 bytes).
    let mut bad_crc = good.clone();
    let i = bad_crc.len() - 8;
    bad_crc[i] ^= 0xff;
    let (p, e) = samples_err(t.path(), "badcrc.gz", &bad_crc);
    assert!(matches!(e, DataError::Gzip { .. }), "{e:?}");
    says(&e, &p, &["gzip"]);
    // Labels too, where the CRC is checked right after the payload.
    let mut bad = gz(&labels(&[1, 2, 3]));
    let i = bad.len() - 6;
    bad[i] ^= 0x01;
    let (p, e) = labels_err(t.path(), "badcrc.gz", &bad);
    assert!(matches!(e, DataError::Gzip { .. }), "{e:?}");
    says(&e, &p, &["corrupt or incomplete gzip", "gzip -t"]);
    read_idx_samples(&write(t.path(), "good.gz", &good)).unwrap();
}

#[test]
fn gzip_cut_mid_stream() {
    let t = tempdir();
    let gz_labels = std::fs::read(data_dir().join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let (p, e) = labels_err(t.path(), "cut.gz", &gz_labels[..gz_labels.len() / 2]);
    assert!(matches!(e, DataError::Gzip { .. }), "{e:?}");
    says(&e, &p, &["gzip", "cut short"]);
    // Every cut of a small gzipped file is an error, never a panic or a success.
    let good = gz(&images(2));
    for cut in 0..good.len() {
        let p = write(t.path(), "cut.gz", &good[..cut]);
        let e = read_idx_samples(&p).expect_err("cut gzip accepted");
        says(&e, &p, &[]);
    }
}
