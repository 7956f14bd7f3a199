//! Evaluating a trained [`Model`](crate::model::Model) on data of any shape
//! and any number of classes.
//!
//! | file | concept |
//! |---|---|
//! | [`metrics`] | [`Evaluation`]: confusion matrix of K classes, accuracy, per-class accuracy, the report table with class names |
//! | [`predict`] | [`Prediction`]: per-sample class and top-k softmax probabilities, for a data set ([`predict_dataset`]) or raw rows ([`predict_raw`]) |
//! | `unlabelled` | a CSV file without a label column, streamed with a constant one added (`predict --data`) |
//!
//! ```
//! use host::eval::Evaluation;
//! use host::data::Classes;
//!
//! let classes = Classes::new(vec!["cat".into(), "dog".into()]);
//! let e = Evaluation::new(classes, &[0, 1, 1], &[0, 1, 0]);
//! assert_eq!((e.correct(), e.total()), (2, 3));
//! assert!(e.report().contains("cat"));
//! ```

pub mod metrics;
pub mod predict;
mod unlabelled;

pub use metrics::{accuracy_line, Evaluation};
pub use predict::{predict_dataset, predict_raw, Prediction, Ranked};
