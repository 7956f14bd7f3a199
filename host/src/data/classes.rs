//! [`Classes`]: the names of the classes, and how labels found in a file
//! become class indices.
//!
//! Contract:
//! - Class `i` is named `names()[i]`; a data set's labels are indices into
//!   its classes, below [`MAX_CLASSES`].
//! - Numeric classes ([`Classes::numeric`]) are named `"0"`, `"1"`, … and
//!   label `k` is class `k`.
//! - Labels read from a file: if every label is a whole number
//!   ≥ 0 (`7`, ` 7 `, `+7`, `007`, `7.0`), the classes are numeric
//!   `0..=max`; otherwise they are the distinct labels as text, sorted in byte
//!   order (like scikit-learn's `LabelEncoder`), index = position. With known
//!   classes (from a checkpoint or the training file), each label is mapped by
//!   name (a numeric label `3` maps to the class named `"3"`) and an unknown
//!   label is an error naming it, the file and the known classes.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use super::error::DataError;

/// Most classes a data set may have (labels are stored as `u16`).
pub const MAX_CLASSES: usize = u16::MAX as usize;

/// The class names of a data set.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Classes {
    names: Vec<String>,
}

impl fmt::Debug for Classes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Classes[{}]", self.list(12))
    }
}

impl Classes {
    /// Classes with these names; class `i` is `names[i]`. Names should be
    /// distinct ([`Classes::index_of`] finds the first).
    pub fn new(names: Vec<String>) -> Self {
        Self { names }
    }

    /// `k` classes named `"0"` to `"k-1"`.
    pub fn numeric(k: usize) -> Self {
        Self::new((0..k).map(|i| i.to_string()).collect())
    }

    /// Number of classes.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are no classes.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// All names, class 0 first.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The name of class `i`.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn name(&self, i: usize) -> &str {
        &self.names[i]
    }

    /// The index of the class named `name` (exact match).
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// Whether the names are exactly `"0"`, `"1"`, …, `"k-1"`.
    pub fn is_numeric(&self) -> bool {
        self.names
            .iter()
            .enumerate()
            .all(|(i, n)| *n == i.to_string())
    }

    /// The names joined by ", ", at most `max` of them (then "…").
    pub fn list(&self, max: usize) -> String {
        let mut s = self
            .names
            .iter()
            .take(max)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        if self.names.len() > max {
            s.push_str(", …");
        }
        s
    }
}

/// The value of a whole number ≥ 0 written as digits, with an optional `+`
/// and an optional fraction of zeros (`7`, `+7`, `007`, `7.0`); `None` for
/// anything else (or a value past `u64`).
pub(crate) fn whole_number(s: &str) -> Option<u64> {
    let s = s.strip_prefix('+').unwrap_or(s);
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if let Some(f) = frac {
        if !f.bytes().all(|b| b == b'0') {
            return None;
        }
    }
    // Digits only: a parse failure is an overflow, saturated so that the
    // class cap reports it.
    Some(int.parse().unwrap_or(u64::MAX))
}

/// Collects the labels of a file (one per sample, as text) and turns them
/// into class indices and [`Classes`] (see the module docs).
///
/// Memory: one index per sample plus each distinct label once.
#[derive(Debug, Default)]
pub(crate) struct LabelSet {
    ids: Vec<u32>,
    /// Distinct labels (trimmed), and where each was first seen.
    distinct: Vec<(String, usize)>,
    lookup: HashMap<String, u32>,
}

impl LabelSet {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds the label of the next sample; `place` (e.g. a line number) is
    /// kept for error messages about the label's first occurrence.
    pub(crate) fn push(&mut self, label: &str, place: usize) {
        let label = label.trim();
        let id = match self.lookup.get(label) {
            Some(&id) => id,
            None => {
                // More distinct labels than u32 cannot fit in memory anyway.
                let id = u32::try_from(self.distinct.len()).unwrap_or(u32::MAX);
                self.distinct.push((label.to_owned(), place));
                self.lookup.insert(label.to_owned(), id);
                id
            }
        };
        self.ids.push(id);
    }

