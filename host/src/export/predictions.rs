//! The files the firmware checks itself against, for models of any shape.
//!
//! All little-endian, fixed-size records, no padding.
//!
//! # Predictions (`predictions_f32.bin`, `predictions_int8.bin`)
//!
//! ```text
//! offset 0   8 bytes   magic: b"TMLPF32\x02" (f32 logits) or b"TMLPI32\x02" (int8 accumulators)
//! offset 8   u32       number of samples N
//! offset 12  u32       number of classes C
//! offset 16  u32       number of raw inputs per sample
//! offset 20  u32       raw input type: 0 = u8 (pixels), 1 = f32
//! offset 24  N records, each:
//!              C × u32   f32 logits as IEEE bits, or i32 output accumulators
//!              u32       predicted class (argmax of the logits, first on ties)
//! ```
//!
//! The f32 logits are the host's [`Net::logits`](crate::model::Net::logits)
//! of the scaled sample (what the emitted `logits(raw)` returns); the int8
//! accumulators are [`QNet::accumulators`] (what the emitted
//! `accumulators(raw)` returns, the logits follow by one multiply per row).
//!
//! # Test inputs (`test_inputs.bin.gz`, gzip of)
//!
//! ```text
//! offset 0   8 bytes   magic: b"TMLPTIN\x02"
//! offset 8   u32       number of samples N
//! offset 12  u32       number of raw inputs per sample I
//! offset 16  u32       raw input type: 0 = u8, 1 = f32
//! offset 20  N records, each: I raw values (u8, or f32 bits), then u32 label
//! ```

use std::io::{Read, Write};
use std::path::Path;

use flate2::Compression;

use super::qnet::QNet;
use crate::data::Dataset;
use crate::model::Model;

/// Magic of an f32 predictions file.
pub const PREDICTIONS_F32_MAGIC: [u8; 8] = *b"TMLPF32\x02";
/// Magic of an int8 predictions file.
pub const PREDICTIONS_INT8_MAGIC: [u8; 8] = *b"TMLPI32\x02";
/// Magic of a test-inputs file.
pub const TEST_INPUTS_MAGIC: [u8; 8] = *b"TMLPTIN\x02";
/// Bytes before the first record of a predictions file.
pub const PREDICTIONS_HEADER: usize = 24;
/// Bytes before the first record of a test-inputs file.
pub const TEST_INPUTS_HEADER: usize = 20;

/// Raw input type code: `u8` pixels.
pub const RAW_U8: u32 = 0;
/// Raw input type code: `f32` values.
pub const RAW_F32: u32 = 1;

fn u32_of(n: usize) -> [u8; 4] {
    u32::try_from(n).expect("fits in u32").to_le_bytes()
}

fn raw_type(model: &Model) -> u32 {
    if model.scaling.takes_pixels() {
        RAW_U8
    } else {
        RAW_F32
    }
}

fn header(magic: [u8; 8], model: &Model, count: usize) -> Vec<u8> {
    let classes = model.net.architecture().classes();
    let mut out = Vec::with_capacity(PREDICTIONS_HEADER + count * (classes + 1) * 4);
    out.extend_from_slice(&magic);
    out.extend_from_slice(&u32_of(count));
    out.extend_from_slice(&u32_of(classes));
    out.extend_from_slice(&u32_of(model.inputs()));
    out.extend_from_slice(&raw_type(model).to_le_bytes());
    out
}

/// The f32 predictions file of `model` over `test` (format in the [module
/// docs](self)), through the batch kernels (the bits of `Net::logits` per sample).
pub fn predictions_f32(model: &Model, test: &Dataset) -> Vec<u8> {
    let mut out = header(PREDICTIONS_F32_MAGIC, model, test.len());
    model.forward_each(test, test.len(), |_, outputs| {
        let logits = outputs.logits();
        for l in logits {
            out.extend_from_slice(&l.to_bits().to_le_bytes());
        }
        out.extend_from_slice(&u32_of(tinymlp::argmax(logits)));
    });
    out
}

/// The int8 predictions file of `q` (the quantised `model`) over `test`.
pub fn predictions_int8(model: &Model, q: &QNet, test: &Dataset) -> Vec<u8> {
    let mut out = header(PREDICTIONS_INT8_MAGIC, model, test.len());
    for i in 0..test.len() {
        let acc = q.accumulators_u8(&q.input_of(test, i));
        for a in &acc {
            out.extend_from_slice(&a.to_le_bytes());
        }
        out.extend_from_slice(&u32_of(tinymlp::argmax(&q.dequantize(&acc))));
    }
    out
}

/// The (uncompressed) test-inputs file: every raw sample of `test` and its label.
pub fn test_inputs(model: &Model, test: &Dataset) -> Vec<u8> {
    let mut out = Vec::with_capacity(TEST_INPUTS_HEADER + test.len() * (test.features() + 4));
    write_test_inputs(model, test, &mut out).expect("writing to memory");
    out
}

