//! Emits trained networks as Rust source for firmware, plus the host's
//! reference predictions that the firmware checks itself against.
//!
//! # Emitted source
//!
//! [`emit_f32`] / [`emit_int8`] (and the `*_mlp2` variants) return the text of
//! a Rust file meant for `include!`: `// @generated` header lines (tool,
//! architecture, seed, test accuracy, SHA-256 of the checkpoint), then one item,
//!
//! ```text
//! pub static MODEL: tinymlp::Mlp<784, 64, 10> = tinymlp::Mlp::new(tinymlp::Dense::new([[…]], […]), …);
//! pub static MODEL_INT8: tinymlp::QMlp<784, 64, 10> = tinymlp::QMlp::new(…);
//! ```
//!
//! always a `static` (a large `const` used by value would be copied onto the
//! stack), marked `#[rustfmt::skip]`. `f32` values are written with Rust's
//! shortest round-trip formatting (`{:?}`) and an `_f32` suffix, e.g.
//! `-0.0_f32`, `1e-45_f32`, `3.4028235e38_f32`: the compiler parses each back
//! to exactly the same bits, `-0.0` and subnormals included. NaN and infinities
//! are rejected ([`CodegenError::NonFinite`]). The output is a pure function of
//! the network and the header, so the same network gives byte-identical text.
//!
//! # Predictions files
//!
//! Little-endian, fixed-size records, no padding:
//!
//! ```text
//! offset 0   8 bytes   magic: b"TMLPPF32" (f32 logits) or b"TMLPPI32" (int8: i32 accumulators)
//! offset 8   u32       number of images N
//! offset 12  u32       number of classes C
//! offset 16  N records, each:
//!              C × u32   f32 logits as IEEE bits (TMLPPF32) or i32 output accumulators (TMLPPI32)
//!              u32       predicted class (argmax, first on ties)
//! ```
//!
//! The f32 logits are those of [`Network::logits`] on
//! [`tinymlp::pixels_to_input`] of the image; the int8 accumulators those of
//! [`QMlp::accumulators`] on the raw pixels (the logits follow from them by one
//! deterministic multiply per row). The firmware compares every value exactly.

use std::fmt::{self, Write as _};

use sha2::{Digest, Sha256};
use tinymlp::{
    argmax, pixels_to_input, Dense, Mlp, Mlp2, Network, QDense, QMlp, QMlp2, Requantize,
};

/// Magic of an f32 predictions file.
pub const PREDICTIONS_F32_MAGIC: [u8; 8] = *b"TMLPPF32";
/// Magic of an int8 predictions file.
pub const PREDICTIONS_INT8_MAGIC: [u8; 8] = *b"TMLPPI32";

/// What the emitted file's header says about where the weights came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    /// Tool name, e.g. `"tinymlp host"`.
    pub tool: String,
    /// Tool version, e.g. `env!("CARGO_PKG_VERSION")`.
    pub version: String,
    /// Architecture, e.g. `"784-64-10"` (see [`architecture`]).
    pub architecture: String,
    /// Seed of the training run.
    pub seed: u64,
    /// Test-set accuracy in percent, if known.
    pub test_accuracy: Option<f64>,
    /// SHA-256 of the checkpoint file, lowercase hex (see [`sha256_hex`]).
    pub checkpoint_sha256: String,
}

/// Why source could not be emitted.
#[derive(Clone, Debug, PartialEq)]
pub enum CodegenError {
    /// A parameter is NaN or infinite and has no exact literal.
    NonFinite {
        /// Which tensor, e.g. `"fc1.weight"`.
        tensor: &'static str,
        /// Flat index within the tensor.
        index: usize,
    },
}

impl fmt::Display for CodegenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NonFinite { tensor, index } => {
                write!(f, "{tensor}[{index}] is NaN or infinite: cannot emit it")
            }
        }
    }
}

impl std::error::Error for CodegenError {}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// `"IN-H-OUT"`-style architecture string from layer widths.
pub fn architecture(widths: &[usize]) -> String {
    widths
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("-")
}

