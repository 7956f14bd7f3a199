//! Start-up for the RISC-V core (`memory/riscv.x` places `.init` at the reset
//! address): global and stack pointers, `.data` copied from flash, `.bss`
//! zeroed, a trap vector that ends the run as a failure, then [`crate::run`].

core::arch::global_asm!(
    ".section .init, \"ax\"",
    ".global _start",
    "_start:",
    ".option push",
    ".option norelax",
    "la gp, __global_pointer$",
    ".option pop",
    "la sp, _stack_start",
    "la t0, tinymlp_trap",
    "csrw mtvec, t0",
    // .data: from its load address in flash to RAM
    "la t0, __sdata",
    "la t1, __edata",
    "la t2, __sidata",
    "1: bgeu t0, t1, 2f",
    "lw t3, 0(t2)",
    "sw t3, 0(t0)",
    "addi t0, t0, 4",
    "addi t2, t2, 4",
    "j 1b",
    // .bss: zero
    "2: la t0, __sbss",
    "la t1, __ebss",
    "3: bgeu t0, t1, 4f",
    "sw zero, 0(t0)",
    "addi t0, t0, 4",
    "j 3b",
    "4: call tinymlp_main",
    "5: j 5b",
    // mtvec's base must be 4-aligned (direct mode)
    ".balign 4",
    "tinymlp_trap:",
    "call tinymlp_trap_handler",
    "6: j 6b",
);

#[no_mangle]
extern "C" fn tinymlp_main() -> ! {
    crate::run()
}

#[no_mangle]
extern "C" fn tinymlp_trap_handler() -> ! {
    crate::fault("trap")
}
