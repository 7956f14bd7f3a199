//! Fuzz target `picture`: see `host/tests/common/fuzz_checks.rs` for what is checked.
#![no_main]

#[path = "../../host/tests/common/fuzz_checks.rs"]
mod fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::picture(data));
