#!/bin/bash
# Training on a busy machine: the default `train` of each binary, alternated, with and without one
# other program keeping a core busy (a shell loop); prints per run the sum of the epochs' seconds
# (timings.json), the wall time, each epoch's thread count and the model's hash.
# Results are recorded in BENCHMARKS.md ("Busy cores").
#
# Usage, from the repository root (extra `train` options after --):
#   cargo build --release -p host
#   bash benches/side-by-side/busy.sh ROUNDS target/release/host [OTHER_BINARY…] [-- --epochs 10 …]
set -u
ROUNDS=$1; shift
BINS=(); while [ $# -gt 0 ] && [ "$1" != -- ]; do BINS+=("$1"); shift; done
[ "${1:-}" = -- ] && shift
OUT=$(mktemp -d); HOG=
trap '[ -n "$HOG" ] && kill $HOG; rm -rf "$OUT"' EXIT
runs() {
  for r in $(seq 1 "$ROUNDS"); do
    for b in "${BINS[@]}"; do
      start=$(date +%s.%N)
      "$b" train --quiet --force --out "$OUT/m" "$@" > /dev/null || { echo "$b failed"; continue; }
      python3 - "$OUT/m" "$b" "$start" "$(date +%s.%N)" <<'PY'
import hashlib, json, sys
out, binary, start, end = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
epochs = json.load(open(out + "/timings.json"))["epochs"]
threads = "".join(str(e.get("threads", "-")) for e in epochs)
model = hashlib.sha256(open(out + "/model.safetensors", "rb").read()).hexdigest()[:8]
print(f"  {binary}: epochs {sum(e['seconds'] for e in epochs):.3f} s, wall {end - start:.2f} s, "
      f"threads {threads}, model {model}")
PY
    done
  done
}
echo "== $(date -u) $(lscpu | grep 'Model name' | sed 's/  */ /g'), $(nproc) CPUs"
echo "idle:"; runs "$@"
sh -c 'while :; do :; done' & HOG=$!
echo "one busy program:"; runs "$@"
