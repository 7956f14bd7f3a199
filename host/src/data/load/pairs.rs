//! IDX samples files with their labels file beside them, and MNIST
//! directories (see the [`load`](super) contract).

use std::path::{Path, PathBuf};

use super::super::classes::{Classes, LabelSet};
use super::super::dataset::Dataset;
use super::super::error::DataError;
use super::super::idx::{read_idx_labels, read_idx_samples, IdxValues};
use super::Role;

/// The labels file beside an IDX samples file: `images` → `labels`, `idx3`
/// and `idx2` → `idx1`; `None` if the name has no `images`.
pub fn labels_path_for(images: &Path) -> Option<PathBuf> {
    let name = images.file_name()?.to_str()?;
    if !name.contains("images") {
        return None;
    }
    let labels = name
        .replace("images", "labels")
        .replace("idx3", "idx1")
        .replace("idx2", "idx1");
    Some(images.with_file_name(labels))
}

/// The labels file `labels` names, or that name with `.gz` added or removed,
/// whichever exists.
fn existing_labels_file(labels: &Path) -> Option<PathBuf> {
    let name = labels.file_name().unwrap_or_default().to_string_lossy();
    let other = match name.strip_suffix(".gz") {
        Some(raw) => labels.with_file_name(raw),
        None => labels.with_file_name(format!("{name}.gz")),
    };
    [labels.to_path_buf(), other]
        .into_iter()
        .find(|p| p.is_file())
}

/// Whether an IDX samples file has its labels file beside it (see
/// [`labels_path_for`]; gzipped or not).
pub fn has_labels_file(images: &Path) -> bool {
    labels_path_for(images).is_some_and(|l| existing_labels_file(&l).is_some())
}

/// Loads an IDX samples file and the labels file beside it.
pub(super) fn load_idx_file(path: &Path, classes: Option<&Classes>) -> Result<Dataset, DataError> {
    let Some(labels) = labels_path_for(path) else {
        return Err(DataError::MissingLabels {
            path: path.to_path_buf(),
            tried: " (its name has no \"images\" to replace by \"labels\")".into(),
        });
    };
    let Some(found) = existing_labels_file(&labels) else {
        return Err(DataError::MissingLabels {
            path: path.to_path_buf(),
            tried: format!(" (looked for {})", labels.display()),
        });
    };
    load_idx_pair(path, &found, classes)
}

/// Finds `name.gz`, else `name`, in `dir`.
fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    [format!("{name}.gz"), name.to_owned()]
        .into_iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// Loads the MNIST pair of `role` from `dir` (see the module docs); if files
/// are missing, the error names every one of them.
pub fn load_mnist_dir(
    dir: &Path,
    role: Role,
    classes: Option<&Classes>,
) -> Result<Dataset, DataError> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(DataError::NotADirectory {
                path: dir.to_path_buf(),
            })
        }
        Err(_) => {
            return Err(DataError::NotFound {
                path: dir.to_path_buf(),
            })
        }
    }
    let p = role.file_prefix();
    let images_name = format!("{p}-images-idx3-ubyte");
    let labels_name = format!("{p}-labels-idx1-ubyte");
    match (find_file(dir, &images_name), find_file(dir, &labels_name)) {
        (Some(images), Some(labels)) => load_idx_pair(&images, &labels, classes),
        (images, labels) => {
            let missing: Vec<String> = [(images, images_name), (labels, labels_name)]
                .into_iter()
                .filter(|(found, _)| found.is_none())
                .map(|(_, name)| format!("{name}(.gz)"))
                .collect();
            Err(DataError::MissingMnist {
                dir: dir.to_path_buf(),
                split: role.name(),
                missing: missing.join(" and "),
            })
        }
    }
}

