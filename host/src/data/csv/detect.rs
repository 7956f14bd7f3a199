//! Decided from the first rows: the delimiter (from the first non-empty
//! line), whether the first row is a header, and the label column.

use std::path::Path;

use super::super::error::DataError;
use super::super::load::DataOptions;
use super::fields::text;
use super::options::{Header, LabelColumn};
use super::records::Record;

/// Header names that mark the label column for [`LabelColumn::Auto`].
const LABEL_NAMES: [&str; 4] = ["label", "class", "target", "y"];

/// The most frequent of `,`, `;`, tab outside double quotes (comma on a tie
/// or when there is none).
pub(super) fn detect_delimiter(line: &[u8]) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for &b in line {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let mut best = 0;
    for i in 1..3 {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    [b',', b';', b'\t'][best]
}

/// What the first content row decided.
pub(super) struct Layout {
    /// Fields per line.
    pub(super) columns: usize,
    /// The 0-based label column.
    pub(super) label: usize,
    /// The header cells (trimmed), if the first row is a header.
    pub(super) header: Option<Vec<String>>,
    /// Line of the first row (header or data).
    pub(super) first_line: usize,
    /// Whether `auto` took the label column for being the only one of text
    /// in the first data row (then checked against the labels it holds).
    pub(super) guessed: bool,
}

impl Layout {
    /// Decides the header and the label column from the first content row
    /// and `next`, the row after it (`None` if the file has no other).
    pub(super) fn of_first_rows(
        path: &Path,
        options: &DataOptions,
        (row, next): (&Record<'_>, Option<&Record<'_>>),
        delimiter: u8,
    ) -> Result<Self, DataError> {
        let columns = row.len();
        if columns < 2 {
            return Err(too_few_columns(path, row, delimiter));
        }
        let first: Vec<String> = row.iter().map(text).collect();
        let (header, data) = if is_header(path, options, &first) {
            (Some(first), next.map(|r| r.iter().map(text).collect()))
        } else {
            (None, Some(first))
        };
        let rows = FirstRows {
            header: header.as_deref(),
            data: data.as_deref(),
        };
        let LabelChoice {
            column: label,
            guessed,
        } = resolve_label_column(path, &options.label_column, rows, columns)?;
        Ok(Self {
            columns,
            label,
            header,
            first_line: row.line,
            guessed,
        })
    }

    /// What set the number of fields, e.g. "the header on line 1".
    pub(super) fn first_row(&self) -> String {
        let what = if self.header.is_some() {
            "the header"
        } else {
            "the first row"
        };
        format!("{what} on line {}", self.first_line)
    }
}

/// A first row of fewer than two fields, with a hint at the delimiter.
fn too_few_columns(path: &Path, row: &Record<'_>, delimiter: u8) -> DataError {
    let line: String = row.iter().map(text).collect::<Vec<_>>().join("");
    let hint = if line.contains('\t') && delimiter != b'\t' {
        "the fields look tab-separated: pass --delimiter tab".to_string()
    } else if line.contains(';') && delimiter != b';' {
        "the fields look separated by `;`: pass --delimiter ';'".to_string()
    } else if line.trim().contains(' ') {
        "the fields look separated by spaces, which is not read: replace them by commas \
         (e.g. `tr -s ' ' , < in.txt > out.csv`)"
            .to_string()
    } else {
        "if the delimiter is wrong pass --delimiter with `,`, `;` or `tab`".to_string()
    };
    DataError::CsvTooFewColumns {
        path: path.to_path_buf(),
        line: row.line,
        found: row.len(),
        delimiter: char::from(delimiter),
        hint,
    }
}

/// The rows the label column is decided from (cells trimmed).
#[derive(Clone, Copy)]
struct FirstRows<'a> {
    /// The header, if the file has one.
    header: Option<&'a [String]>,
    /// The first data row, if there is one.
    data: Option<&'a [String]>,
}

