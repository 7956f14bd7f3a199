//! How a run ends when it cannot go on: a fault (HardFault on Cortex-M, any
//! trap on RISC-V) or a panic prints one line and exits as a failure, so the
//! runner reports it instead of hanging. Shared by every firmware program.

use crate::console::Line;
use crate::semihosting::{self, Stdout};

/// A fault (HardFault on Cortex-M, any trap on RISC-V) ends the run as a failure.
pub fn fault(what: &str) -> ! {
    Line::new(&mut Stdout::open()).s(what).end();
    semihosting::exit(false)
}

#[cfg(target_arch = "arm")]
#[cortex_m_rt::exception]
unsafe fn HardFault(_frame: &cortex_m_rt::ExceptionFrame) -> ! {
    fault("HardFault")
}

/// Prints where the panic happened and its message if it is a plain string
/// (formatting one, such as an index's bounds, would cost `core::fmt`'s ~3 KB
/// of flash; the location finds it).
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    let mut out = Stdout::open();
    let mut line = Line::new(&mut out);
    line.s("panicked");
    if let Some(at) = info.location() {
        line.s(" at ").s(at.file()).s(":").n(at.line().into());
    }
    line.s(": ")
        .s(info.message().as_str().unwrap_or("(formatted message)"))
        .end();
    semihosting::exit(false)
}
