//! Data-layer tests: facts about the real MNIST files, gzip/raw equivalence,
//! and malformed inputs built on the fly.

use std::path::PathBuf;

use host::dataset::{load_mnist, Dataset, Split};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data");

fn data_dir() -> PathBuf {
    PathBuf::from(DATA)
}

fn check_mnist(d: &Dataset, len: usize, first: [u8; 10], counts: [usize; 10]) {
    assert_eq!((d.len(), d.rows(), d.cols()), (len, 28, 28));
    assert_eq!(d.pixels_per_image(), 784);
    assert_eq!(d.pixels().len(), len * 784);
    assert_eq!(&d.labels()[..10], &first);
    assert_eq!(d.class_counts(), counts);
    assert_eq!(d.class_counts().iter().sum::<usize>(), len);
}

#[test]
fn mnist_train_facts() {
    let d = load_mnist(&data_dir(), Split::Train).unwrap();
    check_mnist(
        &d,
        60000,
        [5, 0, 4, 1, 9, 2, 1, 3, 1, 4],
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    );
    // The images are digits, not noise: mostly background with some ink.
    let img = d.image(0);
    let ink = img.iter().filter(|&&p| p > 128).count();
    assert!((50..400).contains(&ink), "{ink} inked pixels");
    assert_eq!(img[0], 0);
}