/// Whether the first row (its `cells`, trimmed) is a header, by
/// [`DataOptions::header`] (see the module docs of [`csv`](super)).
fn is_header(path: &Path, options: &DataOptions, cells: &[String]) -> bool {
    match options.header {
        Header::Yes => true,
        Header::No => false,
        Header::Auto => {
            // The label column as if the row were a header, and as if it
            // were data: a row whose only text is its label is data.
            let rows = FirstRows {
                header: Some(cells),
                data: Some(cells),
            };
            match resolve_label_column(path, &options.label_column, rows, cells.len()) {
                Ok(LabelChoice { column: label, .. }) => {
                    let named = ["label", "class", "target"]
                        .contains(&cells[label].to_ascii_lowercase().as_str());
                    named
                        || cells
                            .iter()
                            .enumerate()
                            .any(|(i, c)| i != label && is_text(c))
                }
                // A name not in this row: a header if it has any text.
                Err(_) => cells.iter().any(|c| is_text(c)),
            }
        }
    }
}

/// Whether a cell is text for header and label detection: not empty and not
/// a number.
fn is_text(cell: &str) -> bool {
    !cell.is_empty() && !is_number(cell)
}

/// The column [`LabelColumn::Auto`] takes from a data row: its only text
/// cell, if exactly one is text.
fn only_text_cell(cells: &[String]) -> Option<usize> {
    let mut text = cells.iter().enumerate().filter(|(_, c)| is_text(c));
    match (text.next(), text.next()) {
        (Some((i, _)), None) => Some(i),
        _ => None,
    }
}

/// Classes a guessed label column ([`Layout::guessed`]) may always hold.
const GUESSED_FEW_CLASSES: usize = 10;

/// Whether `classes` distinct labels in `rows` rows look like classes for a
/// column `auto` guessed: at most [`GUESSED_FEW_CLASSES`], or at most one
/// for every two rows. A column of names, identifiers or timestamps holds
/// nearly one value per row, and training on it would be a wrong answer
/// given without an error.
pub(super) fn plausible_classes(classes: usize, rows: usize) -> bool {
    classes <= GUESSED_FEW_CLASSES || classes * 2 <= rows
}

/// How [`LabelColumn::Auto`] found the label column.
enum AutoLabel {
    /// A header cell named `label`, `class`, `target` or `y`.
    Named(usize),
    /// The only text cell of the first data row (of the file's width).
    OnlyText(usize),
    /// Neither: the first column.
    First,
}

fn auto_label(rows: FirstRows<'_>, columns: usize) -> AutoLabel {
    let named = rows.header.and_then(|h| {
        h.iter()
            .position(|c| LABEL_NAMES.contains(&c.to_ascii_lowercase().as_str()))
    });
    let text = rows
        .data
        .filter(|d| d.len() == columns)
        .and_then(only_text_cell);
    match (named, text) {
        (Some(i), _) => AutoLabel::Named(i),
        (None, Some(i)) => AutoLabel::OnlyText(i),
        (None, None) => AutoLabel::First,
    }
}

/// Whether a cell reads as a number (finite or not) for header detection.
fn is_number(cell: &str) -> bool {
    cell.parse::<f32>().is_ok()
}

/// The label column [`resolve_label_column`] chose.
#[derive(Clone, Copy)]
struct LabelChoice {
    /// 0-based.
    column: usize,
    /// Whether `auto` took it for being the only text cell of the first
    /// data row ([`AutoLabel::OnlyText`]): a guess, checked later against
    /// the labels the column holds.
    guessed: bool,
}

impl LabelChoice {
    /// A column given or found by name, not guessed.
    fn given(column: usize) -> Self {
        Self {
            column,
            guessed: false,
        }
    }
}

