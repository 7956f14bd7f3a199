//! Building and splitting data sets: the [`Dataset`] invariants, `--val`,
//! `--limit`, `--test-fraction`, and whether two files fit together.

mod common;

use common::{data, data_dir};
use host::data::{
    check_compatible, load, Classes, DataError, DataOptions, Dataset, Encoding, LabelColumn, Role,
    Shape,
};

/// Iris's labels are its last column, `species`.
fn iris_options() -> DataOptions {
    DataOptions {
        label_column: LabelColumn::Last,
        ..DataOptions::default()
    }
}

fn vectors(features: usize) -> Shape {
    Shape {
        features,
        image: None,
    }
}

#[test]
fn mnist_validation_tail_and_limit() {
    let d = load(&data_dir(), &DataOptions::default(), Role::Test).unwrap();
    let (train, val) = d.clone().split_validation(1000).unwrap();
    assert_eq!((train.len(), val.len()), (9000, 1000));
    assert_eq!(val.pixels(0), d.pixels(9000));
    assert_eq!(val.label(999), d.label(9999));
    assert_eq!(train.pixels(8999), d.pixels(8999));
    // The parts keep the name, shape, encoding and classes.
    for part in [&train, &val] {
        assert_eq!(
            (part.name(), part.shape(), part.encoding(), part.classes()),
            (d.name(), d.shape(), Encoding::Pixels, d.classes())
        );
    }
    let small = d.take(10);
    assert_eq!(small.labels(), &[7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    assert_eq!(small.pixels(9), d.pixels(9));
    assert_eq!(small.pixels(10), None);
}

#[test]
fn dataset_checks_its_invariants() {
    let c = Classes::numeric(10);
    let image = Shape {
        features: 2,
        image: Some((1, 2)),
    };
    assert!(Dataset::from_pixels("ok", image, vec![0; 8], vec![1, 2, 3, 4], c.clone()).is_ok());
    let e = Dataset::from_pixels("d", image, vec![0; 7], vec![1, 2, 3, 4], c.clone()).unwrap_err();
    assert!(matches!(e, DataError::InvalidDataset { .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with("d: invalid data set: 7 values for 4 labels"),
        "{e}"
    );
    let e = Dataset::from_pixels("d", image, vec![0; 4], vec![1, 10], c.clone()).unwrap_err();
    assert!(e.to_string().contains("label 10 of sample 1"), "{e}");
    let bad_image = Shape {
        features: 3,
        image: Some((1, 2)),
    };
    assert!(Dataset::from_pixels("d", bad_image, vec![0; 3], vec![1], c.clone()).is_err());
    assert!(Dataset::from_pixels("d", vectors(0), vec![], vec![], c.clone()).is_err());
    assert!(Dataset::from_pixels("d", vectors(usize::MAX), vec![], vec![1, 2], c.clone()).is_err());
    let e =
        Dataset::from_values("d", vectors(2), vec![1.0, f32::NAN], vec![0], c.clone()).unwrap_err();
    assert!(e.to_string().contains("not finite"), "{e}");
    let e = Dataset::from_values("d", vectors(1), vec![1.0], vec![0], c.clone())
        .unwrap()
        .with_feature_names(vec!["a".into(), "b".into()])
        .unwrap_err();
    assert!(
        e.to_string().contains("2 feature names for 1 features"),
        "{e}"
    );

    let empty = Dataset::from_pixels("e", vectors(4), vec![], vec![], c.clone()).unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.class_counts(), [0; 10]);

    let d = Dataset::from_values(
        "v",
        vectors(2),
        vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        vec![7, 8, 9],
        c,
    )
    .unwrap();
    assert_eq!(d.values(1), Some(&[3.0, 4.0][..]));
    assert_eq!((d.values(3), d.pixels(0)), (None, None));
    let mut raw = [0.0; 2];
    d.raw_f32(2, &mut raw);
    assert_eq!(raw, [5.0, 6.0]);
    assert_eq!(d.take(99), d);
    assert_eq!(d.take(1).values(0), Some(&[1.0, 2.0][..]));
    assert_eq!(d.select(&[2, 0, 2]).labels(), &[9, 7, 9]);
    let dbg = format!("{d:?}");
    assert!(dbg.starts_with("Dataset { name: \"v\", len: 3"), "{dbg}");
}

#[test]
fn validation_split_errors_name_the_option() {
    let d = Dataset::from_values(
        "v.csv",
        vectors(1),
        vec![1.0, 2.0, 3.0],
        vec![0, 1, 0],
        Classes::numeric(2),
    )
    .unwrap();
    for n in [3, 4] {
        let e = d.clone().split_validation(n).unwrap_err();
        assert!(
            matches!(e, DataError::ValidationTooLarge { requested, available: 3, .. } if requested == n),
            "{e:?}"
        );
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!("--val {n}: v.csv holds 3 samples")),
            "{msg}"
        );
    }
    let (a, b) = d.clone().split_validation(2).unwrap();
    assert_eq!((a.len(), b.len()), (1, 2));
    let (a, b) = d.clone().split_validation(0).unwrap();
    assert_eq!((a.len(), b.len()), (3, 0));
}

#[test]
fn stratified_test_fraction_on_iris() {
    let iris = load(&data("iris/iris.csv"), &iris_options(), Role::Train).unwrap();
    let (train, test) = iris.clone().stratified_split(0.2, 7).unwrap();
    assert_eq!((train.len(), test.len()), (120, 30));
    assert_eq!(train.class_counts(), [40, 40, 40]);
    assert_eq!(test.class_counts(), [10, 10, 10]);
    // Deterministic for a seed, different for another.
    let (train2, test2) = iris.clone().stratified_split(0.2, 7).unwrap();
    assert!(train == train2 && test == test2);
    let (_, other) = iris.clone().stratified_split(0.2, 8).unwrap();
    assert!(other != test, "the seed changed nothing");
    // Nothing lost or duplicated: the multiset of samples is the same.
    let rows = |d: &Dataset| -> Vec<Vec<u32>> {
        (0..d.len())
            .map(|i| {
                let mut v: Vec<u32> = d.values(i).unwrap().iter().map(|x| x.to_bits()).collect();
                v.push(d.label(i) as u32);
                v
            })
            .collect()
    };
    let mut all = rows(&train);
    all.extend(rows(&test));
    all.sort();
    let mut expected = rows(&iris);
    expected.sort();
    assert_eq!(all, expected);

    for fraction in [0.0, 1.0, -0.5, f64::NAN] {
        let e = iris.clone().stratified_split(fraction, 1).unwrap_err();
        assert!(matches!(e, DataError::TestFraction { .. }), "{e:?}");
        assert!(e.to_string().starts_with("--test-fraction"), "{e}");
    }
}

#[test]
fn incompatible_files_name_both_and_both_shapes() {
    let opts = DataOptions::default();
    let digits = load(&data("digits-8x8/digits-test.csv"), &opts, Role::Train).unwrap();
    let iris = load(&data("iris/iris.csv"), &iris_options(), Role::Train).unwrap();
    let e = check_compatible(&digits, &iris).unwrap_err();
    assert!(matches!(e, DataError::Incompatible { .. }), "{e:?}");
    let msg = e.to_string();
    for word in [iris.name(), digits.name(), "4 features", "64"] {
        assert!(msg.contains(word), "{word:?} missing: {msg}");
    }
    // Images of another size, and pixels against values of the same width.
    let mnist = load(&data_dir(), &opts, Role::Test).unwrap().take(5);
    let c = Classes::numeric(10);
    let wide = Shape {
        features: 784,
        image: Some((14, 56)),
    };
    let other = Dataset::from_pixels("wide", wide, vec![0; 784], vec![1], c.clone()).unwrap();
    let e = check_compatible(&mnist, &other).unwrap_err();
    assert!(e.to_string().contains("14x56 images"), "{e}");
    let values = Dataset::from_values("vals", vectors(784), vec![0.5; 784], vec![1], c).unwrap();
    assert!(check_compatible(&mnist, &values).is_err());
    check_compatible(&mnist, &mnist.take(1)).unwrap();
}