#[test]
fn mnist_test_facts() {
    let d = load_mnist(&data_dir(), Split::Test).unwrap();
    check_mnist(
        &d,
        10000,
        [7, 2, 1, 0, 4, 1, 4, 9, 5, 9],
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
    );
    let (train, val) = d.clone().split_validation(1000).unwrap();
    assert_eq!((train.len(), val.len()), (9000, 1000));
    assert_eq!(val.image(0), d.image(9000));
    assert_eq!(val.label(999), d.label(9999));
    assert_eq!(train.image(8999), d.image(8999));
    let small = d.take(10);
    assert_eq!(small.labels(), &[7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    assert_eq!(small.pixels(), &d.pixels()[..7840]);
}

// ---------------------------------------------------------------------------
// Helpers for building files.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use flate2::write::GzEncoder;
use flate2::Compression;
use host::csv::{load_csv, parse_csv};
use host::dataset::{load, Format, NUM_CLASSES};
use host::error::DataError;
use host::idx::{
    load_idx_pair, parse_idx_images, parse_idx_labels, read_idx_header, read_idx_images,
    read_idx_labels, ElementType,
};

/// An IDX file: zero, zero, type byte, dim count, dims, payload.
fn idx(code: u8, dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, code, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(payload);
    v
}

/// A valid image file of `n` images of 3x4 with distinct pixel values.
fn images(n: u32) -> Vec<u8> {
    let payload: Vec<u8> = (0..n * 12).map(|i| (i * 7 % 256) as u8).collect();
    idx(0x08, &[n, 3, 4], &payload)
}

fn labels(l: &[u8]) -> Vec<u8> {
    idx(0x08, &[l.len() as u32], l)
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

struct Tmp(tempfile::TempDir);

impl Tmp {
    fn new() -> Self {
        Tmp(tempfile::tempdir().unwrap())
    }
    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
    fn path(&self) -> &std::path::Path {
        self.0.path()
    }
}

/// The error's message, checked to name `path` and contain every one of `words`.
fn says(e: &DataError, path: &std::path::Path, words: &[&str]) {
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

fn img_err(t: &Tmp, name: &str, bytes: &[u8]) -> (PathBuf, DataError) {
    let p = t.file(name, bytes);
    let e = read_idx_images(&p).expect_err("malformed images file was accepted");
    (p, e)
}

fn lbl_err(t: &Tmp, name: &str, bytes: &[u8]) -> (PathBuf, DataError) {
    let p = t.file(name, bytes);
    let e = read_idx_labels(&p).expect_err("malformed labels file was accepted");
    (p, e)
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
    let t = Tmp::new();
    let gz_images = std::fs::read(data_dir().join("t10k-images-idx3-ubyte.gz")).unwrap();
    let gz_labels = std::fs::read(data_dir().join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let raw_images = gunzip(&gz_images);
    let raw_labels = gunzip(&gz_labels);
    assert_eq!(raw_labels.len(), 8 + 10000);
    assert_eq!(raw_images.len(), 16 + 10000 * 784);
    t.file("t10k-images-idx3-ubyte", &raw_images);
    t.file("t10k-labels-idx1-ubyte", &raw_labels);
    let from_gz = load_mnist(&data_dir(), Split::Test).unwrap();
    let from_raw = load_mnist(t.path(), Split::Test).unwrap();
    assert_eq!(from_gz, from_raw);

    // A raw file named .gz, a gzipped one without extension.
    let imgs = t.file("raw-named.gz", &raw_images);
    let lbls = t.file("gz-unnamed", &gz_labels);
    assert_eq!(load_idx_pair(&imgs, &lbls).unwrap(), from_gz);

    // The train split is missing from the temp dir: the error names both files.
    let e = load_mnist(t.path(), Split::Train).unwrap_err();
    assert!(matches!(e, DataError::MissingMnist { .. }), "{e:?}");
    says(
        &e,
        t.path(),
        &[
            "train-images-idx3-ubyte(.gz)",
            "train-labels-idx1-ubyte(.gz)",
        ],
    );
}

#[test]
fn load_mnist_prefers_gz_and_names_only_the_missing_file() {
    let t = Tmp::new();
    // The .gz files are valid, the raw ones garbage: .gz must be chosen.
    t.file("t10k-images-idx3-ubyte.gz", &gz(&images(2)));
    t.file("t10k-labels-idx1-ubyte.gz", &gz(&labels(&[3, 9])));
    t.file("t10k-images-idx3-ubyte", b"garbage");
    t.file("t10k-labels-idx1-ubyte", b"garbage");
    let d = load_mnist(t.path(), Split::Test).unwrap();
    assert_eq!((d.len(), d.rows(), d.cols()), (2, 3, 4));
    assert_eq!(d.labels(), &[3, 9]);
    assert_eq!(d.image(1), &images(2)[16 + 12..]);

    // Only the raw labels file for train: the error names the images only.
    t.file("train-labels-idx1-ubyte", &labels(&[1, 2]));
    let e = load_mnist(t.path(), Split::Train).unwrap_err();
    says(&e, t.path(), &["train-images-idx3-ubyte(.gz)"]);
    assert!(!e.to_string().contains("train-labels"), "{e}");

    // A directory that does not exist, and a file given as directory.
    let missing = t.path().join("nope");
    let e = load_mnist(&missing, Split::Train).unwrap_err();
    assert!(matches!(e, DataError::NotFound { .. }), "{e:?}");
    says(&e, &missing, &["not found"]);
    let file = t.path().join("t10k-images-idx3-ubyte");
    let e = load_mnist(&file, Split::Test).unwrap_err();
    assert!(matches!(e, DataError::NotADirectory { .. }), "{e:?}");
}

#[test]
fn header_of_real_and_other_types() {
    let h = read_idx_header(&data_dir().join("train-images-idx3-ubyte.gz")).unwrap();
    assert_eq!(h.element_type, ElementType::U8);
    assert_eq!(h.dims, vec![60000, 28, 28]);
    assert!(h.gzipped);
    assert_eq!(h.payload_bytes(), Some(47_040_000));
    assert_eq!(h.header_bytes(), 16);

    let t = Tmp::new();
    let p = t.file("floats", &idx(0x0D, &[5, 2], &[0; 40]));
    let h = read_idx_header(&p).unwrap();
    assert_eq!(h.element_type, ElementType::F32);
    assert_eq!(h.dims, vec![5, 2]);
    assert!(!h.gzipped);
    assert_eq!(h.payload_bytes(), Some(40));
    // The header reader still rejects non-IDX data.
    let p = t.file("text", b"hello world");
    let e = read_idx_header(&p).unwrap_err();
    assert!(matches!(e, DataError::NotIdx { .. }), "{e:?}");
}

#[test]
fn generic_readers_accept_one_byte_at_a_time() {
    let gz_labels = std::fs::read(data_dir().join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let name = std::path::Path::new("one-byte");
    let a = parse_idx_labels(OneByte(&gz_labels[..]), name).unwrap();
    let b = parse_idx_labels(&gz_labels[..], name).unwrap();
    assert_eq!(a.len(), 10000);
    assert_eq!(a, b);
    let raw = images(3);
    let (n, r, c, px) = parse_idx_images(OneByte(&raw[..]), name).unwrap();
    assert_eq!((n, r, c), (3, 3, 4));
    assert_eq!(px, &raw[16..]);
}

// ---------------------------------------------------------------------------
// Malformed headers.

#[test]
fn wrong_magic_is_not_idx() {
    let t = Tmp::new();
    for (name, bytes) in [
        ("text", &b"hello, world, this is not idx"[..]),
        ("png", &b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"[..]),
        ("nonzero0", &[1, 0, 8, 1, 0, 0, 0, 1, 0][..]),
        ("nonzero1", &[0, 1, 8, 1, 0, 0, 0, 1, 0][..]),
    ] {
        let (p, e) = lbl_err(&t, name, bytes);
        assert!(matches!(e, DataError::NotIdx { .. }), "{name}: {e:?}");
        says(&e, &p, &["not an IDX file"]);
    }
    // Same inside gzip.
    let (p, e) = img_err(&t, "text.gz", &gz(b"hello, world"));
    assert!(matches!(e, DataError::NotIdx { .. }), "{e:?}");
    says(&e, &p, &["not an IDX file", "after gzip"]);
}

#[test]
fn element_types() {
    let t = Tmp::new();
    for code in [0x09u8, 0x0B, 0x0C, 0x0D, 0x0E] {
        let (p, e) = lbl_err(&t, "typed", &idx(code, &[1], &[0; 8]));
        match e {
            DataError::UnsupportedElementType { code: c, .. } => assert_eq!(c, code),
            ref other => panic!("0x{code:02x}: {other:?}"),
        }
        says(
            &e,
            &p,
            &["unsupported IDX element type", &format!("0x{code:02x}")],
        );
        let (_, e) = img_err(&t, "typed", &idx(code, &[1, 1, 1], &[0; 8]));
        assert!(
            matches!(e, DataError::UnsupportedElementType { .. }),
            "{e:?}"
        );
    }
    for code in [0x00u8, 0x07, 0x0A, 0x0F, 0x10, 0x80, 0xFF] {
        let (p, e) = lbl_err(&t, "badtype", &idx(code, &[1], &[0]));
        assert!(matches!(e, DataError::NotIdx { .. }), "0x{code:02x}: {e:?}");
        says(&e, &p, &["not an IDX file", &format!("0x{code:02x}")]);
    }
}

#[test]
fn wrong_dimension_counts() {
    let t = Tmp::new();
    // An image file read as labels and vice versa (the usual swap).
    let (p, e) = lbl_err(&t, "imgs", &images(1));
    assert!(
        matches!(
            e,
            DataError::WrongDimensionCount {
                expected: 1,
                found: 3,
                ..
            }
        ),
        "{e:?}"
    );
    says(
        &e,
        &p,
        &["dimensions", "labels need 1", "declares 3", "swapped"],
    );
    let (p, e) = img_err(&t, "lbls", &labels(&[1, 2, 3]));
    assert!(
        matches!(
            e,
            DataError::WrongDimensionCount {
                expected: 3,
                found: 1,
                ..
            }
        ),
        "{e:?}"
    );
    says(&e, &p, &["images need 3", "declares 1"]);
    for n in [0u32, 2, 4, 255] {
        let dims = vec![1u32; n as usize];
        let (_, e) = img_err(&t, "dims", &idx(0x08, &dims, &[0]));
        assert!(
            matches!(e, DataError::WrongDimensionCount { .. }),
            "{n}: {e:?}"
        );
    }
}

#[test]
fn zero_dimensions() {
    let t = Tmp::new();
    for (dims, index) in [([0u32, 28, 28], 0), ([5, 0, 28], 1), ([5, 28, 0], 2)] {
        let (p, e) = img_err(&t, "zero", &idx(0x08, &dims, &[]));
        match e {
            DataError::ZeroDimension { index: i, .. } => assert_eq!(i, index),
            ref other => panic!("{dims:?}: {other:?}"),
        }
        says(&e, &p, &["is zero"]);
    }
    let (_, e) = lbl_err(&t, "zero", &idx(0x08, &[0], &[]));
    assert!(
        matches!(e, DataError::ZeroDimension { index: 0, .. }),
        "{e:?}"
    );
}

#[test]
fn dimensions_whose_product_overflows() {
    let t = Tmp::new();
    let (p, e) = img_err(&t, "huge", &idx(0x08, &[u32::MAX; 3], &[0; 100]));
    assert!(matches!(e, DataError::SizeOverflow { .. }), "{e:?}");
    says(&e, &p, &["overflow", "4294967295"]);
}

#[test]
#[cfg(target_pointer_width = "64")] // on 32 bits the size overflows instead
fn four_billion_images_fail_fast() {
    let t = Tmp::new();
    // 40 bytes: a 16-byte header claiming 4e9 images, then 24 bytes.
    let bytes = idx(0x08, &[4_000_000_000, 28, 28], &[7; 24]);
    assert_eq!(bytes.len(), 40);
    let start = Instant::now();
    let (p, e) = img_err(&t, "claims-4e9", &bytes);
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
            "4000000000 images of 28x28",
            "3136000000000 bytes",
            "after 24 bytes",
        ],
    );
    // Same for labels, gzipped.
    let (_, e) = lbl_err(
        &t,
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
    let t = Tmp::new();
    let full = images(2); // 16 header + 24 payload
    for cut in 0..full.len() {
        let (p, e) = img_err(&t, "cut", &full[..cut]);
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
                says(&e, &p, &["truncated", "2 images of 3x4 (24 bytes)"]);
            }
            _ => panic!("cut at {cut}: {e:?}"),
        }
        // The same truncated content, gzipped, gives the same error.
        let (_, gz_e) = img_err(&t, "cut.gz", &gz(&full[..cut]));
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
        let (_, e) = lbl_err(&t, "cut", &full[..cut]);
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
    let t = Tmp::new();
    let mut bytes = images(2);
    bytes.push(0);
    let (p, e) = img_err(&t, "trailing", &bytes);
    assert!(
        matches!(e, DataError::TrailingData { expected: 24, .. }),
        "{e:?}"
    );
    says(&e, &p, &["trailing data", "2 images of 3x4 (24 bytes)"]);
    let (_, e) = img_err(&t, "trailing.gz", &gz(&bytes));
    assert!(matches!(e, DataError::TrailingData { .. }), "{e:?}");
    let mut bytes = labels(&[1, 2]);
    bytes.extend_from_slice(b"extra");
    let (p, e) = lbl_err(&t, "trailing", &bytes);
    says(&e, &p, &["trailing data", "2 labels"]);
}

#[test]
fn endless_stream_stops_after_declared_plus_one() {
    // A reader that never ends: the parser must stop on its own.
    let header = idx(0x08, &[1, 28, 28], &[]);
    let endless = (&header[..]).chain(io::repeat(0));
    let e = parse_idx_images(endless, std::path::Path::new("endless")).unwrap_err();
    assert!(
        matches!(e, DataError::TrailingData { expected: 784, .. }),
        "{e:?}"
    );
}

#[test]
fn gzip_bomb_is_cut_off() {
    let t = Tmp::new();
    // Header: 1 image of 28x28; payload: 10 MB of zeros; ~10 KB gzipped.
    let mut big = idx(0x08, &[1, 28, 28], &[]);
    big.resize(big.len() + 10 * 1024 * 1024, 0);
    let bomb = gz(&big);
    assert!(bomb.len() < 100_000);
    let start = Instant::now();
    let (p, e) = img_err(&t, "bomb.gz", &bomb);
    assert!(
        matches!(e, DataError::TrailingData { expected: 784, .. }),
        "{e:?}"
    );
    says(&e, &p, &["trailing data", "1 images of 28x28"]);
    assert!(
        start.elapsed() < Duration::from_millis(200),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn count_mismatch_names_both_files() {
    let t = Tmp::new();
    let imgs = t.file("imgs", &images(2));
    let lbls = t.file("lbls", &labels(&[1, 2, 3]));
    let e = load_idx_pair(&imgs, &lbls).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::CountMismatch {
                images: 2,
                labels: 3,
                ..
            }
        ),
        "{e:?}"
    );
    says(&e, &imgs, &["2 images", "3 labels"]);
    says(&e, &lbls, &[]);
}

#[test]
fn labels_out_of_range() {
    let t = Tmp::new();
    for bad in [10u8, 11, 255] {
        let (p, e) = lbl_err(&t, "labels", &labels(&[0, 9, bad, 1]));
        match e {
            DataError::LabelOutOfRange { index, label, .. } => {
                assert_eq!((index, label), (2, bad));
            }
            ref other => panic!("{other:?}"),
        }
        says(
            &e,
            &p,
            &[&format!("label {bad} at index 2"), "out of range"],
        );
    }
    assert_eq!(
        read_idx_labels(&t.file("ok", &labels(&[0, 9]))).unwrap(),
        vec![0, 9]
    );
}

// ---------------------------------------------------------------------------
// Files that are not there, not files, or damaged gzip.

#[test]
fn empty_missing_and_directory() {
    let t = Tmp::new();
    let (p, e) = img_err(&t, "empty", &[]);
    assert!(
        matches!(e, DataError::Empty { gzipped: false, .. }),
        "{e:?}"
    );
    says(&e, &p, &["empty"]);
    let (p, e) = lbl_err(&t, "empty.gz", &gz(&[]));
    assert!(matches!(e, DataError::Empty { gzipped: true, .. }), "{e:?}");
    says(&e, &p, &["empty", "gzip"]);

    let missing = t.path().join("missing-idx1-ubyte.gz");
    let e = read_idx_labels(&missing).unwrap_err();
    assert!(matches!(e, DataError::NotFound { .. }), "{e:?}");
    says(&e, &missing, &["not found"]);

    let e = read_idx_images(t.path()).unwrap_err();
    assert!(matches!(e, DataError::IsDirectory { .. }), "{e:?}");
    says(&e, t.path(), &["is a directory"]);
    let e = load_csv(t.path()).unwrap_err();
    assert!(matches!(e, DataError::IsDirectory { .. }), "{e:?}");
    let e = read_idx_header(&missing).unwrap_err();
    assert!(matches!(e, DataError::NotFound { .. }), "{e:?}");
}

#[test]
fn bad_gzip_crc() {
    let t = Tmp::new();
    let good = gz(&images(3));
    // Trailer: CRC32 (4 bytes) then ISIZE (4 bytes).
    let mut bad_crc = good.clone();
    let i = bad_crc.len() - 8;
    bad_crc[i] ^= 0xff;
    let (p, e) = img_err(&t, "badcrc.gz", &bad_crc);
    assert!(matches!(e, DataError::Gzip { .. }), "{e:?}");
    says(&e, &p, &["gzip"]);
    // Labels too, where the CRC is checked right after the payload.
    let mut bad = gz(&labels(&[1, 2, 3]));
    let i = bad.len() - 6;
    bad[i] ^= 0x01;
    let (p, e) = lbl_err(&t, "badcrc.gz", &bad);
    assert!(matches!(e, DataError::Gzip { .. }), "{e:?}");
    says(&e, &p, &["corrupt or incomplete gzip"]);
    read_idx_images(&t.file("good.gz", &good)).unwrap();
}

#[test]
fn gzip_cut_mid_stream() {
    let t = Tmp::new();
    let gz_labels = std::fs::read(data_dir().join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let (p, e) = lbl_err(&t, "cut.gz", &gz_labels[..gz_labels.len() / 2]);
    assert!(matches!(e, DataError::Gzip { .. }), "{e:?}");
    says(&e, &p, &["gzip", "cut short"]);
    // Every cut of a small gzipped file is an error, never a panic or a success.
    let good = gz(&images(2));
    for cut in 0..good.len() {
        let p = t.file("cut.gz", &good[..cut]);
        let e = read_idx_images(&p).expect_err("cut gzip accepted");
        says(&e, &p, &[]);
    }
}

// ---------------------------------------------------------------------------
// CSV.

/// `n` samples of the real test set as CSV lines.
fn csv_of(d: &Dataset, header: bool) -> String {
    let mut s = String::new();
    if header {
        s.push_str("label");
        for r in 1..=28 {
            for c in 1..=28 {
                s.push_str(&format!(",{r}x{c}"));
            }
        }
        s.push('\n');
    }
    for i in 0..d.len() {
        s.push_str(&d.label(i).to_string());
        for p in d.image(i) {
            s.push_str(&format!(",{p}"));
        }
        s.push('\n');
    }
    s
}

/// One CSV line: `label` then 784 pixels, with `edit` applied to the fields.
fn csv_line(label: &str, edit: impl FnOnce(&mut Vec<String>)) -> String {
    let mut fields = vec![label.to_string()];
    fields.extend((0..784).map(|i| (i % 256).to_string()));
    edit(&mut fields);
    fields.join(",")
}

fn csv_err(t: &Tmp, text: &str) -> (PathBuf, DataError) {
    let p = t.file("data.csv", text.as_bytes());
    let e = load_csv(&p).expect_err("malformed CSV accepted");
    (p, e)
}

#[test]
fn csv_round_trip_with_and_without_header() {
    let t = Tmp::new();
    let d = load_mnist(&data_dir(), Split::Test).unwrap().take(50);
    for header in [true, false] {
        let p = t.file("mnist.csv", csv_of(&d, header).as_bytes());
        assert_eq!(load_csv(&p).unwrap(), d, "header: {header}");
    }
    // CRLF line ends, spaces, blank lines, no final newline, gzipped.
    let text = csv_of(&d, true)
        .replace(',', " , ")
        .replace('\n', "\r\n\r\n")
        .trim_end()
        .to_string();
    assert_eq!(load_csv(&t.file("crlf.csv", text.as_bytes())).unwrap(), d);
    let p = t.file("mnist.csv.gz", &gz(csv_of(&d, false).as_bytes()));
    assert_eq!(load_csv(&p).unwrap(), d);
    // Through `load` with Format::Auto.
    assert_eq!(load(&p, Split::Train, Format::Auto).unwrap(), d);
    // The generic reader.
    let text = csv_of(&d, false);
    let parsed = parse_csv(OneByte(text.as_bytes()), std::path::Path::new("x")).unwrap();
    assert_eq!(parsed, d);
}

#[test]
fn csv_ragged_rows() {
    let t = Tmp::new();
    let good = csv_line("3", |_| {});
    let short = csv_line("3", |f| {
        f.pop();
    });
    let long = csv_line("3", |f| f.push("0".into()));
    let text = format!("{good}\n{good}\n{short}\n");
    let (p, e) = csv_err(&t, &text);
    assert!(
        matches!(
            e,
            DataError::CsvFieldCount {
                line: 3,
                expected: 785,
                found: 784,
                ..
            }
        ),
        "{e:?}"
    );
    says(
        &e,
        &p,
        &[
            "line 3",
            "expected 785",
            "found 784",
            "label column missing",
        ],
    );
    let (p, e) = csv_err(&t, &format!("header,x\n{good}\n{long}\n"));
    assert!(
        matches!(
            e,
            DataError::CsvFieldCount {
                line: 3,
                found: 786,
                ..
            }
        ),
        "{e:?}"
    );
    says(&e, &p, &["line 3", "found 786"]);
    let (_, e) = csv_err(&t, "1,2,3\n");
    assert!(
        matches!(
            e,
            DataError::CsvFieldCount {
                line: 1,
                found: 3,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn csv_bad_values() {
    let t = Tmp::new();
    let good = csv_line("3", |_| {});
    for (bad, problem) in [
        ("256", "outside 0..=255"),
        ("-1", "outside 0..=255"),
        ("99999999999999999999", "outside 0..=255"),
        ("abc", "not a whole number"),
        ("1.5", "not a whole number"),
        ("", "not a whole number"),
        ("0x10", "not a whole number"),
    ] {
        let line = csv_line("3", |f| f[10] = bad.to_string());
        let (p, e) = csv_err(&t, &format!("{good}\n{line}\n"));
        match &e {
            DataError::CsvValue { line, column, .. } => assert_eq!((*line, *column), (2, 11)),
            other => panic!("{bad:?}: {other:?}"),
        }
        says(
            &e,
            &p,
            &["line 2", "column 11", problem, &format!("{bad:?}")],
        );
    }
    // A bad label value is reported like a bad pixel, in column 1.
    let (p, e) = csv_err(&t, &format!("{good}\n{}\n", csv_line("x", |_| {})));
    assert!(
        matches!(
            e,
            DataError::CsvValue {
                line: 2,
                column: 1,
                ..
            }
        ),
        "{e:?}"
    );
    says(&e, &p, &["not a whole number"]);
}

#[test]
fn csv_labels_out_of_range() {
    let t = Tmp::new();
    for label in [NUM_CLASSES.to_string().as_str(), "11", "255"] {
        let (p, e) = csv_err(&t, &format!("{}\n", csv_line(label, |_| {})));
        assert!(
            matches!(e, DataError::CsvLabelOutOfRange { line: 1, .. }),
            "{label}: {e:?}"
        );
        says(
            &e,
            &p,
            &["line 1", &format!("label {label}"), "out of range"],
        );
    }
    // A negative first field is a number, so not a header: a bad label.
    let (_, e) = csv_err(&t, &format!("{}\n", csv_line("-1", |_| {})));
    assert!(
        matches!(
            e,
            DataError::CsvValue {
                line: 1,
                column: 1,
                ..
            }
        ),
        "{e:?}"
    );
    // The largest valid label.
    let p = t.file(
        "nine.csv",
        format!("{}\n", csv_line("9", |_| {})).as_bytes(),
    );
    assert_eq!(load_csv(&p).unwrap().labels(), &[9]);
}

#[test]
fn csv_empty_and_header_only() {
    let t = Tmp::new();
    let (p, e) = csv_err(&t, "");
    assert!(matches!(e, DataError::Empty { .. }), "{e:?}");
    says(&e, &p, &["empty"]);
    let (p, e) = csv_err(&t, "label,1x1,1x2\n\n  \n");
    assert!(matches!(e, DataError::NoData { .. }), "{e:?}");
    says(&e, &p, &["no data rows"]);
    let (_, e) = csv_err(&t, "\n\n");
    assert!(matches!(e, DataError::NoData { .. }), "{e:?}");
    // A second non-numeric line is not a second header.
    let (_, e) = csv_err(&t, "label,a\nlabel,a\n");
    assert!(
        matches!(e, DataError::CsvFieldCount { line: 2, .. }),
        "{e:?}"
    );
}

#[test]
fn csv_line_too_long_and_binary() {
    let t = Tmp::new();
    let long = "0,".repeat(100_000);
    let (p, e) = csv_err(&t, &long);
    assert!(
        matches!(e, DataError::CsvLineTooLong { line: 1, .. }),
        "{e:?}"
    );
    says(&e, &p, &["line 1", "longer than"]);
    // An IDX file given as CSV: a clear error, no panic.
    let p = t.file("idx.csv", &images(2));
    let e = load_csv(&p).unwrap_err();
    says(&e, &p, &[]);
}

// ---------------------------------------------------------------------------
// Dataset and Format.

#[test]
fn dataset_checks_its_invariants() {
    assert!(Dataset::new(2, 2, vec![0; 8], vec![1, 2]).is_ok());
    let e = Dataset::new(2, 2, vec![0; 7], vec![1, 2]).unwrap_err();
    assert!(matches!(e, DataError::InvalidDataset { .. }), "{e:?}");
    assert!(e.to_string().contains("7 pixels for 2 labels"), "{e}");
    let e = Dataset::new(2, 2, vec![0; 8], vec![1, 10]).unwrap_err();
    assert!(e.to_string().contains("label 10 of sample 1"), "{e}");
    assert!(Dataset::new(0, 2, vec![], vec![]).is_err());
    assert!(Dataset::new(usize::MAX, 3, vec![], vec![1]).is_err());
    let empty = Dataset::new(28, 28, vec![], vec![]).unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.class_counts(), [0; 10]);

    let d = Dataset::new(1, 2, vec![1, 2, 3, 4, 5, 6], vec![7, 8, 9]).unwrap();
    assert_eq!(d.image(1), &[3, 4]);
    assert_eq!(d.get(2), Some((&[5u8, 6][..], 9)));
    assert_eq!(d.get(3), None);
    assert_eq!(d.iter().map(|(_, l)| l).collect::<Vec<_>>(), vec![7, 8, 9]);
    assert_eq!(d.take(99), d);
    assert_eq!(d.take(1).pixels(), &[1, 2]);
    let e = d.clone().split_validation(4).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::SplitTooLarge {
                requested: 4,
                available: 3
            }
        ),
        "{e:?}"
    );
    let (a, b) = d.clone().split_validation(3).unwrap();
    assert!(a.is_empty());
    assert_eq!(b, d);
    let (a, b) = d.clone().split_validation(0).unwrap();
    assert_eq!((a.len(), b.len()), (3, 0));
    assert_eq!(format!("{d:?}"), "Dataset { len: 3, rows: 1, cols: 2, .. }");
}

#[test]
fn format_resolution() {
    let p = |s: &str| PathBuf::from(s);
    assert_eq!(Format::Auto.resolve(&p("a/b.csv")), Format::Csv);
    assert_eq!(Format::Auto.resolve(&p("B.CSV.GZ")), Format::Csv);
    assert_eq!(Format::Auto.resolve(&p("data")), Format::Idx);
    assert_eq!(Format::Auto.resolve(&p("x.gz")), Format::Idx);
    assert_eq!(Format::Idx.resolve(&p("b.csv")), Format::Idx);
    assert_eq!(Format::Csv.resolve(&p("data")), Format::Csv);
    assert_eq!("csv".parse::<Format>(), Ok(Format::Csv));
    assert!("xml".parse::<Format>().is_err());
    assert_eq!("test".parse::<Split>(), Ok(Split::Test));
    assert_eq!(Split::Train.to_string(), "train");
    let d = load(&data_dir(), Split::Test, Format::Auto).unwrap();
    assert_eq!(d.len(), 10000);
}

#[test]
fn errors_can_cross_threads_and_be_boxed() {
    fn check<E: std::error::Error + Send + Sync + 'static>() {}
    check::<DataError>();
    let t = Tmp::new();
    let (_, e) = lbl_err(&t, "cut.gz", &gz(&labels(&[1, 2]))[..20]);
    // The decoder's io error is part of the message and available to
    // programs, but not a `source()`: `{:#}` chains would print it twice.
    let io = e.io_error().expect("the decoder's error is kept");
    assert!(e.to_string().contains(&io.to_string()), "{e}");
    assert!(std::error::Error::source(&e).is_none(), "{e:?}");
}

#[test]
fn random_corruption_never_panics() {
    // A small deterministic fuzz: flip, insert and cut bytes of valid files
    // (raw and gzipped, IDX and CSV); every outcome must be a Result.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let csv = format!("{}\n{}\n", csv_line("1", |_| {}), csv_line("2", |_| {}));
    let seeds = [
        images(2),
        labels(&[1, 2, 3]),
        gz(&images(2)),
        gz(&labels(&[4, 5])),
        csv.into_bytes(),
    ];
    let name = std::path::Path::new("fuzz");
    let mut accepted = 0;
    for round in 0..3000 {
        let mut b = seeds[round % seeds.len()].clone();
        for _ in 0..1 + next(3) {
            match next(3) {
                0 => {
                    let i = next(b.len());
                    b[i] ^= 1 << next(8);
                }
                1 => b.insert(next(b.len() + 1), next(256) as u8),
                _ => b.truncate(next(b.len() + 1)),
            }
            if b.is_empty() {
                break;
            }
        }
        let results = [
            parse_idx_images(&b[..], name).is_ok(),
            parse_idx_labels(&b[..], name).is_ok(),
            parse_csv(&b[..], name).is_ok(),
        ];
        accepted += results.iter().filter(|&&ok| ok).count();
    }
    // Some mutations (a pixel bit flip) leave a valid file; most do not.
    assert!((1..3000).contains(&accepted), "{accepted} accepted");
}
