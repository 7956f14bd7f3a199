//! Classifies a model's whole test set on an (emulated) Cortex-M4F with the
//! emitted network in flash, and checks every result against the host's.
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
//! - [`host_io`]: semihosting files and record decoding;
//! - [`timer`], [`stack`]: the measurements.
#![no_std]
#![no_main]

mod check;
mod host_io;
mod model;
mod stack;
mod timer;

use core::fmt::Write as _;

use cortex_m_rt::{entry, exception, ExceptionFrame};
use cortex_m_semihosting::{debug, hio};
use panic_semihosting as _;

use host_io::{word, HostFile, RawValue};
use model::{Raw, CLASSES, INPUTS};

/// Bytes of one raw sample in `test_inputs.bin`.
const RAW_BYTES: usize = INPUTS * <Raw as RawValue>::SIZE;

#[entry]
fn main() -> ! {
    stack::paint();
    timer::start();
    let mut out = hio::hstdout().unwrap();

    let mut inputs = HostFile::open(concat!(env!("TINYMLP_TEST_INPUTS"), "\0"));
    let mut predictions = HostFile::open(model::PREDICTIONS);
    let mut header = [0u8; 24];
    inputs.read_exact(&mut header[..20]);
    assert!(&header[..8] == b"TMLPTIN\x02", "wrong test-inputs file");
    let count = word(&header, 2);
    assert!(
        word(&header, 3) as usize == INPUTS && word(&header, 4) == <Raw as RawValue>::CODE,
        "test inputs do not match the model"
    );
    predictions.read_exact(&mut header);
    assert!(&header[..8] == model::MAGIC, "wrong predictions file");
    assert!(
        word(&header, 2) == count && word(&header, 3) as usize == CLASSES,
        "predictions do not match the test set"
    );

    let _ = write!(out, "tinymlp firmware: {} network ", model::KIND);
    for (i, w) in model::WIDTHS.iter().enumerate() {
        let _ = write!(out, "{}{w}", if i == 0 { "" } else { "-" });
    }
    let _ = writeln!(
        out,
        ", {} MACs per inference, kernel {}",
        model::MACS,
        model::KERNEL_NAME
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
