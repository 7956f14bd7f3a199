//! CSV files: one sample per line, a label column and feature columns.
//!
//! Contract:
//! - Delimiter: comma, semicolon or tab, detected from the first non-empty
//!   line (the one most frequent outside quotes; comma on a tie or when there
//!   is none), unless [`DataOptions::delimiter`] is set. Quoted fields
//!   (`"a, b"`, `""` for a quote) are read as one cell.
//! - A UTF-8 byte order mark is not part of the first cell; CRLF, LF and
//!   CR-only line ends are accepted; blank lines are skipped; the file may be
//!   gzipped (detected from its bytes).
//! - Header ([`Header`]): `yes`, `no`, or `auto`: the first row is a header
//!   iff one of its *feature* cells (not the label column) is non-empty and
//!   not a number, or its label cell is `label`, `class` or `target` (any
//!   case), so a data row is never silently dropped.
//! - Label column ([`LabelColumn`]): `auto` is the header cell named
//!   `label`, `class`, `target` or `y` (any case, trimmed), else the first
//!   column; a name needs a header; a position is 1-based.
//! - Every line has as many fields as the first one, else
//!   [`DataError::CsvFieldCount`] ("line N has X fields, expected Y").
//! - Features are numbers (`3`, `-0.5`, `+1e-3`, spaces around them
//!   allowed); an empty, non-numeric or non-finite cell is an error naming the
//!   file, the line, the column (with its header name) and the cell.
//! - Values are `f32` ([`Encoding::Values`](super::Encoding::Values)), except
//!   the MNIST layout: exactly 784 features, all whole numbers in `0..=255`,
//!   read as pixels of 28x28 images.
//! - Labels become classes as [`classes`](super::classes) describes (numeric
//!   `0..=max`, or sorted text, or mapped into [`DataOptions::classes`]).
//! - Memory is bounded by the data present: rows are streamed.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::str::FromStr;

use super::classes::LabelSet;
use super::dataset::{Dataset, Shape};
use super::error::DataError;
use super::load::DataOptions;
use super::source::{io_error, open_file, Source};

/// Whether the first row of a CSV file is a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Header {
    /// A header iff one of its feature cells is not a number (see the module
    /// docs).
    #[default]
    Auto,
    /// The first row is a header.
    Yes,
    /// The first row is data.
    No,
}

impl FromStr for Header {
    type Err = String;
    /// `auto`, `yes` or `no`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Header::Auto),
            "yes" => Ok(Header::Yes),
            "no" => Ok(Header::No),
            _ => Err(format!(
                "unknown header choice {s:?}: expected auto, yes or no"
            )),
        }
    }
}

impl fmt::Display for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Header::Auto => "auto",
            Header::Yes => "yes",
            Header::No => "no",
        })
    }
}

/// Which CSV column holds the labels.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum LabelColumn {
    /// The header cell named `label`, `class`, `target` or `y` (any case),
    /// else the first column.
    #[default]
    Auto,
    /// The first column.
    First,
    /// The last column.
    Last,
    /// The column with this header name (needs a header).
    Name(String),
    /// The column at this 1-based position.
    Position(usize),
}

impl FromStr for LabelColumn {
    type Err = String;
    /// `auto`, `first`, `last`, a positive integer (a 1-based position), or
    /// anything else as a header name.
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        match t {
            "" => Err("empty label column: expected first, last, a position or a name".into()),
            "auto" => Ok(LabelColumn::Auto),
            "first" => Ok(LabelColumn::First),
            "last" => Ok(LabelColumn::Last),
            _ if t.bytes().all(|b| b.is_ascii_digit()) => match t.parse::<usize>() {
                Ok(0) => Err("label column 0: positions start at 1".into()),
                Ok(p) => Ok(LabelColumn::Position(p)),
                Err(_) => Err(format!("label column {t} is too large")),
            },
            _ => Ok(LabelColumn::Name(t.to_owned())),
        }
    }
}

impl fmt::Display for LabelColumn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabelColumn::Auto => f.write_str("auto"),
            LabelColumn::First => f.write_str("first"),
            LabelColumn::Last => f.write_str("last"),
            LabelColumn::Name(n) => f.write_str(n),
            LabelColumn::Position(p) => write!(f, "{p}"),
        }
    }
}

/// Header names that mark the label column for [`LabelColumn::Auto`].
const LABEL_NAMES: [&str; 4] = ["label", "class", "target", "y"];

