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
//! - [`console`]: output lines without `core::fmt`;
//! - [`timer`], [`stack`]: the measurements;
//! - `rt_riscv`: the RISC-V start-up (cortex-m-rt starts the Cortex-M cores,
//!   with the interrupt vectors of `vectors`).
#![no_std]
#![no_main]

mod check;
mod console;
mod fault;
mod host_io;
mod model;
#[cfg(target_arch = "riscv32")]
mod rt_riscv;
mod semihosting;
mod stack;
mod timer;
#[cfg(target_arch = "arm")]
mod vectors;

pub use fault::fault;

use console::Line;
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
        Line::new(&mut out)
            .s("checking the first ")
            .n(count.into())
            .s(" of ")
            .n(in_file.into())
            .s(" test samples (TINYMLP_LIMIT)")
            .end();
    }
    let mut line = Line::new(&mut out);
    line.s("tinymlp firmware: ").s(model::KIND).s(" network ");
    for (i, &w) in model::WIDTHS.iter().enumerate() {
        line.s(if i == 0 { "" } else { "-" }).n(w as u64);
    }
    line.s(", ")
        .n(model::MACS)
        .s(" MACs per inference, kernel ")
        .s(model::KERNEL_NAME)
        .s(", core ")
        .s(env!("TINYMLP_CORE"))
        .end();
    Line::new(&mut out)
        .s("timer check: a loop of ")
        .n(2 * u64::from(CHECK_LOOP))
        .s(" instructions counts ")
        .n(timer::check(CHECK_LOOP))
        .end();
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
                    Line::new(&mut out)
                        .s("sample ")
                        .n(n.into())
                        .s(": class ")
                        .n(outcome.class as u64)
                        .s(", host says ")
                        .n(word(&record, CLASSES).into())
                        .s("; first differing value #")
                        .n(c as u64)
                        .s(": ")
                        .n(outcome
                            .values
                            .get(c)
                            .copied()
                            .unwrap_or(outcome.class as u32)
                            .into())
                        .s(" here, ")
                        .n(word(&record, c).into())
                        .s(" on the host")
                        .end();
                }
            }
        }
        correct += u32::from(outcome.class as u32 == label);
    }

    let n = u64::from(count.max(1));
    let per_inference = timer::instructions(ticks) / n;
    let per_mac_x100 = timer::instructions(ticks) * 100 / (n * model::MACS.max(1));
    Line::new(&mut out)
        .s("accuracy on target: ")
        .n(correct.into())
        .s("/")
        .n(count.into())
        .s(" = ")
        .n((correct * 100 / count.max(1)).into())
        .s(".")
        .padded((correct * 10_000 / count.max(1) % 100).into(), 2)
        .s("%")
        .end();
    Line::new(&mut out)
        .s("instructions per inference: ")
        .n(per_inference)
        .s(" (")
        .n(per_mac_x100)
        .s(" per 100 MACs), input scaling included")
        .end();
    Line::new(&mut out)
        .s("  of which input scaling: ")
        .n(timer::instructions(scaling_ticks) / n)
        .s(" instructions per sample")
        .end();
    Line::new(&mut out)
        .s("stack high-water: ")
        .n(stack::high_water() as u64)
        .s(" bytes")
        .end();
    Line::new(&mut out)
        .n(passed.into())
        .s(" passed, ")
        .n(failed.into())
        .s(" failed")
        .end();
    semihosting::exit(failed == 0 && passed == count)
}
