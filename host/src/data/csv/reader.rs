//! The text reader: the file in blocks that end after a newline, with the
//! line each starts on.
//!
//! It reads the leading blank lines and the first non-empty one itself (a
//! UTF-8 byte order mark removed) to detect the delimiter, then hands out
//! them and the rest in blocks (of [`Sizes::block`] bytes), with line ends made
//! uniform (CRLF and CR become LF) so that lines count alike. A block is cut
//! after a newline; whether that newline ends a record (it may sit in a
//! quoted cell) is for `records` to tell, and a record that runs past a
//! block is handed back ([`Blocks::unread`]) to start the next one.

use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;

use super::super::error::DataError;
use super::super::source::{io_error, Source};
use super::detect::detect_delimiter;
use super::records::{count_newlines, Place};

/// How the text is cut: blocks read at a time, pieces of a block parsed at
/// once (the results do not depend on it).
#[derive(Clone, Copy, Debug)]
pub(super) struct Sizes {
    /// Bytes of text per block (more if a record is longer).
    pub(super) block: usize,
    /// Fewest bytes of a piece, unless it is a block's last.
    pub(super) piece: usize,
}

impl Sizes {
    /// For `threads` threads: pieces of at least 64 KiB, up to four per
    /// thread, in blocks of at least 1 MiB — enough to keep every thread
    /// busy, little next to the samples.
    pub(super) fn for_threads(threads: usize) -> Self {
        let piece = 64 << 10;
        Self {
            block: (8 * piece * threads.max(1)).max(1 << 20),
            piece,
        }
    }
}

/// A stretch of the file's text that ends after a newline, or at the end.
pub(super) struct Block {
    pub(super) text: Vec<u8>,
    /// Line of the block's first byte.
    pub(super) line: usize,
    /// Whether the block ends the file.
    pub(super) eof: bool,
}

/// What the blocks are read from: the head read for detection, then the
/// rest, line ends made uniform.
type Stream<'a> = Normalize<io::Chain<io::Cursor<Vec<u8>>, BufReader<Source<'a>>>>;

/// The file's text in [`Block`]s, in order.
pub(super) struct Blocks<'a> {
    stream: Stream<'a>,
    /// Text read past the last block's last newline, or handed back.
    pending: Vec<u8>,
    /// Line of `pending`'s first byte.
    line: usize,
    /// Whether `stream` is at its end.
    done: bool,
    block_bytes: usize,
    path: PathBuf,
    gzipped: bool,
    delimiter: u8,
}

