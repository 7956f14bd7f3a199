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
    if let Some(v) = short_decimal(s) {
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

/// Powers of ten up to 10^7, all exact in `f32` (5^7 < 2^24).
const POWERS_OF_TEN: [f32; 8] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7];

/// A short decimal — an optional sign, digits, an optional point and
/// digits, at most seven digits in all (`255`, `-0.1234`, `12.5`): the
/// value `str::parse` gives, without its general algorithm. Seven digits
/// make a whole number `m` below 2^24 and `10^k` is exact, so one `f32`
/// division rounds `m / 10^k` correctly, as the parse must (Clinger's fast
/// path, which `str::parse` takes too after its own scan).
fn short_decimal(s: &str) -> Option<f32> {
    let bytes = s.as_bytes();
    let (negative, number) = match bytes.first()? {
        b'-' => (true, &bytes[1..]),
        b'+' => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    // Seven digits and a point at most (so `m` cannot overflow).
    if number.len() > 8 {
        return None;
    }
    let (mut m, mut digits, mut point) = (0u32, 0, None);
    for (i, &b) in number.iter().enumerate() {
        match b {
            b'0'..=b'9' => (m, digits) = (10 * m + u32::from(b - b'0'), digits + 1),
            b'.' if point.is_none() => point = Some(i),
            _ => return None,
        }
    }
    if digits == 0 || digits > 7 {
        return None;
    }
    let fraction = point.map_or(0, |p| number.len() - 1 - p);
    let v = m as f32 / POWERS_OF_TEN[fraction];
    Some(if negative { -v } else { v })
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

    /// Whenever the short form reads a cell, `str::parse` reads it too, to
    /// the same bits: every cell of up to five characters from digits,
    /// signs and points, then random decimals of up to seven digits.
    #[test]
    fn short_decimals_are_what_parse_gives() {
        use rand::{Rng, SeedableRng};
        let check = |s: &str| -> bool {
            let Some(v) = super::short_decimal(s) else {
                return false;
            };
            let parsed = s.parse::<f32>().unwrap_or_else(|e| panic!("{s:?}: {e}"));
            assert_eq!(v.to_bits(), parsed.to_bits(), "{s:?}");
            true
        };
        let alphabet = ['0', '1', '5', '9', '-', '+', '.', 'e', ' '];
        let mut cells = vec![String::new()];
        let mut read = 0;
        for _ in 0..5 {
            cells = cells
                .iter()
                .flat_map(|c| alphabet.iter().map(move |a| format!("{c}{a}")))
                .collect();
            read += cells.iter().filter(|c| check(c)).count();
        }
        assert!(read > 4_000, "{read}");
        let mut rng = rand_pcg::Pcg64::seed_from_u64(3);
        for _ in 0..200_000 {
            let digits = rng.random_range(1..=7);
            let m: u32 = rng.random_range(0..10u32.pow(digits));
            let point = rng.random_range(0..=digits as usize);
            let text = format!("{m:0width$}", width = digits as usize);
            let sign = ["", "-", "+"][rng.random_range(0..3)];
            let cell = format!("{sign}{}.{}", &text[..point], &text[point..]);
            assert!(check(&cell), "{cell}");
        }
        // Eight digits, exponents, other signs: the general parse.
        for s in [
            "12345678",
            "0.1234567",
            "1e3",
            "--1",
            "",
            ".",
            "-",
            "1.2.3",
            "١",
        ] {
            assert_eq!(super::short_decimal(s), None, "{s}");
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
