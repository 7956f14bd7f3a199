//! Opening data files: gzip detection from the bytes, bounded reading, and
//! [`sniff`], which tells what a file looks like.
//!
//! Contract:
//! - Whether a file is gzipped is read from its first two bytes (`1f 8b`),
//!   never from its name; a gzipped file is decompressed transparently
//!   (multi-member streams too).
//! - Read errors name the file; errors of the gzip decoder are reported as
//!   [`DataError::Gzip`] ("corrupt or incomplete gzip stream").
//! - Nothing is allocated by what a header claims: [`Source::read_limited`]
//!   grows its buffer with the bytes actually present.
//! - [`sniff`] reads at most [`SNIFF_BYTES`] (decompressed) bytes and says
//!   whether they look like IDX, text (CSV) or other binary data, so that a
//!   caller can say "this file looks like CSV text, pass --format csv".

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use super::error::DataError;

/// Smallest chunk [`Source::read_limited`] reserves at a time.
const MIN_CHUNK: usize = 64 * 1024;

/// Bytes [`sniff`] looks at (after decompression).
pub const SNIFF_BYTES: usize = 4096;

/// Default of [`max_data_bytes`]: 128 MiB (`--max-data-mb 128`).
pub const DEFAULT_MAX_DATA_BYTES: usize = 128 << 20;

static MAX_DATA_BYTES: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(DEFAULT_MAX_DATA_BYTES);

/// Most bytes the samples (and labels) of one data file may take in memory,
/// for every reader of this process; [`DataError::TooLarge`] beyond. An IDX
/// file is refused from its header, before its payload is read; a CSV file
/// when its values pass the limit. Memory follows this bound, never what a
/// file (or its compression ratio) claims.
pub fn max_data_bytes() -> usize {
    MAX_DATA_BYTES.load(std::sync::atomic::Ordering::Relaxed)
}

/// Sets [`max_data_bytes`] (`host --max-data-mb`).
pub fn set_max_data_bytes(bytes: usize) {
    MAX_DATA_BYTES.store(bytes, std::sync::atomic::Ordering::Relaxed);
}

/// Opens `path` as a file for reading, with errors that name it: missing,
/// a directory, unreadable.
pub fn open_file(path: &Path) -> Result<File, DataError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {
            return Err(DataError::IsDirectory {
                path: path.to_path_buf(),
                hint: "",
            })
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(DataError::NotFound {
                path: path.to_path_buf(),
            })
        }
        Err(error) => {
            return Err(DataError::Io {
                path: path.to_path_buf(),
                error,
            })
        }
    }
    File::open(path).map_err(|error| DataError::Io {
        path: path.to_path_buf(),
        error,
    })
}

/// A byte stream, decompressed if it started with the gzip magic, that wraps
/// its read errors with the file name.
pub struct Source<'a> {
    inner: Box<dyn Read + 'a>,
    /// Whether the underlying bytes are a gzip stream.
    gzipped: bool,
    /// Name used in errors.
    path: PathBuf,
}

impl fmt::Debug for Source<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source")
            .field("path", &self.path)
            .field("gzipped", &self.gzipped)
            .finish_non_exhaustive()
    }
}

impl<'a> Source<'a> {
    /// Sniffs the first two bytes of `reader` and wraps it in a gzip decoder
    /// if they are `1f 8b`. `path` is used in errors only.
    pub fn new<R: Read + 'a>(mut reader: R, path: &Path) -> Result<Self, DataError> {
        let mut magic = [0u8; 2];
        let n = read_up_to(&mut reader, &mut magic).map_err(|error| DataError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        let prefix = io::Cursor::new(magic).take(n as u64);
        let gzipped = n == 2 && magic == [0x1f, 0x8b];
        let chained = prefix.chain(reader);
        let inner: Box<dyn Read + 'a> = if gzipped {
            Box::new(MultiGzDecoder::new(chained))
        } else {
            Box::new(chained)
        };
        Ok(Self {
            inner,
            gzipped,
            path: path.to_path_buf(),
        })
    }

    /// Whether the underlying bytes are a gzip stream.
    pub fn gzipped(&self) -> bool {
        self.gzipped
    }

    /// The name used in errors.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Wraps an io error with the file name (as a gzip error if the stream
    /// is gzipped).
    pub fn error(&self, error: io::Error) -> DataError {
        io_error(&self.path, self.gzipped, error)
    }

    /// Fills `buf` as far as the stream allows; returns the bytes read.
    pub fn read_up_to(&mut self, buf: &mut [u8]) -> Result<usize, DataError> {
        read_up_to(&mut self.inner, buf).map_err(|e| self.error(e))
    }

    /// Reads at most `limit` bytes into a vector that grows with the data
    /// actually present (never reserving more than twice what was read, and
    /// never more than `limit`).
    pub fn read_limited(&mut self, limit: usize) -> Result<Vec<u8>, DataError> {
        let mut buf = Vec::new();
        loop {
            let room = limit - buf.len();
            if room == 0 {
                return Ok(buf);
            }
            let chunk = room.min(buf.len().max(MIN_CHUNK));
            buf.reserve_exact(chunk);
            let n = (&mut self.inner)
                .take(chunk as u64)
                .read_to_end(&mut buf)
                .map_err(|e| self.error(e))?;
            if n < chunk {
                return Ok(buf);
            }
        }
    }
}

