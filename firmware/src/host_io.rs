//! Host files read through semihosting, and the little-endian records of the
//! bundle's files (formats in `host::export::predictions`).

use cortex_m_semihosting::syscall;

/// A host file opened read-only through semihosting.
pub struct HostFile(usize);

impl HostFile {
    /// Opens the nul-terminated `path` ("rb").
    pub fn open(path: &str) -> Self {
        assert!(path.ends_with('\0'));
        // SAFETY: OPEN reads `len` bytes of the nul-terminated name.
        let fd = unsafe {
            syscall!(
                OPEN,
                path.as_ptr(),
                cortex_m_semihosting::nr::open::R_BINARY,
                path.len() - 1
            )
        };
        assert!(fd != usize::MAX, "cannot open a host file");
        Self(fd)
    }

    /// Fills `buf` entirely.
    pub fn read_exact(&mut self, buf: &mut [u8]) {
        // SAFETY: READ writes at most `buf.len()` bytes into `buf`.
        let left = unsafe { syscall!(READ, self.0, buf.as_mut_ptr(), buf.len()) };
        assert!(left == 0, "short read");
    }

    /// Reads one little-endian `u32`.
    pub fn read_u32(&mut self) -> u32 {
        let mut word = [0u8; 4];
        self.read_exact(&mut word);
        u32::from_le_bytes(word)
    }
}

impl Drop for HostFile {
    fn drop(&mut self) {
        // SAFETY: closes the handle this value owns.
        unsafe { syscall!(CLOSE, self.0) };
    }
}

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
