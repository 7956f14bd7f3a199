//! CSV files through the library: MNIST rows and the shipped CSV data sets,
//! line ends, BOM, delimiters, headers and label columns, and malformed
//! files. Every error names the file and the line.

mod common;

use std::path::{Path, PathBuf};

use common::{data, data_dir, gz, tempdir, write, OneByte};
use host::data::csv::{parse_csv, read_csv};
use host::data::{
    load, Classes, DataError, DataOptions, Dataset, Encoding, Format, Header, LabelColumn, Role,
};

/// Asserts the message names `path` and contains every one of `words`.
fn says(e: &DataError, path: &Path, words: &[&str]) {
    let msg = e.to_string();
    assert!(
        msg.contains(&path.display().to_string()),
        "message does not name {}: {msg}",
        path.display()
    );
    for w in words {
        assert!(msg.contains(w), "message lacks {w:?}: {msg}");
    }
}

/// Asserts two data sets hold the same samples (their names may differ).
fn same_data(a: &Dataset, b: &Dataset) {
    assert_eq!(
        (a.len(), a.shape(), a.encoding()),
        (b.len(), b.shape(), b.encoding())
    );
    assert_eq!(a.labels(), b.labels());
    assert_eq!(a.classes(), b.classes());
    let mut x = vec![0.0; a.features()];
    let mut y = vec![0.0; b.features()];
    for i in 0..a.len() {
        a.raw_f32(i, &mut x);
        b.raw_f32(i, &mut y);
        assert!(x == y, "sample {i} differs");
    }
}

/// The first `n` samples of the MNIST test set.
fn mnist_test(n: usize) -> Dataset {
    load(&data_dir(), &DataOptions::default(), Role::Test)
        .unwrap()
        .take(n)
}

/// `d` as MNIST CSV lines (`label,p0,…,p783`), with a header if asked.
fn csv_of(d: &Dataset, header: bool) -> String {
    let mut s = String::new();
    if header {
        s.push_str("label");
        for r in 1..=28 {
            for c in 1..=28 {
                s.push_str(&format!(",{r}x{c}"));
            }
        }
        s.push('\n');
    }
    for i in 0..d.len() {
        s.push_str(&d.label(i).to_string());
        for p in d.pixels(i).unwrap() {
            s.push_str(&format!(",{p}"));
        }
        s.push('\n');
    }
    s
}

/// One CSV line: `label` then 784 pixels, with `edit` applied to the fields.
fn csv_line(label: &str, edit: impl FnOnce(&mut Vec<String>)) -> String {
    let mut fields = vec![label.to_string()];
    fields.extend((0..784).map(|i| (i % 256).to_string()));
    edit(&mut fields);
    fields.join(",")
}

fn read(path: &Path) -> Result<Dataset, DataError> {
    read_csv(path, &DataOptions::default())
}

fn csv_err_with(dir: &Path, text: &str, options: &DataOptions) -> (PathBuf, DataError) {
    let p = write(dir, "data.csv", text);
    let e = read_csv(&p, options).expect_err("malformed CSV accepted");
    (p, e)
}

fn csv_err(dir: &Path, text: &str) -> (PathBuf, DataError) {
    csv_err_with(dir, text, &DataOptions::default())
}

fn parse(text: &str, options: &DataOptions) -> Dataset {
    parse_csv(text.as_bytes(), Path::new("t.csv"), options).unwrap_or_else(|e| panic!("{e}"))
}

// ---------------------------------------------------------------------------
// Valid files.