impl Read for Source<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

/// An io error of `path` as [`DataError::Gzip`] or [`DataError::Io`].
pub(crate) fn io_error(path: &Path, gzipped: bool, error: io::Error) -> DataError {
    let path = path.to_path_buf();
    if gzipped {
        DataError::Gzip { path, error }
    } else {
        DataError::Io { path, error }
    }
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
pub(crate) fn read_up_to<R: Read + ?Sized>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..) {
        if rest.is_empty() {
            break;
        }
        match reader.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// What a file looks like, from its first bytes (see [`sniff`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sniffed {
    /// An IDX header: `00 00`, a known element type, at least one dimension.
    Idx {
        /// Whether the file is gzipped.
        gzipped: bool,
        /// Number of dimensions the header declares.
        dims: u8,
    },
    /// UTF-8 text without NUL bytes: CSV, as far as the bytes tell.
    CsvText {
        /// Whether the file is gzipped.
        gzipped: bool,
    },
    /// Anything else.
    Binary {
        /// Whether the file is gzipped.
        gzipped: bool,
    },
    /// No bytes at all (after decompression).
    Empty {
        /// Whether the file is gzipped.
        gzipped: bool,
    },
}

impl Sniffed {
    /// Whether the file is gzipped.
    pub fn gzipped(self) -> bool {
        match self {
            Sniffed::Idx { gzipped, .. }
            | Sniffed::CsvText { gzipped }
            | Sniffed::Binary { gzipped }
            | Sniffed::Empty { gzipped } => gzipped,
        }
    }

    /// What the file looks like, for messages: "an IDX file", "gzipped CSV
    /// text", "binary data that is neither IDX nor text", "an empty file".
    pub fn describe(self) -> String {
        let gz = if self.gzipped() { "gzipped " } else { "" };
        match self {
            Sniffed::Idx { dims: 1, .. } => format!("a {gz}IDX labels file (1 dimension)"),
            Sniffed::Idx { dims, .. } => format!("a {gz}IDX file ({dims} dimensions)"),
            Sniffed::CsvText { .. } => format!("{gz}CSV text"),
            Sniffed::Binary { .. } => format!("{gz}binary data that is neither IDX nor text"),
            Sniffed::Empty { .. } => format!("an empty {gz}file"),
        }
    }
}

/// Looks at the first [`SNIFF_BYTES`] bytes of `path` (decompressed if it is
/// gzipped) and tells what they look like.
pub fn sniff(path: &Path) -> Result<Sniffed, DataError> {
    sniff_reader(open_file(path)?, path)
}

/// [`sniff`] for any reader; `path` is used in errors only.
pub fn sniff_reader<R: Read>(reader: R, path: &Path) -> Result<Sniffed, DataError> {
    let mut src = Source::new(reader, path)?;
    let gzipped = src.gzipped();
    let mut buf = vec![0u8; SNIFF_BYTES];
    let n = src.read_up_to(&mut buf)?;
    buf.truncate(n);
    Ok(classify(&buf, gzipped))
}

fn classify(bytes: &[u8], gzipped: bool) -> Sniffed {
    match bytes {
        [] => Sniffed::Empty { gzipped },
        [0, 0, code, dims, ..]
            if super::idx::ElementType::from_code(*code).is_some() && *dims > 0 =>
        {
            Sniffed::Idx {
                gzipped,
                dims: *dims,
            }
        }
        _ if looks_like_text(bytes) => Sniffed::CsvText { gzipped },
        _ => Sniffed::Binary { gzipped },
    }
}