/// The deflate level of `model`'s test-inputs file. `f32` values hardly
/// compress, and deflate's default level spends 15 times as long as its
/// fastest on them for 3 % less (4.8 MB of 600 sensor features per sample:
/// 1.80 MB in 0.68 s against 1.86 MB in 0.045 s); pixels keep the default
/// (the fastest level makes MNIST's test images 18 % larger).
pub fn test_inputs_level(model: &Model) -> Compression {
    if model.scaling.takes_pixels() {
        Compression::default()
    } else {
        Compression::fast()
    }
}

/// [`gzip`] of [`test_inputs`] at [`test_inputs_level`], the same bytes,
/// compressed sample by sample (memory does not grow with the test set).
pub fn test_inputs_gz(model: &Model, test: &Dataset) -> Vec<u8> {
    let mut gz = gzip_writer(test_inputs_level(model));
    write_test_inputs(model, test, &mut gz).expect("writing to memory");
    gz.finish().expect("writing to memory")
}

/// [`test_inputs_gz`], but when the file at `previous` (what an earlier run
/// wrote there) already holds exactly these samples under the header
/// [`test_inputs_gz`] writes (which names the level), its bytes instead:
/// inflating and comparing takes a fifth of the time deflating does (~0.1 s
/// against ~0.5 s for the MNIST test set), and the bytes are the same either
/// way, since the compression is deterministic. A missing, unreadable,
/// oversized or different file is simply not reused. Both ways stream sample
/// by sample: memory holds the compressed file, never the raw samples.
pub fn test_inputs_gz_reusing(previous: &Path, model: &Model, test: &Dataset) -> Vec<u8> {
    let pixels = model.scaling.takes_pixels();
    let sample = test.features() * if pixels { 1 } else { 4 } + 4;
    let raw_len = (TEST_INPUTS_HEADER + test.len() * sample) as u64;
    // Deflate never grows data by more than a few bytes per 16 KiB block.
    let header = gzip(&[], test_inputs_level(model));
    match read_at_most(previous, raw_len + raw_len / 64 + 1024) {
        Some(gz)
            if gz.get(..GZIP_HEADER) == header.get(..GZIP_HEADER)
                && same_samples(&gz, model, test) =>
        {
            gz
        }
        _ => test_inputs_gz(model, test),
    }
}

/// The bytes of the file at `path` if it can be read and holds at most `most`.
fn read_at_most(path: &Path, most: u64) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    let file = std::fs::File::open(path).ok()?;
    file.take(most + 1).read_to_end(&mut bytes).ok()?;
    (bytes.len() as u64 <= most).then_some(bytes)
}

/// Whether `gz` is one gzip stream of exactly the test-inputs file of `test`.
fn same_samples(gz: &[u8], model: &Model, test: &Dataset) -> bool {
    let mut inflated = Comparer {
        reader: flate2::read::GzDecoder::new(gz),
        expected: Vec::new(),
    };
    write_test_inputs(model, test, &mut inflated).is_ok() && inflated.at_end()
}

/// A writer that checks what is written against what its reader yields, and
/// fails at the first difference.
struct Comparer<R> {
    reader: R,
    /// The reader's bytes for the current write (kept to reuse its memory).
    expected: Vec<u8>,
}

impl<R: Read> Comparer<R> {
    fn at_end(&mut self) -> bool {
        matches!(self.reader.read(&mut [0u8; 1]), Ok(0))
    }
}

