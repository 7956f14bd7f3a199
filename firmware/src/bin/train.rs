//! Learning on the chip, every layer: trains a whole network in RAM, from
//! scratch or from emitted weights, on samples read from the host, then
//! classifies with it, and checks every parameter and every logit against
//! `host finetune --layers all`.
//!
//! The network's type (and, unless from scratch, its starting weights in
//! flash with their standardisation) come from `finetune_net.rs`; the run's
//! settings from `finetune_expected.bin`. From scratch, the chip fits the
//! standardisation on the training samples (`tinymlp::accumulate_moments`,
//! `Standardize::fit`) and initialises the network from the seed
//! (`Network::init`); else it copies the weights from flash into RAM. Then,
//! per epoch, it shuffles the sample indices (`Rng::shuffle`, one generator
//! seeded with seed + 1 for the run), and for each batch of up to 16 samples
//! accumulates `Network::train_sample` into zeroed gradients and steps
//! (`Sgd::step`, or `Adam::step` with t = step + 1), gradient scale 1 / batch:
//! the steps `host::finetune::layers` takes on the host. It reads each sample
//! where it lies in `finetune_train.bin` (semihosting SEEK + READ).
//!
//! Checked: the standardisation's bits, each epoch's mean loss (`f64` bits),
//! every trained parameter's bits, every logit's bits and class afterwards on
//! `finetune_test.bin`, and both accuracies. Prints the instructions per
//! training step, the RAM of the training state, the stack high-water mark
//! and `N passed, M failed`.
//!
//! Build: `TINYMLP_FINETUNE_DIR=… ./core.sh m4 run --release --features train --bin train`
//! (see `run.sh`).
#![no_std]
#![no_main]

#[path = "../console.rs"]
mod console;
#[path = "../fault.rs"]
mod fault;
#[path = "../host_io.rs"]
mod host_io;
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

/// The network of `host finetune --layers all`: its type, sizes and start.
// The emitted weights file offers more than training uses (`classify`, class names).
#[allow(dead_code)]
mod net {
    include!(env!("TINYMLP_FINETUNE_NET"));
}

use core::fmt::Write as _;

use host_io::{word, RawValue};
use net::{Model, Raw, CLASSES, INPUTS, START, WIDTHS};
use semihosting::{HostFile, Stdout};
use tinymlp::{
    accumulate_moments, argmax, Adam, Dense, Hidden, Network, Parameters, Rng, Sgd, Standardize,
};

/// Bytes of one raw sample, and of its record in a samples file (+ the label).
const RAW_BYTES: usize = INPUTS * <Raw as RawValue>::SIZE;
const RECORD: usize = RAW_BYTES + 4;
/// Bytes before the first record of a samples file.
const SAMPLES_HEADER: usize = 20;
/// Most training samples (the order is kept as `u16` indices in RAM).
const MAX_SAMPLES: usize = 1536;
/// Bytes of the fixed part of the expected-results file.
const HEADER: usize = 72;

const TRAIN: &str = concat!(env!("TINYMLP_FINETUNE_TRAIN"), "\0");
const TEST: &str = concat!(env!("TINYMLP_FINETUNE_TEST"), "\0");

/// The run, as `finetune_expected.bin` describes it.
struct Run {
    from_scratch: bool,
    update: Update,
    samples: usize,
    eval: u32,
    epochs: u32,
    batch: usize,
    host_before: u32,
    host_after: u32,
    seed: u64,
    /// Where the expected standardisation, losses, parameters and records start.
    scaling_at: usize,
}

/// The update rule.
#[derive(Clone, Copy)]
enum Update {
    Sgd(Sgd),
    Adam(Adam),
}

impl Run {
    fn losses_at(&self) -> usize {
        self.scaling_at + 2 * INPUTS * 4
    }
    fn params_at(&self) -> usize {
        self.losses_at() + 8 * self.epochs as usize
    }
    fn records_at(&self) -> usize {
        self.params_at() + 4 * Model::parameter_count()
    }
}

fn f(bytes: &[u8], i: usize) -> f32 {
    f32::from_bits(word(bytes, i))
}

