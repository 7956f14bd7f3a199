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
