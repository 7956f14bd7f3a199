//! Splitting a [`Dataset`]: `--val` ([`Dataset::split_validation`]),
//! `--limit` ([`Dataset::truncate`]), `--test-fraction`
//! ([`Dataset::stratified_split`]) and [`Dataset::select`].
//!
//! Contract: no sample is lost or duplicated by a split; every split is
//! deterministic (the stratified one for a given seed); the parts keep the
//! data set's name, shape, encoding, classes and feature names; errors name
//! the option (`--val`, `--test-fraction`) and the data set.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

use super::dataset::{Dataset, Raw};
use super::error::DataError;

impl Dataset {
    /// Holds out the **last** `n` samples as a validation set, returning
    /// `(training, validation)`. Deterministic: no shuffling (MNIST's
    /// training file is not sorted by class, so its last samples are a fair
    /// validation set).
    ///
    /// `n == 0` gives an empty validation set; an error naming `--val` if
    /// the training part would be empty (`n >= len`, for a non-empty `n`).
    pub fn split_validation(mut self, n: usize) -> Result<(Dataset, Dataset), DataError> {
        let len = self.len();
        if n > 0 && n >= len {
            return Err(DataError::ValidationTooLarge {
                name: self.name,
                requested: n,
                available: len,
            });
        }
        let keep = len - n;
        let at = keep * self.shape.features;
        let raw = match &mut self.raw {
            Raw::Pixels(p) => {
                let tail = p.split_off(at);
                p.shrink_to_fit();
                Raw::Pixels(tail)
            }
            Raw::Values(v) => {
                let tail = v.split_off(at);
                v.shrink_to_fit();
                Raw::Values(tail)
            }
        };
        let labels = self.labels.split_off(keep);
        self.labels.shrink_to_fit();
        let validation = Dataset {
            name: self.name.clone(),
            shape: self.shape,
            raw,
            labels,
            classes: self.classes.clone(),
            feature_names: self.feature_names.clone(),
        };
        Ok((self, validation))
    }

    /// A copy of the first `n` samples (all of them if `n >= self.len()`).
    pub fn take(&self, n: usize) -> Dataset {
        let indices: Vec<usize> = (0..n.min(self.len())).collect();
        self.gather(&indices)
    }

    /// Keeps only the first `n` samples (all of them if `n >= self.len()`),
    /// for `--limit`: in place, no copy of the samples kept.
    pub fn truncate(&mut self, n: usize) {
        let keep = n.min(self.len());
        let f = self.shape.features;
        match &mut self.raw {
            Raw::Pixels(p) => p.truncate(keep * f),
            Raw::Values(v) => v.truncate(keep * f),
        }
        self.labels.truncate(keep);
    }

