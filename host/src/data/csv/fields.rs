//! Cells: a feature as a finite number, a cell as text, and the messages
//! that name the line, the column (with its header name) and the cell.

use std::path::Path;

use super::super::error::DataError;
use super::detect::Layout;

/// A cell as text, trimmed (lossy for bytes that are not UTF-8).
pub(super) fn text(cell: &[u8]) -> String {
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

/// A feature cell as a finite `f32`, or what is wrong with it.
pub(super) fn parse_value(cell: &[u8]) -> Result<f32, &'static str> {
    match std::str::from_utf8(cell) {
        Ok(text) => parse_number(text),
        Err(_) => Err("is not a number (not UTF-8 text)"),
    }
}

/// A feature cell's text as a finite `f32`, or what is wrong with it.
pub(super) fn parse_number(cell: &str) -> Result<f32, &'static str> {
    // The common cells first: a number with ASCII spaces at most around it.
    let s = cell.trim_ascii();
    if let Some(v) = whole_number(s) {
        return Ok(v);
    }
    if let Ok(v) = s.parse::<f32>() {
        if v.is_finite() {
            return Ok(v);
        }
    }
    // Anything else (other white space, errors) as it always was.
    let s = cell.trim();
    if s.is_empty() {
        return Err("is empty: every feature needs a value");
    }
    match s.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err("is not a finite number"),
        Err(_) => Err("is not a number"),
    }
}

/// Up to seven digits and nothing else (pixels, sensor counts): a whole
/// number below 2^24, which `f32` holds exactly — the value `str::parse`
/// gives, without its general algorithm.
fn whole_number(s: &str) -> Option<f32> {
    if s.is_empty() || s.len() > 7 {
        return None;
    }
    let digits = s.bytes().try_fold(0u32, |n, b| {
        b.is_ascii_digit().then(|| 10 * n + u32::from(b - b'0'))
    });
    digits.map(|n| n as f32)
}

/// "column 3 (petal_length)" or "column 3" (`index` is 0-based).
pub(super) fn column_name(index: usize, header: Option<&[String]>) -> String {
    match header.and_then(|h| h.get(index)) {
        Some(name) if !name.is_empty() => format!("column {} ({name})", index + 1),
        _ => format!("column {}", index + 1),
    }
}

/// A feature cell that is not a finite number, with a hint at the likely
/// cause (a wrong label column, a missing header, decimal commas).
pub(super) fn value_error(
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
    use super::super::super::Encoding;
    use super::super::testing::*;
    use super::super::DataOptions;

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
    fn whole_numbers_are_what_parse_gives() {
        for s in ["0", "00", "7", "255", "0255", "1234567", "9999999"] {
            assert_eq!(
                super::whole_number(s).map(f32::to_bits),
                Some(s.parse::<f32>().unwrap().to_bits()),
                "{s}"
            );
        }
        // Longer, signed, fractional or empty: the general parse.
        for s in ["", "12345678", "-1", "+1", "1.0", "1e3", " 1", "١"] {
            assert_eq!(super::whole_number(s), None, "{s}");
        }
        assert_eq!(super::parse_number(" 12 "), Ok(12.0));
        assert_eq!(super::parse_number("\u{a0}12"), Ok(12.0));
        assert_eq!(
            super::parse_number("-0").map(f32::to_bits),
            Ok((-0.0f32).to_bits())
        );
    }

    #[test]
    fn numbers_of_every_form() {
        let d = parse("y,a,b,c,d,e\n0, 1 ,-2.5,+3,1e-3,.5\n").unwrap();
        assert_eq!(all_values(&d), [1.0, -2.5, 3.0, 1e-3, 0.5]);
        assert_eq!(d.encoding(), Encoding::Values);
    }
}
