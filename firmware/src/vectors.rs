//! The device-specific part of the Cortex-M vector table.
//!
//! Without a device crate, cortex-m-rt fills it for any part of the
//! architecture: 32 interrupt vectors on ARMv6-M, 240 on ARMv7-M, 480 on
//! ARMv8-M Mainline (1,920 bytes of flash on the M33 and M55), every one
//! pointing at `DefaultHandler`. The program enables no interrupt (the NVIC
//! keeps them all disabled from reset), so with cortex-m-rt's `device` feature
//! it supplies the shortest table cortex-m-rt accepts: one vector. A product
//! would list the interrupts its device raises and it enables; each costs
//! 4 bytes. (`build.rs` writes the `device.x` that the feature makes `link.x`
//! include: empty, as there are no handlers to name.)

extern "C" {
    /// cortex-m-rt's handler for any exception without its own.
    fn DefaultHandler();
}

/// IRQ 0; never raised, as no interrupt is enabled.
#[link_section = ".vector_table.interrupts"]
#[no_mangle]
static __INTERRUPTS: [unsafe extern "C" fn(); 1] = [DefaultHandler];