/// Reads and checks the header of the expected results.
fn read_run(expected: &mut HostFile) -> Run {
    let mut h = [0u8; HEADER];
    expected.read_exact(&mut h);
    assert!(
        &h[..8] == b"TMLPFT\x02\x00",
        "wrong expected-results file (not --layers all)"
    );
    let flags = word(&h, 2);
    let layers = word(&h, 3) as usize;
    assert!(
        layers + 1 == WIDTHS.len() && word(&h, 4) as usize == Model::parameter_count(),
        "expected results do not match finetune_net.rs"
    );
    let mut widths = [0u8; 4 * 16];
    expected.read_exact(&mut widths[..4 * WIDTHS.len()]);
    assert!(
        (0..WIDTHS.len()).all(|i| word(&widths, i) as usize == WIDTHS[i]),
        "expected results do not match finetune_net.rs"
    );
    let (lr, weight_decay) = (f(&h, 13), f(&h, 17));
    let update = if flags & 2 != 0 {
        Update::Adam(Adam {
            learning_rate: lr,
            beta1: f(&h, 14),
            beta2: f(&h, 15),
            epsilon: f(&h, 16),
            weight_decay,
        })
    } else {
        Update::Sgd(Sgd {
            learning_rate: lr,
            momentum: f(&h, 14),
            weight_decay,
            nesterov: flags & 4 != 0,
        })
    };
    let samples = word(&h, 5) as usize;
    assert!(
        samples <= MAX_SAMPLES,
        "more training samples than the order buffer holds"
    );
    Run {
        from_scratch: flags & 1 != 0,
        update,
        samples,
        eval: word(&h, 6),
        epochs: word(&h, 7),
        batch: word(&h, 8) as usize,
        host_before: word(&h, 9),
        host_after: word(&h, 10),
        seed: u64::from(word(&h, 11)) | (u64::from(word(&h, 12)) << 32),
        scaling_at: HEADER + 4 * WIDTHS.len(),
    }
}

/// Opens a samples file and returns it with its sample count.
fn open_samples(path: &str) -> (HostFile, usize) {
    let mut file = HostFile::open(path);
    let mut header = [0u8; SAMPLES_HEADER];
    file.read_exact(&mut header);
    assert!(&header[..8] == b"TMLPTIN\x02", "wrong samples file");
    assert!(
        word(&header, 3) as usize == INPUTS && word(&header, 4) == <Raw as RawValue>::CODE,
        "samples do not match the network"
    );
    (file, word(&header, 2) as usize)
}

/// Reads the next sample and its label.
fn read_sample(file: &mut HostFile) -> ([Raw; INPUTS], usize) {
    let mut bytes = [0u8; RAW_BYTES];
    file.read_exact(&mut bytes);
    let label = file.read_u32() as usize;
    (host_io::decode(&bytes), label)
}

/// The standardisation of the training samples, as the host fits it.
#[inline(never)]
fn fit_scaling(file: &mut HostFile, n: usize) -> Standardize<INPUTS> {
    let (mut sum, mut sum_sq) = ([0.0f64; INPUTS], [0.0f64; INPUTS]);
    file.seek(SAMPLES_HEADER);
    for _ in 0..n {
        let (raw, _) = read_sample(file);
        accumulate_moments(&raw, &mut sum, &mut sum_sq);
    }
    Standardize::fit(&sum, &sum_sq, n)
}

/// The comparison with the host: its expected-results file, the console for
/// the first mismatches, and the count.
struct Checks<'a> {
    expected: &'a mut HostFile,
    out: &'a mut Stdout,
    passed: u32,
    failed: u32,
}

