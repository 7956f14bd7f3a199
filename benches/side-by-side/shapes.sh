#!/bin/bash
# Shapes and batch sizes beyond the side-by-side run's three: tinymlp (--threads 2 and 1) against
# PyTorch (2 and 1 threads) on MNIST, 784-H-10 for each H below, median epoch of epochs 2-3.
# Results are recorded in BENCHMARKS.md (twelfth round).
#
# Usage, from the repository root:
#   TORCH_PY=/path/to/torch-venv/bin/python bash benches/side-by-side/shapes.sh target/release/host
set -u
HOST=$1
HERE=$(cd "$(dirname "$0")" && pwd); REF=$HERE/../../../shared/reference
TORCH_PY=${TORCH_PY:-python3}; OUT=${TMPDIR:-/tmp}/shapes-tiny
echo "== $(date -u) $(lscpu | grep 'Model name' | sed 's/  */ /g')"
for spec in "64 32" "64 8" "64 128" "64 256" "512 32" "32 32" "128,128,128 32" "256,128 128" \
            "1024 32"; do
  set -- $spec; H=$1; B=$2
  line="784-${H//,/-}-10 batch $B:"
  for T in 2 1; do
    "$HOST" --quiet train --epochs 3 --threads "$T" --hidden "$H" --batch "$B" --shift 0 --lr 0.05 \
        --out "$OUT" --force > /dev/null || { line="$line tinymlp ${T}t failed"; continue; }
    med=$(python3 -c "import json,statistics,sys;e=json.load(open(sys.argv[1]))['epochs'][1:];print('%.4f'%statistics.median(x['seconds'] for x in e))" "$OUT/timings.json")
    line="$line tinymlp ${T}t $med s"
  done
  for T in 2 1; do
    med=$("$TORCH_PY" "$REF/torch_mlp.py" --layers "784,$H,10" --batch "$B" --epochs 3 --threads "$T" \
        | grep 'median epoch' | awk '{print $3}')
    line="$line, torch ${T}t $med s"
  done
  echo "$line"
done
