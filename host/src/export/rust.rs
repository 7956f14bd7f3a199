//! Rust source for firmware: a [`Model`] (f32) or a [`QNet`] (int8) of any
//! depth as one `include!`-able file.
//!
//! # What an emitted file holds
//!
//! `// @generated` header lines (tool, architecture, input, seed, test
//! accuracy, SHA-256 of the checkpoint), then:
//!
//! ```text
//! pub const INPUTS: usize = 64;                  raw values per sample
//! pub const CLASSES: usize = 10;
//! pub const WIDTHS: [usize; 4] = [64, 32, 16, 10];
//! pub static CLASS_NAMES: [&str; CLASSES] = ["0", …];
//! pub type Raw = f32;                             u8 for pixel models
//! pub type Model = tinymlp::Hidden<64, 32, tinymlp::Hidden<32, 16, tinymlp::Dense<16, 10>>>;
//! pub static MODEL: Model = tinymlp::Hidden::new(tinymlp::Dense::new([[…]], […]), …);
//! pub static SCALING: tinymlp::Standardize<INPUTS> = …;   numeric models only
//! pub fn input(raw: &[Raw; INPUTS]) -> [f32; INPUTS]     (int8: [u8; INPUTS])
//! pub fn logits_with<K: tinymlp::Kernel>(raw, &K) -> [f32; CLASSES]
//! pub fn logits(raw) -> [f32; CLASSES]
//! pub fn classify(raw: &[Raw; INPUTS]) -> usize
//! ```
//!
//! The int8 file has `Model = tinymlp::QHidden<…, tinymlp::QOutput<…>>`,
//! `SCALING: tinymlp::QuantizeInput<INPUTS>` (numeric models), and
//! `accumulators_with<K: tinymlp::QKernel>`, `accumulators`, `logits`,
//! `classify`. `classify` scales the raw input and returns the class index
//! exactly as the host does (argmax, first on ties).
//!
//! The file compiles in a `#![no_std]` crate whose only dependency is
//! `tinymlp`; every path is fully qualified and nothing is imported, so two
//! files can live in two modules of one crate. Weights are `static`s (a large
//! `const` used by value would be copied onto the stack).
//!
//! `f32` values are written in Rust's shortest round-trip form (`{:?}`) with
//! an `_f32` suffix (`-0.0_f32`, `1e-45_f32`): the compiler reads back
//! exactly the same bits. NaN and infinities are rejected. The text is a
//! pure function of its inputs.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use super::error::ExportError;
use super::qnet::{QInput, QNet, Rescale};
use crate::model::{Model, Scaling};

/// What the emitted file's header says about where the weights came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    /// Tool name and version, e.g. `"tinymlp host 0.1.0"`.
    pub tool: String,
    /// Seed of the training run.
    pub seed: u64,
    /// Test-set accuracy in `[0, 1]`, if known.
    pub test_accuracy: Option<f64>,
    /// SHA-256 of the checkpoint file, lowercase hex (see [`sha256_hex`]).
    pub checkpoint_sha256: String,
}

impl Header {
    /// The header for a checkpoint's bytes, written by this version of the host.
    pub fn new(seed: u64, checkpoint_bytes: &[u8], test_accuracy: Option<f64>) -> Self {
        Self {
            tool: format!("tinymlp host {}", env!("CARGO_PKG_VERSION")),
            seed,
            test_accuracy,
            checkpoint_sha256: sha256_hex(checkpoint_bytes),
        }
    }
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// `"64-32-16-10"` from layer widths.
pub fn architecture(widths: &[usize]) -> String {
    widths
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("-")
}

/// Values per line inside emitted arrays.
const PER_LINE: usize = 8;

/// Lints that emitted weights may trip by accident: a trained weight can land
/// next to π (`approx_constant`), long literals are not digit-grouped
/// (`unreadable_literal`), and a big literal spells more digits than `f32`
/// keeps (`excessive_precision` never fires on shortest forms, but is cheap).
const ALLOWS: &str = "#[allow(clippy::approx_constant, clippy::unreadable_literal)]\n";

/// An exact Rust literal for `v`.
fn f32_literal(v: f32, tensor: &str, index: usize) -> Result<String, ExportError> {
    if v.is_finite() {
        Ok(format!("{v:?}_f32"))
    } else {
        Err(ExportError::NonFinite {
            tensor: tensor.to_string(),
            index,
        })
    }
}

fn f32_list(values: &[f32], tensor: &str) -> Result<Vec<String>, ExportError> {
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| f32_literal(v, tensor, i))
        .collect()
}