/// UTF-8 (a character cut by the end of the sample is fine), no NUL and no
/// control characters other than tab, CR, LF and form feed.
fn looks_like_text(bytes: &[u8]) -> bool {
    let valid = match std::str::from_utf8(bytes) {
        Ok(s) => s,
        // A multi-byte character cut at the end of the sample.
        Err(e) if e.error_len().is_none() && bytes.len() - e.valid_up_to() < 4 => {
            // valid_up_to is a char boundary of valid UTF-8.
            std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    !valid.is_empty()
        && valid
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\x0c'))
}

#[cfg(test)]
mod tests {
    use super::super::testing::gzip;
    use super::*;

    fn sniffed(bytes: &[u8]) -> Sniffed {
        sniff_reader(bytes, Path::new("t")).unwrap()
    }

    #[test]
    fn gzip_is_detected_from_the_bytes() {
        let bytes = gzip(b"hello");
        let mut src = Source::new(&bytes[..], Path::new("x.csv")).unwrap();
        assert!(src.gzipped());
        let mut s = String::new();
        src.read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello");
        let mut src = Source::new(&b"hello"[..], Path::new("x.gz")).unwrap();
        assert!(!src.gzipped());
        assert_eq!(src.read_limited(100).unwrap(), b"hello");
    }

    #[test]
    fn short_streams_are_kept_whole() {
        for bytes in [&b""[..], b"a", b"\x1f"] {
            let mut src = Source::new(bytes, Path::new("x")).unwrap();
            assert!(!src.gzipped());
            assert_eq!(src.read_limited(10).unwrap(), bytes);
        }
    }

    #[test]
    fn read_limited_stops_at_the_limit() {
        let data = vec![7u8; 200_000];
        let mut src = Source::new(&data[..], Path::new("x")).unwrap();
        assert_eq!(src.read_limited(150_001).unwrap().len(), 150_001);
    }

    #[test]
    fn corrupt_gzip_is_a_gzip_error_naming_the_file() {
        let mut bytes = gzip(&[5u8; 1000]);
        bytes.truncate(bytes.len() / 2);
        let mut src = Source::new(&bytes[..], Path::new("cut.gz")).unwrap();
        let err = src.read_limited(10_000).unwrap_err();
        assert!(matches!(err, DataError::Gzip { .. }), "{err}");
        assert!(err
            .to_string()
            .starts_with("cut.gz: corrupt or incomplete gzip"));
    }

    #[test]
    fn sniff_kinds() {
        let idx = [0u8, 0, 8, 3, 0, 0, 0, 1];
        assert_eq!(
            sniffed(&idx),
            Sniffed::Idx {
                gzipped: false,
                dims: 3
            }
        );
        assert_eq!(
            sniffed(&gzip(&idx)),
            Sniffed::Idx {
                gzipped: true,
                dims: 3
            }
        );
        assert_eq!(sniffed(b"a,b\n1,2\n"), Sniffed::CsvText { gzipped: false });
        assert_eq!(
            sniffed(&gzip("é;ü\r\n1;2".as_bytes())),
            Sniffed::CsvText { gzipped: true }
        );
        assert_eq!(
            sniffed(&[0u8, 0, 0x42, 1]),
            Sniffed::Binary { gzipped: false }
        );
        assert_eq!(
            sniffed(&[0x89, b'P', b'N', b'G']),
            Sniffed::Binary { gzipped: false }
        );
        assert_eq!(sniffed(b""), Sniffed::Empty { gzipped: false });
        assert_eq!(sniffed(&gzip(b"")), Sniffed::Empty { gzipped: true });
        assert_eq!(
            Sniffed::CsvText { gzipped: true }.describe(),
            "gzipped CSV text"
        );
    }

    #[test]
    fn sniff_accepts_a_character_cut_by_the_sample_end() {
        let mut text = "a".repeat(SNIFF_BYTES - 1);
        text.push('é'); // two bytes: the second is past the sample
        assert_eq!(
            sniffed(text.as_bytes()),
            Sniffed::CsvText { gzipped: false }
        );
    }

    #[test]
    fn sniff_names_missing_files() {
        let err = sniff(Path::new("/no/such/file.csv")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/no/such/file.csv: not found; check the path"
        );
    }
}