#[test]
fn mnist_rows_round_trip_with_and_without_header() {
    let t = tempdir();
    let d = mnist_test(50);
    for header in [true, false] {
        let p = write(t.path(), "mnist.csv", csv_of(&d, header));
        let back = read(&p).unwrap();
        // 784 whole numbers in 0..=255: the MNIST layout, read as pixels.
        assert_eq!(back.shape().image, Some((28, 28)), "header: {header}");
        same_data(&back, &d);
        assert_eq!(back.name(), p.display().to_string());
        assert_eq!(back.feature_names().is_some(), header);
    }
    // CRLF line ends, spaces, blank lines, no final newline.
    let text = csv_of(&d, true)
        .replace(',', " , ")
        .replace('\n', "\r\n\r\n")
        .trim_end()
        .to_string();
    same_data(&read(&write(t.path(), "crlf.csv", text)).unwrap(), &d);
    // CR-only line ends (old Mac), a byte order mark, tabs, semicolons.
    let cr = csv_of(&d, true).replace('\n', "\r");
    same_data(&read(&write(t.path(), "cr.csv", cr)).unwrap(), &d);
    let bom = format!("\u{feff}{}", csv_of(&d, true));
    let bom_set = read(&write(t.path(), "bom.csv", bom)).unwrap();
    same_data(&bom_set, &d);
    assert_eq!(bom_set.feature_names().unwrap()[0], "1x1");
    for delimiter in ["\t", ";"] {
        let text = csv_of(&d, false).replace(',', delimiter);
        same_data(&read(&write(t.path(), "delim.csv", text)).unwrap(), &d);
    }
    // Gzipped, whatever the name, and through `load` with Format::Auto.
    let p = write(t.path(), "mnist.data", gz(csv_of(&d, false).as_bytes()));
    same_data(&read(&p).unwrap(), &d);
    same_data(&load(&p, &DataOptions::default(), Role::Train).unwrap(), &d);
    // The generic reader, one byte at a time.
    let text = csv_of(&d, false);
    let parsed = parse_csv(
        OneByte(text.as_bytes()),
        Path::new("x"),
        &DataOptions::default(),
    )
    .unwrap();
    same_data(&parsed, &d);
}

#[test]
fn shipped_csv_data_sets() {
    let last = DataOptions {
        label_column: LabelColumn::Last,
        ..DataOptions::default()
    };
    let iris = read_csv(&data("iris/iris.csv"), &last).unwrap();
    assert_eq!(
        (iris.len(), iris.features(), iris.encoding()),
        (150, 4, Encoding::Values)
    );
    assert_eq!(iris.shape().image, None);
    assert_eq!(
        iris.classes().names(),
        ["setosa", "versicolor", "virginica"]
    );
    assert_eq!(iris.class_counts(), [50, 50, 50]);

    let train = read(&data("digits-8x8/digits-train.csv")).unwrap();
    let test = read(&data("digits-8x8/digits-test.csv")).unwrap();
    for d in [&train, &test] {
        // 64 columns of 0..=16: values, not the 784-pixel MNIST layout.
        assert_eq!((d.features(), d.encoding()), (64, Encoding::Values));
        assert_eq!(d.classes(), &Classes::numeric(10));
        assert_eq!(d.feature_names().unwrap()[63], "p63");
    }
    assert_eq!(train.len() + test.len(), 1797);
    host::data::check_compatible(&train, &test).unwrap();
}