fn int_list<T: ToString>(values: &[T]) -> Vec<String> {
    values.iter().map(T::to_string).collect()
}

/// Writes `[v, v, …]` with [`PER_LINE`] values a line, at `indent`.
fn write_list(out: &mut String, values: &[String], indent: usize) {
    let pad = " ".repeat(indent);
    out.push('[');
    for (i, v) in values.iter().enumerate() {
        if i % PER_LINE == 0 {
            out.push('\n');
            out.push_str(&pad);
            out.push_str("    ");
        } else {
            out.push(' ');
        }
        out.push_str(v);
        out.push(',');
    }
    out.push('\n');
    out.push_str(&pad);
    out.push(']');
}

/// Writes a `[[..], ..]` matrix of `cols` columns, one row after another.
fn write_matrix(out: &mut String, values: &[String], cols: usize, indent: usize) {
    out.push('[');
    for row in values.chunks(cols.max(1)) {
        out.push('\n');
        out.push_str(&" ".repeat(indent + 4));
        write_list(out, row, indent + 4);
        out.push(',');
    }
    out.push('\n');
    out.push_str(&" ".repeat(indent));
    out.push(']');
}

/// `name(\n  arg,\n  arg,\n)` at `indent`, each argument already written.
fn call(name: &str, args: &[String], indent: usize) -> String {
    let mut s = format!("{name}(\n");
    for a in args {
        s.push_str(&" ".repeat(indent + 4));
        s.push_str(a);
        s.push_str(",\n");
    }
    s.push_str(&" ".repeat(indent));
    s.push(')');
    s
}

fn matrix(values: &[String], cols: usize, indent: usize) -> String {
    let mut s = String::new();
    write_matrix(&mut s, values, cols, indent);
    s
}

fn list(values: &[String], indent: usize) -> String {
    let mut s = String::new();
    write_list(&mut s, values, indent);
    s
}

fn header_source(h: &Header, kind: &str, widths: &[usize], input: &str) -> String {
    let accuracy = h
        .test_accuracy
        .map_or_else(|| "unknown".to_owned(), |a| format!("{:.2}%", a * 100.0));
    format!(
        "// @generated by {} — do not edit.\n\
         // {kind} weights of a {} network.\n\
         // input: {input}\n\
         // seed: {}\n\
         // test accuracy: {accuracy}\n\
         // checkpoint sha256: {}\n\n",
        h.tool,
        architecture(widths),
        h.seed,
        h.checkpoint_sha256
    )
}

/// The items every emitted file starts with: sizes, class names, `Raw`.
fn common_items(widths: &[usize], class_names: &[String], pixels: bool) -> String {
    let mut s = String::new();
    let inputs = widths[0];
    let classes = *widths.last().expect("at least two widths");
    let _ = writeln!(
        s,
        "/// Raw input values per sample.\npub const INPUTS: usize = {inputs};"
    );
    let _ = writeln!(
        s,
        "/// Number of classes.\npub const CLASSES: usize = {classes};"
    );
    let _ = writeln!(
        s,
        "/// Layer widths, input side first.\npub const WIDTHS: [usize; {}] = {widths:?};",
        widths.len()
    );
    let names: Vec<String> = class_names.iter().map(|n| format!("{n:?}")).collect();
    s.push_str("/// Class names, index order.\n#[rustfmt::skip]\npub static CLASS_NAMES: [&str; CLASSES] = ");
    write_list(&mut s, &names, 0);
    s.push_str(";\n");
    if pixels {
        s.push_str("/// One raw input value: a pixel `0..=255` (the network sees `p / 255`).\npub type Raw = u8;\n\n");
    } else {
        s.push_str("/// One raw input value, as in the training data.\npub type Raw = f32;\n\n");
    }
    s
}

