//! A CSV file without a label column, read as `train` reads a labelled one:
//! [`AppendColumn`] streams the file with a constant last column `0` added
//! to every non-blank record, so that header detection, the MNIST layout
//! and every error message (columns keep their positions) stay those of
//! the one CSV reader. Memory holds one record at a time, never the file's
//! text, whatever its size (the samples themselves are bounded by
//! `--max-data-mb` as for any data file).

use std::cell::RefCell;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::rc::Rc;

/// The first non-blank line of a stream (without its line end), a UTF-8
/// byte-order mark removed; at most `most` bytes are read for it.
pub(super) fn first_line(reader: impl Read, most: u64) -> io::Result<Vec<u8>> {
    let mut lines = BufReader::new(reader.take(most)).split(b'\n');
    let mut first = true;
    while let Some(line) = lines.next().transpose()? {
        let mut line = line;
        if std::mem::take(&mut first) && line.starts_with(b"\xef\xbb\xbf") {
            line.drain(..3);
        }
        if let Some(content) = line
            .split(|&b| b == b'\r')
            .find(|l| !l.trim_ascii().is_empty())
        {
            return Ok(content.to_vec());
        }
    }
    Ok(Vec::new())
}

/// The records of `R` (CSV with `delimiter`), each with a last field `0`,
/// as CSV text; blank records are left out. A syntax error of the input is
/// an I/O error naming its line.
pub(super) struct AppendColumn<R: Read> {
    records: csv::Reader<R>,
    record: csv::ByteRecord,
    writer: csv::Writer<Shared>,
    written: Shared,
    served: usize,
}

/// The buffer the CSV writer writes into and [`AppendColumn`] serves from.
#[derive(Clone, Default)]
struct Shared(Rc<RefCell<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<R: Read> AppendColumn<R> {
    /// Reads `reader` as CSV with `delimiter` (the CSV reader downstream
    /// removes a leading byte-order mark, should one still be there).
    pub(super) fn new(reader: R, delimiter: u8) -> Self {
        let written = Shared::default();
        Self {
            records: csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .delimiter(delimiter)
                .from_reader(reader),
            record: csv::ByteRecord::new(),
            writer: csv::WriterBuilder::new()
                .delimiter(delimiter)
                .flexible(true)
                .from_writer(written.clone()),
            written,
            served: 0,
        }
    }

    /// Writes the next non-blank record with its `0`; false at the end.
    fn next_record(&mut self) -> io::Result<bool> {
        loop {
            let more = self
                .records
                .read_byte_record(&mut self.record)
                .map_err(|e| {
                    let line = e.position().map_or(0, |p| p.line());
                    io::Error::other(format!("line {line}: {:?}", e.kind()))
                })?;
            if !more {
                return Ok(false);
            }
            let blank =
                self.record.len() <= 1 && self.record.iter().all(|c| c.trim_ascii().is_empty());
            if !blank {
                self.record.push_field(b"0");
                self.writer.write_byte_record(&self.record)?;
                self.writer.flush()?;
                return Ok(true);
            }
        }
    }
}

impl<R: Read> Read for AppendColumn<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            {
                let written = self.written.0.borrow();
                if self.served < written.len() {
                    let n = buf.len().min(written.len() - self.served);
                    buf[..n].copy_from_slice(&written[self.served..self.served + n]);
                    self.served += n;
                    return Ok(n);
                }
            }
            self.written.0.borrow_mut().clear();
            self.served = 0;
            if !self.next_record()? {
                return Ok(0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn appended(text: &str, delimiter: u8) -> String {
        let mut out = String::new();
        AppendColumn::new(text.as_bytes(), delimiter)
            .read_to_string(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn every_non_blank_record_gets_a_last_zero() {
        assert_eq!(
            appended("a,b\n1,2\n\n3.5,4\n", b','),
            "a,b,0\n1,2,0\n3.5,4,0\n"
        );
        assert_eq!(appended("x;y\r\n1;2\r\n", b';'), "x;y;0\n1;2;0\n");
        // Quoted fields stay one field, line breaks inside them included.
        assert_eq!(
            appended("\"a,b\",\"c\nd\"\n1,2\n", b','),
            "\"a,b\",\"c\nd\",0\n1,2,0\n"
        );
        assert_eq!(appended("", b','), "");
    }

    #[test]
    fn a_large_stream_is_served_in_small_reads() {
        let text: String = (0..10_000).map(|i| format!("{i},{}\n", i * 2)).collect();
        let mut reader = AppendColumn::new(text.as_bytes(), b',');
        let (mut out, mut chunk) = (Vec::new(), [0u8; 7]);
        loop {
            let n = reader.read(&mut chunk).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&chunk[..n]);
        }
        let expected: String = (0..10_000).map(|i| format!("{i},{},0\n", i * 2)).collect();
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn the_first_line_skips_blank_lines_and_the_byte_order_mark() {
        assert_eq!(
            first_line(&b"\xef\xbb\xbfa,b\n1,2\n"[..], 100).unwrap(),
            b"a,b"
        );
        assert_eq!(first_line(&b"\n  \r\n1;2\r\n"[..], 100).unwrap(), b"1;2");
        assert_eq!(first_line(&b"\r\r1\t2\r3\t4"[..], 100).unwrap(), b"1\t2");
        assert_eq!(first_line(&b"abcdef"[..], 3).unwrap(), b"abc");
        assert!(first_line(&b"\n\n"[..], 100).unwrap().is_empty());
    }
}
