//! Records of a stretch of CSV text and the lines they start on, parsed by
//! `csv_core` (the `csv` crate's own parser, with its defaults: `"` quotes,
//! `""` inside quotes for a quote).
//!
//! A stretch either ends where a record ends ([`End::Boundary`]: the text
//! after it starts a record) or inside one ([`End::Open`]: a quoted cell
//! holds a newline past the end) — which is how the reader tells whether a
//! piece of the file cut at a newline really started a record (see
//! `blocks`). Line ends are `\n` only here (the reader made them uniform);
//! blank and whitespace-only lines are skipped, but counted.

use std::ops::Range;

use csv_core::{ReadRecordResult, Reader, ReaderBuilder};

/// A place in the text: a byte offset and the 1-based line there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Place {
    pub(super) offset: usize,
    pub(super) line: usize,
}

/// How a stretch of text ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum End {
    /// Its last record ended with it (or it holds no record).
    Boundary,
    /// A record starting here runs past its end (a quoted cell with a
    /// newline in it, or not closed).
    Open(Place),
}

impl End {
    /// This end of a stretch that starts `by` bytes into the file's text.
    pub(super) fn shifted(self, by: usize) -> End {
        match self {
            End::Boundary => End::Boundary,
            End::Open(at) => End::Open(Place {
                offset: by + at.offset,
                ..at
            }),
        }
    }
}

/// The cells of one record and the line it starts on.
#[derive(Clone, Copy)]
pub(super) struct Record<'r> {
    /// 1-based line of the record's first cell.
    pub(super) line: usize,
    cells: &'r [u8],
    ends: &'r [usize],
}

impl<'r> Record<'r> {
    /// Number of cells.
    pub(super) fn len(&self) -> usize {
        self.ends.len()
    }

    /// The cells, raw (quotes removed).
    pub(super) fn iter(&self) -> impl Iterator<Item = &'r [u8]> + 'r {
        let cells = self.cells;
        self.ranges().map(move |r| &cells[r])
    }

    /// Where each cell is in [`text`](Self::text).
    pub(super) fn ranges(&self) -> impl Iterator<Item = Range<usize>> + 'r {
        self.ends.iter().scan(0, |start, &end| {
            let range = *start..end;
            *start = end;
            Some(range)
        })
    }

    /// Every cell, one after the other, if that is UTF-8 text: then so is
    /// each cell (cells are cut at ASCII delimiters), checked once.
    pub(super) fn text(&self) -> Option<&'r str> {
        std::str::from_utf8(self.cells).ok()
    }
}

/// What [`Records::next`] found.
pub(super) enum Next<'r> {
    Record(Record<'r>),
    Done(End),
}

/// The non-blank records of `text`, in order.
pub(super) struct Records<'t> {
    text: &'t [u8],
    /// Whether `text` ends the file: a last record without its newline
    /// ends there, and so does a quote left open.
    eof: bool,
    /// Where the next record starts.
    at: Place,
    reader: Reader,
    cells: Vec<u8>,
    ends: Vec<usize>,
}

impl<'t> Records<'t> {
    /// The records of `text`, whose first byte is on line `line`.
    pub(super) fn new(text: &'t [u8], line: usize, delimiter: u8, eof: bool) -> Self {
        Self {
            text,
            eof,
            at: Place { offset: 0, line },
            reader: ReaderBuilder::new().delimiter(delimiter).build(),
            // A record's cells are never longer than its text.
            cells: vec![0; text.len()],
            ends: vec![0; 64],
        }
    }

    /// Where the next record starts (after the last one returned).
    pub(super) fn place(&self) -> Place {
        self.at
    }