    /// A copy of the given samples, in the order given (an index may repeat).
    ///
    /// # Panics
    /// If an index is `>= self.len()`.
    pub fn select(&self, indices: &[usize]) -> Dataset {
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.len()) {
            panic!(
                "select: index {bad} out of range for {} samples",
                self.len()
            );
        }
        self.gather(indices)
    }

    /// Splits into `(train, test)` keeping class proportions, for
    /// `--test-fraction`.
    ///
    /// Of each class of `count` samples, `round(fraction * count)` go to the
    /// test part, at least 1 and at most `count - 1` when `count >= 2` (so
    /// both parts hold every class that has two samples); a class of one
    /// sample stays in the training part. Which samples go is drawn by a
    /// shuffle seeded by `seed` (`Pcg64Mcg`): the same seed gives the same
    /// split. Both parts keep the file order.
    ///
    /// In place: the test part is copied out, then the training samples are
    /// moved to the front of `self`'s own buffers (no second copy of the
    /// data set; the peak is the data plus the test part).
    ///
    /// Errors name `--test-fraction` if `fraction` is not in `(0, 1)` or a
    /// part would be empty.
    pub fn stratified_split(
        mut self,
        fraction: f64,
        seed: u64,
    ) -> Result<(Dataset, Dataset), DataError> {
        let fail = |name: &str, problem: String| {
            Err(DataError::TestFraction {
                name: name.to_owned(),
                fraction,
                problem,
            })
        };
        if !(fraction > 0.0 && fraction < 1.0) {
            return fail(
                &self.name,
                "must be a number between 0 and 1 (exclusive), e.g. 0.2".into(),
            );
        }
        let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); self.classes.len()];
        for (i, &l) in self.labels.iter().enumerate() {
            by_class[usize::from(l)].push(i);
        }
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        let mut in_test = vec![false; self.len()];
        for members in &mut by_class {
            let count = members.len();
            if count < 2 {
                continue;
            }
            // fraction in (0, 1): the product is in (0, count).
            let wanted = (fraction * count as f64).round() as usize;
            let n = wanted.clamp(1, count - 1);
            members.shuffle(&mut rng);
            for &i in &members[..n] {
                in_test[i] = true;
            }
        }
        let tested = in_test.iter().filter(|&&t| t).count();
        if tested == 0 || tested == self.len() {
            return fail(
                &self.name,
                format!(
                    "the {} part would be empty ({} samples{}); use more data or no --test-fraction",
                    if tested == 0 { "test" } else { "training" },
                    self.len(),
                    if self.is_empty() {
                        ""
                    } else {
                        ", no class has two"
                    }
                ),
            );
        }
        let test_indices: Vec<usize> = (0..self.len()).filter(|&i| in_test[i]).collect();
        let test = self.gather(&test_indices);
        self.retain_samples(&in_test);
        Ok((self, test))
    }

    /// Keeps the samples `i` with `!remove[i]`, in order, moving them to the
    /// front of the existing buffers (no copy of the data set).
    fn retain_samples(&mut self, remove: &[bool]) {
        let f = self.shape.features;
        match &mut self.raw {
            Raw::Pixels(p) => compact(p, f, remove),
            Raw::Values(v) => compact(v, f, remove),
        }
        let mut i = 0;
        self.labels.retain(|_| {
            i += 1;
            !remove[i - 1]
        });
    }
}

/// Moves the samples of `stride` elements not marked in `remove` to the
/// front of `values`, in order, and truncates it to them.
fn compact<T: Copy>(values: &mut Vec<T>, stride: usize, remove: &[bool]) {
    let mut kept = 0;
    for (i, _) in remove.iter().enumerate().filter(|(_, &d)| !d) {
        if kept != i {
            values.copy_within(i * stride..(i + 1) * stride, kept * stride);
        }
        kept += 1;
    }
    values.truncate(kept * stride);
}

#[cfg(test)]
mod tests {
    use super::super::classes::Classes;
    use super::super::dataset::Shape;
    use super::*;

    /// `n` samples of one value each (the sample's index), labels given.
    fn data(labels: &[u16], classes: usize) -> Dataset {
        Dataset::from_values(
            "d.csv",
            Shape {
                features: 2,
                image: None,
            },
            (0..labels.len())
                .flat_map(|i| [i as f32, -(i as f32)])
                .collect(),
            labels.to_vec(),
            Classes::numeric(classes),
        )
        .unwrap()
    }

    /// The sample index stored in each sample's first value.
    fn ids(d: &Dataset) -> Vec<usize> {
        (0..d.len())
            .map(|i| d.values(i).unwrap()[0] as usize)
            .collect()
    }

