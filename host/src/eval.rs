//! Accuracy, per-class accuracy and the confusion matrix.

use std::fmt::Write as _;

use crate::arch::CLASSES;

/// Evaluation of a set of predictions against labels.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Evaluation {
    /// `confusion[true][predicted]` counts.
    pub confusion: [[usize; CLASSES]; CLASSES],
}

impl Evaluation {
    /// Tallies `predicted` against `labels` (equal lengths; extra entries are ignored).
    pub fn new(predicted: &[u8], labels: &[u8]) -> Self {
        let mut confusion = [[0; CLASSES]; CLASSES];
        for (&p, &l) in predicted.iter().zip(labels) {
            if let Some(cell) = confusion
                .get_mut(usize::from(l))
                .and_then(|row| row.get_mut(usize::from(p)))
            {
                *cell += 1;
            }
        }
        Self { confusion }
    }

    /// Number of samples.
    pub fn total(&self) -> usize {
        self.confusion.iter().flatten().sum()
    }

    /// Number classified right.
    pub fn correct(&self) -> usize {
        (0..CLASSES).map(|c| self.confusion[c][c]).sum()
    }

    /// Overall accuracy in `[0, 1]` (0 for no samples).
    pub fn accuracy(&self) -> f64 {
        ratio(self.correct(), self.total())
    }

    /// Accuracy of each true class (recall).
    pub fn per_class(&self) -> [f64; CLASSES] {
        std::array::from_fn(|c| ratio(self.confusion[c][c], self.confusion[c].iter().sum()))
    }

    /// A text report: per-class accuracy and the confusion matrix.
    pub fn report(&self) -> String {
        let mut out = String::from("per-class accuracy:\n");
        for (class, acc) in self.per_class().iter().enumerate() {
            let n: usize = self.confusion[class].iter().sum();
            let _ = writeln!(
                out,
                "  {class}: {:6.2}%  ({} of {n})",
                acc * 100.0,
                self.confusion[class][class]
            );
        }
        out.push_str("confusion matrix (rows: true label, columns: predicted):\n      ");
        for p in 0..CLASSES {
            let _ = write!(out, "{p:>6}");
        }
        out.push('\n');
        for (t, row) in self.confusion.iter().enumerate() {
            let _ = write!(out, "  {t:>2}: ");
            for count in row {
                let _ = write!(out, "{count:>6}");
            }
            out.push('\n');
        }
        out
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
        let e = Evaluation::new(&[0, 1, 1, 2, 9], &[0, 1, 2, 2, 9]);
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
}
