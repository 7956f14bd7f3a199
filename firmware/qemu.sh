#!/usr/bin/env bash
# qemu.sh ELF [ARGS…]: the cargo runner of every core. Picks the QEMU board from the ELF
# itself (its machine and, on Arm, the Tag_CPU_name that -C target-cpu writes into
# .ARM.attributes), so the M33 and M55 builds of thumbv8m.main-none-eabihf each run on their
# own board. Semihosting on; -icount shift=10: every instruction advances virtual time by
# 1024 ns, which makes the board's timer an exact instruction counter (src/timer.rs).
# Time limits: 30 min for the cores without an FPU (all 10,000 MNIST images in soft-float f32
# take 2–2.5 min of CPU, and run.sh's took 10 min of wall time on a machine loaded 5×), 5 min
# for the others.
set -euo pipefail
elf=$1
shift
common=(-nographic -semihosting-config enable=on,target=native -icount shift=10)
if readelf -h "$elf" | grep -q 'RISC-V'; then
    # rv32imac, SiFive E31 class; f32 in software.
    exec timeout 1800 qemu-system-riscv32 -machine sifive_e -bios none "${common[@]}" -kernel "$elf" "$@"
fi
cpu=$(readelf -A "$elf" | sed -n 's/.*Tag_CPU_name: "\(.*\)"/\1/p')
case $cpu in
    # QEMU has no M0 board with the CMSDK timer: the ARMv6-M binary runs on the Cortex-M3 of
    # mps2-an385 (ARMv6-M is a subset of ARMv7-M; the count is the M0 binary's instructions).
    cortex-m0*) board=(-cpu cortex-m3 -machine mps2-an385) limit=1800 ;;
    cortex-m4) board=(-cpu cortex-m4 -machine mps2-an386) limit=300 ;;
    cortex-m33) board=(-cpu cortex-m33 -machine mps2-an505) limit=300 ;;
    cortex-m55) board=(-cpu cortex-m55 -machine mps3-an547) limit=300 ;;
    *) echo "qemu.sh: no board for CPU '$cpu' of $elf" >&2; exit 2 ;;
esac
exec timeout "$limit" qemu-system-arm "${board[@]}" "${common[@]}" -kernel "$elf" "$@"
