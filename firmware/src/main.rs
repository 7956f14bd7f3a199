//! Classifies the whole MNIST test set on an (emulated) Cortex-M4F with the
//! emitted network in flash, and checks every result against the host's.
//!
//! The images, labels and the host's predictions are streamed from the host's
//! files through semihosting, one record at a time; flash holds only the code
//! and the model. For each image the firmware compares the predicted class and
//! every logit bit for bit (f32) or every output accumulator (int8) with the
//! host's predictions file, and prints the on-target accuracy, the instruction
//! count per inference (APB timer under `-icount`, see the README), the stack
//! high-water mark and `N passed, M failed`. It exits 0 only if all passed.
#![no_std]
#![no_main]

use core::fmt::Write as _;
use core::ptr::{addr_of, read_volatile, write_volatile};

use cortex_m_rt::{entry, exception, ExceptionFrame};
use cortex_m_semihosting::{debug, hio, syscall};
use panic_semihosting as _;

#[cfg(not(feature = "int8"))]
mod model {
    include!("../../model/weights.rs");
}
#[cfg(feature = "int8")]
mod model {
    include!("../../model/weights_int8.rs");
}

const PIXELS: usize = 784;
const CLASSES: usize = 10;
/// Multiply-accumulates of one inference of the network in flash.
const MACS: u64 = macs();

#[cfg(not(feature = "int8"))]
const fn macs() -> u64 {
    let w = &model::MODEL;
    (w.hidden.weights.len() * PIXELS + w.output.weights.len() * w.hidden.weights.len()) as u64
}
#[cfg(feature = "int8")]
const fn macs() -> u64 {
    let w = &model::MODEL_INT8;
    (w.hidden.weights.len() * PIXELS + w.output.weights.len() * w.hidden.weights.len()) as u64
}

#[cfg(not(feature = "int8"))]
const KIND: &str = "f32";
#[cfg(feature = "int8")]
const KIND: &str = "int8";
#[cfg(feature = "asm")]
const KERNEL: &str = "tinymlp-m4 (Cortex-M4 assembly)";
#[cfg(not(feature = "asm"))]
const KERNEL: &str = "tinymlp (portable Rust)";

#[cfg(not(feature = "int8"))]
const PREDICTIONS: &str = concat!(env!("TINYMLP_PREDICTIONS_F32"), "\0");
#[cfg(feature = "int8")]
const PREDICTIONS: &str = concat!(env!("TINYMLP_PREDICTIONS_INT8"), "\0");
#[cfg(not(feature = "int8"))]
const MAGIC: &[u8; 8] = b"TMLPPF32";
#[cfg(feature = "int8")]
const MAGIC: &[u8; 8] = b"TMLPPI32";

/// CMSDK APB timer0 of the mps2 boards: a 25 MHz 32-bit down-counter.
mod timer {
    use super::{read_volatile, write_volatile};
    const CTRL: *mut u32 = 0x4000_0000 as *mut u32;
    const VALUE: *mut u32 = 0x4000_0004 as *mut u32;
    const RELOAD: *mut u32 = 0x4000_0008 as *mut u32;

    /// Starts the timer free-running from `u32::MAX`.
    pub fn start() {
        // SAFETY: the timer's MMIO registers on mps2-an386.
        unsafe {
            write_volatile(RELOAD, u32::MAX);
            write_volatile(VALUE, u32::MAX);
            write_volatile(CTRL, 1);
        }
    }

    /// The current count (counts down).
    #[inline(always)]
    pub fn now() -> u32 {
        // SAFETY: the timer's MMIO register on mps2-an386.
        unsafe { read_volatile(VALUE) }
    }

    /// Instructions executed during `ticks` timer ticks under `-icount shift=10`:
    /// one instruction is 2^10 ns of virtual time, one tick is 40 ns.
    pub fn instructions(ticks: u64) -> u64 {
        ticks * 40 / 1024
    }
}

/// Stack painting: fill the unused stack with a pattern, later find the lowest
/// word that was overwritten.
mod stack {
    use super::{addr_of, read_volatile, write_volatile};
    const PAINT: u32 = 0xDEAD_BEEF;
    extern "C" {
        static __sheap: u32;
        static _stack_start: u32;
    }

    fn bottom() -> *mut u32 {
        addr_of!(__sheap) as *mut u32
    }

    fn top() -> usize {
        addr_of!(_stack_start) as usize
    }

    /// Paints from the end of `.bss` up to 256 bytes below the current stack pointer.
    #[inline(never)]
    pub fn paint() {
        let sp = cortex_m::register::msp::read() as usize - 256;
        let mut p = bottom();
        while (p as usize) < sp {
            // SAFETY: between the end of static RAM and below the live stack: unused memory.
            unsafe {
                write_volatile(p, PAINT);
                p = p.add(1);
            }
        }
    }

    /// Bytes of stack used so far (deepest point).
    pub fn high_water() -> usize {
        let mut p = bottom();
        // SAFETY: reads RAM between the end of `.bss` and the top of the stack.
        while (p as usize) < top() && unsafe { read_volatile(p) } == PAINT {
            p = unsafe { p.add(1) };
        }
        top() - p as usize
    }
}

/// A host file opened read-only through semihosting.
struct HostFile(usize);

