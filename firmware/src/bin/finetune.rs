//! Learning on the chip: retrains the emitted f32 model's output layer on
//! samples streamed from the host, then classifies with the result, and
//! checks every trained parameter and every logit against `host finetune`.
//!
//! The hidden layers stay in flash (`model::MODEL`, read-only); the output
//! layer is copied into RAM with its gradient and momentum buffers
//! ([`Tuned`]). Each sample of `finetune_train.bin` is one step, batch 1, with
//! the `tinymlp` functions the host calls on its run-time `Net` in the same
//! order (`host::finetune`): the frozen layers (`Kernel::matvec` + `relu`),
//! `Dense::forward`, `cross_entropy_grad`, `Dense::accumulate_gradients` into
//! zeroed gradients, `Sgd::step` (weights, then biases). Then, for every
//! sample of `finetune_test.bin`, the logits of the original layer (in flash)
//! and of the trained one (in RAM). Checked against `finetune_expected.bin`:
//! every trained parameter's bits, every logit's bits and class afterwards,
//! and both accuracies. Prints the instructions per training step, the RAM of
//! the trained layer, the stack high-water mark and `N passed, M failed`.
//!
//! Build: `TINYMLP_FINETUNE_DIR=… ./core.sh m4 run --release --features finetune
//! --bin finetune` (see `run.sh`).
#![no_std]
#![no_main]

#[path = "../console.rs"]
mod console;
#[path = "../fault.rs"]
mod fault;
#[path = "../host_io.rs"]
mod host_io;
// Shared with the checking program, which uses more of it.
#[allow(dead_code)]
#[path = "../model.rs"]
mod model;
#[cfg(target_arch = "riscv32")]
#[path = "../rt_riscv.rs"]
mod rt_riscv;
#[path = "../semihosting.rs"]
mod semihosting;
#[path = "../stack.rs"]
mod stack;
#[path = "../timer.rs"]
mod timer;
#[cfg(target_arch = "arm")]
#[path = "../vectors.rs"]
mod vectors;

pub use fault::fault;

#[cfg(feature = "int8")]
compile_error!("the finetune program trains the f32 model: build it without `int8`");

use core::fmt::Write as _;

use host_io::{word, RawValue};
use model::{Model, Raw, CLASSES, INPUTS, KERNEL, MODEL, WIDTHS};
use semihosting::{HostFile, Stdout};
use tinymlp::activation::relu;
use tinymlp::{argmax, cross_entropy_grad, Dense, Hidden, Kernel, Sgd};

/// Inputs of the output layer.
const H: usize = WIDTHS[WIDTHS.len() - 2];
/// Bytes of one raw sample.
const RAW_BYTES: usize = INPUTS * <Raw as RawValue>::SIZE;

/// A chain seen as frozen layers in front of a trainable output layer `Dense<H, C>`.
trait Body<const IN: usize, const H: usize, const C: usize> {
    /// What enters the output layer: every layer but the last, ReLU after each.
    fn features<K: Kernel>(&self, x: &[f32; IN], kernel: &K) -> [f32; H];
    /// The output layer.
    fn head(&self) -> &Dense<H, C>;
}

impl<const IN: usize, const C: usize> Body<IN, IN, C> for Dense<IN, C> {
    fn features<K: Kernel>(&self, x: &[f32; IN], _: &K) -> [f32; IN] {
        *x
    }
    fn head(&self) -> &Dense<IN, C> {
        self
    }
}

impl<const IN: usize, const H: usize, const C: usize> Body<IN, H, C>
    for Hidden<IN, H, Dense<H, C>>
{
    fn features<K: Kernel>(&self, x: &[f32; IN], kernel: &K) -> [f32; H] {
        let mut h = [0.0; H];
        kernel.matvec(&self.dense.weights, &self.dense.bias, x, &mut h);
        relu(&mut h);
        h
    }
    fn head(&self) -> &Dense<H, C> {
        &self.next
    }
}

impl<const IN: usize, const H1: usize, const H2: usize, const H: usize, const C: usize, N>
    Body<IN, H, C> for Hidden<IN, H1, Hidden<H1, H2, N>>
where
    Hidden<H1, H2, N>: Body<H1, H, C>,
{
    fn features<K: Kernel>(&self, x: &[f32; IN], kernel: &K) -> [f32; H] {
        let mut h = [0.0; H1];
        kernel.matvec(&self.dense.weights, &self.dense.bias, x, &mut h);
        relu(&mut h);
        self.next.features(&h, kernel)
    }
    fn head(&self) -> &Dense<H, C> {
        self.next.head()
    }
}

fn features(x: &[f32; INPUTS]) -> [f32; H] {
    <Model as Body<INPUTS, H, CLASSES>>::features(&MODEL, x, &KERNEL)
}

