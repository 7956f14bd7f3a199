//! Semihosting, the debugger's channel QEMU serves with `-semihosting-config
//! enable=on`: files on the host, the console and the exit status. One
//! trap per architecture (`bkpt 0xab` on Cortex-M; on RISC-V the
//! `slli x0,x0,0x1f` / `ebreak` / `srai x0,x0,7` sequence), the same calls
//! everywhere: operation number in the first register, argument in the second.

use core::fmt;

const SYS_OPEN: usize = 0x01;
const SYS_CLOSE: usize = 0x02;
const SYS_WRITE: usize = 0x05;
const SYS_READ: usize = 0x06;
const SYS_SEEK: usize = 0x0A;
const SYS_EXIT: usize = 0x18;
/// `ADP_Stopped_ApplicationExit`: QEMU exits with status 0 for it, 1 for any other reason.
const APPLICATION_EXIT: usize = 0x2_0026;
const RUN_TIME_ERROR: usize = 0x2_0023;

/// One semihosting call.
///
/// # Safety
/// `arg` must be what operation `op` expects: for most, the address of a
/// parameter block whose pointers are valid for the lengths it gives.
#[cfg(target_arch = "arm")]
unsafe fn call(op: usize, arg: usize) -> usize {
    let ret;
    // SAFETY: the caller's contract; the debugger (QEMU) reads and writes only the block.
    unsafe {
        core::arch::asm!("bkpt #0xab", inout("r0") op => ret, in("r1") arg, options(nostack));
    }
    ret
}

#[cfg(target_arch = "riscv32")]
core::arch::global_asm!(
    // QEMU recognises the trap by the two instructions around `ebreak`, which must be
    // uncompressed and on one page: aligned to 16, the 12 bytes never cross one.
    ".section .text.tinymlp_semihost, \"ax\"",
    ".balign 16",
    ".global tinymlp_semihost",
    "tinymlp_semihost:",
    ".option push",
    ".option norvc",
    "slli x0, x0, 0x1f",
    "ebreak",
    "srai x0, x0, 7",
    ".option pop",
    "ret",
);

#[cfg(target_arch = "riscv32")]
extern "C" {
    fn tinymlp_semihost(op: usize, arg: usize) -> usize;
}

/// One semihosting call.
///
/// # Safety
/// As on Cortex-M: `arg` must be what operation `op` expects.
#[cfg(target_arch = "riscv32")]
unsafe fn call(op: usize, arg: usize) -> usize {
    // SAFETY: the caller's contract; a0 = op, a1 = arg, result in a0.
    unsafe { tinymlp_semihost(op, arg) }
}

/// Opens the nul-terminated `path` with semihosting mode `mode`; `None` on failure.
fn open(path: &str, mode: usize) -> Option<usize> {
    assert!(path.ends_with('\0'));
    let block = [path.as_ptr() as usize, mode, path.len() - 1];
    // SAFETY: OPEN reads `len` bytes of the nul-terminated name.
    let fd = unsafe { call(SYS_OPEN, block.as_ptr() as usize) };
    (fd != usize::MAX).then_some(fd)
}

/// A host file opened read-only through semihosting.
pub struct HostFile(usize);

impl HostFile {
    /// Opens the nul-terminated `path` ("rb").
    pub fn open(path: &str) -> Self {
        Self(open(path, 1).unwrap_or_else(|| panic!("cannot open a host file")))
    }

    /// Fills `buf` entirely.
    pub fn read_exact(&mut self, buf: &mut [u8]) {
        let block = [self.0, buf.as_mut_ptr() as usize, buf.len()];
        // SAFETY: READ writes at most `buf.len()` bytes into `buf`.
        let left = unsafe { call(SYS_READ, block.as_ptr() as usize) };
        assert!(left == 0, "short read");
    }

    /// Moves to byte `offset` from the start of the file.
    // Only the training program reads out of order; the others never seek.
    #[allow(dead_code)]
    pub fn seek(&mut self, offset: usize) {
        let block = [self.0, offset];
        // SAFETY: SEEK reads the two words of the block, nothing else.
        let status = unsafe { call(SYS_SEEK, block.as_ptr() as usize) };
        assert!(status == 0, "seek failed");
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
        let block = [self.0];
        // SAFETY: closes the handle this value owns.
        unsafe { call(SYS_CLOSE, block.as_ptr() as usize) };
    }
}

/// The host's console (`:tt` opened for writing).
pub struct Stdout(usize);

impl Stdout {
    /// Opens the console.
    pub fn open() -> Self {
        Self(open(":tt\0", 4).unwrap_or_else(|| panic!("no semihosting console")))
    }
}

impl Stdout {
    /// Writes `bytes` (UTF-8 text, or pieces of it); `false` if the host refused.
    pub fn write_bytes(&mut self, bytes: &[u8]) -> bool {
        let block = [self.0, bytes.as_ptr() as usize, bytes.len()];
        // SAFETY: WRITE reads `bytes.len()` bytes of `bytes`.
        unsafe { call(SYS_WRITE, block.as_ptr() as usize) == 0 }
    }
}

impl fmt::Write for Stdout {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        match self.write_bytes(s.as_bytes()) {
            true => Ok(()),
            false => Err(fmt::Error),
        }
    }
}

/// Ends the emulation: QEMU exits with status 0 if `success`, else 1.
pub fn exit(success: bool) -> ! {
    let reason = if success {
        APPLICATION_EXIT
    } else {
        RUN_TIME_ERROR
    };
    loop {
        // SAFETY: on 32-bit targets EXIT takes the reason code itself, no block.
        unsafe { call(SYS_EXIT, reason) };
    }
}