/// An exact Rust literal for `v` (`{:?}` is the shortest round-trip form).
fn f32_literal(v: f32, tensor: &'static str, index: usize) -> Result<String, CodegenError> {
    if v.is_finite() {
        Ok(format!("{v:?}_f32"))
    } else {
        Err(CodegenError::NonFinite { tensor, index })
    }
}

/// Values per line inside emitted arrays.
const PER_LINE: usize = 8;

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

fn f32_list(
    values: &[f32],
    tensor: &'static str,
    offset: usize,
) -> Result<Vec<String>, CodegenError> {
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| f32_literal(v, tensor, offset + i))
        .collect()
}

fn int_list<T: ToString>(values: &[T]) -> Vec<String> {
    values.iter().map(T::to_string).collect()
}

/// Writes a `[[..], ..]` matrix, one row after another.
fn write_matrix(out: &mut String, rows: &[Vec<String>], indent: usize) {
    out.push('[');
    for row in rows {
        out.push('\n');
        out.push_str(&" ".repeat(indent + 4));
        write_list(out, row, indent + 4);
        out.push(',');
    }
    out.push('\n');
    out.push_str(&" ".repeat(indent));
    out.push(']');
}

fn dense_source<const IN: usize, const OUT: usize>(
    layer: &Dense<IN, OUT>,
    name: &'static str,
    indent: usize,
) -> Result<String, CodegenError> {
    let (weight_name, bias_name) = match name {
        "fc1" => ("fc1.weight", "fc1.bias"),
        "fc2" => ("fc2.weight", "fc2.bias"),
        _ => ("fc3.weight", "fc3.bias"),
    };
    let rows = layer
        .weights
        .iter()
        .enumerate()
        .map(|(o, row)| f32_list(row, weight_name, o * IN))
        .collect::<Result<Vec<_>, _>>()?;
    let mut s = format!(
        "// {name}: {OUT}×{IN}\n{}tinymlp::Dense::new(\n",
        " ".repeat(indent)
    );
    s.push_str(&" ".repeat(indent + 4));
    write_matrix(&mut s, &rows, indent + 4);
    s.push_str(",\n");
    s.push_str(&" ".repeat(indent + 4));
    write_list(&mut s, &f32_list(&layer.bias, bias_name, 0)?, indent + 4);
    s.push_str(",\n");
    s.push_str(&" ".repeat(indent));
    s.push(')');
    Ok(s)
}

fn qdense_source<const IN: usize, const OUT: usize>(
    layer: &QDense<IN, OUT>,
    name: &str,
    indent: usize,
) -> String {
    let rows: Vec<_> = layer.weights.iter().map(|r| int_list(r)).collect();
    let mut s = format!(
        "// {name}: {OUT}×{IN}, i8 weights, i32 bias\n{}tinymlp::QDense::new(\n",
        " ".repeat(indent)
    );
    s.push_str(&" ".repeat(indent + 4));
    write_matrix(&mut s, &rows, indent + 4);
    s.push_str(",\n");
    s.push_str(&" ".repeat(indent + 4));
    write_list(&mut s, &int_list(&layer.bias), indent + 4);
    s.push_str(",\n");
    s.push_str(&" ".repeat(indent));
    s.push(')');
    s
}

fn requant_source<const N: usize>(r: &Requantize<N>, name: &str, indent: usize) -> String {
    let mut s = format!(
        "// {name} requantisation: u8 = clamp((acc · multiplier + 2^(shift−1)) >> shift, 0, 255)\n"
    );
    s.push_str(&" ".repeat(indent));
    s.push_str("tinymlp::Requantize::new(\n");
    s.push_str(&" ".repeat(indent + 4));
    write_list(&mut s, &int_list(&r.multiplier), indent + 4);
    s.push_str(",\n");
    s.push_str(&" ".repeat(indent + 4));
    write_list(&mut s, &int_list(&r.shift), indent + 4);
    s.push_str(",\n");
    s.push_str(&" ".repeat(indent));
    s.push(')');
    s
}

