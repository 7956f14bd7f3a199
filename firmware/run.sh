#!/usr/bin/env bash
# Builds and runs the firmware on five emulated cores: Cortex-M0 (QEMU mps2-an385), Cortex-M4F
# (mps2-an386), Cortex-M33 (mps2-an505), Cortex-M55 with Helium (mps3-an547) and RISC-V
# rv32imac (sifive_e); for the default model (../model, MNIST 784-64-10) and a numeric model
# with two hidden layers (../examples/digits/model, 64-32-16-10); f32 and int8 on every core,
# plus the DSP/FPU assembly kernels on the Cortex-M4F and M33 and their on-target test on both.
# Every run must print `N passed, 0 failed` for the whole test set; exits non-zero on any
# failure. Ends with one table row per run (flash code / weights, static RAM, stack,
# instructions, accuracy, check).
# Then learning on the chip: output-layer fine-tuning, every-layer training from scratch and
# from a model, on the Cortex-M4F and the other cores (see "Learning on the chip" below).
#
# The cores without an FPU (M0, RV32) compute f32 in software: ~6.6 M (M0) and ~3.7 M (RV32)
# instructions per 784-64-10 image, 2–2.5 minutes of QEMU each for the 10,000 images, so
# those two runs are queued first and the builds go on while they run. SOFT_FLOAT_LIMIT=N
# checks only their first N images (default 0: all).
set -euo pipefail
cd "$(dirname "$0")"
SOFT_FLOAT_LIMIT=${SOFT_FLOAT_LIMIT:-0}

rustup target add thumbv6m-none-eabi thumbv7em-none-eabihf thumbv8m.main-none-eabihf \
    riscv32imac-unknown-none-elf >/dev/null 2>&1
if ! command -v qemu-system-arm >/dev/null || ! command -v qemu-system-riscv32 >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends qemu-system-arm qemu-system-misc >/dev/null
fi

out=target/runs
rm -rf "$out"
mkdir -p "$out"

