//! `host::data::load`: from a path and options to a data set, whatever the
//! file is. Files of the wrong kind get an error saying what they look like
//! and what to pass; mutated files never panic.

mod common;

use std::path::Path;

use common::{data_dir, gz, idx, tempdir, write};
use host::data::csv::parse_csv;
use host::data::idx::{parse_idx_labels, parse_idx_samples};
use host::data::{load, sniff, DataError, DataOptions, Format, Role, Sniffed};

fn options(format: Format) -> DataOptions {
    DataOptions {
        format,
        ..DataOptions::default()
    }
}

#[test]
fn format_option() {
    assert_eq!("csv".parse(), Ok(Format::Csv));
    assert_eq!(" IDX ".parse(), Ok(Format::Idx));
    assert_eq!("auto".parse(), Ok(Format::Auto));
    let e = "xml".parse::<Format>().unwrap_err();
    assert!(e.contains("auto, idx or csv"), "{e}");
    assert_eq!(Format::Csv.to_string(), "csv");
    assert_eq!(
        (Role::Train.file_prefix(), Role::Test.file_prefix()),
        ("train", "t10k")
    );
    // A directory is MNIST whatever the format but csv.
    for format in [Format::Auto, Format::Idx] {
        assert_eq!(
            load(&data_dir(), &options(format), Role::Test)
                .unwrap()
                .len(),
            10000
        );
    }
}

#[test]
fn sniff_tells_what_a_file_looks_like() {
    let t = tempdir();
    let cases: [(&str, Vec<u8>, Sniffed, &str); 7] = [
        (
            "images",
            idx(0x08, &[1, 2, 2], &[0; 4]),
            Sniffed::Idx {
                gzipped: false,
                dims: 3,
            },
            "IDX file (3 dimensions)",
        ),
        (
            "labels.gz",
            gz(&idx(0x08, &[1], &[0])),
            Sniffed::Idx {
                gzipped: true,
                dims: 1,
            },
            "gzipped IDX labels file",
        ),
        (
            "a.csv",
            b"a,b\n1,2\n".to_vec(),
            Sniffed::CsvText { gzipped: false },
            "CSV text",
        ),
        (
            "a.csv.gz",
            gz(b"a,b\n1,2\n"),
            Sniffed::CsvText { gzipped: true },
            "gzipped CSV text",
        ),
        (
            "png",
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(),
            Sniffed::Binary { gzipped: false },
            "binary data",
        ),
        (
            "empty",
            Vec::new(),
            Sniffed::Empty { gzipped: false },
            "an empty file",
        ),
        (
            "empty.gz",
            gz(b""),
            Sniffed::Empty { gzipped: true },
            "an empty gzipped file",
        ),
    ];
    for (name, bytes, expected, described) in cases {
        let p = write(t.path(), name, bytes);
        let found = sniff(&p).unwrap();
        assert_eq!(found, expected, "{name}");
        assert!(
            found.describe().contains(described),
            "{name}: {}",
            found.describe()
        );
    }
    let e = sniff(&t.path().join("missing")).unwrap_err();
    assert!(matches!(e, DataError::NotFound { .. }), "{e:?}");
}

#[test]
fn wrong_kinds_say_what_to_pass() {
    let t = tempdir();
    let csv = write(t.path(), "data.csv", "label,x\n1,2\n");
    let e = load(&csv, &options(Format::Idx), Role::Train).unwrap_err();
    assert!(matches!(e, DataError::WrongFormat { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!(
            "{}: --format idx expects an IDX file",
            csv.display()
        )),
        "{msg}"
    );
    assert!(
        msg.contains("looks like CSV text; pass --format csv"),
        "{msg}"
    );

    // Binary data named like CSV, and anonymous binary data.
    for (name, expected) in [
        ("photo.csv", "named like a CSV file"),
        ("blob", "expected IDX or CSV data"),
    ] {
        let p = write(t.path(), name, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\xff\xfe");
        let e = load(&p, &DataOptions::default(), Role::Train).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with(&p.display().to_string()), "{msg}");
        assert!(
            msg.contains(expected) && msg.contains("binary data"),
            "{msg}"
        );
    }
    // Empty files, raw and gzipped.
    for (name, bytes) in [("empty.csv", Vec::new()), ("empty.gz", gz(b""))] {
        let p = write(t.path(), name, bytes);
        let e = load(&p, &DataOptions::default(), Role::Train).unwrap_err();
        assert!(matches!(e, DataError::Empty { .. }), "{e:?}");
        assert!(e.to_string().contains("file is empty"), "{e}");
    }
    let missing = t.path().join("nowhere.csv");
    let e = load(&missing, &DataOptions::default(), Role::Train).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}: not found; check the path", missing.display())
    );
}

#[test]
fn errors_can_cross_threads_and_keep_their_cause_in_the_message() {
    fn check<E: std::error::Error + Send + Sync + 'static>() {}
    check::<DataError>();
    let t = tempdir();
    let cut = &gz(&idx(0x08, &[2], &[1, 2]))[..20];
    let p = write(t.path(), "cut.gz", cut);
    let e = host::data::idx::read_idx_labels(&p).unwrap_err();
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
    let images = idx(0x08, &[2, 3, 4], &[7; 24]);
    let floats = idx(0x0D, &[2, 2], &[0x3f; 16]);
    let labels = idx(0x08, &[3], &[1, 2, 3]);
    let csv = "label,a,b\ncat,1.5,2\ndog,-3,4e2\n".as_bytes().to_vec();
    let seeds = [
        images.clone(),
        floats,
        labels,
        gz(&images),
        gz(&idx(0x08, &[2], &[4, 5])),
        csv.clone(),
        gz(&csv),
    ];
    let name = Path::new("fuzz");
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
            parse_idx_samples(&b[..], name).map(|_| ()),
            parse_idx_labels(&b[..], name).map(|_| ()),
            parse_csv(&b[..], name, &DataOptions::default()).map(|_| ()),
        ];
        for r in &results {
            if let Err(e) = r {
                assert!(e.to_string().starts_with("fuzz"), "{e}");
            }
        }
        accepted += results.iter().filter(|r| r.is_ok()).count();
    }
    // Some mutations (a pixel bit flip) leave a valid file; most do not.
    assert!((1..3000).contains(&accepted), "{accepted} accepted");
}
