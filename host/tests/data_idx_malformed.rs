//! Malformed IDX files built on the fly: wrong magic, element types and
//! dimension counts, overflowing and lying headers, truncation, trailing
//! data, endless streams, gzip bombs and damage. Every error names the file;
//! no reader allocates what a header claims.

#[path = "common/idx_cases.rs"]
mod cases;
mod common;

use std::io::{self, Read};
use std::path::Path;
use std::time::{Duration, Instant};

use cases::{images, labels, labels_err, samples_err, says};
use common::{data_dir, gz, idx, tempdir, write};
use host::data::idx::{parse_idx_samples, read_idx_header, read_idx_labels, read_idx_samples};
use host::data::load::load_idx_pair;
use host::data::{load, DataError, DataOptions, Format, Role};

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