/// The nested chain type: `Hidden<a, b, Hidden<b, c, Dense<c, d>>>`.
pub fn chain_type(widths: &[usize], hidden: &str, output: &str) -> String {
    let n = widths.len() - 1;
    let mut s = format!("tinymlp::{output}<{}, {}>", widths[n - 1], widths[n]);
    for l in (0..n - 1).rev() {
        s = format!("tinymlp::{hidden}<{}, {}, {s}>", widths[l], widths[l + 1]);
    }
    s
}

/// Rust source of `model`'s f32 network (see the [module docs](self)).
pub fn emit_f32(model: &Model, header: &Header) -> Result<String, ExportError> {
    let net = &model.net;
    let widths = net.architecture().widths().to_vec();
    let layers = widths.len() - 1;
    let pixels = model.scaling.takes_pixels();
    let input_doc = match &model.scaling {
        Scaling::Pixels => "u8 pixels, scaled by p / 255",
        Scaling::Standardize { .. } => "f32 values, standardised (raw − mean) · inv_std",
        Scaling::None => "f32 values, unscaled",
    };
    let mut s = header_source(header, "f32", &widths, input_doc);
    s.push_str(&common_items(&widths, model.classes.names(), pixels));
    let _ = writeln!(
        s,
        "/// The network type.\npub type Model = {};\n",
        chain_type(&widths, "Hidden", "Dense")
    );
    // Innermost first: the output layer, then each hidden layer around it.
    let mut expr = String::new();
    for l in (0..layers).rev() {
        let layer = net.layer(l);
        let indent = 4 * (l + 1);
        let w = f32_list(layer.weights, &net.tensor_info(2 * l).name().to_string())?;
        let b = f32_list(layer.bias, &net.tensor_info(2 * l + 1).name().to_string())?;
        let dense = format!(
            "// fc{}: {}×{}\n{}{}",
            l + 1,
            layer.outputs(),
            layer.inputs,
            " ".repeat(indent),
            call(
                "tinymlp::Dense::new",
                &[matrix(&w, layer.inputs, indent + 4), list(&b, indent + 4)],
                indent
            )
        );
        expr = if l + 1 == layers {
            dense
        } else {
            call("tinymlp::Hidden::new", &[dense, expr], indent - 4)
        };
    }
    s.push_str("/// The trained network, in flash.\n#[rustfmt::skip]\n");
    s.push_str(ALLOWS);
    let _ = writeln!(s, "pub static MODEL: Model = {expr};\n");
    match &model.scaling {
        Scaling::Pixels => s.push_str(
            "/// The network input for raw pixels: `p / 255`.\n\
             #[inline]\n\
             pub fn input(raw: &[Raw; INPUTS]) -> [f32; INPUTS] {\n    tinymlp::pixels_to_input(raw)\n}\n\n",
        ),
        Scaling::Standardize { mean, inv_std } => {
            let m = f32_list(mean, "input.mean")?;
            let i = f32_list(inv_std, "input.inv_std")?;
            s.push_str("/// The input standardisation fitted on the training set.\n#[rustfmt::skip]\n");
            s.push_str(ALLOWS);
            let _ = writeln!(
                s,
                "pub static SCALING: tinymlp::Standardize<INPUTS> = {};\n",
                call("tinymlp::Standardize::new", &[list(&m, 4), list(&i, 4)], 0)
            );
            s.push_str(
                "/// The network input for raw values: `(raw − mean) · inv_std`.\n\
                 #[inline]\n\
                 pub fn input(raw: &[Raw; INPUTS]) -> [f32; INPUTS] {\n    SCALING.apply(raw)\n}\n\n",
            );
        }
        Scaling::None => s.push_str(
            "/// The network input: the raw values as they are.\n\
             #[inline]\n\
             pub fn input(raw: &[Raw; INPUTS]) -> [f32; INPUTS] {\n    *raw\n}\n\n",
        ),
    }
    s.push_str(
        "/// The logits for raw values, every layer through `kernel` (which must give\n\
         /// the bits of `tinymlp::Portable`, as the firmware's assembly kernels do).\n\
         pub fn logits_with<K: tinymlp::Kernel>(raw: &[Raw; INPUTS], kernel: &K) -> [f32; CLASSES] {\n\
         \x20   let x = input(raw);\n\
         \x20   tinymlp::Network::infer_with(&MODEL, &x, kernel)\n\
         }\n\n\
         /// The logits for raw values.\n\
         pub fn logits(raw: &[Raw; INPUTS]) -> [f32; CLASSES] {\n\
         \x20   logits_with(raw, &tinymlp::Portable)\n\
         }\n\n\
         /// The class of raw values (an index into `CLASS_NAMES`; first on ties).\n\
         pub fn classify(raw: &[Raw; INPUTS]) -> usize {\n\
         \x20   tinymlp::argmax(&logits(raw))\n\
         }\n",
    );
    Ok(s)
}

