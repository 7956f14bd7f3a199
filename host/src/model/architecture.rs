//! The network's shape as a run-time value: inputs, hidden widths, classes.
//!
//! Inputs and classes come from the data, hidden widths from `--hidden`
//! (`64`, `64,32,16`, or `none` for a linear softmax classifier). Nothing is
//! compiled in: every shape within the [limits](MAX_HIDDEN_LAYERS) trains.

use std::fmt;
use std::str::FromStr;

/// Most hidden layers `--hidden` accepts.
pub const MAX_HIDDEN_LAYERS: usize = 16;
/// Widest layer (inputs, hidden or classes).
pub const MAX_WIDTH: usize = 65_536;
/// Most parameters of a network (400 MB of `f32` for the parameters,
/// gradients and optimiser state of the largest).
pub const MAX_PARAMETERS: usize = 25_000_000;

/// Hidden-layer widths as `--hidden` takes them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct HiddenLayers(pub Vec<usize>);

impl HiddenLayers {
    /// The default MNIST network's one hidden layer of 64.
    pub fn default_mnist() -> Self {
        Self(vec![64])
    }
}

/// `--hidden` syntax: `64`, `64,32,16` or `none`.
impl FromStr for HiddenLayers {
    type Err = ArchitectureError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.trim().eq_ignore_ascii_case("none") {
            return Ok(Self(Vec::new()));
        }
        let widths = parse_list(text, ',')?;
        if widths.len() > MAX_HIDDEN_LAYERS {
            return Err(ArchitectureError::TooDeep(widths.len()));
        }
        Ok(Self(widths))
    }
}

impl fmt::Display for HiddenLayers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&join(&self.0, ","))
        }
    }
}

/// A network's layer widths: `inputs → hidden… → classes`, ReLU between layers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Architecture {
    widths: Vec<usize>,
}

impl Architecture {
    /// `inputs → hidden… → classes`, checked against the limits.
    pub fn new(
        inputs: usize,
        hidden: &HiddenLayers,
        classes: usize,
    ) -> Result<Self, ArchitectureError> {
        let mut widths = vec![inputs];
        widths.extend(&hidden.0);
        widths.push(classes);
        Self::from_widths(widths)
    }

    /// From the full list of widths, e.g. `[784, 64, 10]`.
    pub fn from_widths(widths: Vec<usize>) -> Result<Self, ArchitectureError> {
        let text = join(&widths, "-");
        if widths.len() < 2 || widths.len() > MAX_HIDDEN_LAYERS + 2 {
            return Err(ArchitectureError::Malformed(text));
        }
        if widths.iter().any(|&w| w == 0 || w > MAX_WIDTH) {
            return Err(ArchitectureError::Width(text));
        }
        if widths[widths.len() - 1] < 2 {
            return Err(ArchitectureError::Classes(text));
        }
        let arch = Self { widths };
        if arch.parameter_count() > MAX_PARAMETERS {
            return Err(ArchitectureError::TooLarge {
                layers: text,
                parameters: arch.parameter_count(),
            });
        }
        Ok(arch)
    }

    /// Parses the checkpoint metadata form, `784-64-10`.
    pub fn from_layers(text: &str) -> Result<Self, ArchitectureError> {
        Self::from_widths(parse_list(text, '-')?)
    }

    /// All widths, input first: `[784, 64, 10]`.
    pub fn widths(&self) -> &[usize] {
        &self.widths
    }

    /// Number of inputs.
    pub fn inputs(&self) -> usize {
        self.widths[0]
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.widths[self.widths.len() - 1]
    }

    /// Hidden widths, input side first.
    pub fn hidden(&self) -> HiddenLayers {
        HiddenLayers(self.widths[1..self.widths.len() - 1].to_vec())
    }

    /// Number of dense layers (hidden layers + 1).
    pub fn layers(&self) -> usize {
        self.widths.len() - 1
    }

    /// `(inputs, outputs)` of dense layer `l`.
    pub fn layer(&self, l: usize) -> (usize, usize) {
        (self.widths[l], self.widths[l + 1])
    }

    /// Total number of scalar parameters.
    pub fn parameter_count(&self) -> usize {
        self.widths.windows(2).map(|w| w[0] * w[1] + w[1]).sum()
    }

    /// Multiply-accumulates of one inference.
    pub fn macs(&self) -> usize {
        self.widths.windows(2).map(|w| w[0] * w[1]).sum()
    }
}

/// Displays the full layer list, `784-64-10`.
impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&join(&self.widths, "-"))
    }
}

/// A layer list that is malformed or out of the limits.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArchitectureError {
    /// Not a list of positive integers.
    #[error("`{0}` is not a list of layer widths (expected e.g. `64`, `64,32,16` or `none`)")]
    Malformed(String),
    /// More hidden layers than [`MAX_HIDDEN_LAYERS`].
    #[error("{0} hidden layers: at most {MAX_HIDDEN_LAYERS} are supported")]
    TooDeep(usize),
    /// A width of 0 or over [`MAX_WIDTH`].
    #[error("layers `{0}`: every width must be between 1 and {MAX_WIDTH}")]
    Width(String),
    /// Fewer than two classes.
    #[error("layers `{0}`: a classifier needs at least 2 classes")]
    Classes(String),
    /// More parameters than [`MAX_PARAMETERS`].
    #[error("layers `{layers}` have {parameters} parameters; at most {MAX_PARAMETERS} are supported (use narrower --hidden layers)")]
    TooLarge {
        /// The layer list.
        layers: String,
        /// Its parameter count.
        parameters: usize,
    },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_any_depth_and_displays_the_layer_list() {
        let hidden: HiddenLayers = "64,32,16".parse().unwrap();
        let arch = Architecture::new(64, &hidden, 10).unwrap();
        assert_eq!(arch.to_string(), "64-64-32-16-10");
        assert_eq!(arch.layers(), 4);
        assert_eq!(arch.layer(1), (64, 32));
        assert_eq!(arch.hidden(), hidden);
        let none: HiddenLayers = "none".parse().unwrap();
        assert_eq!(Architecture::new(4, &none, 3).unwrap().to_string(), "4-3");
        assert_eq!(none.to_string(), "none");
        let six: HiddenLayers = "7,6,5,4,3,2".parse().unwrap();
        assert_eq!(Architecture::new(9, &six, 2).unwrap().layers(), 7);
        assert_eq!(
            Architecture::from_layers("784-128-64-10").unwrap().widths(),
            [784, 128, 64, 10]
        );
        assert_eq!(" 100 ".parse::<HiddenLayers>().unwrap().0, [100]);
    }

    #[test]
    fn rejects_what_cannot_be_built() {
        for bad in ["6x", "0", "", "64,,32", "-1"] {
            assert!(matches!(
                bad.parse::<HiddenLayers>(),
                Err(ArchitectureError::Malformed(_))
            ));
        }
        let deep = vec!["2"; MAX_HIDDEN_LAYERS + 1].join(",");
        assert!(matches!(
            deep.parse::<HiddenLayers>(),
            Err(ArchitectureError::TooDeep(_))
        ));
        let one_class = Architecture::new(4, &HiddenLayers::default(), 1);
        assert!(matches!(one_class, Err(ArchitectureError::Classes(_))));
        let huge = Architecture::new(65_536, &HiddenLayers(vec![65_536]), 10);
        assert!(matches!(huge, Err(ArchitectureError::TooLarge { .. })));
        assert!(Architecture::from_layers("784").is_err());
    }
}