    /// The next record that is not a blank line, or how the text ended.
    pub(super) fn next(&mut self) -> Next<'_> {
        loop {
            let start = self.at;
            if start.offset == self.text.len() && !self.eof {
                return Next::Done(End::Boundary);
            }
            let Some((cells, ends)) = self.read() else {
                return Next::Done(End::Open(start));
            };
            if cells == 0 && ends == 0 {
                return Next::Done(End::Boundary);
            }
            let read = &self.text[start.offset..self.at.offset];
            let inner = count_newlines(&self.cells[..cells]);
            self.at.line = start.line + count_newlines(read);
            // The line after the record, less its own lines.
            let line = self
                .at
                .line
                .saturating_sub(usize::from(read.ends_with(b"\n")) + inner)
                .max(start.line);
            // A blank or whitespace-only line: one cell of spaces at most.
            let blank = ends <= 1 && self.cells[..cells].trim_ascii().is_empty();
            if !blank {
                return Next::Record(Record {
                    line,
                    cells: &self.cells[..cells],
                    ends: &self.ends[..ends],
                });
            }
        }
    }

    /// Reads one record into `cells` and `ends` from `at`, moving `at` past
    /// it: the bytes of cells and the cell count, `(0, 0)` at the end of the
    /// file, `None` if the text ends inside the record (and is not the end
    /// of the file).
    fn read(&mut self) -> Option<(usize, usize)> {
        let (mut cells, mut ends) = (0, 0);
        loop {
            let input = &self.text[self.at.offset..];
            let (result, read, wrote, ended) =
                self.reader
                    .read_record(input, &mut self.cells[cells..], &mut self.ends[ends..]);
            self.at.offset += read;
            cells += wrote;
            ends += ended;
            match result {
                ReadRecordResult::Record => return Some((cells, ends)),
                ReadRecordResult::End => return Some((0, 0)),
                ReadRecordResult::OutputEndsFull => self.ends.resize(2 * self.ends.len(), 0),
                ReadRecordResult::OutputFull => self.cells.resize(2 * self.cells.len() + 64, 0),
                // The next call, with no input left, tells the reader
                // that the file ends here.
                ReadRecordResult::InputEmpty if self.eof => {}
                ReadRecordResult::InputEmpty => return None,
            }
        }
    }
}

/// Newlines in `bytes` (a loop LLVM vectorises).
pub(super) fn count_newlines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every record (cells as strings, line) and how the text ended.
    fn all(text: &str, eof: bool) -> (Vec<(usize, Vec<String>)>, End) {
        let mut records = Records::new(text.as_bytes(), 1, b',', eof);
        let mut out = Vec::new();
        loop {
            match records.next() {
                Next::Record(r) => out.push((
                    r.line,
                    r.iter()
                        .map(|c| String::from_utf8(c.to_vec()).unwrap())
                        .collect(),
                )),
                Next::Done(end) => return (out, end),
            }
        }
    }

    fn cells(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn records_lines_and_blank_lines() {
        let (records, end) = all("a,b\n\n  \n1,\"2\n3\"\n4,5\n", false);
        assert_eq!(
            records,
            [
                (1, cells(&["a", "b"])),
                (4, cells(&["1", "2\n3"])),
                (6, cells(&["4", "5"])),
            ]
        );
        assert_eq!(end, End::Boundary);
    }

    #[test]
    fn the_end_of_the_file_ends_a_record_and_a_quote() {
        assert_eq!(all("1,2", true).0, [(1, cells(&["1", "2"]))]);
        assert_eq!(all("1,\"2\n3", true).0, [(1, cells(&["1", "2\n3"]))]);
        assert_eq!(all("", true), (vec![], End::Boundary));
        assert_eq!(all("\n\n", true), (vec![], End::Boundary));
    }

    #[test]
    fn a_quoted_newline_past_the_end_leaves_the_record_open() {
        let (records, end) = all("1,2\n\n3,\"4\n", false);
        assert_eq!(records, [(1, cells(&["1", "2"]))]);
        assert_eq!(end, End::Open(Place { offset: 4, line: 2 }));
        // Without its newline, the last line is open too.
        let (_, end) = all("1,2\n3,4", false);
        assert_eq!(end, End::Open(Place { offset: 4, line: 2 }));
    }

    #[test]
    fn records_wider_than_the_first_buffers() {
        let wide: Vec<String> = (0..300).map(|i| i.to_string()).collect();
        let text = format!("{}\n", wide.join(","));
        assert_eq!(all(&text, false).0, [(1, wide)]);
    }
}