fn flash_head() -> &'static Dense<H, CLASSES> {
    <Model as Body<INPUTS, H, CLASSES>>::head(&MODEL)
}

/// What fine-tuning keeps in RAM beyond inference: the trained layer, its
/// gradients and its momentum.
struct Tuned {
    head: Dense<H, CLASSES>,
    grads: Dense<H, CLASSES>,
    velocity: Dense<H, CLASSES>,
}

/// One training step on one sample; returns the timer ticks of the output
/// layer's part (forward, gradient, update).
#[inline(never)]
fn step(t: &mut Tuned, raw: &[Raw; INPUTS], target: usize, sgd: &Sgd) -> u64 {
    let x = model::input(core::hint::black_box(raw));
    let h = features(&x);
    let t0 = timer::now();
    let mut logits = [0.0; CLASSES];
    t.head.forward(&h, &mut logits);
    let mut d_logits = [0.0; CLASSES];
    cross_entropy_grad(&logits, target, &mut d_logits);
    t.grads.weights.as_flattened_mut().fill(0.0);
    t.grads.bias.fill(0.0);
    t.head.accumulate_gradients(&h, &d_logits, &mut t.grads);
    sgd.step(&mut t.head, &t.grads, &mut t.velocity, 1.0);
    timer::elapsed(t0, timer::now())
}

/// Opens a samples file of `host finetune` and returns it with its sample count.
fn open_samples(path: &str) -> (HostFile, u32) {
    let mut file = HostFile::open(path);
    let mut header = [0u8; 20];
    file.read_exact(&mut header);
    assert!(&header[..8] == b"TMLPTIN\x02", "wrong samples file");
    assert!(
        word(&header, 3) as usize == INPUTS && word(&header, 4) == <Raw as RawValue>::CODE,
        "samples do not match the model"
    );
    (file, word(&header, 2))
}

/// Reads one sample and its label.
fn read_sample(file: &mut HostFile) -> ([Raw; INPUTS], usize) {
    let mut bytes = [0u8; RAW_BYTES];
    file.read_exact(&mut bytes);
    let label = file.read_u32() as usize;
    (host_io::decode(&bytes), label)
}

fn percent(c: u32, n: u32) -> (u32, u32) {
    (c * 100 / n.max(1), c * 10_000 / n.max(1) % 100)
}

/// Runs one step per sample of the training stream; returns the instructions
/// per step, all of it and the output layer's part. (Not inlined: its buffers
/// and those of [`evaluate`] do not share one frame with the trained layer.)
#[inline(never)]
fn train(tuned: &mut Tuned, steps: u32, sgd: &Sgd) -> (u64, u64) {
    let (mut file, n) = open_samples(concat!(env!("TINYMLP_FINETUNE_TRAIN"), "\0"));
    assert!(n == steps, "training file and expected results disagree");
    let (mut ticks, mut head_ticks) = (0u64, 0u64);
    for _ in 0..steps {
        let (raw, label) = read_sample(&mut file);
        let t0 = timer::now();
        head_ticks += step(tuned, &raw, label, sgd);
        ticks += timer::elapsed(t0, timer::now());
    }
    let n = u64::from(steps.max(1));
    (
        timer::instructions(ticks) / n,
        timer::instructions(head_ticks) / n,
    )
}

/// Classifies the `m` evaluation samples with the output layer in flash and
/// the trained one, and compares the latter's logits and class with the host's
/// records; returns the correct before, after, and the bit-identical samples.
#[inline(never)]
fn evaluate(
    trained: &Dense<H, CLASSES>,
    m: u32,
    expected: &mut HostFile,
    out: &mut Stdout,
) -> (u32, u32, u32) {
    let (mut test, m_file) = open_samples(concat!(env!("TINYMLP_FINETUNE_TEST"), "\0"));
    assert!(m_file == m, "evaluation file and expected results disagree");
    let (mut before, mut after, mut same) = (0u32, 0u32, 0u32);
    let mut record = [0u8; (CLASSES + 1) * 4];
    for s in 0..m {
        let (raw, label) = read_sample(&mut test);
        let h = features(&model::input(&raw));
        let mut logits = [0.0; CLASSES];
        flash_head().forward(&h, &mut logits);
        before += u32::from(argmax(&logits) == label);
        trained.forward(&h, &mut logits);
        let class = argmax(&logits);
        after += u32::from(class == label);
        expected.read_exact(&mut record);
        if (0..CLASSES).all(|c| logits[c].to_bits() == word(&record, c))
            && class as u32 == word(&record, CLASSES)
        {
            same += 1;
        } else if s + 1 - same <= 5 {
            let _ = writeln!(
                out,
                "sample {s}: class {class}, host says {}",
                word(&record, CLASSES)
            );
        }
    }
    (before, after, same)
}