    #[test]
    fn validation_is_the_tail() {
        let d = data(&[0, 1, 0, 1, 1], 2);
        let (t, v) = d.clone().split_validation(2).unwrap();
        assert_eq!((ids(&t), ids(&v)), (vec![0, 1, 2], vec![3, 4]));
        assert_eq!(v.labels(), [1, 1]);
        assert_eq!(v.classes(), d.classes());
        let (t, v) = d.clone().split_validation(0).unwrap();
        assert_eq!((t.len(), v.len()), (5, 0));
        let err = d.clone().split_validation(5).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--val 5: d.csv holds 5 samples, so no training samples would be left; \
             pass a smaller --val"
        );
        assert!(d.split_validation(9).is_err());
    }

    #[test]
    fn pixels_split_too() {
        let d = Dataset::from_pixels(
            "p",
            Shape {
                features: 1,
                image: Some((1, 1)),
            },
            vec![10, 20, 30],
            vec![0, 0, 0],
            Classes::numeric(1),
        )
        .unwrap();
        let (t, v) = d.split_validation(1).unwrap();
        assert_eq!(
            (t.pixels(1), v.pixels(0)),
            (Some(&[20][..]), Some(&[30][..]))
        );
    }

    #[test]
    fn take_and_select() {
        let d = data(&[0, 1, 2, 0], 3);
        assert_eq!(ids(&d.take(2)), [0, 1]);
        assert_eq!(d.take(99).len(), 4);
        let s = d.select(&[3, 0, 3]);
        assert_eq!(ids(&s), [3, 0, 3]);
        assert_eq!(s.labels(), [0, 0, 0]);
        assert_eq!(s.values(0), Some(&[3.0, -3.0][..]));
    }

    #[test]
    #[should_panic(expected = "index 4 out of range")]
    fn select_out_of_range_panics() {
        data(&[0, 1, 2, 0], 3).select(&[4]);
    }

    #[test]
    fn stratified_keeps_proportions_loses_nothing() {
        // 60 of class 0, 30 of class 1, 10 of class 2, interleaved.
        let labels: Vec<u16> = (0..100)
            .map(|i| match i % 10 {
                0 => 2,
                1..=3 => 1,
                _ => 0,
            })
            .collect();
        let d = data(&labels, 3);
        let (train, test) = d.clone().stratified_split(0.2, 7).unwrap();
        assert_eq!(test.class_counts(), [12, 6, 2]);
        assert_eq!(train.class_counts(), [48, 24, 8]);
        let mut all: Vec<usize> = ids(&train).into_iter().chain(ids(&test)).collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        // Labels travel with their samples; file order kept.
        for part in [&train, &test] {
            let ids = ids(part);
            assert!(ids.windows(2).all(|w| w[0] < w[1]));
            for (k, &i) in ids.iter().enumerate() {
                assert_eq!(part.labels()[k], labels[i]);
            }
        }
        // Deterministic for a seed, different for another.
        let (_, again) = d.clone().stratified_split(0.2, 7).unwrap();
        assert_eq!(ids(&again), ids(&test));
        let (_, other) = d.stratified_split(0.2, 8).unwrap();
        assert_ne!(ids(&other), ids(&test));
    }

    /// Where a data set's samples live (to tell a copy from the original).
    fn buffer(d: &Dataset) -> *const u8 {
        match &d.raw {
            Raw::Pixels(p) => p.as_ptr(),
            Raw::Values(v) => v.as_ptr().cast(),
        }
    }

    #[test]
    fn split_and_truncate_keep_the_training_samples_in_place() {
        // 40 samples of 3 classes: the training part stays in the buffer
        // the data was read into (no copy of the data set).
        let labels: Vec<u16> = (0..40).map(|i| (i % 3) as u16).collect();
        let d = data(&labels, 3);
        let (original, expected) = (buffer(&d), d.clone());
        let (mut train, test) = d.stratified_split(0.25, 5).unwrap();
        assert_eq!(buffer(&train), original, "the training part was copied");
        // The same parts as a copy of each would give, in file order.
        let mut in_test = [false; 40];
        for i in ids(&test) {
            in_test[i] = true;
        }
        let kept: Vec<usize> = (0..40).filter(|&i| !in_test[i]).collect();
        assert_eq!(train, expected.select(&kept));
        let first = train.take(7);
        train.truncate(7);
        assert_eq!(buffer(&train), original, "--limit copied the samples");
        assert_eq!(train, first);
        train.truncate(99);
        assert_eq!(train.len(), 7);
    }

    #[test]
    fn stratified_small_classes() {
        // Class 0: 2 samples (1 to test even at 0.1), class 1: 1 sample (stays).
        let d = data(&[0, 0, 1], 2);
        let (train, test) = d.stratified_split(0.1, 1).unwrap();
        assert_eq!(
            (train.class_counts(), test.class_counts()),
            (vec![1, 1], vec![1, 0])
        );
        // A large fraction still leaves one of each in training.
        let d = data(&[0, 0, 1, 1, 1], 2);
        let (train, _) = d.stratified_split(0.9, 1).unwrap();
        assert_eq!(train.class_counts(), [1, 1]);
    }

    #[test]
    fn stratified_errors_name_the_option() {
        for f in [0.0, 1.0, -0.5, f64::NAN] {
            let err = data(&[0, 0], 1).stratified_split(f, 1).unwrap_err();
            assert!(err.to_string().starts_with("--test-fraction "), "{err}");
            assert!(err.to_string().contains("between 0 and 1"), "{err}");
        }
        let err = data(&[0, 1, 2], 3).stratified_split(0.5, 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--test-fraction 0.5: d.csv: the test part would be empty (3 samples, no class has \
             two); use more data or no --test-fraction"
        );
    }
}
