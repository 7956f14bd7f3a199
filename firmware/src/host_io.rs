//! The little-endian records of the bundle's files, read through
//! [`semihosting`](crate::semihosting) (formats in `host::export::predictions`).

/// The little-endian `u32` at word `i` of `bytes`.
pub fn word(bytes: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([
        bytes[4 * i],
        bytes[4 * i + 1],
        bytes[4 * i + 2],
        bytes[4 * i + 3],
    ])
}

/// A raw input value as stored in `test_inputs.bin`: `u8` pixels or `f32` bits.
pub trait RawValue: Copy + Default {
    /// Bytes per value in the file.
    const SIZE: usize;
    /// Type code in the file headers (0 = u8, 1 = f32).
    const CODE: u32;
    /// The value from its little-endian bytes.
    fn from_le(bytes: &[u8]) -> Self;
}

impl RawValue for u8 {
    const SIZE: usize = 1;
    const CODE: u32 = 0;
    fn from_le(bytes: &[u8]) -> Self {
        bytes[0]
    }
}

impl RawValue for f32 {
    const SIZE: usize = 4;
    const CODE: u32 = 1;
    fn from_le(bytes: &[u8]) -> Self {
        f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
    }
}

/// Decodes `N` raw values from `bytes`.
pub fn decode<T: RawValue, const N: usize>(bytes: &[u8]) -> [T; N] {
    core::array::from_fn(|i| T::from_le(&bytes[i * T::SIZE..]))
}
