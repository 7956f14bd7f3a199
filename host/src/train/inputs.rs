//! From an epoch's sample plan to network inputs: augmentation (image
//! shifts), scaling, and touching the samples' memory ahead of use.

use crate::data::Dataset;
use crate::fkernel::sparse::NonZeroChunks;
use crate::fkernel::FFast;
use crate::model::Scaling;

/// Samples [`Inputs::mostly_zero`] looks at.
const SPARSITY_PROBE: usize = 512;

/// One sample of an epoch's plan: which one, and by how many pixels its image
/// is shifted (0 for non-image data).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Index into the training set.
    pub index: usize,
    /// Horizontal shift, pixels.
    pub dx: i8,
    /// Vertical shift, pixels.
    pub dy: i8,
}

/// Turns samples of one data set into network inputs.
#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    /// The training set.
    pub data: &'a Dataset,
    /// The model's input scaling.
    pub scaling: &'a Scaling,
}

impl Inputs<'_> {
    /// Values per input.
    pub fn width(&self) -> usize {
        self.data.features()
    }

    /// The class index of a sample.
    pub fn label(&self, sample: Sample) -> u16 {
        self.data.labels()[sample.index]
    }

    /// Writes the network input of `sample` into `x`.
    pub fn stage(&self, sample: Sample, x: &mut [f32]) {
        match (self.data.pixels(sample.index), self.data.shape().image) {
            (Some(pixels), Some((rows, cols))) if matches!(self.scaling, Scaling::Pixels) => {
                shifted_input(pixels, (rows, cols), (sample.dx, sample.dy), x)
            }
            _ => self.scaling.input(self.data, sample.index, x),
        }
    }

    /// Whether at most half of the chunks of eight inputs hold a value other
    /// than zero, in the first samples of the set as staged (MNIST: 40 %):
    /// then, on a CPU with AVX-512 or AVX2, the first layer's product over only
    /// those chunks is the faster one (`fkernel::sparse`; its portable form
    /// is only the plain reference). Speed only: both give the same bits.
    pub fn mostly_zero(&self) -> bool {
        let mut x = vec![0.0; self.width()];
        let mut lists = NonZeroChunks::new();
        for index in 0..self.data.len().min(SPARSITY_PROBE) {
            self.stage(
                Sample {
                    index,
                    dx: 0,
                    dy: 0,
                },
                &mut x,
            );
            lists.push(&x);
        }
        !lists.is_empty() && lists.density(self.width()) <= 0.5
    }

    /// Reads one byte of every cache line of the samples, all before any is
    /// converted: the samples of a shuffled batch are scattered over the
    /// training set, and touching them together lets their cache misses
    /// overlap instead of stalling one sample at a time. A load waits for
    /// its line; where [`prefetch`](Self::prefetch) asked for the lines a
    /// step earlier (the vector paths), they are already here.
    pub fn touch(&self, samples: &[Sample]) {
        let mut sum = 0u8;
        for sample in samples {
            if let Some(pixels) = self.data.pixels(sample.index) {
                for line in pixels.iter().step_by(64) {
                    sum ^= *line;
                }
            }
        }
        std::hint::black_box(sum);
    }

    /// Asks for every cache line of the samples' images without waiting
    /// ([`FFast::prefetch`]): called a step ahead of their staging, the
    /// misses that [`touch`](Self::touch) would wait for are under way while
    /// the step computes. Nothing for data that is not images, or on the
    /// portable path.
    pub fn prefetch(&self, samples: &[Sample], fast: FFast) {
        for sample in samples {
            if let Some(pixels) = self.data.pixels(sample.index) {
                fast.prefetch(pixels);
            }
        }
    }
}

/// Pixels of a shifted image gathered before one conversion call: MNIST's
/// 784 in one band. Converting row by row (28 calls of 26 to 28 pixels, the
/// vector kernel's set-up and masked tail each time) cost more than the
/// conversion, and every thread of the row split stages the whole batch.
const BAND: usize = 1024;

/// Copies a `rows × cols` image shifted by (`dx`, `dy`) pixels, filling with 0
/// (background), converted as [`tinymlp::pixels_to_input`] does (by
/// [`FFast::pixels_to_inputs`]: the table's bits, faster than its lookups,
/// which compile to gathers).
pub fn shifted_input(
    pixels: &[u8],
    (rows, cols): (usize, usize),
    (dx, dy): (i8, i8),
    x: &mut [f32],
) {
    let fast = FFast::detect();
    if (dx, dy) == (0, 0) {
        fast.pixels_to_inputs(pixels, x);
        return;
    }
    let mut band = [0u8; BAND];
    for (start, out) in (0..).step_by(BAND).zip(x.chunks_mut(BAND)) {
        let moved = &mut band[..out.len()];
        shift_band(pixels, (rows, cols), (dx, dy), start, moved);
        fast.pixels_to_inputs(moved, out);
    }
}

