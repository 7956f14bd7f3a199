//! MNIST as CSV: one sample per line, `label,p0,p1,…,p783`.
//!
//! - Images are 28x28: every line has exactly 785 fields.
//! - A header line is optional; it is recognised by its first field not
//!   being a number (e.g. `label,1x1,1x2,…`).
//! - Fields are whole numbers; spaces around them and `\r\n` line ends are
//!   accepted, blank lines are skipped. Pixels must be in `0..=255`, labels
//!   below [`NUM_CLASSES`].
//! - The file may be gzipped (detected from its bytes).
//!
//! Memory is bounded by the data actually present: lines are read one at a
//! time, at most [`MAX_LINE`] bytes each.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::dataset::{Dataset, NUM_CLASSES};
use crate::error::DataError;
use crate::idx::{open_file, Source};

/// Image height assumed for CSV files.
pub const ROWS: usize = 28;
/// Image width assumed for CSV files.
pub const COLS: usize = 28;
/// Fields per line: the label and `ROWS * COLS` pixels.
pub const FIELDS: usize = 1 + ROWS * COLS;
/// Longest line accepted, in bytes (a valid line is at most about 3 KB).
pub const MAX_LINE: usize = 64 * 1024;

/// A field parsed as a number, or why not.
enum Field {
    Byte(u8),
    OutOfRange,
    NotANumber,
}

fn parse_field(raw: &[u8]) -> Field {
    let s = raw.trim_ascii();
    let (negative, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Field::NotANumber;
    }
    let value = digits.iter().fold(0u32, |acc, &d| {
        acc.saturating_mul(10).saturating_add(u32::from(d - b'0'))
    });
    match u8::try_from(value) {
        Ok(v) if !negative || v == 0 => Field::Byte(v),
        _ => Field::OutOfRange,
    }
}

fn shown(raw: &[u8]) -> String {
    let s = raw.trim_ascii();
    let cut = s.get(..32).unwrap_or(s);
    let mut text = String::from_utf8_lossy(cut).into_owned();
    if cut.len() < s.len() {
        text.push('…');
    }
    text
}

/// Parses MNIST CSV from any reader, raw or gzipped. `name` is used in error
/// messages only.
pub fn parse_csv<R: Read>(reader: R, name: &Path) -> Result<Dataset, DataError> {
    let src = Source::new(reader, name)?;
    let gzipped = src.gzipped;
    let mut reader = BufReader::new(src);
    let path = || name.to_path_buf();

    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    let mut line = Vec::new();
    let mut line_no = 0usize;
    let mut total_bytes = 0usize;
    let mut seen_content = false;
    loop {
        line.clear();
        let n = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| reader.get_ref().error(e))?;
        if n == 0 {
            break;
        }
        total_bytes += n;
        line_no += 1;
        if line.last() == Some(&b'\n') {
            line.pop();
        } else if line.len() > MAX_LINE {
            return Err(DataError::CsvLineTooLong {
                path: path(),
                line: line_no,
                limit: MAX_LINE,
            });
        }
        if line.trim_ascii().is_empty() {
            continue;
        }
        let first_content = !seen_content;
        seen_content = true;
        let mut fields = line.split(|&b| b == b',');
        if first_content {
            let first = fields.clone().next().unwrap_or_default();
            if matches!(parse_field(first), Field::NotANumber) {
                continue; // header
            }
        }
        let found = fields.clone().count();
        if found != FIELDS {
            return Err(DataError::CsvFieldCount {
                path: path(),
                line: line_no,
                expected: FIELDS,
                found,
            });
        }
        for (i, raw) in fields.by_ref().enumerate() {
            let value = match parse_field(raw) {
                Field::Byte(v) => v,
                bad => {
                    return Err(DataError::CsvValue {
                        path: path(),
                        line: line_no,
                        column: i + 1,
                        value: shown(raw),
                        problem: match bad {
                            Field::OutOfRange => "is outside 0..=255",
                            _ => "is not a whole number",
                        },
                    })
                }
            };
            if i == 0 {
                if usize::from(value) >= NUM_CLASSES {
                    return Err(DataError::CsvLabelOutOfRange {
                        path: path(),
                        line: line_no,
                        label: value,
                    });
                }
                labels.push(value);
            } else {
                pixels.push(value);
            }
        }
    }
    if total_bytes == 0 {
        return Err(DataError::Empty {
            path: path(),
            gzipped,
        });
    }
    if labels.is_empty() {
        return Err(DataError::NoData { path: path() });
    }
    Dataset::new(ROWS, COLS, pixels, labels)
}

/// Loads an MNIST CSV file (`label,p0,…,p783`, header optional, gzipped or
/// not).
pub fn load_csv(path: &Path) -> Result<Dataset, DataError> {
    parse_csv(open_file(path)?, path)
}