/// Features of the MNIST CSV layout (`label,p0,…,p783`).
const MNIST_FEATURES: usize = 28 * 28;

/// Loads the CSV file at `path` (gzipped or not) with `options`.
pub fn read_csv(path: &Path, options: &DataOptions) -> Result<Dataset, DataError> {
    parse_csv(open_file(path)?, path, options)
}

/// Reads one line (ending at `\n` or `\r`, inclusive) into `out`; returns the
/// bytes read, 0 at the end.
fn read_line<B: BufRead>(r: &mut B, out: &mut Vec<u8>) -> io::Result<usize> {
    let mut total = 0;
    loop {
        let avail = match r.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(total);
        }
        match avail.iter().position(|&b| b == b'\n' || b == b'\r') {
            Some(i) => {
                out.extend_from_slice(&avail[..=i]);
                r.consume(i + 1);
                return Ok(total + i + 1);
            }
            None => {
                let n = avail.len();
                out.extend_from_slice(avail);
                r.consume(n);
                total += n;
            }
        }
    }
}

/// Line ends made uniform for the CSV reader: CRLF and a lone CR become LF,
/// and a final LF is added if the stream does not end with one, so that every
/// record ends with a counted `\n` (the reader counts `\n` only).
struct Normalize<R> {
    inner: R,
    skip_lf: bool,
    last: Option<u8>,
    done: bool,
}

impl<R: Read> Normalize<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            skip_lf: false,
            last: None,
            done: false,
        }
    }
}

impl<R: Read> Read for Normalize<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.done {
            return Ok(0);
        }
        loop {
            let n = self.inner.read(buf)?;
            if n == 0 {
                self.done = true;
                if self.last.is_some_and(|b| b != b'\n') {
                    buf[0] = b'\n';
                    return Ok(1);
                }
                return Ok(0);
            }
            // Each input byte gives at most one output byte: in place is safe.
            let mut w = 0;
            for r in 0..n {
                let b = buf[r];
                if std::mem::take(&mut self.skip_lf) && b == b'\n' {
                    continue;
                }
                buf[w] = if b == b'\r' {
                    self.skip_lf = true;
                    b'\n'
                } else {
                    b
                };
                w += 1;
            }
            if w > 0 {
                self.last = Some(buf[w - 1]);
                return Ok(w);
            }
        }
    }
}

/// The most frequent of `,`, `;`, tab outside double quotes (comma on a tie
/// or when there is none).
fn detect_delimiter(line: &[u8]) -> u8 {
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

/// A cell as text, trimmed (lossy for bytes that are not UTF-8).
fn text(cell: &[u8]) -> String {
    String::from_utf8_lossy(cell).trim().to_owned()
}

/// A cell for messages: trimmed, at most 32 characters.
fn shown(cell: &[u8]) -> String {
    let t = text(cell);
    match t.char_indices().nth(32) {
        Some((cut, _)) => format!("{}…", &t[..cut]),
        None => t,
    }
}

/// Whether a cell reads as a number (finite or not) for header detection.
fn is_number(cell: &str) -> bool {
    cell.parse::<f32>().is_ok()
}

/// A feature cell as a finite `f32`, or what is wrong with it.
fn parse_value(cell: &[u8]) -> Result<f32, &'static str> {
    let s = std::str::from_utf8(cell)
        .map_err(|_| "is not a number (not UTF-8 text)")?
        .trim();
    if s.is_empty() {
        return Err("is empty: every feature needs a value");
    }
    match s.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err("is not a finite number"),
        Err(_) => Err("is not a number"),
    }
}

/// "column 3 (petal_length)" or "column 3" (`index` is 0-based).
fn column_name(index: usize, header: Option<&[String]>) -> String {
    match header.and_then(|h| h.get(index)) {
        Some(name) if !name.is_empty() => format!("column {} ({name})", index + 1),
        _ => format!("column {}", index + 1),
    }
}

