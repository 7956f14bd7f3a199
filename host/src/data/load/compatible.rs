//! [`check_compatible`]: whether a second data set fits the training data.

use super::super::dataset::{Dataset, Shape};
use super::super::error::DataError;

/// Checks that `other` fits `train`: same feature count, same image shape,
/// same encoding; one error naming both files and both shapes.
pub fn check_compatible(train: &Dataset, other: &Dataset) -> Result<(), DataError> {
    let fail = |found: String, expected: String, fix: &'static str| {
        Err(DataError::Incompatible {
            other: other.name().to_owned(),
            train: train.name().to_owned(),
            found,
            expected,
            fix,
        })
    };
    let (a, b) = (train.shape(), other.shape());
    match (a.image, b.image) {
        (Some((r, c)), Some((r2, c2))) if (r, c) != (r2, c2) => {
            return fail(
                format!("{r2}x{c2} images"),
                format!("{r}x{c}"),
                "both must hold images of the same size",
            )
        }
        _ => {}
    }
    if a.features != b.features {
        return fail(
            format!("{} features", b.features),
            a.features.to_string(),
            "both files must have the same columns",
        );
    }
    if a.image.is_some() != b.image.is_some() {
        let describe = |s: Shape| match s.image {
            Some((r, c)) => format!("{r}x{c} images"),
            None => format!("{} features (not images)", s.features),
        };
        return fail(
            describe(b),
            describe(a),
            "both must hold the same kind of samples",
        );
    }
    if train.encoding() != other.encoding() {
        return fail(
            other.encoding().to_string(),
            train.encoding().to_string(),
            "both must hold the same kind of values",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::{data_dir, opts};
    use super::super::super::{Classes, Encoding};
    use super::super::{load, Role};
    use super::*;

    #[test]
    fn real_digits() {
        let train = load(
            &data_dir().join("digits-8x8/digits-train.csv"),
            &opts(),
            Role::Train,
        )
        .unwrap();
        let test = load(
            &data_dir().join("digits-8x8/digits-test.csv"),
            &opts(),
            Role::Test,
        )
        .unwrap();
        assert_eq!((train.len(), test.len()), (1347, 450));
        for d in [&train, &test] {
            assert_eq!((d.features(), d.encoding()), (64, Encoding::Values));
            assert_eq!(d.shape().image, None);
            assert_eq!(*d.classes(), Classes::numeric(10));
            assert!(d
                .values(0)
                .unwrap()
                .iter()
                .all(|&v| (0.0..=16.0).contains(&v)));
        }
        assert_eq!(train.label(0), 3);
        check_compatible(&train, &test).unwrap();
        let mnist = load(&data_dir(), &opts(), Role::Test).unwrap();
        let e = check_compatible(&mnist, &test).unwrap_err().to_string();
        assert!(
            e.contains("digits-test.csv: 64 features, but the training data "),
            "{e}"
        );
        assert!(
            e.ends_with("has 784 (both files must have the same columns)"),
            "{e}"
        );
    }

    #[test]
    fn compatibility_messages() {
        let values = |name: &str, f: usize| {
            Dataset::from_values(
                name,
                Shape {
                    features: f,
                    image: None,
                },
                vec![0.0; f],
                vec![0],
                Classes::numeric(1),
            )
            .unwrap()
        };
        let pixels = |name: &str, r: usize, c: usize| {
            Dataset::from_pixels(
                name,
                Shape {
                    features: r * c,
                    image: Some((r, c)),
                },
                vec![0; r * c],
                vec![0],
                Classes::numeric(1),
            )
            .unwrap()
        };
        let msg = |a: &Dataset, b: &Dataset| check_compatible(a, b).unwrap_err().to_string();
        assert_eq!(
            msg(&values("data/train.csv", 64), &values("data/test.csv", 63)),
            "data/test.csv: 63 features, but the training data data/train.csv has 64 \
             (both files must have the same columns)"
        );
        assert_eq!(
            msg(&pixels("data/train", 28, 28), &pixels("data/test", 8, 8)),
            "data/test: 8x8 images, but the training data data/train has 28x28 \
             (both must hold images of the same size)"
        );
        assert_eq!(
            msg(&pixels("a", 2, 2), &values("b", 4)),
            "b: 4 features (not images), but the training data a has 2x2 images \
             (both must hold the same kind of samples)"
        );
        let mut flat = pixels("b", 2, 2);
        flat.shape.image = None;
        let mut flat_a = values("a", 4);
        flat_a.shape.image = None;
        assert!(msg(&flat_a, &flat)
            .contains("b: pixels (whole numbers 0..=255), but the training data a has values"));
        check_compatible(&pixels("a", 2, 2), &pixels("b", 2, 2)).unwrap();
    }
}