impl<R: Read> Write for Comparer<R> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.expected.resize(buf.len(), 0);
        self.reader.read_exact(&mut self.expected)?;
        if self.expected != buf {
            return Err(std::io::Error::other("different bytes"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn write_test_inputs(model: &Model, test: &Dataset, out: &mut impl Write) -> std::io::Result<()> {
    let pixels = model.scaling.takes_pixels();
    out.write_all(&TEST_INPUTS_MAGIC)?;
    out.write_all(&u32_of(test.len()))?;
    out.write_all(&u32_of(model.inputs()))?;
    out.write_all(&raw_type(model).to_le_bytes())?;
    let mut raw = vec![0.0f32; test.features()];
    let mut sample = Vec::with_capacity(test.features() * 4 + 4);
    for i in 0..test.len() {
        sample.clear();
        match (pixels, test.pixels(i)) {
            (true, Some(p)) => sample.extend_from_slice(p),
            _ => {
                test.raw_f32(i, &mut raw);
                if pixels {
                    sample.extend(raw.iter().map(|&v| v as u8));
                } else {
                    sample.extend(raw.iter().flat_map(|v| v.to_bits().to_le_bytes()));
                }
            }
        }
        sample.extend_from_slice(&u32_of(test.label(i)));
        out.write_all(&sample)?;
    }
    Ok(())
}

/// Bytes of the gzip header [`gzip`] writes: magic, method, flags, time,
/// the level's extra flags (fastest, best or other) and the system.
const GZIP_HEADER: usize = 10;

/// Gzip of `bytes` at `level`, deterministic (no file name, modification
/// time 0). The best level took a second for the 7.8 MB of the MNIST test
/// images and saved 2 % against the default.
pub fn gzip(bytes: &[u8], level: Compression) -> Vec<u8> {
    let mut gz = gzip_writer(level);
    gz.write_all(bytes).expect("writing to memory");
    gz.finish().expect("writing to memory")
}

fn gzip_writer(level: Compression) -> flate2::write::GzEncoder<Vec<u8>> {
    flate2::GzBuilder::new().mtime(0).write(Vec::new(), level)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Classes;
    use crate::model::{Architecture, Net, Scaling};

    fn three_feature_model() -> Model {
        let arch = Architecture::from_widths(vec![3, 4, 2]).unwrap();
        Model {
            net: Net::initialised(&arch, 1),
            scaling: Scaling::None,
            classes: Classes::numeric(2),
            image: None,
        }
    }

    fn three_feature_set(rows: usize, offset: usize) -> Dataset {
        let values: Vec<f32> = (0..3 * rows)
            .map(|i| ((i + offset) % 97) as f32 * 0.5)
            .collect();
        let labels: Vec<u16> = (0..rows).map(|i| (i % 2) as u16).collect();
        let shape = crate::data::Shape {
            features: 3,
            image: None,
        };
        Dataset::from_values("t", shape, values, labels, Classes::numeric(2)).unwrap()
    }

    #[test]
    fn streamed_test_inputs_are_the_same_bytes() {
        let (model, test) = (three_feature_model(), three_feature_set(5000, 0));
        assert_eq!(
            test_inputs_gz(&model, &test),
            gzip(&test_inputs(&model, &test), Compression::fast())
        );
    }

    #[test]
    fn a_previous_file_is_reused_only_when_it_holds_the_same_samples() {
        let (model, test) = (three_feature_model(), three_feature_set(500, 0));
        let dir = tempfile::tempdir().unwrap();
        let previous = dir.path().join("test_inputs.bin.gz");
        let fresh = test_inputs_gz(&model, &test);
        let reuse = || test_inputs_gz_reusing(&previous, &model, &test);
        assert_eq!(reuse(), fresh, "no previous file");

        // The same samples stored uncompressed, under the header of the
        // fastest level, as `fresh` is: kept as it is (which shows it was
        // reused, not recompressed).
        let stored = gzip(&test_inputs(&model, &test), Compression::none());
        assert_ne!(stored, fresh);
        assert_eq!(stored[..GZIP_HEADER], fresh[..GZIP_HEADER]);
        std::fs::write(&previous, &stored).unwrap();
        assert_eq!(reuse(), stored);
        // At the default level (another header): compressed again, so that
        // a file written before the level changed does not outlive it.
        let default = gzip(&test_inputs(&model, &test), Compression::default());
        assert_ne!(default[..GZIP_HEADER], fresh[..GZIP_HEADER]);
        std::fs::write(&previous, &default).unwrap();
        assert_eq!(reuse(), fresh);

        let other = test_inputs_gz(&model, &three_feature_set(500, 1));
        let longer = test_inputs_gz(&model, &three_feature_set(501, 0));
        let mut trailing = test_inputs(&model, &test);
        trailing.push(0);
        let cases = [
            other,
            longer,
            gzip(&trailing, Compression::fast()),
            stored[..stored.len() / 2].to_vec(),
            b"junk".to_vec(),
        ];
        for bytes in cases {
            std::fs::write(&previous, bytes).unwrap();
            assert_eq!(reuse(), fresh);
        }
    }

    #[test]
    fn headers_name_the_shape_and_the_input_type() {
        let model = three_feature_model();
        let test = Dataset::from_values(
            "t",
            crate::data::Shape {
                features: 3,
                image: None,
            },
            vec![0.5, -1.0, 2.0, 0.0, 0.25, 1.5],
            vec![1, 0],
            Classes::numeric(2),
        )
        .unwrap();
        let f = predictions_f32(&model, &test);
        assert_eq!(f[..8], PREDICTIONS_F32_MAGIC);
        assert_eq!(f[8..24], [2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(f.len(), 24 + 2 * 3 * 4);
        let logits = model.net.logits(&[0.0, 0.25, 1.5]);
        let word = |i: usize| u32::from_le_bytes(f[24 + 4 * i..28 + 4 * i].try_into().unwrap());
        assert_eq!(word(3), logits[0].to_bits());
        assert_eq!(word(5) as usize, tinymlp::argmax(&logits));

        let t = test_inputs(&model, &test);
        assert_eq!(t[..8], TEST_INPUTS_MAGIC);
        assert_eq!(t.len(), 20 + 2 * (12 + 4));
        assert_eq!(t[20..24], 0.5f32.to_le_bytes());
        assert_eq!(t[32..36], [1, 0, 0, 0]);
        assert_eq!(gzip(&t, Compression::fast()), gzip(&t, Compression::fast()));
    }

    #[test]
    fn pixels_are_compressed_harder_than_values() {
        let values = three_feature_model();
        assert_eq!(test_inputs_level(&values), Compression::fast());
        let pixels = Model {
            scaling: Scaling::Pixels,
            ..values
        };
        assert_eq!(test_inputs_level(&pixels), Compression::default());
    }
}