impl Checks<'_> {
    /// Counts one check; prints the first five that fail.
    fn check(&mut self, ok: bool, what: core::fmt::Arguments<'_>) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
            if self.failed <= 5 {
                let _ = writeln!(self.out, "{what}");
            }
        }
    }

    /// Compares `values` with the `f32` bits at `at` in the expected file.
    fn bits(&mut self, at: usize, values: &[f32], what: &str) {
        self.expected.seek(at);
        let mut chunk = [0u8; 4 * 64];
        for (k, part) in values.chunks(64).enumerate() {
            self.expected.read_exact(&mut chunk[..4 * part.len()]);
            for (i, v) in part.iter().enumerate() {
                let (here, host) = (v.to_bits(), word(&chunk, i));
                let index = 64 * k + i;
                self.check(
                    here == host,
                    format_args!("{what} {index}: {here:#010x} here, {host:#010x} on the host"),
                );
            }
        }
    }

    /// Compares an epoch's mean loss with the host's.
    fn loss(&mut self, run: &Run, epoch: u32, loss: f64) {
        self.expected.seek(run.losses_at() + 8 * epoch as usize);
        let mut host = [0u8; 8];
        self.expected.read_exact(&mut host);
        let (here, host) = (loss.to_bits(), u64::from_le_bytes(host));
        let n = epoch + 1;
        self.check(
            here == host,
            format_args!("epoch {n}: loss {here:#018x} here, {host:#018x} on the host"),
        );
        let _ = writeln!(
            self.out,
            "epoch {n}: mean loss {} (x 1e-4)",
            (loss * 1e4) as u32
        );
    }
}

/// What one epoch measured.
struct EpochResult {
    loss: f64,
    ticks: u64,
    steps: u32,
}

/// The training state besides the network: gradients, and the optimiser's buffers.
struct State<'a> {
    grads: &'a mut Model,
    first: &'a mut Model,
    /// Adam's second moment (`None` with SGD).
    second: Option<&'a mut Model>,
    /// Steps taken so far.
    step: u32,
}

/// Where an epoch's samples come from: the training file, read in an order
/// shuffled anew each epoch.
struct Stream<'a> {
    file: &'a mut HostFile,
    order: &'a mut [u16],
    rng: Rng,
}

/// One epoch (the order shuffled first); returns its mean loss and cost.
#[inline(never)]
fn epoch(
    net: &mut Model,
    state: &mut State<'_>,
    run: &Run,
    scale: &Standardize<INPUTS>,
    stream: &mut Stream<'_>,
) -> EpochResult {
    let Stream { file, order, rng } = stream;
    rng.shuffle(order);
    let mut result = EpochResult {
        loss: 0.0,
        ticks: 0,
        steps: 0,
    };
    let mut scratch = <Model as Network<INPUTS, CLASSES>>::Scratch::default();
    for batch in order.chunks(run.batch) {
        state.grads.set_zero();
        let mut batch_loss = 0.0f32;
        for &i in batch {
            file.seek(SAMPLES_HEADER + usize::from(i) * RECORD);
            let (raw, label) = read_sample(file);
            let t0 = timer::now();
            let x = scale.apply(&raw);
            batch_loss += net.train_sample(&x, label, &mut scratch, state.grads).loss;
            result.ticks += timer::elapsed(t0, timer::now());
        }
        let t0 = timer::now();
        step(net, state, run.update, 1.0 / batch.len() as f32);
        result.ticks += timer::elapsed(t0, timer::now());
        result.loss += f64::from(batch_loss);
        result.steps += 1;
    }
    result.loss /= run.samples.max(1) as f64;
    result
}

/// One optimiser step.
fn step(net: &mut Model, state: &mut State<'_>, update: Update, scale: f32) {
    state.step += 1;
    match (update, state.second.as_deref_mut()) {
        (Update::Adam(adam), Some(second)) => {
            adam.step(net, state.grads, (state.first, second), state.step, scale)
        }
        (Update::Sgd(sgd), _) => sgd.step(net, state.grads, state.first, scale),
        (Update::Adam(_), None) => unreachable!("Adam runs with two moment buffers"),
    }
}