#[test]
fn headers_label_columns_and_delimiters() {
    let text = "a;b;kind\n1;2;x\n3;4;y\n5;6;x\n";
    // `kind` is no label name, but the only column of text: auto takes it.
    // With two columns of text it takes the first column, and says so when
    // another column is not numeric.
    let two = "id;b;kind\nr1;2;x\n";
    let e = parse_csv(two.as_bytes(), Path::new("t.csv"), &DataOptions::default()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("line 2, column 3 (kind): \"x\" is not a number"),
        "{msg}"
    );
    assert!(msg.contains("labels are taken from column 1 (id)"), "{msg}");
    assert!(msg.contains("--label-column"), "{msg}");
    for choice in [
        LabelColumn::Auto,
        LabelColumn::Last,
        LabelColumn::Name("kind".into()),
        LabelColumn::Position(3),
    ] {
        let d = parse(
            text,
            &DataOptions {
                label_column: choice.clone(),
                ..DataOptions::default()
            },
        );
        assert_eq!(d.classes().names(), ["x", "y"], "{choice}");
        assert_eq!(d.labels(), &[0, 1, 0]);
        assert_eq!(d.values(2).unwrap(), &[5.0, 6.0]);
        assert_eq!(d.feature_names().unwrap(), ["a", "b"]);
    }
    // A column named `label` anywhere is the label column.
    let d = parse("x,label,y\n1,cat,2\n3,dog,4\n", &DataOptions::default());
    assert_eq!(
        (d.classes().names(), d.values(1).unwrap()),
        (&["cat".to_string(), "dog".into()][..], &[3.0f32, 4.0][..])
    );
    // --header no keeps a first row of numbers as data; --header yes drops it.
    let numbers = "1,2,3\n0,5,6\n";
    let no = DataOptions {
        header: Header::No,
        ..DataOptions::default()
    };
    let yes = DataOptions {
        header: Header::Yes,
        ..DataOptions::default()
    };
    assert_eq!(
        (parse(numbers, &no).len(), parse(numbers, &yes).len()),
        (2, 1)
    );
    assert_eq!(parse(numbers, &DataOptions::default()).len(), 2);
    // An explicit delimiter wins over detection; quoted cells hold delimiters.
    let d = parse(
        "\"a, b\";1.5\n\"c\"\"d\";2\n",
        &DataOptions {
            delimiter: Some(b';'),
            header: Header::No,
            ..DataOptions::default()
        },
    );
    assert_eq!(d.classes().names(), ["a, b", "c\"d"]);
}

#[test]
fn label_column_errors_name_the_choices() {
    let t = tempdir();
    let text = "a,b,c\n1,2,3\n";
    let name = |n: &str| DataOptions {
        label_column: LabelColumn::Name(n.into()),
        ..DataOptions::default()
    };
    let (p, e) = csv_err_with(t.path(), text, &name("kind"));
    assert!(matches!(e, DataError::LabelColumn { .. }), "{e:?}");
    says(&e, &p, &["no column named \"kind\"", "--label-column"]);
    let (p, e) = csv_err_with(
        t.path(),
        text,
        &DataOptions {
            label_column: LabelColumn::Position(4),
            ..DataOptions::default()
        },
    );
    says(&e, &p, &["label column 4 does not exist", "3 columns"]);
    let (p, e) = csv_err_with(t.path(), "1,2,3\n", &name("kind"));
    says(&e, &p, &["--label-column"]);
    // A name is no header: options parse as documented.
    assert_eq!("last".parse(), Ok(LabelColumn::Last));
    assert_eq!("2".parse(), Ok(LabelColumn::Position(2)));
    assert!("0".parse::<LabelColumn>().is_err());
    assert_eq!("Species".parse(), Ok(LabelColumn::Name("Species".into())));
    assert_eq!("YES".parse(), Ok(Header::Yes));
    assert!("maybe".parse::<Header>().is_err());
}

// ---------------------------------------------------------------------------
// Malformed files.

