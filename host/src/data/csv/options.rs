//! What the user chose for a CSV file: [`Header`] and [`LabelColumn`]
//! (`--header`, `--label-column`).

use std::fmt;
use std::str::FromStr;

/// Whether the first row of a CSV file is a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Header {
    /// A header iff one of its feature cells is not a number (see the module
    /// docs).
    #[default]
    Auto,
    /// The first row is a header.
    Yes,
    /// The first row is data.
    No,
}

impl FromStr for Header {
    type Err = String;
    /// `auto`, `yes` or `no`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Header::Auto),
            "yes" => Ok(Header::Yes),
            "no" => Ok(Header::No),
            _ => Err(format!(
                "unknown header choice {s:?}: expected auto, yes or no"
            )),
        }
    }
}

impl fmt::Display for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Header::Auto => "auto",
            Header::Yes => "yes",
            Header::No => "no",
        })
    }
}

/// Which CSV column holds the labels.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum LabelColumn {
    /// The header cell named `label`, `class`, `target` or `y` (any case),
    /// else the only column whose cell in the first data row is text (not a
    /// number), else the first column.
    #[default]
    Auto,
    /// The first column.
    First,
    /// The last column.
    Last,
    /// The column with this header name (needs a header).
    Name(String),
    /// The column at this 1-based position.
    Position(usize),
}

impl FromStr for LabelColumn {
    type Err = String;
    /// `auto`, `first`, `last`, a positive integer (a 1-based position), or
    /// anything else as a header name.
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        match t {
            "" => Err("empty label column: expected first, last, a position or a name".into()),
            "auto" => Ok(LabelColumn::Auto),
            "first" => Ok(LabelColumn::First),
            "last" => Ok(LabelColumn::Last),
            _ if t.bytes().all(|b| b.is_ascii_digit()) => match t.parse::<usize>() {
                Ok(0) => Err("label column 0: positions start at 1".into()),
                Ok(p) => Ok(LabelColumn::Position(p)),
                Err(_) => Err(format!("label column {t} is too large")),
            },
            _ => Ok(LabelColumn::Name(t.to_owned())),
        }
    }
}

impl fmt::Display for LabelColumn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabelColumn::Auto => f.write_str("auto"),
            LabelColumn::First => f.write_str("first"),
            LabelColumn::Last => f.write_str("last"),
            LabelColumn::Name(n) => f.write_str(n),
            LabelColumn::Position(p) => write!(f, "{p}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_from_str() {
        assert_eq!("yes".parse::<Header>(), Ok(Header::Yes));
        assert_eq!("no".parse::<Header>(), Ok(Header::No));
        assert_eq!("auto".parse::<Header>(), Ok(Header::Auto));
        assert!("maybe".parse::<Header>().is_err());
        assert_eq!("first".parse::<LabelColumn>(), Ok(LabelColumn::First));
        assert_eq!("last".parse::<LabelColumn>(), Ok(LabelColumn::Last));
        assert_eq!("auto".parse::<LabelColumn>(), Ok(LabelColumn::Auto));
        assert_eq!("3".parse::<LabelColumn>(), Ok(LabelColumn::Position(3)));
        assert!("0".parse::<LabelColumn>().is_err());
        assert_eq!(
            "species".parse::<LabelColumn>(),
            Ok(LabelColumn::Name("species".into()))
        );
        assert_eq!(LabelColumn::Position(2).to_string(), "2");
    }
}