/// The 0-based label column, given the header (if the first row is one).
fn resolve_label_column(
    path: &Path,
    choice: &LabelColumn,
    header: Option<&[String]>,
    columns: usize,
) -> Result<usize, DataError> {
    let positions = format!("a position from 1 to {columns}, first or last");
    match choice {
        LabelColumn::Auto => Ok(header
            .and_then(|h| {
                h.iter()
                    .position(|c| LABEL_NAMES.contains(&c.to_ascii_lowercase().as_str()))
            })
            .unwrap_or(0)),
        LabelColumn::First => Ok(0),
        LabelColumn::Last => Ok(columns - 1),
        LabelColumn::Position(p) if (1..=columns).contains(p) => Ok(p - 1),
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

/// Feature values, kept as bytes while they fit the MNIST layout.
enum Store {
    Bytes(Vec<u8>),
    Floats(Vec<f32>),
}

impl Store {
    fn push(&mut self, v: f32) {
        match self {
            Store::Bytes(b) => {
                if v.fract() == 0.0 && (0.0..=255.0).contains(&v) {
                    // Whole and in range: exact.
                    b.push(v as u8);
                } else {
                    let mut floats: Vec<f32> = b.iter().map(|&p| f32::from(p)).collect();
                    floats.push(v);
                    *self = Store::Floats(floats);
                }
            }
            Store::Floats(f) => f.push(v),
        }
    }
}

/// What the first content row decided.
struct Layout {
    columns: usize,
    label: usize,
    header: Option<Vec<String>>,
    /// Line of the first row (header or data).
    first_line: usize,
}

/// Parses CSV from any reader, raw or gzipped, with `options` (its `format`
/// is ignored). `name` is used in messages and as the data set's name.
pub fn parse_csv<R: Read>(
    reader: R,
    name: &Path,
    options: &DataOptions,
) -> Result<Dataset, DataError> {
    let src = Source::new(reader, name)?;
    let gzipped = src.gzipped();
    let mut buf = BufReader::new(src);
    let read_err = |e: io::Error| io_error(name, gzipped, e);

    // Leading blank lines and the first non-empty one, for the delimiter.
    let mut head = Vec::new();
    let mut first = None;
    loop {
        let start = head.len();
        if read_line(&mut buf, &mut head).map_err(read_err)? == 0 {
            break;
        }
        if start == 0 && head.starts_with(b"\xef\xbb\xbf") {
            head.drain(..3);
        }
        if !head[start..].trim_ascii().is_empty() {
            first = Some(start);
            break;
        }
    }
    let Some(first) = first else {
        return Err(DataError::Empty {
            path: name.to_path_buf(),
            gzipped,
        });
    };
    let delimiter = options
        .delimiter
        .unwrap_or_else(|| detect_delimiter(&head[first..]));

    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(Normalize::new(io::Cursor::new(head).chain(buf)));
    let mut record = csv::ByteRecord::new();
    let mut layout: Option<Layout> = None;
    let mut store = Store::Floats(Vec::new());
    let mut labels = LabelSet::new();
    loop {
        match rdr.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Err(match e.into_kind() {
                    csv::ErrorKind::Io(e) => read_err(e),
                    other => DataError::CsvSyntax {
                        path: name.to_path_buf(),
                        line,
                        message: format!("{other:?}"),
                    },
                });
            }
        }
        // Every record ends with a consumed `\n` (see Normalize): the
        // reader is on the line after the record's last; step back over the
        // newlines inside quoted cells to the line the record starts on.
        let inner_newlines = record.as_slice().iter().filter(|&&b| b == b'\n').count();
        let line = (rdr.position().line() as usize)
            .saturating_sub(1 + inner_newlines)
            .max(1);
        if record.len() <= 1 && record.iter().all(|c| c.trim_ascii().is_empty()) {
            continue; // blank (or whitespace-only) line
        }
        let layout = match &mut layout {
            Some(l) => &*l,
            None => {
                let l = first_row(name, options, &record, line, delimiter)?;
                if l.header.is_none() {
                    store = if l.columns - 1 == MNIST_FEATURES {
                        Store::Bytes(Vec::new())
                    } else {
                        Store::Floats(Vec::new())
                    };
                } else if l.columns - 1 == MNIST_FEATURES {
                    store = Store::Bytes(Vec::new());
                }
                let is_header = l.header.is_some();
                layout = Some(l);
                if is_header {
                    continue;
                }
                layout.as_ref().expect("just set")
            }
        };
        if record.len() != layout.columns {
            return Err(DataError::CsvFieldCount {
                path: name.to_path_buf(),
                line,
                expected: layout.columns,
                found: record.len(),
                first: format!(
                    "{} on line {}",
                    if layout.header.is_some() {
                        "the header"
                    } else {
                        "the first row"
                    },
                    layout.first_line
                ),
                hint: if record.len() == 1 {
                    "is the delimiter right? (pass --delimiter)"
                } else {
                    "every line needs the same columns; quote cells that contain the delimiter"
                },
            });
        }
        for (i, cell) in record.iter().enumerate() {
            if i == layout.label {
                let label = text(cell);
                if label.is_empty() {
                    return Err(DataError::CsvEmptyLabel {
                        path: name.to_path_buf(),
                        line,
                        column: column_name(i, layout.header.as_deref()),
                    });
                }
                labels.push(&label, line);
                continue;
            }
            match parse_value(cell) {
                Ok(v) => store.push(v),
                Err(problem) => {
                    return Err(value_error(name, layout, line, i, cell, problem, delimiter))
                }
            }
        }
    }
    let Some(layout) = layout else {
        // Only blank lines after all (e.g. a whitespace-only first line).
        return Err(DataError::Empty {
            path: name.to_path_buf(),
            gzipped,
        });
    };
    if labels.len() == 0 {
        return Err(DataError::NoData {
            path: name.to_path_buf(),
        });
    }
    let (labels, classes) =
        labels.finish(name, options.classes.as_ref(), |l| format!("line {l}"))?;
    let features = layout.columns - 1;
    let dataset_name = name.display().to_string();
    let dataset = match store {
        Store::Bytes(pixels) => Dataset::from_pixels(
            dataset_name,
            Shape {
                features,
                image: Some((28, 28)),
            },
            pixels,
            labels,
            classes,
        )?,
        Store::Floats(values) => Dataset::from_values(
            dataset_name,
            Shape {
                features,
                image: None,
            },
            values,
            labels,
            classes,
        )?,
    };
    match layout.header {
        Some(mut names) => {
            names.remove(layout.label);
            dataset.with_feature_names(names)
        }
        None => Ok(dataset),
    }
}