#[test]
fn ragged_rows() {
    let t = tempdir();
    let good = csv_line("3", |_| {});
    let short = csv_line("3", |f| {
        f.pop();
    });
    let long = csv_line("3", |f| f.push("0".into()));
    let (p, e) = csv_err(t.path(), &format!("{good}\n{good}\n{short}\n"));
    assert!(
        matches!(
            e,
            DataError::CsvFieldCount {
                line: 3,
                expected: 785,
                found: 784,
                ..
            }
        ),
        "{e:?}"
    );
    says(
        &e,
        &p,
        &[
            "line 3 has 784 fields, expected 785",
            "the first row on line 1",
        ],
    );
    let header = csv_line("label", |f| {
        for (i, c) in f.iter_mut().enumerate().skip(1) {
            *c = format!("p{i}");
        }
    });
    let (p, e) = csv_err(t.path(), &format!("{header}\n{good}\n{long}\n"));
    assert!(
        matches!(
            e,
            DataError::CsvFieldCount {
                line: 3,
                found: 786,
                ..
            }
        ),
        "{e:?}"
    );
    says(&e, &p, &["line 3 has 786 fields", "the header on line 1"]);
    // Blank lines count: the bad row is reported on its real line.
    let (p, e) = csv_err(t.path(), "a,b,c\n\n1,2,3\n\n4,5\n");
    assert!(
        matches!(e, DataError::CsvFieldCount { line: 5, .. }),
        "{e:?}"
    );
    says(&e, &p, &["line 5", "same columns"]);
    // One field where several are expected: probably the wrong delimiter.
    let (p, e) = csv_err(t.path(), "a,b,c\n1,2,3\n1 2 3\n");
    says(&e, &p, &["line 3", "--delimiter"]);
    // A file of one column has no features.
    let (p, e) = csv_err(t.path(), "5\n6\n");
    assert!(
        matches!(
            e,
            DataError::CsvTooFewColumns {
                line: 1,
                found: 1,
                ..
            }
        ),
        "{e:?}"
    );
    says(&e, &p, &["a label and at least one feature", "--delimiter"]);
}

/// The MNIST-only CSV rules (pixels must be whole numbers in 0..=255, labels
/// below 10) are gone: such cells are values and classes now. What is not a
/// finite number is still refused, naming line, column and cell.
#[test]
fn bad_values() {
    let t = tempdir();
    let good = csv_line("3", |_| {});
    for (bad, problem) in [
        ("abc", "is not a number"),
        ("", "is empty"),
        ("0x10", "is not a number"),
        ("inf", "is not a finite number"),
        ("NaN", "is not a finite number"),
        ("1e39", "is not a finite number"),
    ] {
        let line = csv_line("3", |f| f[10] = bad.to_string());
        let (p, e) = csv_err(t.path(), &format!("{good}\n{line}\n"));
        match &e {
            DataError::CsvValue { line, column, .. } => {
                assert_eq!((*line, column.as_str()), (2, "column 11"))
            }
            other => panic!("{bad:?}: {other:?}"),
        }
        says(
            &e,
            &p,
            &["line 2", "column 11", problem, &format!("{bad:?}")],
        );
    }
    // With a header, the column's name is given too.
    let (p, e) = csv_err(t.path(), "label,width,height\n1,2,3\n2,x,4\n");
    says(&e, &p, &["line 3, column 2 (width): \"x\" is not a number"]);
    // Decimal commas with `;`: the hint says so.
    let (p, e) = csv_err(t.path(), "label;a\n1;1,5\n");
    says(&e, &p, &["decimal commas"]);

    // Values that MNIST refused: decimals and numbers outside 0..=255.
    for cell in ["256", "-1", "1.5", "99999999999999999999"] {
        let line = csv_line("3", |f| f[10] = cell.to_string());
        let d = read(&write(t.path(), "values.csv", format!("{good}\n{line}\n"))).unwrap();
        assert_eq!(d.encoding(), Encoding::Values, "{cell}");
        assert_eq!(d.values(1).unwrap()[9], cell.parse::<f32>().unwrap());
    }
}

