//! CMSDK APB timer0 of the mps2 boards: a 25 MHz 32-bit down-counter, an
//! exact instruction counter under QEMU's `-icount shift=10`.

use core::ptr::{read_volatile, write_volatile};

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

/// Ticks elapsed from `earlier` to `later` (both from [`now`]).
#[inline(always)]
pub fn elapsed(earlier: u32, later: u32) -> u64 {
    u64::from(earlier.wrapping_sub(later))
}

/// Instructions executed during `ticks` timer ticks under `-icount shift=10`:
/// one instruction is 2^10 ns of virtual time, one tick is 40 ns.
pub fn instructions(ticks: u64) -> u64 {
    ticks * 40 / 1024
}
