//! An exact instruction counter under QEMU's `-icount shift=10`, where every
//! instruction advances virtual time by 2^10 ns.
//!
//! - Cortex-M: a 32-bit down-counter of the board, read before and after:
//!   `instructions = ticks × ns per tick / 1024`. On mps2-an385/an386/an505
//!   the CMSDK APB timer0; on mps3-an547 (whose SSE-300 has no CMSDK timer) the
//!   `COUNTER` of the FPGA I/O block, which with `PRESCALE = 0` counts up at
//!   the board clock (read inverted, it is a down-counter like the others).
//! - RISC-V (sifive_e): the core's own `minstret` counter, which QEMU derives
//!   from virtual time under `-icount` (ns, so `instructions = count / 1024`).
//!
//! [`check`] times a loop of known length, so every run shows that the
//! conversion is right on its board.

/// The timer's registers and clock per board.
#[cfg(target_arch = "arm")]
mod board {
    /// mps2-an385 (the Cortex-M0 binary) and mps2-an386 (Cortex-M4F): timer0, 25 MHz.
    #[cfg(any(tinymlp_core = "m0", tinymlp_core = "m4"))]
    pub const BASE: usize = 0x4000_0000;
    #[cfg(any(tinymlp_core = "m0", tinymlp_core = "m4"))]
    pub const NS_PER_TICK: u64 = 40;
    /// mps2-an505 (Cortex-M33, SSE-200): timer0 at its Secure alias, 20 MHz.
    #[cfg(tinymlp_core = "m33")]
    pub const BASE: usize = 0x5000_0000;
    #[cfg(tinymlp_core = "m33")]
    pub const NS_PER_TICK: u64 = 50;
    /// mps3-an547 (Cortex-M55, SSE-300): FPGAIO `COUNTER`, 20 MHz.
    #[cfg(tinymlp_core = "m55")]
    pub const NS_PER_TICK: u64 = 50;
    #[cfg(tinymlp_core = "m55")]
    const FPGAIO: usize = 0x4930_2000;

    /// CMSDK APB timer: CTRL, VALUE, RELOAD at 0, 4, 8.
    #[cfg(not(tinymlp_core = "m55"))]
    pub const COUNTER: *mut u32 = (BASE + 4) as *mut u32;
    /// (register, value) written in this order to start the down-counter from `u32::MAX`.
    #[cfg(not(tinymlp_core = "m55"))]
    pub const START: [(usize, u32); 3] = [(BASE + 8, u32::MAX), (BASE + 4, u32::MAX), (BASE, 1)];

    /// FPGAIO: COUNTER at 0x18, PRESCALE at 0x1c; an up-counter.
    #[cfg(tinymlp_core = "m55")]
    pub const COUNTER: *mut u32 = (FPGAIO + 0x18) as *mut u32;
    #[cfg(tinymlp_core = "m55")]
    pub const START: [(usize, u32); 2] = [(FPGAIO + 0x1c, 0), (FPGAIO + 0x18, 0)];
    /// Whether [`COUNTER`] counts down.
    pub const DOWN: bool = cfg!(not(tinymlp_core = "m55"));
}

#[cfg(target_arch = "arm")]
mod imp {
    use super::board::{COUNTER, DOWN, NS_PER_TICK, START};
    use core::ptr::{read_volatile, write_volatile};

    /// Starts the timer free-running from `u32::MAX`.
    pub fn start() {
        for (register, value) in START {
            // SAFETY: the counter's MMIO registers on this board.
            unsafe { write_volatile(register as *mut u32, value) };
        }
    }

    /// The current count, as an up-counter.
    #[inline(always)]
    pub fn now() -> u64 {
        // SAFETY: the counter's MMIO register on this board.
        let value = unsafe { read_volatile(COUNTER) };
        u64::from(if DOWN { !value } else { value })
    }

    /// Ticks from `earlier` to `later` (both from [`now`]), across one wrap.
    #[inline(always)]
    pub fn elapsed(earlier: u64, later: u64) -> u64 {
        u64::from((later as u32).wrapping_sub(earlier as u32))
    }

    /// Instructions executed during `ticks` ticks.
    pub fn instructions(ticks: u64) -> u64 {
        ticks * NS_PER_TICK / 1024
    }

    /// Runs `2 × n` instructions (`subs`, `bne`) plus a few around them.
    #[inline(never)]
    pub fn known_loop(n: u32) {
        // SAFETY: register-only loop.
        unsafe {
            core::arch::asm!("2:", "subs {0}, #1", "bne 2b", inout(reg) n => _, options(nomem, nostack));
        }
    }
}

#[cfg(target_arch = "riscv32")]
mod imp {
    /// Nothing to start: `minstret` always counts.
    pub fn start() {}

    /// The 64-bit `minstret`.
    #[inline(always)]
    pub fn now() -> u64 {
        loop {
            let (hi, lo, hi2): (u32, u32, u32);
            // SAFETY: reads machine counters; the firmware runs in machine mode.
            unsafe {
                core::arch::asm!(
                    "csrr {0}, minstreth", "csrr {1}, minstret", "csrr {2}, minstreth",
                    out(reg) hi, out(reg) lo, out(reg) hi2, options(nomem, nostack)
                );
            }
            if hi == hi2 {
                return (u64::from(hi) << 32) | u64::from(lo);
            }
        }
    }

    /// Counts from `earlier` to `later`.
    #[inline(always)]
    pub fn elapsed(earlier: u64, later: u64) -> u64 {
        later.wrapping_sub(earlier)
    }

    /// Instructions executed during `ticks` counts (ns of virtual time).
    pub fn instructions(ticks: u64) -> u64 {
        ticks / 1024
    }

    /// Runs `2 × n` instructions (`addi`, `bnez`) plus a few around them.
    #[inline(never)]
    pub fn known_loop(n: u32) {
        // SAFETY: register-only loop.
        unsafe {
            core::arch::asm!("2:", "addi {0}, {0}, -1", "bnez {0}, 2b", inout(reg) n => _, options(nomem, nostack));
        }
    }
}

pub use imp::{elapsed, instructions, now, start};

/// Instructions counted for a loop of `2 × n` instructions: `2n` plus the few
/// of the call and the two timer reads (a handful), or nonsense if the
/// board's timer or clock is wrong.
pub fn check(n: u32) -> u64 {
    let t0 = now();
    imp::known_loop(n);
    let t1 = now();
    instructions(elapsed(t0, t1))
}
