//! What a data file holds: format, element type, dimensions, label histogram.

use std::fmt::Write as _;
use std::path::Path;

use crate::dataset::{Format, NUM_CLASSES};
use crate::error::DataError;
use crate::idx::{read_idx_header, read_idx_images, read_idx_labels, ElementType};

/// The description [`inspect`] returns (and `host inspect --json` prints).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Inspection {
    /// The file as given.
    pub path: String,
    /// `idx` or `csv`.
    pub format: &'static str,
    /// Whether the bytes are a gzip stream.
    pub gzipped: bool,
    /// `labels`, `images`, `labelled images` (CSV) or `other` (an IDX file of
    /// another shape or element type).
    pub content: &'static str,
    /// IDX element type (`u8`, `f32`, …); `u8` for CSV.
    pub element_type: &'static str,
    /// Dimensions, outermost first: `[10000]` for labels, `[10000, 28, 28]`
    /// for images and CSV.
    pub dims: Vec<u64>,
    /// How many samples of each class, for files that hold labels.
    pub label_histogram: Option<[usize; NUM_CLASSES]>,
    /// Mean pixel value (0–255), for files that hold images.
    pub mean_pixel: Option<f64>,
}

impl Inspection {
    /// Human-readable lines, each ending with `\n`.
    pub fn report(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "file: {}", self.path);
        let _ = writeln!(
            out,
            "format: {}{}, {} of {}",
            self.format,
            if self.gzipped { " (gzipped)" } else { "" },
            self.content,
            self.element_type
        );
        let dims: Vec<String> = self.dims.iter().map(u64::to_string).collect();
        let _ = writeln!(out, "dimensions: {}", dims.join(" x "));
        if let Some(mean) = self.mean_pixel {
            let _ = writeln!(out, "mean pixel: {mean:.2}");
        }
        if let Some(histogram) = &self.label_histogram {
            let total: usize = histogram.iter().sum();
            let most = histogram.iter().copied().max().unwrap_or(0).max(1);
            let _ = writeln!(out, "label histogram:");
            for (class, &n) in histogram.iter().enumerate() {
                let share = if total == 0 {
                    0.0
                } else {
                    n as f64 * 100.0 / total as f64
                };
                let bar = "█".repeat((n * 30).div_ceil(most));
                let _ = writeln!(out, "  {class}: {n:>6}  {share:5.2}%  {bar}");
            }
        }
        out
    }
}

fn histogram(labels: &[u8]) -> [usize; NUM_CLASSES] {
    let mut counts = [0; NUM_CLASSES];
    for &l in labels {
        if let Some(c) = counts.get_mut(usize::from(l)) {
            *c += 1;
        }
    }
    counts
}

fn mean(pixels: &[u8]) -> f64 {
    if pixels.is_empty() {
        return 0.0;
    }
    pixels.iter().map(|&p| u64::from(p)).sum::<u64>() as f64 / pixels.len() as f64
}

/// Describes the IDX or CSV file at `path` (CSV if its name ends in `.csv`
/// or `.csv.gz`). A `u8` IDX file of one dimension is read as labels, of
/// three as images; any other IDX file is described from its header alone.
pub fn inspect(path: &Path) -> Result<Inspection, DataError> {
    let shown = path.display().to_string();
    if Format::Auto.resolve(path) == Format::Csv {
        let data = crate::csv::load_csv(path)?;
        let gzipped = read_gzip_magic(path);
        return Ok(Inspection {
            path: shown,
            format: "csv",
            gzipped,
            content: "labelled images",
            element_type: "u8",
            dims: vec![data.len() as u64, data.rows() as u64, data.cols() as u64],
            label_histogram: Some(data.class_counts()),
            mean_pixel: Some(mean(data.pixels())),
        });
    }
    let header = read_idx_header(path)?;
    let mut result = Inspection {
        path: shown,
        format: "idx",
        gzipped: header.gzipped,
        content: "other",
        element_type: header.element_type.name(),
        dims: header.dims.iter().map(|&d| u64::from(d)).collect(),
        label_histogram: None,
        mean_pixel: None,
    };
    match (header.element_type, header.dims.len()) {
        (ElementType::U8, 1) => {
            result.content = "labels";
            result.label_histogram = Some(histogram(&read_idx_labels(path)?));
        }
        (ElementType::U8, 3) => {
            result.content = "images";
            result.mean_pixel = Some(mean(&read_idx_images(path)?.3));
        }
        _ => {}
    }
    Ok(result)
}

fn read_gzip_magic(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 2];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == [0x1f, 0x8b]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_a_csv_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("two.csv");
        let line = |label: u8| {
            let mut s = label.to_string();
            for _ in 0..784 {
                s.push_str(",10");
            }
            s + "\n"
        };
        std::fs::write(&path, line(3) + &line(3) + &line(9)).unwrap();
        let i = inspect(&path).unwrap();
        assert_eq!(
            (i.format, i.content, i.gzipped),
            ("csv", "labelled images", false)
        );
        assert_eq!(i.dims, [3, 28, 28]);
        assert_eq!(i.label_histogram.unwrap()[3], 2);
        assert_eq!(i.mean_pixel, Some(10.0));
        assert!(i.report().contains("  3:      2  66.67%"), "{}", i.report());
    }
}
