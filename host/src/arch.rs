//! The network architectures compiled into the host, chosen at run time.
//!
//! Layer sizes are const generics in `tinymlp`, so every architecture the CLI
//! offers is a concrete type instantiated here. [`with_network!`](crate::with_network) maps an
//! [`Architecture`] value to its type.

use std::fmt;
use std::str::FromStr;

/// Inputs of every compiled network: 28×28 pixels.
pub const INPUTS: usize = 784;
/// Outputs of every compiled network: 10 digit classes.
pub const CLASSES: usize = 10;

/// Hidden-layer sizes that are compiled in, as `--hidden` accepts them.
pub const SUPPORTED: &[&[usize]] = &[&[16], &[32], &[64], &[128], &[256], &[128, 64], &[256, 128]];

/// A compiled architecture: `784 → hidden… → 10`, ReLU between layers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Architecture {
    hidden: Vec<usize>,
}

impl Architecture {
    /// The default 784-64-10 network; its int8 form fits the firmware's flash budget.
    pub fn default_mnist() -> Self {
        Self { hidden: vec![64] }
    }

    /// Hidden-layer sizes, input side first.
    pub fn hidden(&self) -> &[usize] {
        &self.hidden
    }

    /// All layer widths, e.g. `[784, 64, 10]`.
    pub fn layers(&self) -> Vec<usize> {
        let mut layers = vec![INPUTS];
        layers.extend(&self.hidden);
        layers.push(CLASSES);
        layers
    }

    /// The supported architectures as `--hidden` values, e.g. `16, 32, …, 256,128`.
    pub fn supported_list() -> String {
        SUPPORTED
            .iter()
            .map(|h| join(h, ","))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Parses a full layer list such as `784-64-10` (the checkpoint metadata form).
    pub fn from_layers(text: &str) -> Result<Self, ArchitectureError> {
        let layers = parse_list(text, '-')?;
        match layers.as_slice() {
            [INPUTS, hidden @ .., CLASSES] if !hidden.is_empty() => {
                Self::from_hidden(hidden.to_vec())
            }
            _ => Err(ArchitectureError::Unsupported(text.to_string())),
        }
    }

    fn from_hidden(hidden: Vec<usize>) -> Result<Self, ArchitectureError> {
        if SUPPORTED.contains(&hidden.as_slice()) {
            Ok(Self { hidden })
        } else {
            Err(ArchitectureError::Unsupported(join(&hidden, ",")))
        }
    }
}

impl Default for Architecture {
    fn default() -> Self {
        Self::default_mnist()
    }
}

/// `--hidden` syntax: `64` or `256,128`.
impl FromStr for Architecture {
    type Err = ArchitectureError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::from_hidden(parse_list(text, ',')?)
    }
}

/// Displays the full layer list, `784-64-10`.
impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&join(&self.layers(), "-"))
    }
}

/// A layer list that is malformed or not compiled in.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArchitectureError {
    /// Not a list of positive integers.
    #[error("`{0}` is not a list of layer sizes (expected e.g. `64` or `256,128`)")]
    Malformed(String),
    /// Well-formed but not one of the compiled architectures.
    #[error("hidden layers `{0}` are not compiled in; supported: {list}", list = Architecture::supported_list())]
    Unsupported(String),
}

fn parse_list(text: &str, separator: char) -> Result<Vec<usize>, ArchitectureError> {
    text.split(separator)
        .map(|part| part.trim().parse::<usize>().ok().filter(|&n| n > 0))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| ArchitectureError::Malformed(text.to_string()))
}

fn join(values: &[usize], separator: &str) -> String {
    values
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(separator)
}

/// Runs `$body` with `$net` bound to the concrete `tinymlp` type of `$arch`.
///
/// ```ignore
/// with_network!(arch, Net => train::<Net>(&config))
/// ```
#[macro_export]
macro_rules! with_network {
    ($arch:expr, $net:ident => $body:expr) => {{
        use $crate::arch::{CLASSES as C, INPUTS as I};
        match $arch.hidden() {
            [16] => {
                type $net = tinymlp::Mlp<I, 16, C>;
                $body
            }
            [32] => {
                type $net = tinymlp::Mlp<I, 32, C>;
                $body
            }
            [64] => {
                type $net = tinymlp::Mlp<I, 64, C>;
                $body
            }
            [128] => {
                type $net = tinymlp::Mlp<I, 128, C>;
                $body
            }
            [256] => {
                type $net = tinymlp::Mlp<I, 256, C>;
                $body
            }
            [128, 64] => {
                type $net = tinymlp::Mlp2<I, 128, 64, C>;
                $body
            }
            [256, 128] => {
                type $net = tinymlp::Mlp2<I, 256, 128, C>;
                $body
            }
            other => unreachable!("Architecture {other:?} passed validation but has no type"),
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinymlp::Parameters;

    #[test]
    fn parses_and_displays() {
        assert_eq!(
            "64".parse::<Architecture>().unwrap().to_string(),
            "784-64-10"
        );
        assert_eq!(
            " 256, 128 ".parse::<Architecture>().unwrap().layers(),
            [784, 256, 128, 10]
        );
        assert_eq!(
            Architecture::from_layers("784-128-64-10").unwrap().hidden(),
            [128, 64]
        );
        assert!(matches!(
            "65".parse::<Architecture>(),
            Err(ArchitectureError::Unsupported(_))
        ));
        assert!(matches!(
            "6x".parse::<Architecture>(),
            Err(ArchitectureError::Malformed(_))
        ));
        assert!(matches!(
            "0".parse::<Architecture>(),
            Err(ArchitectureError::Malformed(_))
        ));
        assert!(Architecture::from_layers("100-64-10").is_err());
        assert!(Architecture::from_layers("784-10").is_err());
    }

    #[test]
    fn every_supported_architecture_has_a_type_of_its_shape() {
        for hidden in SUPPORTED {
            let arch = Architecture::from_hidden(hidden.to_vec()).unwrap();
            let layers = arch.layers();
            let expected: usize = layers.windows(2).map(|w| w[0] * w[1] + w[1]).sum();
            let count = with_network!(arch, Net => Net::parameter_count());
            assert_eq!(count, expected, "{arch}");
        }
    }
}
