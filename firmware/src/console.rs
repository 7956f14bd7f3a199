//! Console lines built without `core::fmt`.
//!
//! `write!` pulls in the formatting machinery (`Formatter::pad`,
//! `pad_integral`, the `Display` impls of the integers, `fmt::write`): about
//! 3 KB of flash, a fifth of the harness. The program prints only text and
//! unsigned integers, so a [`Line`] collects those in a small buffer and hands
//! it to the semihosting console a line at a time.

use crate::semihosting::Stdout;

/// One line of output: `Line::new(&mut out).s("x = ").n(3).end()`.
pub struct Line<'a> {
    out: &'a mut Stdout,
    buf: [u8; 120],
    len: usize,
}

impl<'a> Line<'a> {
    /// An empty line for `out`.
    #[inline(never)]
    pub fn new(out: &'a mut Stdout) -> Self {
        Self {
            out,
            buf: [0; 120],
            len: 0,
        }
    }

    /// Appends `s`.
    #[inline(never)]
    pub fn s(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes());
        self
    }

    /// Appends `v` in decimal.
    #[inline(never)]
    pub fn n(&mut self, v: u64) -> &mut Self {
        self.padded(v, 1)
    }

    /// Appends `v` in decimal with at least `width` (≤ 20) digits, zeros in front.
    #[inline(never)]
    pub fn padded(&mut self, mut v: u64, width: usize) -> &mut Self {
        let mut digits = [b'0'; 20];
        // Hidden from the optimiser: knowing the loop runs at most 20 times, it
        // unrolls it completely (1.5 KB instead of about 100 bytes).
        let mut i = core::hint::black_box(digits.len());
        while v > 0 || digits.len() - i < width.max(1) {
            let Some(digit) = i.checked_sub(1).and_then(|j| digits.get_mut(j)) else {
                break;
            };
            *digit = b'0' + (v % 10) as u8;
            v /= 10;
            i -= 1;
        }
        self.bytes(digits.get(i..).unwrap_or_default());
        self
    }

    /// Ends the line (`\n`) and writes it.
    #[inline(never)]
    pub fn end(&mut self) {
        self.bytes(b"\n");
        self.flush();
    }

    fn bytes(&mut self, b: &[u8]) {
        if self.len + b.len() > self.buf.len() {
            self.flush();
        }
        match self.buf.get_mut(self.len..self.len + b.len()) {
            Some(room) => {
                room.copy_from_slice(b);
                self.len += b.len();
            }
            None => {
                self.out.write_bytes(b);
            }
        }
    }

    fn flush(&mut self) {
        self.out
            .write_bytes(self.buf.get(..self.len).unwrap_or_default());
        self.len = 0;
    }
}