    /// Number of labels pushed.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// The class index of every sample, and the classes: `known` if given,
    /// else derived from the labels. `place` renders a place for errors
    /// (e.g. `|l| format!("line {l}")`).
    pub(crate) fn finish(
        self,
        path: &Path,
        known: Option<&Classes>,
        place: impl Fn(usize) -> String,
    ) -> Result<(Vec<u16>, Classes), DataError> {
        let numbers: Option<Vec<u64>> =
            self.distinct.iter().map(|(l, _)| whole_number(l)).collect();
        let ClassMap {
            of_distinct,
            classes,
        } = match (known, numbers) {
            (Some(known), _) => self.map_known(path, known, &place)?,
            (None, Some(numbers)) => self.map_numeric(path, &numbers, &place)?,
            (None, None) => self.map_text(path)?,
        };
        if classes.len() > MAX_CLASSES {
            return Err(DataError::TooManyClasses {
                path: path.to_path_buf(),
                what: format!("{} known classes", classes.len()),
                max: MAX_CLASSES,
            });
        }
        // Every class index is below MAX_CLASSES = u16::MAX, so fits in u16.
        let labels = self
            .ids
            .iter()
            .map(|&id| of_distinct[id as usize] as u16)
            .collect();
        Ok((labels, classes))
    }

    /// Each distinct label mapped by name into `known`; an unknown label is
    /// an error naming its first place.
    fn map_known(
        &self,
        path: &Path,
        known: &Classes,
        place: &impl Fn(usize) -> String,
    ) -> Result<ClassMap, DataError> {
        let mut of_distinct = Vec::with_capacity(self.distinct.len());
        for (label, at) in &self.distinct {
            // The exact name first: text classes may hold both "07" and
            // "7", and "07" is then its own class.
            let found = known.index_of(label).or_else(|| {
                let canonical = whole_number(label)?.to_string();
                known.index_of(&canonical)
            });
            match found {
                Some(c) => of_distinct.push(c),
                None => {
                    return Err(DataError::UnknownLabel {
                        path: path.to_path_buf(),
                        place: place(*at),
                        label: label.clone(),
                        count: known.len(),
                        known: known.list(20),
                    })
                }
            }
        }
        Ok(ClassMap {
            of_distinct,
            classes: known.clone(),
        })
    }

    /// Whole-number labels (`numbers[d]` is distinct label `d`): numeric
    /// classes `0..=max`.
    fn map_numeric(
        &self,
        path: &Path,
        numbers: &[u64],
        place: &impl Fn(usize) -> String,
    ) -> Result<ClassMap, DataError> {
        let max = numbers.iter().copied().max().unwrap_or(0);
        if max >= MAX_CLASSES as u64 {
            let at = numbers.iter().position(|&n| n == max).unwrap_or(0);
            return Err(DataError::TooManyClasses {
                path: path.to_path_buf(),
                what: format!(
                    "{}: label {} needs {} classes",
                    place(self.distinct[at].1),
                    self.distinct[at].0,
                    u128::from(max) + 1
                ),
                max: MAX_CLASSES,
            });
        }
        // max < MAX_CLASSES, so every number fits in usize.
        Ok(ClassMap {
            of_distinct: numbers.iter().map(|&n| n as usize).collect(),
            classes: Classes::numeric(max as usize + 1),
        })
    }

    /// Text labels: the distinct labels sorted in byte order are the classes.
    fn map_text(&self, path: &Path) -> Result<ClassMap, DataError> {
        if self.distinct.len() > MAX_CLASSES {
            return Err(DataError::TooManyClasses {
                path: path.to_path_buf(),
                what: format!("{} distinct text labels", self.distinct.len()),
                max: MAX_CLASSES,
            });
        }
        let mut order: Vec<usize> = (0..self.distinct.len()).collect();
        order.sort_by(|&a, &b| self.distinct[a].0.cmp(&self.distinct[b].0));
        let mut of_distinct = vec![0; self.distinct.len()];
        for (class, &d) in order.iter().enumerate() {
            of_distinct[d] = class;
        }
        let names = order.iter().map(|&d| self.distinct[d].0.clone()).collect();
        Ok(ClassMap {
            of_distinct,
            classes: Classes::new(names),
        })
    }
}