# QEMU runs wait in `queue` and run in the background, at most two at a time (the machine's
# cores); the builds go on meanwhile. `report` checks every log afterwards.
queue=()
start_queued() {
    while ((${#queue[@]} > 0)) && (($(jobs -rp | wc -l) < 2)); do
        local name=${queue[0]}
        queue=("${queue[@]:1}")
        (if ./qemu.sh "$out/$name.elf" >"$out/$name.log" 2>&1; then echo 0; else echo $?; fi >"$out/$name.rc") &
    done
}

# run CORE MODEL_DIR LIMIT NAME [cargo args…]: builds, copies the ELF and queues its run.
run() {
    local core=$1 dir=$2 limit=$3 name=$4
    shift 4
    local elf
    echo "== TINYMLP_MODEL_DIR=$dir TINYMLP_LIMIT=$limit ./core.sh $core build --release $*"
    TINYMLP_MODEL_DIR=$dir TINYMLP_LIMIT=$limit ./core.sh "$core" build --quiet --release "$@"
    elf=$(ls target/"$core"/*/release/tinymlp-firmware)
    cp "$elf" "$out/$name.elf"
    queue+=("$name")
    start_queued
}

# The two long runs first: MNIST f32 in software floating point.
run m0 ../model "$SOFT_FLOAT_LIMIT" mnist-m0-f32 --no-default-features
run rv32 ../model "$SOFT_FLOAT_LIMIT" mnist-rv32-f32 --no-default-features
for dir in ../model ../examples/digits/model; do
    model=$(basename "$(dirname "$dir")")
    [ "$model" = .. ] && model=mnist
    if [ "$model" != mnist ]; then
        run m0 "$dir" 0 "$model-m0-f32" --no-default-features
    fi
    run m0 "$dir" 0 "$model-m0-int8" --no-default-features --features int8
    run m4 "$dir" 0 "$model-m4-f32-asm"
    run m4 "$dir" 0 "$model-m4-int8-asm" --features int8
    run m4 "$dir" 0 "$model-m4-f32" --no-default-features
    run m4 "$dir" 0 "$model-m4-int8" --no-default-features --features int8
    run m33 "$dir" 0 "$model-m33-f32-asm"
    run m33 "$dir" 0 "$model-m33-int8-asm" --features int8
    run m33 "$dir" 0 "$model-m33-f32" --no-default-features
    run m33 "$dir" 0 "$model-m33-int8" --no-default-features --features int8
    run m55 "$dir" 0 "$model-m55-f32" --no-default-features
    run m55 "$dir" 0 "$model-m55-int8" --no-default-features --features int8
    if [ "$model" != mnist ]; then
        run rv32 "$dir" 0 "$model-rv32-f32" --no-default-features
    fi
    run rv32 "$dir" 0 "$model-rv32-int8" --no-default-features --features int8
done
echo "== cargo test -p tinymlp-m4 --release; ./core.sh m33 test -p tinymlp-m4 --release (on target)"
cargo test --quiet --release -p tinymlp-m4
./core.sh m33 test --quiet --release -p tinymlp-m4
while ((${#queue[@]} > 0)); do
    wait -n || true
    start_queued
done
wait

# Learning on the chip (README "Learning on the chip"): `host finetune` writes the streams and
# the expected bits into target/learn/RUN, the `finetune` (output layer) or `train` (every
# layer) program is built for a core and runs in the background like the checks above.
host_run() { (cd .. && cargo run --quiet --release -p host -- --quiet "$@"); }
digits=(--data data/digits-8x8/digits-train.csv --test data/digits-8x8/digits-test.csv)
# learn CORE RUN BIN [cargo args…]: builds program BIN from target/learn/RUN, runs it on CORE.
learn() {
    local core=$1 dir=target/learn/$2 bin=$3 name=learn-$2-$1
    shift 3
    echo "== TINYMLP_FINETUNE_DIR=$dir ./core.sh $core build --release --bin $bin $*"
    TINYMLP_FINETUNE_DIR=$dir ./core.sh "$core" build --quiet --release --bin "$bin" "$@"
    cp "$(ls target/"$core"/*/release/"$bin")" "$out/$name.elf"
    if ((jobs_running >= 2)); then
        wait -n || true
        jobs_running=$((jobs_running - 1))
    fi
    (if ./qemu.sh "$out/$name.elf" >"$out/$name.learnlog" 2>&1; then echo 0; else echo $?; fi >"$out/$name.rc") &
    jobs_running=$((jobs_running + 1))
}
jobs_running=0
# 1. The shipped MNIST model's output layer on digits moved 3 pixels right and down (the first
#    5,000 MNIST test images, one SGD step each), measured on the other 5,000: M4, M33, M55.
host_run finetune --model model/model.safetensors --data data --steps 5000 --eval 5000 --shift 3,3 \
    --out firmware/target/learn/last
learn m4 last finetune --features finetune
learn m33 last finetune --no-default-features --features finetune
learn m55 last finetune --no-default-features --features finetune
# 2. A 64-32-16-10 network trained from scratch on the 8x8 digits (SGD, momentum 0.9, batch 8,
#    10 epochs): M4.
host_run finetune --layers all --from-scratch --hidden 32,16 --seed 1 "${digits[@]}" --lr 0.01 \
    --batch 8 --epochs 10 --out firmware/target/learn/scratch
learn m4 scratch train --no-default-features --features train
# 3. Every layer of the shipped digits model (examples/digits) fine-tuned with Adam on readings of
#    a drifted sensor (every value × 0.8 + 1), one epoch, batch 8: M4.
host_run finetune --layers all --model examples/digits/model/model.safetensors "${digits[@]}" \
    --drift 0.8,1 --optimizer adam --lr 0.001 --batch 8 --out firmware/target/learn/drift
learn m4 drift train --no-default-features --features train
# 4. A sensor-sized 64-8-10 network from scratch (5 epochs, batch 8) on all five cores: the same
#    bits on each (the M0 and RV32 in software floating point, in 16 KiB of RAM).
host_run finetune --layers all --from-scratch --hidden 8 --seed 1 "${digits[@]}" --lr 0.02 \
    --batch 8 --epochs 5 --out firmware/target/learn/small
for core in m0 m4 m33 m55 rv32; do
    learn "$core" small train --no-default-features --features train
done
wait

# One row per run; flash = code (everything in flash but the model's statics) + weights
# (the emitted MODEL and SCALING statics), static RAM = .data + .bss.
failed=0
for log in "$out"/*.log; do
    echo "---- $(basename "$log" .log)"
    cat "$log"
done
echo
echo "| run | flash code | flash weights | static RAM | stack | instructions / inference | per MAC | accuracy | check |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
for log in "$out"/*.log; do
    name=$(basename "$log" .log)
    rc=$(cat "$out/$name.rc")
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" || echo "no result")
    if [ "$rc" != 0 ] || ! grep -qE '^[1-9][0-9]* passed, 0 failed$' <<<"$line"; then
        failed=1
        line="FAILED ($line, exit $rc)"
    fi
    flash=$(size -A "$out/$name.elf" | awk '/^\.(vector_table|text|rodata|data) / { s += $2 } END { print s }')
    ram=$(size -A "$out/$name.elf" | awk '/^\.(data|bss) / { s += $2 } END { print s + 0 }')
    weights=$(nm -S -t d "$out/$name.elf" | awk '/emitted(5MODEL|7SCALING)/ { s += $2 } END { print s + 0 }')
    stack=$(sed -n 's/^stack high-water: \([0-9]*\) bytes$/\1/p' "$log")
    instr=$(sed -n 's/^instructions per inference: \([0-9]*\) (\([0-9]*\) per 100 MACs).*/\1 \2/p' "$log")
    accuracy=$(sed -n 's/^accuracy on target: .* = \(.*\)$/\1/p' "$log")
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$((flash - weights))" "$weights" \
        "$ram" "$stack" "${instr% *}" "$(awk -v x="${instr#* }" 'BEGIN { printf "%.2f", x / 100 }')" \
        "$accuracy" "$line"
done

# Learning on the chip: one row per run; "state" is the RAM the program's training state takes
# (trained layer or network, gradients, optimiser buffers), counted in the stack high-water.
for log in "$out"/*.learnlog; do
    echo "---- $(basename "$log" .learnlog)"
    cat "$log"
done
echo
echo "| run | flash code | flash weights | static RAM | stack | state | instructions / step | accuracy before → after | check |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
for log in "$out"/*.learnlog; do
    name=$(basename "$log" .learnlog)
    elf=$out/$name.elf
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" || echo "no result")
    if [ "$(cat "$out/$name.rc")" != 0 ] || ! grep -qE '^[1-9][0-9]* passed, 0 failed$' <<<"$line"; then
        failed=1
        line="FAILED ($line)"
    fi
    flash=$(size -A "$elf" | awk '/^\.(vector_table|text|rodata|data) / { s += $2 } END { print s }')
    weights=$(nm -S -t d "$elf" | awk '/(emitted|3net)(5MODEL|7SCALING)/ { s += $2 } END { print s + 0 }')
    printf '| %s | %s | %s | %s | %s | %s | %s | %s → %s | %s |\n' "$name" "$((flash - weights))" "$weights" \
        "$(size -A "$elf" | awk '/^\.(data|bss) / { s += $2 } END { print s + 0 }')" \
        "$(sed -n 's/^stack high-water: \([0-9]*\) bytes$/\1/p' "$log")" \
        "$(sed -n 's/.* in RAM: \([0-9]*\) bytes.*/\1/p' "$log")" \
        "$(sed -n 's/.*instructions per step: \([0-9]*\).*/\1/p' "$log")" \
        "$(sed -n 's/^accuracy before on target: .* = \([0-9.]*%\).*/\1/p' "$log")" \
        "$(sed -n 's/^accuracy after on target: .* = \([0-9.]*%\).*/\1/p' "$log")" "$line"
done
exit $failed