/// Reads a samples file and its labels file into a [`Dataset`] named after
/// the samples file; their counts must match.
pub fn load_idx_pair(
    samples: &Path,
    labels: &Path,
    classes: Option<&Classes>,
) -> Result<Dataset, DataError> {
    let label_bytes = read_idx_labels(labels)?;
    let data = read_idx_samples(samples)?;
    if data.count != label_bytes.len() {
        return Err(DataError::CountMismatch {
            samples_path: samples.to_path_buf(),
            samples: data.count,
            labels_path: labels.to_path_buf(),
            labels: label_bytes.len(),
        });
    }
    let (labels_idx, classes) = match classes {
        // The common case, without going through text.
        None => {
            let max = label_bytes.iter().copied().max().unwrap_or(0);
            (
                label_bytes.iter().map(|&l| u16::from(l)).collect(),
                Classes::numeric(usize::from(max) + 1),
            )
        }
        Some(known) => {
            let mut set = LabelSet::new();
            for (i, l) in label_bytes.iter().enumerate() {
                set.push(&l.to_string(), i);
            }
            set.finish(labels, Some(known), |i| format!("label {i}"))?
        }
    };
    let name = samples.display().to_string();
    match data.values {
        IdxValues::U8(pixels) => {
            Dataset::from_pixels(name, data.shape, pixels, labels_idx, classes)
        }
        IdxValues::F32(values) => {
            Dataset::from_values(name, data.shape, values, labels_idx, classes)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::super::super::idx::encode_idx;
    use super::super::super::testing::{data_dir, gzip, opts};
    use super::super::super::{Encoding, Shape};
    use super::super::{check_compatible, load, DataOptions, Format};
    use super::*;

    #[test]
    fn labels_path_names() {
        let p = |s: &str| labels_path_for(Path::new(s)).map(|p| p.display().to_string());
        assert_eq!(
            p("d/train-images-idx3-ubyte.gz").as_deref(),
            Some("d/train-labels-idx1-ubyte.gz")
        );
        assert_eq!(p("x/images.idx").as_deref(), Some("x/labels.idx"));
        assert_eq!(
            p("v-images-idx2-ubyte").as_deref(),
            Some("v-labels-idx1-ubyte")
        );
        assert_eq!(p("data.idx"), None);
    }

    #[test]
    fn idx_files_of_any_shape_with_sibling_labels() {
        let dir = tempfile::tempdir().unwrap();
        // f32 vectors, raw; labels gzipped under the .gz name.
        let v: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]
            .iter()
            .flat_map(|x| x.to_be_bytes())
            .collect();
        fs::write(
            dir.path().join("s-images-idx2-f32"),
            encode_idx(0x0D, &[2, 3], &v),
        )
        .unwrap();
        fs::write(
            dir.path().join("s-labels-idx1-f32.gz"),
            gzip(&encode_idx(8, &[2], &[4, 1])),
        )
        .unwrap();
        let d = load(&dir.path().join("s-images-idx2-f32"), &opts(), Role::Train).unwrap();
        assert_eq!(d.encoding(), Encoding::Values);
        assert_eq!(
            d.shape(),
            Shape {
                features: 3,
                image: None
            }
        );
        assert_eq!(d.values(1), Some(&[4.0, 5.0, 6.0][..]));
        assert_eq!((d.labels(), d.classes().len()), (&[4u16, 1][..], 5));

        // u8 images, gzipped, through --format idx; known classes.
        let images = dir.path().join("p-images.idx.gz");
        fs::write(&images, gzip(&encode_idx(8, &[2, 2, 3], &[9; 12]))).unwrap();
        fs::write(
            dir.path().join("p-labels.idx.gz"),
            gzip(&encode_idx(8, &[2], &[1, 0])),
        )
        .unwrap();
        let options = DataOptions {
            format: Format::Idx,
            classes: Some(Classes::new(vec!["1".into(), "0".into()])),
            ..opts()
        };
        let d = load(&images, &options, Role::Test).unwrap();
        assert_eq!(
            (d.encoding(), d.shape().image),
            (Encoding::Pixels, Some((2, 3)))
        );
        assert_eq!(d.labels(), [0, 1]);
        let options = DataOptions {
            classes: Some(Classes::numeric(1)),
            ..opts()
        };
        let e = load(&images, &options, Role::Test).unwrap_err().to_string();
        assert!(
            e.contains(
                "p-labels.idx.gz: label 0: label \"1\" is not one of the 1 known classes (0)"
            ),
            "{e}"
        );

        // u8 vectors.
        let vec_path = dir.path().join("u-images");
        fs::write(&vec_path, encode_idx(8, &[1, 5], &[1, 2, 3, 4, 5])).unwrap();
        fs::write(dir.path().join("u-labels"), encode_idx(8, &[1], &[0])).unwrap();
        let d = load(&vec_path, &opts(), Role::Train).unwrap();
        assert_eq!(
            (d.encoding(), d.shape().image, d.features()),
            (Encoding::Pixels, None, 5)
        );
    }

    #[test]
    fn idx_errors() {
        let dir = tempfile::tempdir().unwrap();
        let lonely = dir.path().join("data.idx");
        fs::write(&lonely, encode_idx(8, &[1, 2], &[1, 2])).unwrap();
        let e = load(&lonely, &opts(), Role::Train).unwrap_err().to_string();
        assert!(
            e.contains("needs its labels file beside it (its name has no \"images\""),
            "{e}"
        );
        let orphan = dir.path().join("a-images");
        fs::write(&orphan, encode_idx(8, &[1, 2], &[1, 2])).unwrap();
        let e = load(&orphan, &opts(), Role::Train).unwrap_err().to_string();
        assert!(e.contains("(looked for "), "{e}");
        assert!(e.contains("a-labels)"), "{e}");
        fs::write(dir.path().join("a-labels"), encode_idx(8, &[3], &[1, 2, 3])).unwrap();
        let e = load(&orphan, &opts(), Role::Train).unwrap_err().to_string();
        assert!(e.contains("holds 1 samples but"), "{e}");
        assert!(e.contains("holds 3 labels"), "{e}");
        let e = load(&dir.path().join("a-labels"), &opts(), Role::Train)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("is an IDX labels file (3 labels), not samples"),
            "{e}"
        );
    }

    #[test]
    fn mnist_directory_names_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let e = load(dir.path(), &opts(), Role::Test)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "MNIST test files not found: t10k-images-idx3-ubyte(.gz) and \
                        t10k-labels-idx1-ubyte(.gz)"
            ),
            "{e}"
        );
    }

    #[test]
    fn real_mnist_test_split_through_the_directory_and_as_csv() {
        let d = load(&data_dir(), &opts(), Role::Test).unwrap();
        assert_eq!((d.len(), d.features()), (10_000, 784));
        assert_eq!(
            (d.encoding(), d.shape().image),
            (Encoding::Pixels, Some((28, 28)))
        );
        assert_eq!(d.labels()[..10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
        assert_eq!(
            d.class_counts(),
            [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
        );
        assert!(d.classes().is_numeric() && d.classes().len() == 10);
        assert!(d.name().ends_with("t10k-images-idx3-ubyte.gz"));

        // The same samples written as an MNIST CSV (first 500, with a header).
        let part = d.take(500);
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("t10k.csv");
        let mut text = String::from("label");
        for i in 0..784 {
            text.push_str(&format!(",p{i}"));
        }
        text.push('\n');
        for i in 0..part.len() {
            text.push_str(&part.label(i).to_string());
            for p in part.pixels(i).unwrap() {
                text.push_str(&format!(",{p}"));
            }
            text.push('\n');
        }
        fs::write(&csv, text).unwrap();
        let c = load(&csv, &opts(), Role::Test).unwrap();
        assert_eq!((c.encoding(), c.shape()), (part.encoding(), part.shape()));
        assert_eq!(c.labels(), part.labels());
        for i in 0..part.len() {
            assert_eq!(c.pixels(i), part.pixels(i));
        }
        check_compatible(&d, &c).unwrap();
        // Mapped into the training classes.
        let options = DataOptions {
            classes: Some(d.classes().clone()),
            ..opts()
        };
        assert_eq!(
            load(&csv, &options, Role::Test).unwrap().labels(),
            part.labels()
        );
    }
}