/// Rust source of the int8 network `q` of `model` (see the [module docs](self)).
pub fn emit_int8(model: &Model, q: &QNet, header: &Header) -> Result<String, ExportError> {
    let widths = q.widths();
    let layers = q.layers.len();
    let pixels = matches!(q.input, QInput::Pixels);
    let input_doc = if pixels {
        "u8 pixels, consumed as they are (scale 1/255)".to_string()
    } else {
        "f32 values, standardised, then quantised to u8 with zero point 128".to_string()
    };
    let mut s = header_source(header, "int8", &widths, &input_doc);
    s.push_str(&common_items(&widths, model.classes.names(), pixels));
    let _ = writeln!(
        s,
        "/// The network type.\npub type Model = {};\n",
        chain_type(&widths, "QHidden", "QOutput")
    );
    let mut expr = String::new();
    for l in (0..layers).rev() {
        let layer = &q.layers[l];
        let indent = 4 * (l + 1);
        let pad = " ".repeat(indent);
        let dense = format!(
            "// fc{}: {}×{}, i8 weights, i32 bias\n{pad}{}",
            l + 1,
            layer.outputs(),
            layer.inputs,
            call(
                "tinymlp::QDense::new",
                &[
                    matrix(&int_list(&layer.weights), layer.inputs, indent + 4),
                    list(&int_list(&layer.bias), indent + 4)
                ],
                indent
            )
        );
        expr = match &layer.rescale {
            Rescale::Output { scale } => {
                let scale = f32_list(scale, &format!("fc{}.output_scale", l + 1))?;
                call(
                    "tinymlp::QOutput::new",
                    &[
                        dense,
                        format!(
                            "// fc{} output scales: logit = acc as f32 * scale\n{pad}{}",
                            l + 1,
                            list(&scale, indent)
                        ),
                    ],
                    indent - 4,
                )
            }
            Rescale::Requantize { multiplier, shift } => {
                let requant = format!(
                    "// fc{} requantisation: u8 = clamp((acc · multiplier + 2^(shift−1)) >> shift, 0, 255)\n{pad}{}",
                    l + 1,
                    call(
                        "tinymlp::Requantize::new",
                        &[list(&int_list(multiplier), indent + 4), list(&int_list(shift), indent + 4)],
                        indent
                    )
                );
                call("tinymlp::QHidden::new", &[dense, requant, expr], indent - 4)
            }
        };
    }
    s.push_str("/// The quantised network, in flash.\n#[rustfmt::skip]\n");
    s.push_str(ALLOWS);
    let _ = writeln!(s, "pub static MODEL: Model = {expr};\n");
    match &q.input {
        QInput::Pixels => s.push_str(
            "/// The network input for raw pixels: the pixels themselves.\n\
             #[inline]\n\
             pub fn input(raw: &[Raw; INPUTS]) -> [u8; INPUTS] {\n    *raw\n}\n\n",
        ),
        QInput::Quantize {
            mean,
            inv_std,
            inv_scale,
        } => {
            let m = f32_list(mean, "input.mean")?;
            let i = f32_list(inv_std, "input.inv_std")?;
            let scale = f32_literal(*inv_scale, "input.inv_scale", 0)?;
            s.push_str(
                "/// The input quantisation: standardise, then\n\
                 /// `clamp(floor(x · inv_scale + 0.5), −128, 127) + 128`.\n#[rustfmt::skip]\n",
            );
            s.push_str(ALLOWS);
            let standardize = call("tinymlp::Standardize::new", &[list(&m, 8), list(&i, 8)], 4);
            let _ = writeln!(
                s,
                "pub static SCALING: tinymlp::QuantizeInput<INPUTS> = {};\n",
                call("tinymlp::QuantizeInput::new", &[standardize, scale], 0)
            );
            s.push_str(
                "/// The `u8` network input for raw values.\n\
                 #[inline]\n\
                 pub fn input(raw: &[Raw; INPUTS]) -> [u8; INPUTS] {\n    SCALING.apply(raw)\n}\n\n",
            );
        }
    }
    s.push_str(
        "/// The raw `i32` output accumulators for raw values, every layer through\n\
         /// `kernel` (integer sums are exact: every correct kernel agrees).\n\
         pub fn accumulators_with<K: tinymlp::QKernel>(raw: &[Raw; INPUTS], kernel: &K) -> [i32; CLASSES] {\n\
         \x20   tinymlp::QNetwork::accumulators_with(&MODEL, &input(raw), kernel)\n\
         }\n\n\
         /// The raw `i32` output accumulators for raw values.\n\
         pub fn accumulators(raw: &[Raw; INPUTS]) -> [i32; CLASSES] {\n\
         \x20   accumulators_with(raw, &tinymlp::QPortable)\n\
         }\n\n\
         /// The logits for raw values: `acc as f32 * scale` per class.\n\
         pub fn logits(raw: &[Raw; INPUTS]) -> [f32; CLASSES] {\n\
         \x20   tinymlp::QNetwork::dequantize(&MODEL, &accumulators(raw))\n\
         }\n\n\
         /// The class of raw values (an index into `CLASS_NAMES`; first on ties).\n\
         pub fn classify(raw: &[Raw; INPUTS]) -> usize {\n\
         \x20   tinymlp::argmax(&logits(raw))\n\
         }\n",
    );
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_types_nest_input_side_first() {
        assert_eq!(
            chain_type(&[4, 3], "Hidden", "Dense"),
            "tinymlp::Dense<4, 3>"
        );
        assert_eq!(
            chain_type(&[64, 32, 16, 10], "QHidden", "QOutput"),
            "tinymlp::QHidden<64, 32, tinymlp::QHidden<32, 16, tinymlp::QOutput<16, 10>>>"
        );
    }

    #[test]
    fn literals_are_shortest_and_exact() {
        for v in [-0.0f32, f32::from_bits(1), f32::MAX, 0.1, 1.0e-40] {
            let text = f32_literal(v, "t", 0).unwrap();
            let back: f32 = text.strip_suffix("_f32").unwrap().parse().unwrap();
            assert_eq!(back.to_bits(), v.to_bits(), "{text}");
        }
        assert!(f32_literal(f32::NAN, "fc1.weight", 3).is_err());
    }
}
