#!/usr/bin/env bash
# Builds and runs the firmware on an emulated Cortex-M4F (QEMU mps2-an386), in
# all four forms, plus the on-target kernel test. Exits non-zero on any failure.
# Used by CI; from a fresh machine it installs the Rust target and QEMU itself.
set -euo pipefail
cd "$(dirname "$0")"

rustup target add thumbv7em-none-eabihf >/dev/null
if ! command -v qemu-system-arm >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends qemu-system-arm >/dev/null
fi

run() {
    echo "== cargo run --release $*"
    # The runner in .cargo/config.toml wraps QEMU in `timeout 300`.
    local log
    log=$(cargo run --quiet --release "$@" 2>&1) || { echo "$log"; echo "FAILED: $*"; exit 1; }
    echo "$log"
    grep -qx '10000 passed, 0 failed' <<<"$log" || { echo "FAILED: $*"; exit 1; }
    size -A target/thumbv7em-none-eabihf/release/tinymlp-firmware \
        | awk '/^\.(vector_table|text|rodata|data|bss) / { printf "  %s %d", $1, $2 } END { print "" }'
}

run                                     # f32, Cortex-M4 assembly kernels
run --features int8                     # int8, Cortex-M4 assembly kernels
run --no-default-features               # f32, portable tinymlp kernels
run --no-default-features --features int8   # int8, portable tinymlp kernels

echo "== cargo test -p tinymlp-m4 --release (on target)"
cargo test --quiet --release -p tinymlp-m4
