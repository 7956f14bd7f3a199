//! Classifies a model's whole test set on an (emulated) microcontroller core
//! with the emitted network in flash, and checks every result against the
//! host's. One program for every core: Cortex-M0, M4F, M33, M55 and RISC-V
//! rv32imac (`build.rs` picks the memory layout and board by target, see
//! `README.md`).
//!
//! One program for any model the host emits (any depth, pixels or numeric
//! features, f32 or int8): `build.rs` picks the bundle (`TINYMLP_MODEL_DIR`,
//! default `../model`). The raw test inputs, labels and the host's
//! predictions are streamed from the bundle's files through semihosting, one
//! record at a time; flash holds only the code and the model. For each
//! sample the firmware compares the class and every logit bit (f32) or every
//! output accumulator (int8) with the host's, and prints the on-target
//! accuracy, the instruction count per inference (APB timer under `-icount`),
//! the stack high-water mark and `N passed, M failed`. It exits 0 only if
//! all passed.
//!
//! - [`model`]: the emitted network and the kernel;
//! - [`check`]: one timed inference and its comparison;
//! - [`host_io`]: record decoding; [`semihosting`]: host files, console, exit;
//! - [`timer`], [`stack`]: the measurements;
//! - `rt_riscv`: the RISC-V start-up (cortex-m-rt starts the Cortex-M cores).
#![no_std]
#![no_main]

mod check;
mod host_io;
mod model;
#[cfg(target_arch = "riscv32")]
mod rt_riscv;
mod semihosting;
mod stack;
mod timer;

use core::fmt::Write as _;

use host_io::{word, RawValue};
use model::{Raw, CLASSES, INPUTS};
use semihosting::{HostFile, Stdout};

/// Bytes of one raw sample in `test_inputs.bin`.
const RAW_BYTES: usize = INPUTS * <Raw as RawValue>::SIZE;

#[cfg(target_arch = "arm")]
#[cortex_m_rt::entry]
fn main() -> ! {
    run()
}

/// Length of the timer check's loop (2 instructions an iteration).
const CHECK_LOOP: u32 = 10_000;

fn run() -> ! {
    stack::paint();
    timer::start();
    let mut out = Stdout::open();

    let mut inputs = HostFile::open(concat!(env!("TINYMLP_TEST_INPUTS"), "\0"));
    let mut predictions = HostFile::open(model::PREDICTIONS);
    let mut header = [0u8; 24];
    inputs.read_exact(&mut header[..20]);
    assert!(&header[..8] == b"TMLPTIN\x02", "wrong test-inputs file");
    let in_file = word(&header, 2);
    let count = match env!("TINYMLP_LIMIT").parse::<u32>() {
        Ok(limit) if limit > 0 => limit.min(in_file),
        _ => in_file,
    };
    assert!(
        word(&header, 3) as usize == INPUTS && word(&header, 4) == <Raw as RawValue>::CODE,
        "test inputs do not match the model"
    );
    predictions.read_exact(&mut header);
    assert!(&header[..8] == model::MAGIC, "wrong predictions file");
    assert!(
        word(&header, 2) == in_file && word(&header, 3) as usize == CLASSES,
        "predictions do not match the test set"
    );

    if count < in_file {
        let _ = writeln!(
            out,
            "checking the first {count} of {in_file} test samples (TINYMLP_LIMIT)"
        );
    }
    let _ = write!(out, "tinymlp firmware: {} network ", model::KIND);
    for (i, w) in model::WIDTHS.iter().enumerate() {
        let _ = write!(out, "{}{w}", if i == 0 { "" } else { "-" });
    }
    let _ = writeln!(
        out,
        ", {} MACs per inference, kernel {}, core {}",
        model::MACS,
        model::KERNEL_NAME,
        env!("TINYMLP_CORE")
    );
    let _ = writeln!(
        out,
        "timer check: a loop of {} instructions counts {}",
        2 * CHECK_LOOP,
        timer::check(CHECK_LOOP)
    );
    let (mut passed, mut failed, mut correct) = (0u32, 0u32, 0u32);
    let (mut ticks, mut scaling_ticks) = (0u64, 0u64);
    let mut raw_bytes = [0u8; RAW_BYTES];
    let mut record = [0u8; (CLASSES + 1) * 4];
    for n in 0..count {
        inputs.read_exact(&mut raw_bytes);
        let label = inputs.read_u32();
        predictions.read_exact(&mut record);
        let raw: [Raw; INPUTS] = host_io::decode(&raw_bytes);
        let outcome = check::infer(&raw);
        ticks += outcome.ticks;
        scaling_ticks += outcome.scaling_ticks;
        match check::compare(&outcome, &record) {
            Ok(()) => passed += 1,
            Err(c) => {
                failed += 1;
                if failed <= 5 {
                    let _ = writeln!(
                        out,
                        "sample {n}: class {}, host says {}; first differing value #{c}: {} here, {} on the host",
                        outcome.class,
                        word(&record, CLASSES),
                        outcome.values.get(c).copied().unwrap_or(outcome.class as u32),
                        word(&record, c)
                    );
                }
            }
        }
        correct += u32::from(outcome.class as u32 == label);
    }

    let n = u64::from(count.max(1));
    let per_inference = timer::instructions(ticks) / n;
    let per_mac_x100 = timer::instructions(ticks) * 100 / (n * model::MACS.max(1));
    let _ = writeln!(
        out,
        "accuracy on target: {correct}/{count} = {}.{:02}%",
        correct * 100 / count.max(1),
        correct * 10_000 / count.max(1) % 100
    );
    let _ = writeln!(
        out,
        "instructions per inference: {per_inference} ({per_mac_x100} per 100 MACs), input scaling included"
    );
    let _ = writeln!(
        out,
        "  of which input scaling: {} instructions per sample",
        timer::instructions(scaling_ticks) / n
    );
    let _ = writeln!(out, "stack high-water: {} bytes", stack::high_water());
    let _ = writeln!(out, "{passed} passed, {failed} failed");
    semihosting::exit(failed == 0 && passed == count)
}

/// A fault (HardFault on Cortex-M, any trap on RISC-V) ends the run as a failure.
pub fn fault(what: &str) -> ! {
    let _ = writeln!(Stdout::open(), "{what}");
    semihosting::exit(false)
}

#[cfg(target_arch = "arm")]
#[cortex_m_rt::exception]
unsafe fn HardFault(_frame: &cortex_m_rt::ExceptionFrame) -> ! {
    fault("HardFault")
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    let _ = writeln!(Stdout::open(), "{info}");
    semihosting::exit(false)
}
