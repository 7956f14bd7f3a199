//! Rows to samples: each row's label and features, kept as pixels while they
//! fit the MNIST layout, then the [`Dataset`].
//!
//! A block of the file is cut at newlines into pieces that are parsed at once
//! on rayon's threads ([`Piece`]), then added in order ([`Samples::append`]),
//! so the samples, the classes and the first error are what reading row after
//! row gives. A piece that does not end where a record ends (a quoted cell
//! holding a newline runs past it) makes the pieces after it wrong: they are
//! dropped, that record is read on its own, and the rest of the block is cut
//! again.

use std::path::Path;

use rayon::prelude::*;

use super::super::classes::{Classes, LabelSet};
use super::super::dataset::{Dataset, Shape};
use super::super::error::DataError;
use super::detect::{plausible_classes, Layout};
use super::fields::{column_name, parse_number, parse_value, text, value_error};
use super::reader::{Block, Sizes};
use super::records::{count_newlines, End, Next, Place, Record, Records};

/// Features of the MNIST CSV layout (`label,p0,…,p783`).
const MNIST_FEATURES: usize = 28 * 28;

/// Feature values, kept as bytes while they fit the MNIST layout.
enum Features {
    Bytes(Vec<u8>),
    Floats(Vec<f32>),
}

impl Features {
    fn push(&mut self, v: f32) {
        match self {
            Features::Bytes(b) => {
                if v.fract() == 0.0 && (0.0..=255.0).contains(&v) {
                    // Whole and in range: exact.
                    b.push(v as u8);
                } else {
                    let mut floats: Vec<f32> = b.iter().map(|&p| f32::from(p)).collect();
                    floats.push(v);
                    *self = Features::Floats(floats);
                }
            }
            Features::Floats(f) => f.push(v),
        }
    }

    fn len(&self) -> usize {
        match self {
            Features::Bytes(b) => b.len(),
            Features::Floats(f) => f.len(),
        }
    }

    fn truncate(&mut self, n: usize) {
        match self {
            Features::Bytes(b) => b.truncate(n),
            Features::Floats(f) => f.truncate(n),
        }
    }

    /// `more` after these, as bytes while both are.
    fn append(&mut self, more: Features) {
        match (&mut *self, more) {
            (Features::Bytes(all), Features::Bytes(more)) => all.extend(more),
            (Features::Floats(all), Features::Bytes(more)) => {
                all.extend(more.into_iter().map(f32::from));
            }
            (Features::Floats(all), Features::Floats(more)) => all.extend(more),
            (Features::Bytes(all), Features::Floats(more)) => {
                let mut floats: Vec<f32> = all.iter().map(|&p| f32::from(p)).collect();
                floats.extend(more);
                *self = Features::Floats(floats);
            }
        }
    }
}

/// What every row is read by: the file, its layout and delimiter.
struct Rules<'p> {
    path: &'p Path,
    layout: Layout,
    delimiter: u8,
}

/// The samples of some rows, read apart from the others.
struct Piece {
    features: Features,
    /// The first row (of this piece) from which the features are not pixels.
    floats_from: Option<usize>,
    labels: Vec<String>,
    /// The line of every row.
    lines: Vec<usize>,
    /// The first error; no row after it was read.
    error: Option<DataError>,
    /// How the piece's text ended (`End::Open` at a place in the file).
    end: End,
}

impl Piece {
    fn new(rules: &Rules<'_>) -> Self {
        let features = if rules.layout.columns - 1 == MNIST_FEATURES {
            Features::Bytes(Vec::new())
        } else {
            Features::Floats(Vec::new())
        };
        Self {
            features,
            floats_from: None,
            labels: Vec::new(),
            lines: Vec::new(),
            error: None,
            end: End::Boundary,
        }
    }

    /// Reads the rows of `text`, which starts at `at` of the file, up to
    /// its end or the first error.
    fn read(rules: &Rules<'_>, text: &[u8], at: Place, eof: bool) -> Self {
        let mut piece = Self::new(rules);
        let mut records = Records::new(text, at.line, rules.delimiter, eof);
        loop {
            match records.next() {
                Next::Record(row) => {
                    if let Err(e) = piece.push(rules, &row) {
                        piece.error = Some(e);
                        return piece;
                    }
                }
                Next::Done(end) => {
                    piece.end = end.shifted(at.offset);
                    return piece;
                }
            }
        }
    }

