#!/usr/bin/env bash
# Builds and runs the firmware on an emulated Cortex-M4F (QEMU mps2-an386):
# the default model (../model, MNIST 784-64-10) in all four forms, a numeric
# model with two hidden layers (../examples/digits/model, 64-32-16-10) in all
# four forms, plus the on-target kernel test. Exits non-zero on any failure.
# Used by CI; from a fresh machine it installs the Rust target and QEMU itself.
set -euo pipefail
cd "$(dirname "$0")"

rustup target add thumbv7em-none-eabihf >/dev/null
if ! command -v qemu-system-arm >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends qemu-system-arm >/dev/null
fi

# run MODEL_DIR [cargo args…]: every test sample must pass.
run() {
    local dir=$1
    shift
    echo "== TINYMLP_MODEL_DIR=$dir cargo run --release $*"
    # The runner in .cargo/config.toml wraps QEMU in `timeout 300`.
    local log
    log=$(TINYMLP_MODEL_DIR=$dir cargo run --quiet --release "$@" 2>&1) || { echo "$log"; echo "FAILED: $dir $*"; exit 1; }
    echo "$log"
    grep -qE '^[1-9][0-9]* passed, 0 failed$' <<<"$log" || { echo "FAILED: $dir $*"; exit 1; }
    size -A target/thumbv7em-none-eabihf/release/tinymlp-firmware \
        | awk '/^\.(vector_table|text|rodata|data|bss) / { printf "  %s %d", $1, $2 } END { print "" }'
}

for dir in ../model ../examples/digits/model; do
    run "$dir"                                          # f32, Cortex-M4 assembly kernels
    run "$dir" --features int8                          # int8, Cortex-M4 assembly kernels
    run "$dir" --no-default-features                    # f32, portable tinymlp kernels
    run "$dir" --no-default-features --features int8    # int8, portable tinymlp kernels
done

echo "== cargo test -p tinymlp-m4 --release (on target)"
cargo test --quiet --release -p tinymlp-m4