/// Decides the header and the label column from the first content row.
fn first_row(
    path: &Path,
    options: &DataOptions,
    record: &csv::ByteRecord,
    line: usize,
    delimiter: u8,
) -> Result<Layout, DataError> {
    let columns = record.len();
    if columns < 2 {
        return Err(DataError::CsvTooFewColumns {
            path: path.to_path_buf(),
            line,
            found: columns,
            delimiter: char::from(delimiter),
        });
    }
    let cells: Vec<String> = record.iter().map(text).collect();
    let is_header = match options.header {
        super::csv::Header::Yes => true,
        super::csv::Header::No => false,
        super::csv::Header::Auto => {
            match resolve_label_column(path, &options.label_column, Some(&cells), columns) {
                Ok(label) => {
                    let named = ["label", "class", "target"]
                        .contains(&cells[label].to_ascii_lowercase().as_str());
                    named
                        || cells
                            .iter()
                            .enumerate()
                            .any(|(i, c)| i != label && !c.is_empty() && !is_number(c))
                }
                // A name not in this row: a header if it has any text.
                Err(_) => cells.iter().any(|c| !c.is_empty() && !is_number(c)),
            }
        }
    };
    let header = is_header.then_some(cells);
    let label = resolve_label_column(path, &options.label_column, header.as_deref(), columns)?;
    Ok(Layout {
        columns,
        label,
        header,
        first_line: line,
    })
}