    /// Adds a data row: its label and its features, all or none.
    fn push(&mut self, rules: &Rules<'_>, row: &Record<'_>) -> Result<(), DataError> {
        let rows = self.lines.len();
        let pixels = matches!(self.features, Features::Bytes(_));
        if let Err(e) = self.push_cells(rules, row) {
            self.features.truncate(rows * (rules.layout.columns - 1));
            self.labels.truncate(rows);
            return Err(e);
        }
        if pixels && matches!(self.features, Features::Floats(_)) {
            self.floats_from = Some(rows);
        }
        self.lines.push(row.line);
        Ok(())
    }

    fn push_cells(&mut self, rules: &Rules<'_>, row: &Record<'_>) -> Result<(), DataError> {
        let layout = &rules.layout;
        check_field_count(rules, row)?;
        let text = row.text();
        for (i, (cell, range)) in row.iter().zip(row.ranges()).enumerate() {
            if i == layout.label {
                self.labels.push(label(rules, row.line, i, cell)?);
                continue;
            }
            let value = match text {
                Some(text) => parse_number(&text[range]),
                None => parse_value(cell),
            };
            match value {
                Ok(v) => self.features.push(v),
                Err(problem) => {
                    let (path, delimiter) = (rules.path, rules.delimiter);
                    return Err(value_error(
                        path, layout, row.line, i, cell, problem, delimiter,
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Every line has as many fields as the first row.
fn check_field_count(rules: &Rules<'_>, row: &Record<'_>) -> Result<(), DataError> {
    let found = row.len();
    if found == rules.layout.columns {
        return Ok(());
    }
    Err(DataError::CsvFieldCount {
        path: rules.path.to_path_buf(),
        line: row.line,
        expected: rules.layout.columns,
        found,
        first: rules.layout.first_row(),
        hint: if found == 1 {
            "is the delimiter right? (pass --delimiter)"
        } else {
            "every line needs the same columns; quote cells that contain the delimiter"
        },
    })
}

/// The label cell (`column` is 0-based), trimmed; an empty one is an error.
fn label(rules: &Rules<'_>, line: usize, column: usize, cell: &[u8]) -> Result<String, DataError> {
    let label = text(cell);
    if label.is_empty() {
        return Err(DataError::CsvEmptyLabel {
            path: rules.path.to_path_buf(),
            line,
            column: column_name(column, rules.layout.header.as_deref()),
        });
    }
    Ok(label)
}

/// The samples of a CSV file as its rows are read.
pub(super) struct Samples<'p> {
    rules: Rules<'p>,
    /// Fewest bytes of a piece.
    piece_bytes: usize,
    features: Features,
    labels: LabelSet,
}

impl<'p> Samples<'p> {
    /// No samples yet, for rows of `layout`.
    pub(super) fn new(path: &'p Path, layout: Layout, (delimiter, sizes): (u8, Sizes)) -> Self {
        let rules = Rules {
            path,
            layout,
            delimiter,
        };
        Self {
            features: Piece::new(&rules).features,
            rules,
            piece_bytes: sizes.piece,
            labels: LabelSet::new(),
        }
    }

    /// What the first row decided.
    pub(super) fn layout(&self) -> &Layout {
        &self.rules.layout
    }

    /// Adds the sample of a data row: its label and its features.
    pub(super) fn push(&mut self, row: &Record<'_>) -> Result<(), DataError> {
        let mut piece = Piece::new(&self.rules);
        piece.push(&self.rules, row)?;
        self.append(piece).map(|_| ())
    }

    /// Adds the rows of `block` from `from` on; how the block ended (a
    /// record that runs past it is `End::Open`, to be read with the next).
    pub(super) fn read_block(&mut self, block: &Block, mut from: Place) -> Result<End, DataError> {
        loop {
            let threads = rayon::current_num_threads();
            let pieces = cut(&block.text, from, (threads, self.piece_bytes));
            let last = pieces.len().saturating_sub(1);
            let rules = &self.rules;
            let read: Vec<Piece> = pieces
                .par_iter()
                .enumerate()
                .map(|(i, p)| {
                    let text = &block.text[p.offset..p.end];
                    Piece::read(rules, text, p.start(), block.eof && i == last)
                })
                .collect();
            let mut open = None;
            for piece in read {
                if let End::Open(at) = self.append(piece)? {
                    open = Some(at);
                    break;
                }
            }
            let Some(at) = open else {
                return Ok(End::Boundary);
            };
            // The record at `at` runs past its piece: on its own, to the
            // end of the block if need be; the pieces after it start again.
            let text = &block.text[at.offset..];
            let mut records = Records::new(text, at.line, self.rules.delimiter, block.eof);
            match records.next() {
                Next::Record(row) => self.push(&row)?,
                Next::Done(end) => return Ok(end.shifted(at.offset)),
            }
            let after = records.place();
            from = Place {
                offset: at.offset + after.offset,
                line: after.line,
            };
        }
    }

    /// Adds the rows of `piece` after the others, checking the memory
    /// limit row by row; then its error, or how it ended.
    fn append(&mut self, mut piece: Piece) -> Result<End, DataError> {
        let limit = super::super::source::max_data_bytes();
        let features = self.rules.layout.columns - 1;
        let floats = matches!(self.features, Features::Floats(_));
        for (row, (label, &line)) in piece.labels.iter().zip(&piece.lines).enumerate() {
            self.labels.push(label, line);
            let samples = self.labels.len();
            let width = if floats || piece.floats_from.is_some_and(|r| r <= row) {
                4 * features
            } else {
                features
            };
            let bytes = samples * width + 2 * samples;
            if bytes > limit {
                return Err(DataError::TooLarge {
                    path: self.rules.path.to_path_buf(),
                    what: format!(
                        "its values up to line {line} take {:.1} MiB",
                        bytes as f64 / (1 << 20) as f64
                    ),
                    limit_mib: limit >> 20,
                    suggest: (2 * limit).div_ceil(1 << 20),
                });
            }
        }
        debug_assert_eq!(piece.features.len(), piece.lines.len() * features);
        self.features.append(piece.features);
        match piece.error.take() {
            Some(e) => Err(e),
            None => Ok(piece.end),
        }
    }

    /// The data set named after the file: labels mapped into `classes` (or
    /// classes derived from them), feature names from the header.
    pub(super) fn into_dataset(self, classes: Option<&Classes>) -> Result<Dataset, DataError> {
        let path = self.rules.path;
        if self.labels.len() == 0 {
            return Err(DataError::NoData {
                path: path.to_path_buf(),
            });
        }
        let (labels, classes) = self.labels.finish(path, classes, |l| format!("line {l}"))?;
        let layout = &self.rules.layout;
        if layout.guessed && !plausible_classes(classes.len(), labels.len()) {
            return Err(DataError::GuessedLabelColumn {
                path: path.to_path_buf(),
                column: column_name(layout.label, layout.header.as_deref()),
                classes: classes.len(),
                rows: labels.len(),
            });
        }
        let features = self.rules.layout.columns - 1;
        let name = path.display().to_string();
        let dataset = match self.features {
            Features::Bytes(pixels) => Dataset::from_pixels(
                name,
                Shape {
                    features,
                    image: Some((28, 28)),
                },
                pixels,
                labels,
                classes,
            )?,
            Features::Floats(values) => Dataset::from_values(
                name,
                Shape {
                    features,
                    image: None,
                },
                values,
                labels,
                classes,
            )?,
        };
        match self.rules.layout.header {
            Some(mut names) => {
                names.remove(self.rules.layout.label);
                dataset.with_feature_names(names)
            }
            None => Ok(dataset),
        }
    }
}

/// A piece of a block: its bytes and the line it starts on.
struct Cut {
    offset: usize,
    end: usize,
    line: usize,
}

impl Cut {
    fn start(&self) -> Place {
        Place {
            offset: self.offset,
            line: self.line,
        }
    }
}

/// `text` from `from` cut after newlines into up to four pieces per thread,
/// none much under `least` bytes unless it is the whole rest.
fn cut(text: &[u8], from: Place, (threads, least): (usize, usize)) -> Vec<Cut> {
    let rest = text.len() - from.offset;
    let count = (rest / least.max(1)).clamp(1, 4 * threads.max(1));
    let size = rest.div_ceil(count);
    let mut pieces = Vec::with_capacity(count);
    let mut at = from;
    while at.offset < text.len() || pieces.is_empty() {
        let aim = (at.offset + size).min(text.len());
        let end = match text[aim..].iter().position(|&b| b == b'\n') {
            Some(i) => aim + i + 1,
            None => text.len(),
        };
        pieces.push(Cut {
            offset: at.offset,
            end,
            line: at.line,
        });
        at = Place {
            offset: end,
            line: at.line + count_newlines(&text[at.offset..end]),
        };
    }
    pieces
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::OnceLock;

    use rand::{Rng, RngCore, SeedableRng};
    use rand_pcg::Pcg64;

    use super::super::super::{Classes, Dataset, Encoding};
    use super::super::testing::*;
    use super::super::{parse_in, DataOptions, Sizes};

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

    /// A CSV text of random shape, with what users' files hold: a header or
    /// none, the label column first or last, text labels (quoted, with delimiters, quotes and newlines in
    /// them), numbers of every form, blank lines, three kinds of line end,
    /// no final newline; with `bad`, one mistake somewhere.
    fn random_csv(rng: &mut impl Rng, bad: bool) -> String {
        let features = rng.random_range(1..5);
        let ends = ["\n", "\r\n", "\r"];
        let end = |rng: &mut dyn RngCore| ends[rng.random_range(0..3)];
        let labels = [
            "a",
            "b",
            "\"c, d\"",
            "\"two\nlines\"",
            "\"say \"\"x\"\"\"",
            "7",
        ];
        let values = ["12", "-0.25", " 3 ", "\"7\"", "1e-3", "0", "255", ".5"];
        let mut text = String::new();
        // The label last under a name `auto` does not know: found as the
        // only text cell of the first data row, if that row's label is text.
        let last = rng.random_bool(0.3);
        if rng.random_bool(0.5) {
            let names: Vec<String> = (0..features).map(|f| format!("\"f{f}\"")).collect();
            match last {
                true => text += &format!("{},species{}", names.join(","), end(rng)),
                false => text += &format!("label,{}{}", names.join(","), end(rng)),
            }
        }
        let rows = rng.random_range(1..60);
        let mistake = bad.then(|| rng.random_range(0..rows));
        for r in 0..rows {
            if rng.random_bool(0.1) {
                text += if rng.random_bool(0.5) { "  " } else { "" };
                text += end(rng);
            }
            let mut cells = vec![labels[rng.random_range(0..labels.len())].to_string()];
            for _ in 0..features {
                cells.push(values[rng.random_range(0..values.len())].to_string());
            }
            if mistake == Some(r) {
                match rng.random_range(0..4) {
                    0 => cells[1] = "x".into(),
                    1 => cells.push("1".into()),
                    2 => cells[0] = " ".into(),
                    _ => cells[1] = "\"1".into(),
                }
            }
            if last {
                cells.rotate_left(1);
            }
            text += &cells.join(",");
            if r + 1 < rows || rng.random_bool(0.5) {
                text += end(rng);
            }
        }
        text
    }

    /// Parsed in one piece, and in many small blocks and pieces on three
    /// threads.
    fn both_ways(text: &str) -> [Result<Dataset, String>; 2] {
        let (name, options) = (Path::new("t.csv"), DataOptions::default());
        let whole = Sizes {
            block: usize::MAX >> 1,
            piece: usize::MAX >> 1,
        };
        let mut rng = Pcg64::seed_from_u64(text.len() as u64);
        let small = Sizes {
            block: rng.random_range(1..48),
            piece: rng.random_range(1..24),
        };
        static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
        let pool = POOL.get_or_init(|| {
            let threads = rayon::ThreadPoolBuilder::new().num_threads(3);
            threads.build().expect("a thread pool")
        });
        [whole, small].map(|sizes| {
            pool.install(|| parse_in(text.as_bytes(), name, &options, sizes))
                .map_err(|e| e.to_string())
        })
    }

    #[test]
    fn the_same_samples_and_errors_however_the_text_is_cut() {
        let mut rng = Pcg64::seed_from_u64(5);
        let (mut ok, mut errors) = (0, 0);
        for case in 0..400 {
            let text = random_csv(&mut rng, case % 2 == 1);
            let [whole, cut] = both_ways(&text);
            match (&whole, &cut) {
                (Ok(a), Ok(b)) => {
                    assert!(a == b, "{text:?}");
                    let bits = |d: &Dataset| {
                        all_values(d)
                            .iter()
                            .map(|v| v.to_bits())
                            .collect::<Vec<_>>()
                    };
                    assert_eq!(bits(a), bits(b), "{text:?}");
                    ok += 1;
                }
                (Err(a), Err(b)) => {
                    assert_eq!(a, b, "{text:?}");
                    errors += 1;
                }
                _ => panic!("{text:?}: {whole:?} against {cut:?}"),
            }
        }
        // Both outcomes were exercised.
        assert!(ok > 100 && errors > 100, "{ok} read, {errors} refused");
    }

    #[test]
    fn pixels_until_a_value_that_is_not_one_in_any_piece() {
        let mut rng = Pcg64::seed_from_u64(9);
        for case in 0..20 {
            let mut text = String::new();
            let other = rng.random_range(0..30);
            for r in 0..30 {
                let mut cells = vec![(r % 10).to_string()];
                cells.extend((0..784).map(|i| ((i * 7 + r) % 256).to_string()));
                if r == other && case % 2 == 0 {
                    cells[1 + rng.random_range(0..784)] = ["256", "0.5", "-1"][case % 3].into();
                }
                text += &(cells.join(",") + "\n");
            }
            let [whole, cut] = both_ways(&text);
            let (whole, cut) = (whole.unwrap(), cut.unwrap());
            assert!(whole == cut);
            let expected = if case % 2 == 0 {
                Encoding::Values
            } else {
                Encoding::Pixels
            };
            assert_eq!(cut.encoding(), expected);
        }
    }
}
