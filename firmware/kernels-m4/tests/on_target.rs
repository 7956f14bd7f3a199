//! On-target test (runs under QEMU through the runner in `firmware/.cargo/config.toml`):
//! the assembly kernels agree exactly with tinymlp's portable ones.
//!
//! ```text
//! cd firmware
//! cargo test -p tinymlp-m4 --release                        # Cortex-M4F (mps2-an386)
//! ./core.sh m33 test -p tinymlp-m4 --release                # Cortex-M33 (mps2-an505)
//! ```
//!
//! It fails if the target does not get the assembly (see `build.rs`): it exists to
//! test it.
#![no_std]
#![no_main]

use core::fmt::Write as _;

use cortex_m_rt::{entry, exception, ExceptionFrame};
use cortex_m_semihosting::{debug, hio};
use panic_semihosting as _;
use tinymlp::kernels::dot;
use tinymlp::quant::dot_i8_u8;
use tinymlp::{Mlp2, Network, QDense, QHidden, QNetwork, QOutput, Requantize, Rng};
use tinymlp_m4::{dot_f32, dot_i8, Interleaved, ASM_F32, ASM_INT8, M4};

/// 4-byte aligned storage, so a slice starting at offset 1 is certainly unaligned.
#[repr(C, align(4))]
struct Aligned<const N: usize>([i8; N]);

fn check_len<const N: usize, const N1: usize>(rng: &mut Rng, failures: &mut u32) {
    for round in 0..4 {
        // Weights with a wide dynamic range (plus exact zeros and negative zeros),
        // so the rounding order matters.
        let mut w = [0.0f32; N];
        let mut x = [0.0f32; N];
        for (i, (w, x)) in w.iter_mut().zip(&mut x).enumerate() {
            let scale = [1.0, 1e-3, 1e3, 1e-30][(i + round) % 4];
            *w = rng.uniform(-1.0, 1.0) * scale;
            *x = if i % 5 == 0 {
                -0.0
            } else {
                rng.uniform(-2.0, 2.0)
            };
        }
        if dot_f32(&w, &x).to_bits() != dot(&w, &x).to_bits() {
            *failures += 1;
        }

        let mut wq = Aligned::<N1>([0; N1]);
        let mut xq = [0u8; N];
        for v in wq.0.iter_mut() {
            *v = rng.next_u64() as i8;
        }
        for v in xq.iter_mut() {
            *v = rng.next_u64() as u8;
        }
        let xi = Interleaved::new(&xq);
        let aligned: &[i8; N] = wq.0[..N].try_into().unwrap();
        let unaligned: &[i8; N] = wq.0[1..].try_into().unwrap();
        for w in [aligned, unaligned] {
            if dot_i8(w, &xi, &xq) != dot_i8_u8(w, &xq) {
                *failures += 1;
            }
        }
    }
}

/// Networks of one and two hidden layers through [`M4`] and through the
/// portable kernels: the same logit bits and accumulators.
fn check_networks(rng: &mut Rng, failures: &mut u32) {
    let mut net = Mlp2::<48, 32, 17, 10>::zeroed();
    net.init(rng);
    let mut q = QHidden::<48, 32, QHidden<32, 17, QOutput<17, 10>>>::new(
        QDense::zeroed(),
        Requantize::new([0; 32], [0; 32]),
        QHidden::new(
            QDense::zeroed(),
            Requantize::new([0; 17], [0; 17]),
            QOutput::new(QDense::zeroed(), [1.0; 10]),
        ),
    );
    for w in q
        .layer
        .weights
        .as_flattened_mut()
        .iter_mut()
        .chain(q.next.layer.weights.as_flattened_mut())
        .chain(q.next.next.layer.weights.as_flattened_mut())
    {
        *w = rng.next_u64() as i8;
    }
    for (m, s) in q
        .requant
        .multiplier
        .iter_mut()
        .zip(&mut q.requant.shift)
        .chain(
            q.next
                .requant
                .multiplier
                .iter_mut()
                .zip(&mut q.next.requant.shift),
        )
    {
        *m = (1 << 30) + (rng.next_u64() as i32 & 0x3fff_ffff);
        *s = 42;
    }
    for _ in 0..20 {
        let mut x = [0.0f32; 48];
        let mut p = [0u8; 48];
        for (x, p) in x.iter_mut().zip(&mut p) {
            *x = rng.uniform(0.0, 1.0);
            *p = rng.next_u64() as u8;
        }
        let mut scratch = Default::default();
        let asm = *net.forward_with(&x, &mut scratch, &M4);
        if asm.map(f32::to_bits) != net.logits(&x).map(f32::to_bits) {
            *failures += 1;
        }
        if q.accumulators_with(&p, &M4) != q.accumulators_ref(&p) {
            *failures += 1;
        }
    }
}

#[entry]
fn main() -> ! {
    let mut rng = Rng::new(2024);
    let mut failures = 0;
    check_len::<1, 2>(&mut rng, &mut failures);
    check_len::<7, 8>(&mut rng, &mut failures);
    check_len::<15, 16>(&mut rng, &mut failures);
    check_len::<16, 17>(&mut rng, &mut failures);
    check_len::<17, 18>(&mut rng, &mut failures);
    check_len::<33, 34>(&mut rng, &mut failures);
    check_len::<64, 65>(&mut rng, &mut failures);
    check_len::<100, 101>(&mut rng, &mut failures);
    check_len::<784, 785>(&mut rng, &mut failures);
    check_networks(&mut rng, &mut failures);
    let mut out = hio::hstdout().unwrap();
    let asm = ASM_F32 && ASM_INT8;
    let _ = writeln!(
        out,
        "tinymlp-m4 on target: {failures} mismatches ({})",
        if asm {
            "assembly kernels"
        } else {
            "NOT the assembly: this target lacks the DSP extension or the FPU"
        }
    );
    debug::exit(if failures == 0 && asm {
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
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
