//! Stack painting: fill the unused stack with a pattern, later find the lowest
//! word that was overwritten. The linker scripts (cortex-m-rt's `link.x`,
//! `memory/riscv.x`) give the end of static RAM (`__sheap`) and the top of the
//! stack (`_stack_start`).

use core::ptr::{addr_of, read_volatile, write_volatile};

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

/// Paints from the end of `.bss` up to 256 bytes below this function's frame.
#[inline(never)]
pub fn paint() {
    let marker = 0u32;
    let sp = core::hint::black_box(addr_of!(marker)) as usize - 256;
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
