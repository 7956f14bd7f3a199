//! [`Evaluation`]: predictions tallied against labels for any number of
//! classes: confusion matrix, accuracy, per-class accuracy (recall), and a
//! text report that names the classes.

use std::fmt::Write as _;

use crate::data::Classes;

/// Predictions tallied against labels, for K classes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evaluation {
    /// The classes, index order (`confusion` is `len() × len()`).
    pub classes: Classes,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<usize>>,
}

impl Evaluation {
    /// Tallies `predicted` against `labels` (class indices; pairs up to the
    /// shorter of the two). An index at or past `classes.len()` is ignored.
    pub fn new(classes: Classes, predicted: &[usize], labels: &[usize]) -> Self {
        let k = classes.len();
        let mut confusion = vec![vec![0; k]; k];
        for (&p, &l) in predicted.iter().zip(labels) {
            if let Some(cell) = confusion.get_mut(l).and_then(|row| row.get_mut(p)) {
                *cell += 1;
            }
        }
        Self { classes, confusion }
    }

    /// Number of classes.
    pub fn classes_len(&self) -> usize {
        self.confusion.len()
    }

    /// Number of samples.
    pub fn total(&self) -> usize {
        self.confusion.iter().flatten().sum()
    }

    /// Number classified right.
    pub fn correct(&self) -> usize {
        (0..self.classes_len()).map(|c| self.confusion[c][c]).sum()
    }

    /// Overall accuracy in `[0, 1]` (0 for no samples).
    pub fn accuracy(&self) -> f64 {
        ratio(self.correct(), self.total())
    }

    /// Samples of each true class.
    pub fn support(&self) -> Vec<usize> {
        self.confusion.iter().map(|row| row.iter().sum()).collect()
    }

    /// Accuracy of each true class (recall); 0 for a class without samples.
    pub fn per_class(&self) -> Vec<f64> {
        self.confusion
            .iter()
            .enumerate()
            .map(|(c, row)| ratio(row[c], row.iter().sum()))
            .collect()
    }

    /// A text report: per-class accuracy with class names, then the
    /// confusion matrix (rows: true class, columns: predicted). Every line
    /// ends with `\n`. Columns are as wide as the longest class name (and
    /// the counts), so any K and any names line up.
    pub fn report(&self) -> String {
        let names = self.classes.names();
        let name_width = names.iter().map(|n| n.chars().count()).max().unwrap_or(1);
        let mut out = String::from("per-class accuracy:\n");
        for ((class, acc), n) in self.per_class().iter().enumerate().zip(self.support()) {
            let _ = writeln!(
                out,
                "  {:>name_width$}: {:6.2}%  ({} of {n})",
                names[class],
                acc * 100.0,
                self.confusion[class][class]
            );
        }
        let count_width = self
            .confusion
            .iter()
            .flatten()
            .map(|c| c.to_string().len())
            .max()
            .unwrap_or(1);
        let cell = name_width.max(count_width) + 2;
        out.push_str("confusion matrix (rows: true class, columns: predicted):\n");
        let _ = write!(out, "  {:>name_width$}  ", "");
        for name in names {
            let _ = write!(out, "{name:>cell$}");
        }
        out.push('\n');
        for (t, row) in self.confusion.iter().enumerate() {
            let _ = write!(out, "  {:>name_width$}: ", names[t]);
            for count in row {
                let _ = write!(out, "{count:>cell$}");
            }
            out.push('\n');
        }
        out
    }

    /// The summary `host eval --json` prints: `samples`, `correct`,
    /// `accuracy`, `classes`, `per_class` (name, accuracy, correct,
    /// samples), `per_class_accuracy` and `confusion`.
    pub fn to_json(&self) -> serde_json::Value {
        let per_class: Vec<serde_json::Value> = self
            .per_class()
            .iter()
            .zip(self.support())
            .enumerate()
            .map(|(c, (acc, n))| {
                serde_json::json!({
                    "class": self.classes.name(c),
                    "accuracy": acc,
                    "correct": self.confusion[c][c],
                    "samples": n,
                })
            })
            .collect();
        serde_json::json!({
            "samples": self.total(),
            "correct": self.correct(),
            "accuracy": self.accuracy(),
            "classes": self.classes.names(),
            "per_class": per_class,
            "per_class_accuracy": self.per_class(),
            "confusion": self.confusion,
        })
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// The closing line of `train` and `eval`: `test accuracy: NN.NN%`.
pub fn accuracy_line(accuracy: f64) -> String {
    format!("test accuracy: {:.2}%", accuracy * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_confusion_and_accuracy() {
        let e = Evaluation::new(Classes::numeric(10), &[0, 1, 1, 2, 9], &[0, 1, 2, 2, 9]);
        assert_eq!(e.total(), 5);
        assert_eq!(e.correct(), 4);
        assert_eq!(e.confusion[2][1], 1);
        assert!((e.accuracy() - 0.8).abs() < 1e-12);
        assert_eq!(e.per_class()[2], 0.5);
        assert_eq!(e.per_class()[5], 0.0);
        let report = e.report();
        assert!(report.contains("2:  50.00%  (1 of 2)"), "{report}");
        assert_eq!(accuracy_line(0.98456), "test accuracy: 98.46%");
    }

    #[test]
    fn any_class_count_with_names() {
        let classes = Classes::new(vec![
            "setosa".into(),
            "versicolor".into(),
            "virginica".into(),
        ]);
        let e = Evaluation::new(classes, &[0, 1, 2, 1, 7], &[0, 1, 2, 2, 0]);
        assert_eq!(e.classes_len(), 3);
        assert_eq!(e.total(), 4, "an out-of-range prediction is ignored");
        assert_eq!(
            e.confusion,
            vec![vec![1, 0, 0], vec![0, 1, 0], vec![0, 1, 1]]
        );
        assert_eq!(e.support(), vec![1, 1, 2]);
        let report = e.report();
        assert!(
            report.contains("   virginica:  50.00%  (1 of 2)"),
            "{report}"
        );
        let lines: Vec<&str> = report.lines().collect();
        // Header row and matrix rows are equally wide.
        let matrix = &lines[lines.len() - 4..];
        assert!(matrix[0].contains("setosa") && matrix[0].contains("virginica"));
        assert!(
            matrix
                .iter()
                .all(|l| l.chars().count() == matrix[0].chars().count()),
            "{report}"
        );
        assert!(matrix[3].trim_start().starts_with("virginica:"), "{report}");
        let json = e.to_json();
        assert_eq!(json["per_class"][2]["class"], "virginica");
        assert_eq!(json["confusion"][2][1], 1);
    }

    #[test]
    fn empty_is_zero_not_nan() {
        let e = Evaluation::new(Classes::numeric(2), &[], &[]);
        assert_eq!(e.accuracy(), 0.0);
        assert_eq!(e.per_class(), vec![0.0, 0.0]);
    }
}
