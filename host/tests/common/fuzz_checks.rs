//! The properties the fuzz targets check, shared by `fuzz/fuzz_targets/*.rs`
//! (through `#[path]`) and `host/tests/fuzz_regressions.rs`, so a crash input
//! kept as a regression test is checked exactly as the fuzzer checked it.
//! Not part of `common/mod.rs`: it depends on `host` only.
//!
//! Each function must not panic for any input except by a failed assertion
//! of a property stated here. Every error message must start with the name
//! of the file it is about.

// Each fuzz target uses one of these functions.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use host::data::csv::parse_csv;
use host::data::idx::{parse_idx_labels, parse_idx_samples, IdxValues};
use host::data::source::sniff_reader;
use host::data::{DataOptions, Dataset, Encoding, Header, LabelColumn};
use host::model::{checkpoint, Checkpoint};

/// The same bytes as an IDX samples file, a labels file, and sniffed.
pub(crate) fn idx(data: &[u8]) {
    let name = Path::new("fuzz.idx");
    match parse_idx_samples(data, name) {
        Ok(s) => {
            assert!(s.count > 0 && s.shape.features > 0);
            if let Some((rows, cols)) = s.shape.image {
                assert_eq!(rows.checked_mul(cols), Some(s.shape.features));
            }
            let expected = s.count.checked_mul(s.shape.features);
            match &s.values {
                IdxValues::U8(v) => assert_eq!(Some(v.len()), expected),
                IdxValues::F32(v) => {
                    assert_eq!(Some(v.len()), expected);
                    assert!(v.iter().all(|x| x.is_finite()));
                }
            }
        }
        Err(e) => assert_names_file(&e.to_string(), "fuzz.idx"),
    }
    match parse_idx_labels(data, name) {
        Ok(labels) => assert!(!labels.is_empty()),
        Err(e) => assert_names_file(&e.to_string(), "fuzz.idx"),
    }
    if let Err(e) = sniff_reader(data, name) {
        assert_names_file(&e.to_string(), "fuzz.idx");
    }
}

/// The bytes as a CSV file with the default options (everything detected).
pub(crate) fn csv(data: &[u8]) {
    csv_with(data, &DataOptions::default());
}

/// The first two bytes choose the CSV options (delimiter, header, label
/// column), the rest is the file. A file that loads loads again, to the
/// same samples, with its own classes given as the known classes (what
/// `host train --test` and `host eval` do with a second file).
pub(crate) fn csv_options(data: &[u8]) {
    let [a, b, rest @ ..] = data else {
        return csv(data);
    };
    let options = DataOptions {
        delimiter: [None, Some(b','), Some(b';'), Some(b'\t')][usize::from(a & 3)],
        header: [Header::Auto, Header::Yes, Header::No, Header::Auto][usize::from((a >> 2) & 3)],
        label_column: match b % 8 {
            0 => LabelColumn::Auto,
            1 => LabelColumn::First,
            2 => LabelColumn::Last,
            3 => LabelColumn::Name("label".into()),
            4 => LabelColumn::Name("b".into()),
            n => LabelColumn::Position(usize::from(n - 3)),
        },
        ..DataOptions::default()
    };
    let Some(first) = csv_with(rest, &options) else {
        return;
    };
    let known = DataOptions {
        classes: Some(first.classes().clone()),
        ..options
    };
    let again = parse_csv(rest, Path::new("fuzz.csv"), &known)
        .expect("a file loads with its own classes as the known classes");
    assert!(
        again == first,
        "mapping into its own classes changed the data"
    );
}

/// Parses `data` as CSV with `options`; checks a success is consistent and
/// an error names the file.
fn csv_with(data: &[u8], options: &DataOptions) -> Option<Dataset> {
    match parse_csv(data, Path::new("fuzz.csv"), options) {
        Ok(set) => {
            assert!(!set.is_empty() && set.features() > 0);
            assert!(!set.classes().is_empty());
            assert!(set
                .labels()
                .iter()
                .all(|&l| usize::from(l) < set.classes().len()));
            for i in [0, set.len() - 1] {
                let len = match set.encoding() {
                    Encoding::Pixels => set.pixels(i).map(<[u8]>::len),
                    Encoding::Values => set.values(i).map(<[f32]>::len),
                };
                assert_eq!(len, Some(set.features()));
            }
            if let Some(names) = set.feature_names() {
                assert_eq!(names.len(), set.features());
            }
            Some(set)
        }
        Err(e) => {
            assert_names_file(&e.to_string(), "fuzz.csv");
            None
        }
    }
}

/// The bytes as a checkpoint: container and metadata, then the model. One
/// that loads is finite and saves back to a checkpoint that loads to the
/// same model.
pub(crate) fn checkpoint(data: &[u8]) {
    let path = Path::new("fuzz.safetensors");
    let ckpt = match Checkpoint::from_bytes(path, data.to_vec()) {
        Ok(ckpt) => ckpt,
        Err(e) => return assert_names_file(&e.to_string(), "fuzz.safetensors"),
    };
    match ckpt.load() {
        Ok(model) => {
            assert!(model.net.all_finite());
            assert_eq!(model.net.architecture(), ckpt.architecture());
            let bytes =
                checkpoint::to_bytes(&model, &BTreeMap::new()).expect("a loaded model serialises");
            let again = Checkpoint::from_bytes(path, bytes).expect("and reads back");
            let back = again.load().expect("and loads");
            assert!(back == model, "round trip changed the model");
        }
        Err(e) => assert_names_file(&e.to_string(), "fuzz.safetensors"),
    }
}

/// The bytes as a picture for `predict --image` (written to a file, as the
/// command reads it): it decodes within the limits and prepares to 28x28 and
/// 8x8, or fails with a message that names the file. Never a panic, never
/// more than the decoder's memory limit.
pub(crate) fn picture(data: &[u8]) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "tinymlp-fuzz-{}-{}.png",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, data).expect("a temporary file");
    let name = path.display().to_string();
    let loaded = host::report::preprocess::load_gray(&path);
    let _ = std::fs::remove_file(&path);
    match loaded {
        Ok(gray) => {
            let side = host::report::preprocess::MAX_PICTURE_SIDE;
            assert!(gray.width() <= side && gray.height() <= side);
            for shape in [(28, 28), (8, 8)] {
                if let Ok(pixels) = host::report::preprocess::to_image(&gray, shape) {
                    assert_eq!(pixels.len(), shape.0 * shape.1);
                }
            }
        }
        Err(e) => assert_names_file(&format!("{e:#}"), &name),
    }
}

/// Error messages start with the file they are about.
fn assert_names_file(message: &str, file: &str) {
    assert!(
        message.starts_with(&format!("{file}: ")),
        "message does not start with the file name: {message}"
    );
}