impl HostFile {
    /// Opens the nul-terminated `path` ("rb").
    fn open(path: &str) -> Self {
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
    fn read_exact(&mut self, buf: &mut [u8]) {
        // SAFETY: READ writes at most `buf.len()` bytes into `buf`.
        let left = unsafe { syscall!(READ, self.0, buf.as_mut_ptr(), buf.len()) };
        assert!(left == 0, "short read");
    }
}

impl Drop for HostFile {
    fn drop(&mut self) {
        // SAFETY: closes the handle this value owns.
        unsafe { syscall!(CLOSE, self.0) };
    }
}

/// One inference: the values compared with the host (logit bits or
/// accumulators, as `u32`) and the class.
#[inline(never)]
fn infer(pixels: &[u8; PIXELS]) -> ([u32; CLASSES], usize, u64, u64) {
    #[cfg(not(feature = "int8"))]
    {
        let t0 = timer::now();
        let x = tinymlp::pixels_to_input(pixels);
        let t1 = timer::now();
        let x = core::hint::black_box(x);
        #[cfg(feature = "asm")]
        let logits = tinymlp_m4::logits_f32(&model::MODEL, &x);
        #[cfg(not(feature = "asm"))]
        let logits = tinymlp::Network::logits(&model::MODEL, &x);
        let t2 = timer::now();
        let logits = core::hint::black_box(logits);
        let class = tinymlp::argmax(&logits);
        (
            logits.map(f32::to_bits),
            class,
            u64::from(t1.wrapping_sub(t2)),
            u64::from(t0.wrapping_sub(t1)),
        )
    }
    #[cfg(feature = "int8")]
    {
        let pixels = core::hint::black_box(pixels);
        let t0 = timer::now();
        #[cfg(feature = "asm")]
        let acc = tinymlp_m4::accumulators_int8(&model::MODEL_INT8, pixels);
        #[cfg(not(feature = "asm"))]
        let acc = model::MODEL_INT8.accumulators(pixels);
        let t1 = timer::now();
        let acc = core::hint::black_box(acc);
        let class = tinymlp::argmax(&model::MODEL_INT8.dequantize(&acc));
        (
            acc.map(|a| a as u32),
            class,
            u64::from(t0.wrapping_sub(t1)),
            0,
        )
    }
}

#[entry]
fn main() -> ! {
    stack::paint();
    timer::start();
    let mut out = hio::hstdout().unwrap();

    let mut images = HostFile::open(concat!(env!("TINYMLP_TEST_IMAGES"), "\0"));
    let mut labels = HostFile::open(concat!(env!("TINYMLP_TEST_LABELS"), "\0"));
    let mut predictions = HostFile::open(PREDICTIONS);
    let mut header = [0u8; 16];
    images.read_exact(&mut header);
    let count = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    labels.read_exact(&mut header[..8]);
    predictions.read_exact(&mut header);
    assert!(&header[..8] == MAGIC, "wrong predictions file");
    let expected_count = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
    let classes = u32::from_le_bytes([header[12], header[13], header[14], header[15]]);
    assert!(
        expected_count == count && classes as usize == CLASSES,
        "predictions do not match the test set"
    );

    let _ = writeln!(
        out,
        "tinymlp firmware: {KIND} network, {MACS} MACs per inference, kernel {KERNEL}"
    );
    let (mut passed, mut failed, mut correct) = (0u32, 0u32, 0u32);
    let (mut ticks, mut convert_ticks) = (0u64, 0u64);
    let mut pixels = [0u8; PIXELS];
    let mut record = [0u8; (CLASSES + 1) * 4];
    let mut label = [0u8; 1];
    for n in 0..count {
        images.read_exact(&mut pixels);
        labels.read_exact(&mut label);
        predictions.read_exact(&mut record);
        let (values, class, t, tc) = infer(&pixels);
        ticks += t;
        convert_ticks += tc;
        let word = |i: usize| {
            u32::from_le_bytes([
                record[4 * i],
                record[4 * i + 1],
                record[4 * i + 2],
                record[4 * i + 3],
            ])
        };
        let same = (0..CLASSES).all(|c| word(c) == values[c]) && word(CLASSES) as usize == class;
        if same {
            passed += 1;
        } else {
            failed += 1;
            if failed <= 5 {
                let _ = write!(
                    out,
                    "image {n}: class {class}, host says {}; first differing value #",
                    word(CLASSES)
                );
                let c = (0..CLASSES)
                    .find(|&c| word(c) != values[c])
                    .unwrap_or(CLASSES);
                let _ = writeln!(
                    out,
                    "{c}: {} here, {} on the host",
                    values.get(c).copied().unwrap_or(0),
                    word(c)
                );
            }
        }
        correct += u32::from(class == usize::from(label[0]));
    }

    let n = u64::from(count.max(1));
    let per_inference = timer::instructions(ticks) / n;
    let per_mac_x100 = timer::instructions(ticks) * 100 / (n * MACS);
    let _ = writeln!(
        out,
        "accuracy on target: {correct}/{count} = {}.{:02}%",
        correct * 100 / count.max(1),
        correct * 10_000 / count.max(1) % 100
    );
    let _ = writeln!(
        out,
        "instructions per inference: {per_inference} ({per_mac_x100} per 100 MACs)"
    );
    if convert_ticks > 0 {
        let _ = writeln!(
            out,
            "  + pixels_to_input: {} instructions per image",
            timer::instructions(convert_ticks) / n
        );
    }
    let _ = writeln!(out, "stack high-water: {} bytes", stack::high_water());
    let _ = writeln!(out, "{passed} passed, {failed} failed");
    debug::exit(if failed == 0 && passed == count {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}

#[exception]
unsafe fn HardFault(_frame: &ExceptionFrame) -> ! {
    let _ = hio::hstdout().map(|mut o| o.write_str("HardFault\n"));
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
