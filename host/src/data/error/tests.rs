//! Messages of [`DataError`](super::DataError): what they say, and what they
//! leave to the source chain.

use super::*;

#[test]
fn io_error_is_in_the_message_not_the_source() {
    let err = DataError::Io {
        path: "a.csv".into(),
        error: io::Error::other("disk on fire"),
    };
    assert_eq!(err.to_string(), "a.csv: read error: disk on fire");
    assert!(std::error::Error::source(&err).is_none());
    assert_eq!(err.io_error().unwrap().to_string(), "disk on fire");
    assert!(DataError::NoData { path: "x".into() }.io_error().is_none());
}

#[test]
fn incompatible_names_both_files() {
    let err = DataError::Incompatible {
        other: "data/test.csv".into(),
        train: "data/train.csv".into(),
        found: "63 features".into(),
        expected: "64".into(),
        fix: "both files must have the same columns",
    };
    assert_eq!(
        err.to_string(),
        "data/test.csv: 63 features, but the training data data/train.csv has 64 \
         (both files must have the same columns)"
    );
}

#[test]
fn field_count_names_line_and_fix() {
    let err = DataError::CsvFieldCount {
        path: "d.csv".into(),
        line: 7,
        expected: 5,
        found: 4,
        first: "the header on line 1".into(),
        hint: "every line needs the same columns",
    };
    assert_eq!(
        err.to_string(),
        "d.csv: line 7 has 4 fields, expected 5 (as the header on line 1); \
         every line needs the same columns"
    );
}