/// Correct predictions on the evaluation samples; with `checks` (the expected
/// file positioned at the host's records), also checks every logit and class.
#[inline(never)]
fn evaluate(
    net: &Model,
    scale: &Standardize<INPUTS>,
    m: u32,
    mut checks: Option<&mut Checks<'_>>,
) -> u32 {
    let (mut test, m_file) = open_samples(TEST);
    assert!(
        m_file == m as usize,
        "evaluation file and expected results disagree"
    );
    let mut correct = 0;
    let mut record = [0u8; (CLASSES + 1) * 4];
    for s in 0..m {
        let (raw, label) = read_sample(&mut test);
        let logits = net.logits(&scale.apply(&raw));
        let class = argmax(&logits);
        correct += u32::from(class == label);
        if let Some(checks) = checks.as_mut() {
            checks.expected.read_exact(&mut record);
            let host = word(&record, CLASSES);
            let same = (0..CLASSES).all(|c| logits[c].to_bits() == word(&record, c))
                && class as u32 == host;
            checks.check(
                same,
                format_args!("sample {s}: class {class}, host says {host}"),
            );
        }
    }
    correct
}

/// `c / n` in percent, rounded to two decimals as the host prints it: (whole, hundredths).
fn percent(c: u32, n: u32) -> (u32, u32) {
    let n = n.max(1);
    let v = (c * 10_000 + n / 2) / n;
    (v / 100, v % 100)
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
    let run = read_run(&mut expected);
    banner(&run, &mut out);
    let mut checks = Checks {
        expected: &mut expected,
        out: &mut out,
        passed: 0,
        failed: 0,
    };
    match run.update {
        Update::Sgd(_) => with_sgd_state(&run, &mut checks),
        Update::Adam(_) => with_adam_state(&run, &mut checks),
    }
    let (passed, failed) = (checks.passed, checks.failed);
    let _ = writeln!(out, "stack high-water: {} bytes", stack::high_water());
    let _ = writeln!(out, "{passed} passed, {failed} failed");
    semihosting::exit(failed == 0 && passed > 0)
}

/// A network with every parameter zero, as a constant: `let x = Model::ZERO`
/// fills `x` where it lies (`Model::zeroed()` builds the inner layers in
/// temporaries first, 19 KB of stack more for the digits network).
trait Zero {
    const ZERO: Self;
}

impl<const IN: usize, const OUT: usize> Zero for Dense<IN, OUT> {
    const ZERO: Self = Dense::zeroed();
}

impl<const IN: usize, const H: usize, Next: Zero> Zero for Hidden<IN, H, Next> {
    const ZERO: Self = Hidden::new(Dense::zeroed(), Next::ZERO);
}

/// The network, its gradients and SGD's momentum, in this frame; [`train`] steps them.
#[inline(never)]
fn with_sgd_state(run: &Run, checks: &mut Checks<'_>) {
    let mut net = Model::ZERO;
    let (mut grads, mut first) = (Model::ZERO, Model::ZERO);
    let state = State {
        grads: &mut grads,
        first: &mut first,
        second: None,
        step: 0,
    };
    train(&mut net, state, run, checks);
}

/// The network, its gradients and Adam's two moments, in this frame.
#[inline(never)]
fn with_adam_state(run: &Run, checks: &mut Checks<'_>) {
    let mut net = Model::ZERO;
    let (mut grads, mut first, mut second) = (Model::ZERO, Model::ZERO, Model::ZERO);
    let state = State {
        grads: &mut grads,
        first: &mut first,
        second: Some(&mut second),
        step: 0,
    };
    train(&mut net, state, run, checks);
}

fn banner(run: &Run, out: &mut Stdout) {
    let _ = write!(out, "tinymlp train: f32 network ");
    for (i, w) in WIDTHS.iter().enumerate() {
        let _ = write!(out, "{}{w}", if i == 0 { "" } else { "-" });
    }
    let _ = if run.from_scratch {
        write!(
            out,
            ", every layer trained in RAM from scratch (seed {})",
            run.seed
        )
    } else {
        write!(
            out,
            ", every layer trained in RAM from the weights in flash"
        )
    };
    let _ = writeln!(out, "; portable kernels, core {}", env!("TINYMLP_CORE"));
    let _ = writeln!(
        out,
        "timer check: a loop of 20000 instructions counts {}",
        timer::check(10_000)
    );
}