/// The 0-based label column, given the header (if the first row is one)
/// and the first data row.
fn resolve_label_column(
    path: &Path,
    choice: &LabelColumn,
    rows: FirstRows<'_>,
    columns: usize,
) -> Result<LabelChoice, DataError> {
    let positions = format!("a position from 1 to {columns}, first or last");
    let header = rows.header;
    match choice {
        LabelColumn::Auto => Ok(match auto_label(rows, columns) {
            AutoLabel::Named(i) => LabelChoice::given(i),
            AutoLabel::OnlyText(column) => LabelChoice {
                column,
                guessed: true,
            },
            AutoLabel::First => LabelChoice::given(0),
        }),
        LabelColumn::First => Ok(LabelChoice::given(0)),
        LabelColumn::Last => Ok(LabelChoice::given(columns - 1)),
        LabelColumn::Position(p) if (1..=columns).contains(p) => Ok(LabelChoice::given(p - 1)),
        LabelColumn::Position(p) => Err(DataError::LabelColumn {
            path: path.to_path_buf(),
            problem: format!("label column {p} does not exist: the file has {columns} columns"),
            choices: positions,
        }),
        LabelColumn::Name(name) => {
            let Some(header) = header else {
                return Err(DataError::LabelColumn {
                    path: path.to_path_buf(),
                    problem: format!(
                        "label column {name:?} is a name, but the file has no header line"
                    ),
                    choices: format!("{positions} (or --header yes if the first line is a header)"),
                });
            };
            header
                .iter()
                .position(|c| c == name)
                .or_else(|| {
                    let lower = name.to_lowercase();
                    let mut found = header
                        .iter()
                        .enumerate()
                        .filter(|(_, c)| c.to_lowercase() == lower);
                    match (found.next(), found.next()) {
                        (Some((i, _)), None) => Some(i),
                        _ => None,
                    }
                })
                .map(LabelChoice::given)
                .ok_or_else(|| DataError::LabelColumn {
                    path: path.to_path_buf(),
                    problem: format!("no column named {name:?}"),
                    choices: format!(
                        "one of the header's columns ({}) or {positions}",
                        header.join(", ")
                    ),
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn delimiters_are_detected() {
        for text in ["1,2,3\n0,4,5\n", "1;2;3\n0;4;5\n", "1\t2\t3\n0\t4\t5\n"] {
            let d = parse(text).unwrap();
            assert_eq!((d.len(), d.features()), (2, 2), "{text:?}");
            assert_eq!(all_values(&d), [2.0, 3.0, 4.0, 5.0]);
        }
        // The most frequent outside quotes wins.
        assert_eq!(detect_delimiter(b"\"a,b,c\";x;y"), b';');
        assert_eq!(detect_delimiter(b"a;b,c;d"), b';');
        assert_eq!(detect_delimiter(b"abc"), b',');
        // Given explicitly.
        let options = DataOptions {
            delimiter: Some(b'|'),
            ..DataOptions::default()
        };
        assert_eq!(parse_with("1|2\n", &options).unwrap().features(), 1);
    }

    #[test]
    fn header_auto_looks_at_feature_cells_only() {
        // All numbers: data, nothing dropped.
        assert_eq!(parse("1,2\n0,3\n").unwrap().len(), 2);
        // Text label in the first row, numeric features: data.
        let d = parse("cat,2\ndog,3\n").unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d.feature_names(), None);
        // A feature cell is text: header.
        let d = parse("kind,weight\ncat,2\n").unwrap();
        assert_eq!(
            (d.len(), d.feature_names().unwrap()),
            (1, &["weight".to_owned()][..])
        );
        // Header whose feature names are numbers, label cell "label".
        let d = parse("label,0,1\n3,4,5\n").unwrap();
        assert_eq!(d.len(), 1);
        // Explicit choices.
        let d = parse_with(
            "kind,weight\ncat,2\n",
            &DataOptions {
                header: Header::Yes,
                ..DataOptions::default()
            },
        )
        .unwrap();
        assert_eq!(d.len(), 1);
        let d = parse_with(
            "1,2\n0,3\n",
            &DataOptions {
                header: Header::Yes,
                ..DataOptions::default()
            },
        )
        .unwrap();
        assert_eq!(
            (d.len(), d.feature_names().unwrap()),
            (1, &["2".to_owned()][..])
        );
        let e = parse_with(
            "kind,weight\ncat,2\n",
            &DataOptions {
                header: Header::No,
                ..DataOptions::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("line 1, column 2: \"weight\" is not a number"),
            "{e}"
        );
        assert!(e.contains("--header yes if line 1 is a header"), "{e}");
    }

    #[test]
    fn auto_takes_the_only_text_column_of_the_first_data_row() {
        // Iris's layout: a header without a label name, the species last.
        let d = parse("a,b,species\n1,2,x\n3,4,y\n").unwrap();
        assert_eq!(d.classes().names(), ["x", "y"]);
        assert_eq!(d.feature_names().unwrap(), ["a", "b"]);
        assert_eq!(all_values(&d), [1.0, 2.0, 3.0, 4.0]);
        // No header: the first row is data, its text cell the label.
        let d = parse("1,2,x\n3,4,y\n").unwrap();
        assert_eq!((d.len(), d.feature_names()), (2, None));
        assert_eq!(d.labels(), [0, 1]);
        assert_eq!(all_values(&d), [1.0, 2.0, 3.0, 4.0]);
        // In the middle, and a numeric label in a later row is a class name.
        let d = parse("f,kind,g\n1,x,2\n3,7,4\n").unwrap();
        assert_eq!(d.classes().names(), ["7", "x"]);
        // A header's label name wins over the text column.
        let e = parse("target,b,name\n1,2,x\n").unwrap_err().to_string();
        assert!(e.contains("column 3 (name): \"x\" is not a number"), "{e}");
        // Two text cells: no guess, the first column as before.
        let e = parse("a,b,c\nid1,2,x\n").unwrap_err().to_string();
        assert!(e.contains("labels are taken from column 1 (a)"), "{e}");
        // A first data row of the wrong length decides nothing; the count is the error.
        let e = parse("a,b,c\n1,x\n").unwrap_err().to_string();
        assert!(e.contains("line 2 has 2 fields"), "{e}");
        // A column of nearly one value per row is no class column: refused
        // when guessed, read when chosen.
        let stamps: String = (0..30).map(|i| format!("{i},t{i},{}\n", i % 3)).collect();
        let text = format!("a,time,b\n{stamps}");
        let e = parse(&text).unwrap_err().to_string();
        assert!(
            e.contains(
                "column 2 (time) was taken as the label column, being the only column of \
                 text, but it holds 30 different values in 30 rows; pass --label-column"
            ),
            "{e}"
        );
        let d = parse_with(&text, &with_label(LabelColumn::Position(2))).unwrap();
        assert_eq!(d.classes().len(), 30);
        // Few classes, or at most one for every two rows: taken.
        let few: String = (0..8).map(|i| format!("{i},t{i},1\n")).collect();
        assert_eq!(parse(&format!("a,time,b\n{few}")).unwrap().len(), 8);
        let twice: String = (0..40).map(|i| format!("{i},c{},1\n", i / 2)).collect();
        assert_eq!(parse(&twice).unwrap().classes().len(), 20);
        // Numbers only: the first column, a header only if it has text.
        let d = parse("a,b,c\n1,2,3\n").unwrap();
        assert_eq!((d.len(), d.labels()), (1, &[1u16][..]));
    }

    #[test]
    fn label_column_choices() {
        let text = "f1,Target,f2\n1,a,2\n3,b,4\n";
        let d = parse(text).unwrap();
        assert_eq!(d.classes().names(), ["a", "b"]);
        assert_eq!(all_values(&d), [1.0, 2.0, 3.0, 4.0]);
        assert_eq!(d.feature_names().unwrap(), ["f1", "f2"]);
        for choice in [
            LabelColumn::Position(2),
            LabelColumn::Name("Target".into()),
            LabelColumn::Name("target".into()),
        ] {
            let d = parse_with(text, &with_label(choice)).unwrap();
            assert_eq!(d.classes().names(), ["a", "b"]);
        }
        let d = parse_with("1,2,7\n3,4,8\n", &with_label(LabelColumn::Last)).unwrap();
        assert_eq!(
            (d.labels(), all_values(&d)),
            (&[7u16, 8][..], vec![1.0, 2.0, 3.0, 4.0])
        );
        assert_eq!(d.classes().len(), 9);

        let e = parse_with(text, &with_label(LabelColumn::Name("kind".into())))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "t.csv: no column named \"kind\"; pass --label-column with one of the header's \
             columns (f1, Target, f2) or a position from 1 to 3, first or last"
        );
        let e = parse_with("1,2\n", &with_label(LabelColumn::Name("kind".into())))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("is a name, but the file has no header line"),
            "{e}"
        );
        let e = parse_with(text, &with_label(LabelColumn::Position(4)))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("label column 4 does not exist: the file has 3 columns"),
            "{e}"
        );
    }
}