impl<'a> Blocks<'a> {
    /// Reads up to the first non-empty line and decides the delimiter (the
    /// one given, else detected from that line); an empty stream is
    /// [`DataError::Empty`].
    pub(super) fn open(
        src: Source<'a>,
        delimiter: Option<u8>,
        block_bytes: usize,
    ) -> Result<Self, DataError> {
        let path = src.path().to_path_buf();
        let gzipped = src.gzipped();
        let mut buf = BufReader::new(src);
        let head = Head::read(&mut buf).map_err(|e| io_error(&path, gzipped, e))?;
        let Some(first) = head.first else {
            return Err(DataError::Empty { path, gzipped });
        };
        let delimiter = delimiter.unwrap_or_else(|| detect_delimiter(&head.bytes[first..]));
        Ok(Self {
            stream: Normalize::new(io::Cursor::new(head.bytes).chain(buf)),
            pending: Vec::new(),
            line: 1,
            done: false,
            block_bytes: block_bytes.max(1),
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

    /// The next block, `None` at the end: what was handed back, then at
    /// least a block's bytes (and twice what was handed back, so that a
    /// record longer than a block is read in linear time), up to and
    /// including the last newline.
    pub(super) fn next(&mut self) -> Result<Option<Block>, DataError> {
        if self.done && self.pending.is_empty() {
            return Ok(None);
        }
        let mut text = std::mem::take(&mut self.pending);
        let (carried, line) = (text.len(), self.line);
        if carried > MAX_LINE_BYTES {
            // Handed back again and again: one record of all that text.
            return Err(DataError::CsvSyntax {
                path: self.path.clone(),
                line: line as u64,
                message: format!(
                    "a record runs on for more than {} MiB from here; is a quote (\") left open?",
                    MAX_LINE_BYTES >> 20
                ),
            });
        }
        // Past the longest record a record handed back is refused (above).
        let want = self
            .block_bytes
            .max(2 * carried)
            .min(MAX_LINE_BYTES + 1 + self.block_bytes);
        let cut = loop {
            if !self.done && text.len() < want {
                self.fill(&mut text, want)?;
                continue;
            }
            let fresh = &text[carried..];
            match fresh.iter().rposition(|&b| b == b'\n') {
                _ if self.done => break text.len(),
                Some(i) => break carried + i + 1,
                None if text.len() - carried > MAX_LINE_BYTES => {
                    let e = long_line();
                    return Err(io_error(&self.path, self.gzipped, e));
                }
                None => {
                    let want = text.len() + self.block_bytes;
                    self.fill(&mut text, want)?;
                }
            }
        };
        self.pending = text.split_off(cut);
        self.line = line + count_newlines(&text);
        Ok(Some(Block {
            text,
            line,
            eof: self.done && self.pending.is_empty(),
        }))
    }

    /// Hands back the text of a record that ran past its block, which
    /// starts at `at` of `block`: the next block starts with it.
    pub(super) fn unread(&mut self, block: &Block, at: Place) {
        let mut text = block.text[at.offset..].to_vec();
        text.append(&mut self.pending);
        (self.pending, self.line) = (text, at.line);
    }

    /// Reads into `text` until it holds `want` bytes or the stream ends.
    fn fill(&mut self, text: &mut Vec<u8>, want: usize) -> Result<(), DataError> {
        let limit = (want - text.len()) as u64;
        match (&mut self.stream).take(limit).read_to_end(text) {
            Ok(0) => self.done = true,
            Ok(_) => {}
            Err(e) => return Err(io_error(&self.path, self.gzipped, e)),
        }
        Ok(())
    }
}

fn long_line() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "a line is longer than {} MiB (is this a CSV file?)",
            MAX_LINE_BYTES >> 20
        ),
    )
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

/// Longest line (65,536 features of 256 characters), and longest record.
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
                    return Err(long_line());
                }
                out.extend_from_slice(avail);
                r.consume(n);
                total += n;
            }
        }
    }
}

/// Line ends made uniform: CRLF and a lone CR become LF, and a final LF is
/// added if the stream does not end with one, so that every record ends with
/// a counted `\n`.
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
            // Most files have no CR at all: nothing to rewrite.
            if !self.skip_lf && !buf[..n].contains(&b'\r') {
                self.last = Some(buf[n - 1]);
                return Ok(n);
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
        let text = "x,name\n1,\"a, b\"\n2,\"say \"\"hi\"\"\"\n";
        let e = parse_with(text, &with_label(LabelColumn::First)).unwrap_err();
        assert!(e.to_string().contains("\"a, b\""), "{e}");
        for label in [LabelColumn::Last, LabelColumn::Auto] {
            let d = parse_with(text, &with_label(label)).unwrap();
            assert_eq!(d.classes().names(), ["a, b", "say \"hi\""]);
        }
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
    fn a_quote_left_open_is_refused_past_the_longest_record() {
        let mut text = String::from("a,b\n1,2\n3,\"4\n");
        let row = "5,6\n".repeat(1 << 20);
        while text.len() <= super::MAX_LINE_BYTES + (4 << 20) {
            text.push_str(&row);
        }
        let e = err(&text);
        assert!(
            e.starts_with("t.csv: line 3: malformed CSV: a record runs on for more than 16 MiB"),
            "{e}"
        );
        // Shorter, it runs to the end of the file, one cell, as always.
        let e = err("a,b\n1,2\n3,\"4\n5,6\n");
        assert!(
            e.contains("line 3, column 2 (b): \"4\\n5,6\" is not a number"),
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
        let e = parse_with("a,b\n1,\"2\n3,4\n", &with_label(LabelColumn::First));
        let e = e.unwrap_err().to_string();
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
