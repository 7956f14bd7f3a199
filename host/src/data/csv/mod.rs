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
//!   case), so a data row is never silently dropped (a row whose only text
//!   cell is its label, `5.1,3.5,setosa`, is data).
//! - Label column ([`LabelColumn`]): `auto` is the header cell named
//!   `label`, `class`, `target` or `y` (any case, trimmed), else the only
//!   column whose cell in the first data row is text (class names), else the
//!   first column; a name needs a header; a position is 1-based. A column
//!   taken for being the only text is refused if it holds more than 10
//!   values and more than one for every two rows (names, identifiers or
//!   timestamps are not classes): [`DataError::GuessedLabelColumn`].
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
//! - Memory is bounded by the data present: the text is read in blocks of a
//!   few MiB, each parsed in pieces on rayon's threads; the samples, classes
//!   and errors are those of reading row after row. A line or a record (a
//!   quoted cell may span lines) over 16 MiB is an error naming its line.
//!
//! | file | concept |
//! |---|---|
//! | `options` | [`Header`], [`LabelColumn`]: what the user chose |
//! | `reader` | the text in blocks: gzip, byte order mark, line ends, line numbers |
//! | `records` | the records of a stretch of text (`csv_core`): quoted cells, blank lines, where it ended |
//! | `detect` | the delimiter, the header and the label column, decided from the first rows |
//! | `fields` | a cell as a number or text; messages naming the line, the column and the cell |
//! | `samples` | rows to labels and features (pixels in the MNIST layout), pieces of a block in parallel, then the [`Dataset`] |

mod detect;
mod fields;
mod options;
mod reader;
mod records;
mod samples;

use std::io::Read;
use std::path::Path;

use super::dataset::Dataset;
use super::error::DataError;
use super::load::DataOptions;
use super::source::{open_file, Source};
use detect::Layout;
use reader::{Blocks, Sizes};
use records::{End, Next, Place, Record, Records};
use samples::Samples;

pub use options::{Header, LabelColumn};

/// Loads the CSV file at `path` (gzipped or not) with `options`.
pub fn read_csv(path: &Path, options: &DataOptions) -> Result<Dataset, DataError> {
    parse_csv(open_file(path)?, path, options)
}

/// Parses CSV from any reader, raw or gzipped, with `options` (its `format`
/// is ignored). `name` is used in messages and as the data set's name.
pub fn parse_csv<R: Read>(
    reader: R,
    name: &Path,
    options: &DataOptions,
) -> Result<Dataset, DataError> {
    let sizes = Sizes::for_threads(rayon::current_num_threads());
    parse_in(reader, name, options, sizes)
}

/// [`parse_csv`] with the text cut as `sizes` says.
fn parse_in<R: Read>(
    reader: R,
    name: &Path,
    options: &DataOptions,
    sizes: Sizes,
) -> Result<Dataset, DataError> {
    let source = Source::new(reader, name)?;
    let mut blocks = Blocks::open(source, options.delimiter, sizes.block)?;
    let (delimiter, gzipped) = (blocks.delimiter(), blocks.gzipped());
    let mut samples: Option<Samples<'_>> = None;
    while let Some(block) = blocks.next()? {
        let start = Place {
            offset: 0,
            line: block.line,
        };
        let end = match &mut samples {
            Some(samples) => samples.read_block(&block, start)?,
            None => {
                let mut records = Records::new(&block.text, block.line, delimiter, block.eof);
                let mut peek = Records::new(&block.text, block.line, delimiter, block.eof);
                match records.next() {
                    Next::Record(row) => {
                        let next = match second_record(&mut peek, block.eof) {
                            Ok(next) => next,
                            Err(more) => {
                                blocks.unread(&block, more);
                                continue;
                            }
                        };
                        let rows = (&row, next.as_ref());
                        let layout = Layout::of_first_rows(name, options, rows, delimiter)?;
                        let first = Samples::new(name, layout, (delimiter, sizes));
                        let first = samples.insert(first);
                        if first.layout().header.is_none() {
                            first.push(&row)?;
                        }
                        first.read_block(&block, records.place())?
                    }
                    Next::Done(end) => end,
                }
            }
        };
        if let End::Open(at) = end {
            blocks.unread(&block, at);
        }
    }
    match samples {
        Some(samples) => samples.into_dataset(options.classes.as_ref()),
        // Only blank lines after all (e.g. a whitespace-only first line).
        None => Err(DataError::Empty {
            path: name.to_path_buf(),
            gzipped,
        }),
    }
}

/// The second record of a block (`peek` reads it from its start), `None`
/// if the file has no other, or where to read the block again with more
/// text after it if the block ends first: the layout is decided from the
/// same rows however the file is cut into blocks.
fn second_record<'r>(peek: &'r mut Records<'_>, eof: bool) -> Result<Option<Record<'r>>, Place> {
    let start = peek.place();
    if !matches!(peek.next(), Next::Record(_)) {
        return Err(start);
    }
    match peek.next() {
        Next::Record(row) => Ok(Some(row)),
        Next::Done(End::Boundary) if eof => Ok(None),
        Next::Done(_) => Err(start),
    }
}

#[cfg(test)]
mod testing {
    //! Parsing text as a CSV file `t.csv`, for the tests of every step.

    use super::super::dataset::Dataset;
    use super::super::error::DataError;
    use super::super::load::DataOptions;
    use super::{parse_csv, LabelColumn};
    use std::path::Path;

    pub(super) fn parse_with(text: &str, options: &DataOptions) -> Result<Dataset, DataError> {
        parse_csv(text.as_bytes(), Path::new("t.csv"), options)
    }

    pub(super) fn parse(text: &str) -> Result<Dataset, DataError> {
        parse_with(text, &DataOptions::default())
    }

    pub(super) fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    pub(super) fn with_label(label_column: LabelColumn) -> DataOptions {
        DataOptions {
            label_column,
            ..DataOptions::default()
        }
    }

    pub(super) fn all_values(d: &Dataset) -> Vec<f32> {
        let mut out = vec![0.0; d.features()];
        let mut all = Vec::new();
        for i in 0..d.len() {
            d.raw_f32(i, &mut out);
            all.extend_from_slice(&out);
        }
        all
    }
}
