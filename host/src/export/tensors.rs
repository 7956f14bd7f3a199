//! Every tensor of a network as a plain CSV file (`host emit --format csv`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use tinymlp::TensorKind;

use super::error::ExportError;
use crate::fs::write_atomic;
use crate::model::Net;

/// The CSV text of tensor `t` of `net`: a weight `[OUT][IN]` gives one line
/// per output with `IN` comma-separated values; a bias gives one value per
/// line. Values are written in Rust's shortest round-trip form (`{:?}`), so
/// parsing them back yields the very same `f32` bits.
pub fn tensor_csv(net: &Net, t: usize) -> String {
    let info = net.tensor_info(t);
    let values = net.tensor(t);
    let per_line = match info.kind {
        TensorKind::Weight => info.dims[1].max(1),
        TensorKind::Bias => 1,
    };
    let mut out = String::with_capacity(values.len() * 12);
    for line in values.chunks(per_line) {
        for (j, v) in line.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            let _ = write!(out, "{v:?}");
        }
        out.push('\n');
    }
    out
}

/// Writes every tensor of `net` into `dir` as `<name>.csv` (`fc1.weight.csv`,
/// `fc1.bias.csv`, …; see [`tensor_csv`]), each atomically, creating `dir`
/// if needed. Returns the paths written, in tensor order.
pub fn write_tensors_csv(dir: &Path, net: &Net) -> Result<Vec<PathBuf>, ExportError> {
    let error = |path: &Path| {
        let path = path.to_path_buf();
        move |error| ExportError::Write { path, error }
    };
    std::fs::create_dir_all(dir).map_err(error(dir))?;
    (0..net.tensors())
        .map(|t| {
            let path = dir.join(format!("{}.csv", net.tensor_info(t).name()));
            write_atomic(&path, tensor_csv(net, t).as_bytes()).map_err(error(&path))?;
            Ok(path)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Architecture;

    #[test]
    fn csv_files_round_trip_every_bit() {
        let arch = Architecture::from_widths(vec![5, 3, 2]).unwrap();
        let mut net = Net::initialised(&arch, 7);
        // Values whose text forms are tricky: exponents, subnormals, -0, extremes.
        let special = [
            1e-7,
            -0.0,
            f32::MIN_POSITIVE / 3.0,
            f32::MAX,
            0.1,
            1.0 / 3.0,
        ];
        net.tensor_mut(0)[..special.len()].copy_from_slice(&special);
        let dir = tempfile::tempdir().unwrap();
        let paths = write_tensors_csv(dir.path(), &net).unwrap();
        let names: Vec<String> = paths
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "fc1.weight.csv",
                "fc1.bias.csv",
                "fc2.weight.csv",
                "fc2.bias.csv"
            ]
        );
        for (t, path) in paths.iter().enumerate() {
            let info = net.tensor_info(t);
            let text = std::fs::read_to_string(path).unwrap();
            let rows: Vec<Vec<f32>> = text
                .lines()
                .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
                .collect();
            assert_eq!(rows.len(), info.dims[0], "one row per output");
            let flat: Vec<u32> = rows.iter().flatten().map(|v| v.to_bits()).collect();
            let expected: Vec<u32> = net.tensor(t).iter().map(|v| v.to_bits()).collect();
            assert_eq!(flat, expected);
        }
    }
}