/// `band[i]` = the pixel at flat index `start + i` of the shifted image (0
/// where the shift brings in background). The valid columns of a shifted row
/// are one contiguous run, copied whole as far as it lies in the band.
fn shift_band(
    pixels: &[u8],
    (rows, cols): (usize, usize),
    (dx, dy): (i8, i8),
    start: usize,
    band: &mut [u8],
) {
    band.fill(0);
    let end = start + band.len();
    let (dx, dy) = (isize::from(dx), isize::from(dy));
    let width = (cols as isize - dx.abs()).max(0) as usize;
    let (src_col, dst_col) = (dx.min(0).unsigned_abs(), dx.max(0) as usize);
    for row in start / cols..end.div_ceil(cols).min(rows) {
        let src_row = row as isize - dy;
        if !(0..rows as isize).contains(&src_row) {
            continue;
        }
        let run = row * cols + dst_col;
        let (lo, hi) = (run.max(start), (run + width).min(end));
        if lo < hi {
            let src = src_row as usize * cols + src_col + (lo - run);
            band[lo - start..hi - start].copy_from_slice(&pixels[src..][..hi - lo]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fkernel::pixels::pixel_value;
    use tinymlp::pixels_to_input;

    /// The shifted image pixel by pixel, for the banded copy to agree with.
    fn shifted_plainly(
        pixels: &[u8],
        (rows, cols): (usize, usize),
        (dx, dy): (i8, i8),
    ) -> Vec<f32> {
        let at = |r: usize, c: usize| {
            let (r, c) = (r as isize - isize::from(dy), c as isize - isize::from(dx));
            let inside = (0..rows as isize).contains(&r) && (0..cols as isize).contains(&c);
            if inside {
                pixels[r as usize * cols + c as usize]
            } else {
                0
            }
        };
        (0..rows * cols)
            .map(|i| pixel_value(at(i / cols, i % cols)))
            .collect()
    }

    #[test]
    fn shifts_agree_with_the_pixel_by_pixel_copy_across_bands() {
        // One band (MNIST), several bands with rows split between them, rows
        // longer than a band, and shifts as wide as the image.
        for (rows, cols) in [(28, 28), (3, 5), (40, 50), (3, 1500), (1, 2100), (7, 1)] {
            let pixels: Vec<u8> = (0..rows * cols).map(|i| (i * 37 % 251) as u8 + 1).collect();
            for dx in -6..=6 {
                for dy in [-6, -2, 0, 1, 3, 7] {
                    let mut x = vec![f32::NAN; rows * cols];
                    shifted_input(&pixels, (rows, cols), (dx, dy), &mut x);
                    let want = shifted_plainly(&pixels, (rows, cols), (dx, dy));
                    let same = x.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits());
                    assert!(same, "{rows}×{cols} shifted by ({dx}, {dy})");
                }
            }
        }
    }

    #[test]
    fn shift_moves_pixels_and_fills_with_background() {
        let mut image = [0u8; 784];
        image[28 * 10 + 10] = 255;
        let mut input = [0.0; 784];
        shifted_input(&image, (28, 28), (2, -1), &mut input);
        assert_eq!(input[28 * 9 + 12], 1.0);
        assert_eq!(input.iter().filter(|&&v| v != 0.0).count(), 1);
        shifted_input(&image, (28, 28), (-3, 2), &mut input);
        assert_eq!(input[28 * 12 + 7], 1.0);
        assert_eq!(input.iter().filter(|&&v| v != 0.0).count(), 1);
        shifted_input(&image, (28, 28), (0, 0), &mut input);
        assert_eq!(input, pixels_to_input(&image));
        // The shifted path converts exactly like the plain one.
        let gray: [u8; 784] = core::array::from_fn(|i| (i % 256) as u8);
        let mut moved = [0.0; 784];
        shifted_input(&gray, (28, 28), (1, 0), &mut moved);
        let plain = pixels_to_input(&gray);
        assert_eq!(moved[28 * 5 + 10].to_bits(), plain[28 * 5 + 9].to_bits());
        // Not square: 3 rows of 5.
        let small: [u8; 15] = core::array::from_fn(|i| i as u8 + 1);
        let mut x = [0.0; 15];
        shifted_input(&small, (3, 5), (1, 1), &mut x);
        assert_eq!(x[5 + 1], pixel_value(1));
        assert_eq!(x[2 * 5 + 4], pixel_value(5 + 4));
        assert_eq!(x[..5], [0.0; 5]);
    }
}