fn header_source(h: &Header, kind: &str) -> String {
    let accuracy = h
        .test_accuracy
        .map_or_else(|| "unknown".to_owned(), |a| format!("{a:.2}%"));
    format!(
        "// @generated by {} {} — do not edit.\n\
         // {kind} weights of a {} network.\n\
         // seed: {}\n\
         // test accuracy: {accuracy}\n\
         // checkpoint sha256: {}\n\n",
        h.tool, h.version, h.architecture, h.seed, h.checkpoint_sha256
    )
}

/// Lints that emitted weights may trip by accident: a trained weight can land
/// next to π (`approx_constant`), and long literals are not digit-grouped
/// (`unreadable_literal`, pedantic).
const ALLOWS: &str = "#[allow(clippy::approx_constant, clippy::unreadable_literal)]\n";

/// The common start of every emitted file: the header comments, the item's
/// doc line, `#[rustfmt::skip]`, the lint allowances and the declaration line
/// (`pub static NAME: TYPE = CONSTRUCTOR(`).
fn item_start(header: &Header, precision: &str, doc: &str, declaration: &str) -> String {
    let mut s = header_source(header, precision);
    let _ = writeln!(s, "/// {doc}\n#[rustfmt::skip]");
    s.push_str(ALLOWS);
    let _ = writeln!(s, "{declaration}");
    s
}

/// Rust source defining `pub static MODEL: tinymlp::Mlp<IN, H, OUT>` with `net`'s exact weights.
pub fn emit_f32<const IN: usize, const H: usize, const OUT: usize>(
    net: &Mlp<IN, H, OUT>,
    header: &Header,
) -> Result<String, CodegenError> {
    let mut s = item_start(
        header,
        "f32",
        "The trained network, in flash.",
        &format!("pub static MODEL: tinymlp::Mlp<{IN}, {H}, {OUT}> = tinymlp::Mlp::new("),
    );
    s.push_str("    ");
    s.push_str(&dense_source(&net.hidden, "fc1", 4)?);
    s.push_str(",\n    ");
    s.push_str(&dense_source(&net.output, "fc2", 4)?);
    s.push_str(",\n);\n");
    Ok(s)
}

/// Rust source defining `pub static MODEL: tinymlp::Mlp2<IN, H1, H2, OUT>`.
pub fn emit_f32_mlp2<const IN: usize, const H1: usize, const H2: usize, const OUT: usize>(
    net: &Mlp2<IN, H1, H2, OUT>,
    header: &Header,
) -> Result<String, CodegenError> {
    let mut s = item_start(
        header,
        "f32",
        "The trained network, in flash.",
        &format!("pub static MODEL: tinymlp::Mlp2<{IN}, {H1}, {H2}, {OUT}> = tinymlp::Mlp2::new("),
    );
    s.push_str("    ");
    s.push_str(&dense_source(&net.hidden1, "fc1", 4)?);
    s.push_str(",\n    ");
    s.push_str(&dense_source(&net.hidden2, "fc2", 4)?);
    s.push_str(",\n    ");
    s.push_str(&dense_source(&net.output, "fc3", 4)?);
    s.push_str(",\n);\n");
    Ok(s)
}

/// Rust source defining `pub static MODEL_INT8: tinymlp::QMlp<IN, H, OUT>`.
pub fn emit_int8<const IN: usize, const H: usize, const OUT: usize>(
    net: &QMlp<IN, H, OUT>,
    header: &Header,
) -> Result<String, CodegenError> {
    let mut s = item_start(
        header,
        "int8",
        "The quantised network, in flash.",
        &format!("pub static MODEL_INT8: tinymlp::QMlp<{IN}, {H}, {OUT}> = tinymlp::QMlp::new("),
    );
    s.push_str("    ");
    s.push_str(&qdense_source(&net.hidden, "fc1", 4));
    s.push_str(",\n    ");
    s.push_str(&requant_source(&net.hidden_requant, "fc1", 4));
    s.push_str(",\n    ");
    s.push_str(&qdense_source(&net.output, "fc2", 4));
    s.push_str(",\n    // fc2 output scales: logit = acc as f32 * scale\n    ");
    write_list(
        &mut s,
        &f32_list(&net.output_scale, "fc2.output_scale", 0)?,
        4,
    );
    s.push_str(",\n);\n");
    Ok(s)
}

