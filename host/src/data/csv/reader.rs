//! The row reader: records of a CSV stream with the line each starts on.
//!
//! It reads the leading blank lines and the first non-empty one itself (a
//! UTF-8 byte order mark removed) to detect the delimiter, then hands them
//! and the rest to the `csv` crate with line ends made uniform, so that line
//! numbers count CRLF, LF and CR alike. Blank lines are skipped.

use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;

use super::super::error::DataError;
use super::super::source::{io_error, Source};
use super::detect::detect_delimiter;

/// A record of the file and the line it starts on.
pub(super) struct Row<'r> {
    /// 1-based line of the record's first field.
    pub(super) line: usize,
    /// The fields, raw.
    pub(super) record: &'r csv::ByteRecord,
}

/// What the `csv` crate reads: the head read for detection, then the rest.
type Stream<'a> = Normalize<io::Chain<io::Cursor<Vec<u8>>, BufReader<Source<'a>>>>;

/// The non-blank records of a CSV stream, in order.
pub(super) struct Rows<'a> {
    reader: csv::Reader<Stream<'a>>,
    record: csv::ByteRecord,
    path: PathBuf,
    gzipped: bool,
    delimiter: u8,
}

impl<'a> Rows<'a> {
    /// Reads up to the first non-empty line and decides the delimiter (the
    /// one given, else detected from that line); an empty stream is
    /// [`DataError::Empty`].
    pub(super) fn open(src: Source<'a>, delimiter: Option<u8>) -> Result<Self, DataError> {
        let path = src.path().to_path_buf();
        let gzipped = src.gzipped();
        let mut buf = BufReader::new(src);
        let head = Head::read(&mut buf).map_err(|e| io_error(&path, gzipped, e))?;
        let Some(first) = head.first else {
            return Err(DataError::Empty { path, gzipped });
        };
        let delimiter = delimiter.unwrap_or_else(|| detect_delimiter(&head.bytes[first..]));
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(Normalize::new(io::Cursor::new(head.bytes).chain(buf)));
        Ok(Self {
            reader,
            record: csv::ByteRecord::new(),
            path,
            gzipped,
            delimiter,
        })
    }

    /// The delimiter in use.
    pub(super) fn delimiter(&self) -> u8 {
        self.delimiter
    }

    /// Whether the stream is gzipped.
    pub(super) fn gzipped(&self) -> bool {
        self.gzipped
    }

    /// The next record that is not a blank (or whitespace-only) line, `None`
    /// at the end.
    pub(super) fn next_row(&mut self) -> Result<Option<Row<'_>>, DataError> {
        loop {
            match self.reader.read_byte_record(&mut self.record) {
                Ok(true) => {}
                Ok(false) => return Ok(None),
                Err(e) => return Err(self.syntax_error(e)),
            }
            let blank =
                self.record.len() <= 1 && self.record.iter().all(|c| c.trim_ascii().is_empty());
            if !blank {
                return Ok(Some(Row {
                    line: self.record_line(),
                    record: &self.record,
                }));
            }
        }
    }

    /// The line the record just read starts on. Every record ends with a
    /// consumed `\n` (see [`Normalize`]): the reader is on the line after the
    /// record's last; step back over the newlines inside quoted cells.
    fn record_line(&self) -> usize {
        let inner_newlines = self
            .record
            .as_slice()
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        (self.reader.position().line() as usize)
            .saturating_sub(1 + inner_newlines)
            .max(1)
    }

    /// A read error ([`DataError::Io`] or [`DataError::Gzip`]) or malformed
    /// CSV ([`DataError::CsvSyntax`]).
    fn syntax_error(&self, e: csv::Error) -> DataError {
        let line = e.position().map_or(0, |p| p.line());
        match e.into_kind() {
            csv::ErrorKind::Io(e) => io_error(&self.path, self.gzipped, e),
            other => DataError::CsvSyntax {
                path: self.path.clone(),
                line,
                message: format!("{other:?}"),
            },
        }
    }
}

/// The leading blank lines and the first non-empty one, read before the
/// delimiter is known.
struct Head {
    /// The lines read, a UTF-8 byte order mark removed.
    bytes: Vec<u8>,
    /// Where the first non-empty line starts in `bytes`; `None` if the
    /// stream holds blank lines only.
    first: Option<usize>,
}

impl Head {
    fn read<B: BufRead>(buf: &mut B) -> io::Result<Self> {
        let mut bytes = Vec::new();
        loop {
            let start = bytes.len();
            if read_line(buf, &mut bytes)? == 0 {
                return Ok(Self { bytes, first: None });
            }
            if start == 0 && bytes.starts_with(b"\xef\xbb\xbf") {
                bytes.drain(..3);
            }
            if !bytes[start..].trim_ascii().is_empty() {
                return Ok(Self {
                    bytes,
                    first: Some(start),
                });
            }
        }
    }
}

/// Longest line [`read_line`] reads (65,536 features of 256 characters).
const MAX_LINE_BYTES: usize = 16 << 20;

/// Reads one line (ending at `\n` or `\r`, inclusive) into `out`; returns the
/// bytes read, 0 at the end; an error for a line over [`MAX_LINE_BYTES`].
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
                if out.len() + n > MAX_LINE_BYTES {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "a line is longer than {} MiB (is this a CSV file?)",
                            MAX_LINE_BYTES >> 20
                        ),
                    ));
                }
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

#[cfg(test)]
mod tests {
    use super::super::super::testing::gzip;
    use super::super::testing::*;
    use super::super::*;

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
        let bytes = gzip(b"y;f\n1;0.5\n");
        let d = parse_csv(&bytes[..], Path::new("t.csv.gz"), &DataOptions::default()).unwrap();
        assert_eq!((d.len(), all_values(&d)), (1, vec![0.5]));
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
}
