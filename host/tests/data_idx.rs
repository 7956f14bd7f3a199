//! IDX files through the library: facts about the shipped MNIST files,
//! gzip/raw equivalence, and malformed headers and payloads built on the fly.
//! Every error names the file; no reader allocates what a header claims.

#[path = "common/idx_cases.rs"]
mod cases;
mod common;

use std::path::Path;

use cases::{images, labels, samples_err, says};
use common::{data_dir, gunzip, gz, idx, tempdir, write, OneByte};
use host::data::idx::{
    parse_idx_labels, parse_idx_samples, read_idx_header, read_idx_samples, ElementType, IdxValues,
};
use host::data::load::{load_idx_pair, load_mnist_dir};
use host::data::{load, Classes, DataError, DataOptions, Dataset, Encoding, Role, Shape};

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
