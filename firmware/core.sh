#!/usr/bin/env bash
# ./core.sh CORE CARGO-COMMAND [ARGS…]: runs cargo for one core, CORE one of
#   m0   thumbv6m-none-eabi          QEMU mps2-an385
#   m4   thumbv7em-none-eabihf       QEMU mps2-an386
#   m33  thumbv8m.main-none-eabihf   QEMU mps2-an505
#   m55  thumbv8m.main-none-eabihf   QEMU mps3-an547, -C target-cpu=cortex-m55 (Helium)
#   rv32 riscv32imac-unknown-none-elf QEMU sifive_e
# e.g. `./core.sh m55 run --release --features int8`. Each core builds into target/CORE,
# so the M33 and M55 builds of one target do not overwrite each other. For the M55 it sets
# RUSTFLAGS (replacing the M33 flags of .cargo/config.toml) and feature `helium` (the int8
# kernel form LLVM vectorises to MVE); qemu.sh sees cortex-m55 in the ELF and runs it on
# mps3-an547.
set -euo pipefail
cd "$(dirname "$0")"
features=()
core=${1:?usage: ./core.sh m0|m4|m33|m55|rv32 CARGO-COMMAND [ARGS…]}
shift
case $core in
    m0) target=thumbv6m-none-eabi ;;
    m4) target=thumbv7em-none-eabihf ;;
    m33) target=thumbv8m.main-none-eabihf ;;
    m55)
        target=thumbv8m.main-none-eabihf
        export RUSTFLAGS="-C link-arg=-Tlink.x -C target-cpu=cortex-m55"
        features=(--features helium)
        ;;
    rv32) target=riscv32imac-unknown-none-elf ;;
    *) echo "unknown core $core" >&2; exit 2 ;;
esac
cmd=${1:?cargo command missing}
shift
case $cmd in
    build | check | clippy | run | rustc | test) ;;
    *) features=() ;;
esac
exec cargo "$cmd" --target "$target" --target-dir "target/$core" "${features[@]}" "$@"