/// Starts the network (and the standardisation), trains it, and checks everything.
#[inline(never)]
fn train(net: &mut Model, mut state: State<'_>, run: &Run, checks: &mut Checks<'_>) {
    let (mut file, n) = open_samples(TRAIN);
    assert!(
        n == run.samples,
        "training file and expected results disagree"
    );
    let scale = match START {
        Some((flash, scaling)) => {
            net.copy_from(flash);
            *scaling
        }
        None => {
            let scale = fit_scaling(&mut file, n);
            net.init(&mut Rng::new(run.seed));
            scale
        }
    };
    checks.bits(run.scaling_at, &scale.mean, "mean");
    checks.bits(run.scaling_at + 4 * INPUTS, &scale.inv_std, "1/std");
    let before = evaluate(net, &scale, run.eval, None);
    report_state(state.second.is_some(), checks.out);
    let mut order = [0u16; MAX_SAMPLES];
    for (i, o) in order.iter_mut().enumerate().take(n) {
        *o = i as u16;
    }
    let mut stream = Stream {
        file: &mut file,
        order: &mut order[..n],
        rng: Rng::new(run.seed.wrapping_add(1)),
    };
    let (mut ticks, mut steps) = (0u64, 0u32);
    for e in 0..run.epochs {
        let r = epoch(net, &mut state, run, &scale, &mut stream);
        checks.loss(run, e, r.loss);
        (ticks, steps) = (ticks + r.ticks, steps + r.steps);
    }
    report_cost(run, ticks, steps, checks.out);
    check_parameters(net, run, checks);
    checks.expected.seek(run.records_at());
    let failed = checks.failed;
    let after = evaluate(net, &scale, run.eval, Some(checks));
    let _ = writeln!(
        checks.out,
        "predictions afterwards: {} of {} samples bit-identical to the host (every logit and the class)",
        run.eval - (checks.failed - failed),
        run.eval
    );
    report_accuracy(run, before, after, checks);
}

/// Every trained parameter against the host's, tensor after tensor.
fn check_parameters(net: &Model, run: &Run, checks: &mut Checks<'_>) {
    let passed = checks.passed;
    let mut at = run.params_at();
    for t in 0..Model::TENSORS {
        checks.bits(at, net.tensor(t), "parameter");
        at += 4 * net.tensor(t).len();
    }
    let _ = writeln!(
        checks.out,
        "trained parameters: {} of {} bit-identical to the host",
        checks.passed - passed,
        Model::parameter_count()
    );
}

fn report_state(adam: bool, out: &mut Stdout) {
    let copies = if adam { 4 } else { 3 };
    let _ = writeln!(
        out,
        "training state in RAM: {} bytes (network, gradients, {}: {copies} x {} parameters)",
        copies * core::mem::size_of::<Model>(),
        if adam {
            "Adam's two moments"
        } else {
            "momentum"
        },
        Model::parameter_count()
    );
}

fn report_cost(run: &Run, ticks: u64, steps: u32, out: &mut Stdout) {
    let samples = u64::from(run.epochs) * run.samples as u64;
    let _ = writeln!(
        out,
        "training: {} epochs of {} samples, batch {}, {} steps; instructions per step: {} (per sample: {})",
        run.epochs,
        run.samples,
        run.batch,
        steps,
        timer::instructions(ticks) / u64::from(steps.max(1)),
        timer::instructions(ticks) / samples.max(1)
    );
}

fn report_accuracy(run: &Run, before: u32, after: u32, checks: &mut Checks<'_>) {
    let m = run.eval;
    let (b, a) = (percent(before, m), percent(after, m));
    let (hb, ha) = (run.host_before, run.host_after);
    let _ = writeln!(
        checks.out,
        "accuracy before on target: {before}/{m} = {}.{:02}% (host {hb})",
        b.0, b.1
    );
    let _ = writeln!(
        checks.out,
        "accuracy after on target: {after}/{m} = {}.{:02}% (host {ha})",
        a.0, a.1
    );
    checks.check(
        before == hb && after == ha,
        format_args!("accuracies differ from the host's"),
    );
}