fn value_error(
    path: &Path,
    layout: &Layout,
    line: usize,
    column: usize,
    cell: &[u8],
    problem: &'static str,
    delimiter: u8,
) -> DataError {
    let header = layout.header.as_deref();
    let mut hint = String::new();
    if problem == "is not a number" {
        if delimiter == b';' && cell.contains(&b',') {
            hint.push_str("; decimal commas are not read: write 1.5, not 1,5");
        } else {
            hint = format!(
                "; the labels are taken from {}: if they are in another column, pass \
                 --label-column with its name, its position or last",
                column_name(layout.label, header)
            );
            if header.is_none() && line == layout.first_line {
                hint.push_str(&format!(" (and --header yes if line {line} is a header)"));
            }
        }
    }
    DataError::CsvValue {
        path: path.to_path_buf(),
        line,
        column: column_name(column, header),
        value: shown(cell),
        problem,
        hint,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::super::{Classes, Encoding};
    use super::*;

    fn parse_with(text: &str, options: &DataOptions) -> Result<Dataset, DataError> {
        parse_csv(text.as_bytes(), Path::new("t.csv"), options)
    }

    fn parse(text: &str) -> Result<Dataset, DataError> {
        parse_with(text, &DataOptions::default())
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    fn with_label(label_column: LabelColumn) -> DataOptions {
        DataOptions {
            label_column,
            ..DataOptions::default()
        }
    }

    fn all_values(d: &Dataset) -> Vec<f32> {
        let mut out = vec![0.0; d.features()];
        let mut all = Vec::new();
        for i in 0..d.len() {
            d.raw_f32(i, &mut out);
            all.extend_from_slice(&out);
        }
        all
    }

    #[test]
    fn options_from_str() {
        assert_eq!("yes".parse::<Header>(), Ok(Header::Yes));
        assert_eq!("no".parse::<Header>(), Ok(Header::No));
        assert_eq!("auto".parse::<Header>(), Ok(Header::Auto));
        assert!("maybe".parse::<Header>().is_err());
        assert_eq!("first".parse::<LabelColumn>(), Ok(LabelColumn::First));
        assert_eq!("last".parse::<LabelColumn>(), Ok(LabelColumn::Last));
        assert_eq!("auto".parse::<LabelColumn>(), Ok(LabelColumn::Auto));
        assert_eq!("3".parse::<LabelColumn>(), Ok(LabelColumn::Position(3)));
        assert!("0".parse::<LabelColumn>().is_err());
        assert_eq!(
            "species".parse::<LabelColumn>(),
            Ok(LabelColumn::Name("species".into()))
        );
        assert_eq!(LabelColumn::Position(2).to_string(), "2");
    }

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
    fn bom_line_ends_blank_lines_quotes() {
        let d = parse("\u{feff}label,a,b\r\n\r\n1,2,3\r\n\n0, 4 ,\"5\"\r").unwrap();
        assert_eq!(d.feature_names().unwrap(), ["a", "b"]);
        assert_eq!(all_values(&d), [2.0, 3.0, 4.0, 5.0]);
        assert_eq!(d.labels(), [1, 0]);
        let d = parse("label,a\r1,2\r0,3\r").unwrap();
        assert_eq!(all_values(&d), [2.0, 3.0]);
        let d = parse("x,name\n1,\"a, b\"\n2,\"say \"\"hi\"\"\"\n").unwrap_err();
        assert!(d.to_string().contains("\"a, b\""), "{d}");
        let d = parse_with(
            "x,name\n1,\"a, b\"\n2,\"say \"\"hi\"\"\"\n",
            &with_label(LabelColumn::Last),
        )
        .unwrap();
        assert_eq!(d.classes().names(), ["a, b", "say \"hi\""]);
    }

    #[test]
    fn line_numbers_count_blank_lines() {
        let e = err("a,b\n\n1,2\n\n\n3,x\n");
        assert!(
            e.starts_with("t.csv: line 6, column 2 (b): \"x\" is not a number"),
            "{e}"
        );
        let e = err("a,b\r\n\r\n1,2\r\n3\r\n");
        assert!(
            e.starts_with("t.csv: line 4 has 1 fields, expected 2"),
            "{e}"
        );
        let e = err("a,b\r1,2\r3,4,5\r");
        assert!(
            e.starts_with("t.csv: line 3 has 3 fields, expected 2 (as the header on line 1)"),
            "{e}"
        );
    }

    #[test]
    fn gzipped_csv() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"y;f\n1;0.5\n").unwrap();
        let bytes = enc.finish().unwrap();
        let d = parse_csv(&bytes[..], Path::new("t.csv.gz"), &DataOptions::default()).unwrap();
        assert_eq!((d.len(), all_values(&d)), (1, vec![0.5]));
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

    #[test]
    fn value_errors_name_line_column_and_cell() {
        assert_eq!(
            err("label,a,b\n1,2,3\n0,,4\n"),
            "t.csv: line 3, column 2 (a): \"\" is empty: every feature needs a value"
        );
        assert!(err("label,a\n1,nan\n")
            .contains("line 2, column 2 (a): \"nan\" is not a finite number"));
        assert!(err("label,a\n1,1e39\n").contains("\"1e39\" is not a finite number"));
        let long = "x".repeat(40);
        let e = err(&format!("label,a\n1,{long}\n"));
        assert!(
            e.contains(&format!("\"{}…\" is not a number", "x".repeat(32))),
            "{e}"
        );
        assert!(e.contains("labels are taken from column 1 (label)"), "{e}");
        let e = parse_with("y;a\n1;1,5\n", &DataOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("decimal commas"), "{e}");
        assert_eq!(
            err("label,a\n,2\n"),
            "t.csv: line 2, column 1 (label): the label is empty; give every sample a label"
        );
    }

    #[test]
    fn numbers_of_every_form() {
        let d = parse("y,a,b,c,d,e\n0, 1 ,-2.5,+3,1e-3,.5\n").unwrap();
        assert_eq!(all_values(&d), [1.0, -2.5, 3.0, 1e-3, 0.5]);
        assert_eq!(d.encoding(), Encoding::Values);
    }

    #[test]
    fn structure_errors() {
        assert_eq!(
            err(""),
            "t.csv: file is empty; pass a file that holds samples"
        );
        assert!(err("\n\n  \n").contains("file is empty"));
        assert_eq!(
            err("label,a\n\n"),
            "t.csv: no data rows (only a header or blank lines); pass a file that holds samples"
        );
        assert!(err("1\n2\n").contains("line 1 has 1 field(s) with delimiter ','"));
        let e = err("1,2,3\n1,2\n");
        assert_eq!(
            e,
            "t.csv: line 2 has 2 fields, expected 3 (as the first row on line 1); every line \
             needs the same columns; quote cells that contain the delimiter"
        );
        // An unclosed quote runs to the end of the file.
        let e = err("a,b\n1,\"2\n3,4\n");
        assert!(
            e.contains("column 2 (b): \"2\\n3,4\" is not a number"),
            "{e}"
        );
        // Line numbers after a quoted cell spanning lines.
        let e = parse_with(
            "a,b\nx,\"1\r\n2\"\r\ny,z\r\n",
            &with_label(LabelColumn::First),
        );
        assert!(e.unwrap_err().to_string().contains("line 2, column 2 (b)"));
        let e = parse_with("a,b\nx,1\ny,\"\n\nz\"", &with_label(LabelColumn::First));
        assert!(e.unwrap_err().to_string().contains("line 3, column 2 (b)"));
    }

    #[test]
    fn labels_numeric_text_and_known() {
        let d = parse("3,1\n0,2\n").unwrap();
        assert!(d.classes().is_numeric());
        assert_eq!((d.classes().len(), d.labels()), (4, &[3u16, 0][..]));
        let d = parse("b,1\na,2\n-1,3\n").unwrap();
        assert_eq!(d.classes().names(), ["-1", "a", "b"]);
        let known = Classes::new(vec!["b".into(), "a".into()]);
        let options = DataOptions {
            classes: Some(known.clone()),
            ..DataOptions::default()
        };
        let d = parse_with("a,1\nb,2\n", &options).unwrap();
        assert_eq!((d.labels(), d.classes()), (&[1u16, 0][..], &known));
        let e = parse_with("a,1\nc,2\n", &options).unwrap_err().to_string();
        assert!(
            e.starts_with("t.csv: line 2: label \"c\" is not one of the 2 known classes (b, a)"),
            "{e}"
        );
        let e = err("70000,1\n");
        assert!(e.contains("line 1: label 70000 needs 70001 classes"), "{e}");
    }

    #[test]
    fn mnist_layout_is_pixels() {
        let row = |label: u8, p: u8| {
            let mut s = label.to_string();
            for i in 0..784 {
                s.push_str(&format!(",{}", (usize::from(p) + i) % 256));
            }
            s.push('\n');
            s
        };
        let d = parse(&(row(7, 0) + &row(2, 100))).unwrap();
        assert_eq!(d.encoding(), Encoding::Pixels);
        assert_eq!(d.shape().image, Some((28, 28)));
        assert_eq!(d.pixels(1).unwrap()[..3], [100, 101, 102]);
        // One value out of range: all values.
        let mut text = row(7, 0) + &row(2, 100);
        text.push_str(&row(1, 0).replacen(",0,", ",256,", 1));
        let d = parse(&text).unwrap();
        assert_eq!(d.encoding(), Encoding::Values);
        assert_eq!(d.values(1).unwrap()[..3], [100.0, 101.0, 102.0]);
        assert_eq!(d.values(2).unwrap()[0], 256.0);
        // 64 whole-number features: values.
        assert_eq!(parse("1,2,3\n").unwrap().encoding(), Encoding::Values);
    }
}