#[test]
fn labels_become_classes() {
    let t = tempdir();
    // Labels MNIST refused (10, 255) are classes; text labels are sorted.
    let d = parse(
        &format!("{}\n{}\n", csv_line("255", |_| {}), csv_line("10", |_| {})),
        &DataOptions::default(),
    );
    assert_eq!((d.classes().len(), d.labels()), (256, &[255u16, 10][..]));
    let d = parse("y,x\nb,1\na,2\n-1,3\n", &DataOptions::default());
    assert_eq!(d.classes().names(), ["-1", "a", "b"]);
    assert_eq!(d.labels(), &[2, 1, 0]);
    // An empty label, and a label unknown to the classes asked for.
    let (p, e) = csv_err(t.path(), "label,x\n1,2\n,3\n");
    assert!(
        matches!(e, DataError::CsvEmptyLabel { line: 3, .. }),
        "{e:?}"
    );
    says(
        &e,
        &p,
        &["line 3", "column 1 (label)", "the label is empty"],
    );
    let known = DataOptions {
        classes: Some(Classes::new(vec!["a".into(), "b".into()])),
        ..DataOptions::default()
    };
    let (p, e) = csv_err_with(t.path(), "label,x\na,1\nb,2\nc,3\n", &known);
    assert!(matches!(e, DataError::UnknownLabel { .. }), "{e:?}");
    says(&e, &p, &["line 4", "\"c\"", "2 known classes"]);
    // A file maps into its own classes unchanged, even with text classes
    // that differ only in how a number is written (found by fuzzing).
    let text = "label,x\n07,1\n7,2\na,3\n";
    let own = parse(text, &DataOptions::default());
    assert_eq!(own.classes().names(), ["07", "7", "a"]);
    let mapped = DataOptions {
        classes: Some(own.classes().clone()),
        ..DataOptions::default()
    };
    assert_eq!(parse(text, &mapped).labels(), own.labels());
    // Numeric labels written another way map to the numeric class.
    let mapped = DataOptions {
        classes: Some(Classes::numeric(10)),
        ..DataOptions::default()
    };
    assert_eq!(parse("label,x\n07,1\n+7.0,2\n", &mapped).labels(), &[7, 7]);
    // Too many numeric classes: probably the wrong label column.
    let (p, e) = csv_err(t.path(), "label,x\n70000,1\n");
    assert!(matches!(e, DataError::TooManyClasses { .. }), "{e:?}");
    says(&e, &p, &["line 2", "--label-column"]);
}

#[test]
fn empty_and_header_only() {
    let t = tempdir();
    for text in ["", "\n\n", "  \r\n \n"] {
        let (p, e) = csv_err(t.path(), text);
        assert!(matches!(e, DataError::Empty { .. }), "{text:?}: {e:?}");
        says(&e, &p, &["empty"]);
    }
    let (p, e) = csv_err(t.path(), "label,1x1,1x2\n\n  \n");
    assert!(matches!(e, DataError::NoData { .. }), "{e:?}");
    says(&e, &p, &["no data rows"]);
    // A second header line is a data row with a bad value.
    let (p, e) = csv_err(t.path(), "label,a\nlabel,a\n");
    assert!(matches!(e, DataError::CsvValue { line: 2, .. }), "{e:?}");
    says(&e, &p, &["line 2"]);
    // A gzipped empty file.
    let p = write(t.path(), "empty.csv.gz", gz(b""));
    let e = read(&p).unwrap_err();
    assert!(matches!(e, DataError::Empty { gzipped: true, .. }), "{e:?}");
}

/// The old reader refused lines over a fixed length; the new one streams
/// rows, so a very wide row is just a very wide sample.
#[test]
fn wide_rows_and_binary_data() {
    let t = tempdir();
    let wide = format!("1{}\n0{}\n", ",0".repeat(20_000), ",1".repeat(20_000));
    let d = read(&write(t.path(), "wide.csv", wide)).unwrap();
    assert_eq!((d.len(), d.features()), (2, 20_000));
    // An IDX file given as CSV: a clear error, no panic.
    let idx = common::idx(0x08, &[2, 3, 4], &[0; 24]);
    let p = write(t.path(), "idx.csv", &idx);
    let e = read(&p).unwrap_err();
    says(&e, &p, &[]);
    let as_csv = DataOptions {
        format: Format::Csv,
        ..DataOptions::default()
    };
    let e = load(&p, &as_csv, Role::Train).unwrap_err();
    assert!(matches!(e, DataError::WrongFormat { .. }), "{e:?}");
    says(
        &e,
        &p,
        &["--format csv expects CSV text", "IDX file", "--format idx"],
    );
    // An unclosed quote: read to the end of the file, or an error naming it.
    let p = write(t.path(), "quote.csv", "a,b\n1,\"2\n3,4\n");
    if let Err(e) = read(&p) {
        says(&e, &p, &[]);
    }
}