/// How the distinct labels of a [`LabelSet`] become classes.
struct ClassMap {
    /// The class index of each distinct label, in order of first occurrence.
    of_distinct: Vec<usize>,
    /// The classes.
    classes: Classes,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finish(labels: &[&str], known: Option<&Classes>) -> Result<(Vec<u16>, Classes), DataError> {
        let mut set = LabelSet::new();
        for (i, l) in labels.iter().enumerate() {
            set.push(l, i + 1);
        }
        assert_eq!(set.len(), labels.len());
        set.finish(Path::new("f.csv"), known, |l| format!("line {l}"))
    }

    fn names(c: &Classes) -> Vec<&str> {
        c.names().iter().map(String::as_str).collect()
    }

    #[test]
    fn numeric_classes() {
        let c = Classes::numeric(3);
        assert_eq!(names(&c), ["0", "1", "2"]);
        assert!(c.is_numeric());
        assert_eq!(c.index_of("2"), Some(2));
        assert_eq!(c.name(1), "1");
        assert!(!Classes::new(vec!["1".into(), "0".into()]).is_numeric());
        assert!(!Classes::new(vec!["a".into()]).is_numeric());
        assert!(Classes::numeric(0).is_empty());
    }

    #[test]
    fn whole_numbers() {
        for (s, v) in [
            ("7", 7),
            ("+7", 7),
            ("007", 7),
            ("7.0", 7),
            ("7.", 7),
            ("0", 0),
        ] {
            assert_eq!(whole_number(s), Some(v), "{s}");
        }
        assert_eq!(whole_number("99999999999999999999999"), Some(u64::MAX));
        for s in ["-1", "7.5", "", "x", "1e3", ".0", "+", "١"] {
            assert_eq!(whole_number(s), None, "{s}");
        }
    }

    #[test]
    fn whole_number_labels_are_numeric_up_to_the_max() {
        let (labels, classes) = finish(&["2", " 0", "2.0 ", "+5"], None).unwrap();
        assert_eq!(labels, [2, 0, 2, 5]);
        assert_eq!(classes, Classes::numeric(6));
    }

    #[test]
    fn text_labels_are_sorted_by_bytes() {
        let (labels, classes) = finish(&["b", "a", "B", "b", "10", "a"], None).unwrap();
        assert_eq!(names(&classes), ["10", "B", "a", "b"]);
        assert_eq!(labels, [3, 2, 1, 3, 0, 2]);
    }

    #[test]
    fn known_classes_map_by_name() {
        let known = Classes::new(vec!["cat".into(), "3".into(), "dog".into()]);
        let (labels, classes) = finish(&["dog", "03", "cat"], Some(&known)).unwrap();
        assert_eq!(labels, [2, 1, 0]);
        assert_eq!(classes, known);
        let err = finish(&["dog", "cow"], Some(&known)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "f.csv: line 2: label \"cow\" is not one of the 3 known classes (cat, 3, dog); \
             use data with the same classes as the training data"
        );
    }

    #[test]
    fn class_cap() {
        let err = finish(&["1", "65535"], None).unwrap_err();
        assert!(
            err.to_string()
                .contains("line 2: label 65535 needs 65536 classes"),
            "{err}"
        );
        let (_, c) = finish(&["65534"], None).unwrap();
        assert_eq!(c.len(), MAX_CLASSES);
        let err = finish(&["99999999999999999999999"], None).unwrap_err();
        assert!(
            err.to_string()
                .contains("label 99999999999999999999999 needs"),
            "{err}"
        );
    }
}