/// Rust source defining `pub static MODEL_INT8: tinymlp::QMlp2<IN, H1, H2, OUT>`.
pub fn emit_int8_mlp2<const IN: usize, const H1: usize, const H2: usize, const OUT: usize>(
    net: &QMlp2<IN, H1, H2, OUT>,
    header: &Header,
) -> Result<String, CodegenError> {
    let mut s = item_start(
        header,
        "int8",
        "The quantised network, in flash.",
        &format!(
            "pub static MODEL_INT8: tinymlp::QMlp2<{IN}, {H1}, {H2}, {OUT}> = tinymlp::QMlp2::new("
        ),
    );
    s.push_str("    ");
    s.push_str(&qdense_source(&net.hidden1, "fc1", 4));
    s.push_str(",\n    ");
    s.push_str(&requant_source(&net.hidden1_requant, "fc1", 4));
    s.push_str(",\n    ");
    s.push_str(&qdense_source(&net.hidden2, "fc2", 4));
    s.push_str(",\n    ");
    s.push_str(&requant_source(&net.hidden2_requant, "fc2", 4));
    s.push_str(",\n    ");
    s.push_str(&qdense_source(&net.output, "fc3", 4));
    s.push_str(",\n    // fc3 output scales: logit = acc as f32 * scale\n    ");
    write_list(
        &mut s,
        &f32_list(&net.output_scale, "fc3.output_scale", 0)?,
        4,
    );
    s.push_str(",\n);\n");
    Ok(s)
}

fn predictions_header(magic: [u8; 8], count: usize, classes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + count * (classes + 1) * 4);
    out.extend_from_slice(&magic);
    out.extend_from_slice(&u32::try_from(count).expect("too many images").to_le_bytes());
    out.extend_from_slice(
        &u32::try_from(classes)
            .expect("too many classes")
            .to_le_bytes(),
    );
    out
}

/// The f32 predictions file (format in the [module docs](self)) of any network
/// over `images`: logits of `net.logits(&pixels_to_input(image))` and the class.
pub fn write_predictions_f32<const IN: usize, const OUT: usize, N: Network<IN, OUT>>(
    net: &N,
    images: &[[u8; IN]],
) -> Vec<u8> {
    let mut out = predictions_header(PREDICTIONS_F32_MAGIC, images.len(), OUT);
    for image in images {
        let logits = net.logits(&pixels_to_input(image));
        for l in &logits {
            out.extend_from_slice(&l.to_bits().to_le_bytes());
        }
        out.extend_from_slice(&(argmax(&logits) as u32).to_le_bytes());
    }
    out
}

fn int8_record<const OUT: usize>(out: &mut Vec<u8>, acc: &[i32; OUT], logits: &[f32; OUT]) {
    for a in acc {
        out.extend_from_slice(&a.to_le_bytes());
    }
    out.extend_from_slice(&(argmax(logits) as u32).to_le_bytes());
}

/// The int8 predictions file of `net` over `images`: output accumulators and class.
pub fn write_predictions_int8<const IN: usize, const H: usize, const OUT: usize>(
    net: &QMlp<IN, H, OUT>,
    images: &[[u8; IN]],
) -> Vec<u8> {
    let mut out = predictions_header(PREDICTIONS_INT8_MAGIC, images.len(), OUT);
    for image in images {
        let acc = net.accumulators(image);
        int8_record(&mut out, &acc, &net.dequantize(&acc));
    }
    out
}

/// The int8 predictions file of a two-hidden-layer `net` over `images`.
pub fn write_predictions_int8_mlp2<
    const IN: usize,
    const H1: usize,
    const H2: usize,
    const OUT: usize,
>(
    net: &QMlp2<IN, H1, H2, OUT>,
    images: &[[u8; IN]],
) -> Vec<u8> {
    let mut out = predictions_header(PREDICTIONS_INT8_MAGIC, images.len(), OUT);
    for image in images {
        let acc = net.accumulators(image);
        int8_record(&mut out, &acc, &net.dequantize(&acc));
    }
    out
}