#[cfg(target_arch = "arm")]
#[cortex_m_rt::entry]
fn main() -> ! {
    run()
}

fn run() -> ! {
    stack::paint();
    timer::start();
    let mut out = Stdout::open();

    let mut expected = HostFile::open(concat!(env!("TINYMLP_FINETUNE_EXPECTED"), "\0"));
    let mut header = [0u8; 40];
    expected.read_exact(&mut header);
    assert!(
        &header[..8] == b"TMLPFT\x01\x00",
        "wrong expected-results file"
    );
    assert!(
        word(&header, 2) as usize == H && word(&header, 3) as usize == CLASSES,
        "expected results do not match the model"
    );
    let (steps, m) = (word(&header, 4), word(&header, 5));
    let sgd = Sgd {
        learning_rate: f32::from_bits(word(&header, 6)),
        momentum: f32::from_bits(word(&header, 7)),
        ..Sgd::new(0.0)
    };
    let (host_before, host_after) = (word(&header, 8), word(&header, 9));

    let _ = write!(out, "tinymlp finetune: f32 network ");
    for (i, w) in WIDTHS.iter().enumerate() {
        let _ = write!(out, "{}{w}", if i == 0 { "" } else { "-" });
    }
    let _ = writeln!(
        out,
        ", output layer {H}x{CLASSES} trained in RAM, the rest in flash; kernel {}, core {}",
        model::KERNEL_NAME,
        env!("TINYMLP_CORE")
    );
    let _ = writeln!(
        out,
        "timer check: a loop of 20000 instructions counts {}",
        timer::check(10_000)
    );

    // Built in place: the layer copied row by row from flash, no temporary copy on the stack.
    let mut tuned = Tuned {
        head: Dense::zeroed(),
        grads: Dense::zeroed(),
        velocity: Dense::zeroed(),
    };
    for (to, from) in tuned.head.weights.iter_mut().zip(&flash_head().weights) {
        to.copy_from_slice(from);
    }
    tuned.head.bias.copy_from_slice(&flash_head().bias);
    let _ = writeln!(
        out,
        "trained layer in RAM: {} bytes (weights, gradients, momentum: 3 x {})",
        core::mem::size_of::<Tuned>(),
        core::mem::size_of::<Dense<H, CLASSES>>()
    );

    let (per_step, per_head) = train(&mut tuned, steps, &sgd);
    let _ = writeln!(
        out,
        "training: {steps} steps (SGD lr {}e-6, momentum {}e-3, batch 1), instructions per step: {per_step}",
        (sgd.learning_rate * 1e6) as u32,
        (sgd.momentum * 1e3) as u32
    );
    let _ = writeln!(
        out,
        "  of which the output layer (forward, gradient, update): {per_head} instructions"
    );

    // Every trained parameter, bit for bit.
    let (mut passed, mut failed) = (0u32, 0u32);
    let mut row = [0u8; H * 4];
    for o in 0..=CLASSES {
        let values: &[f32] = if o < CLASSES {
            &tuned.head.weights[o]
        } else {
            &tuned.head.bias
        };
        expected.read_exact(&mut row[..values.len() * 4]);
        for (i, v) in values.iter().enumerate() {
            if v.to_bits() == word(&row, i) {
                passed += 1;
            } else {
                failed += 1;
                if failed <= 5 {
                    let _ = writeln!(
                        out,
                        "parameter {o}/{i}: {:#010x} here, {:#010x} on the host",
                        v.to_bits(),
                        word(&row, i)
                    );
                }
            }
        }
    }
    let params = passed + failed;
    let _ = writeln!(
        out,
        "trained parameters: {passed} of {params} bit-identical to the host"
    );

    let (before, after, same) = evaluate(&tuned.head, m, &mut expected, &mut out);
    passed += same;
    failed += m - same;
    let _ = writeln!(
        out,
        "predictions afterwards: {same} of {m} samples bit-identical to the host (every logit and the class)"
    );
    let (b, a) = (percent(before, m), percent(after, m));
    let _ = writeln!(
        out,
        "accuracy before on target: {before}/{m} = {}.{:02}% (host {host_before})",
        b.0, b.1
    );
    let _ = writeln!(
        out,
        "accuracy after on target: {after}/{m} = {}.{:02}% (host {host_after})",
        a.0, a.1
    );
    if before != host_before || after != host_after {
        failed += 1;
        let _ = writeln!(out, "accuracies differ from the host's");
    }
    let _ = writeln!(out, "stack high-water: {} bytes", stack::high_water());
    let _ = writeln!(out, "{passed} passed, {failed} failed");
    semihosting::exit(failed == 0 && passed == params + m)
}
