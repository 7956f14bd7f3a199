#!/bin/bash
# Side by side in one run: tinymlp against numpy, PyTorch and scikit-learn on the same data,
# epochs and batch size (32), with 1 and 2 threads, plus numpy's sgemm ceiling of the same minute.
# Results are recorded in BENCHMARKS.md ("Side by side in one run").
#
# Usage, from the repository root:
#   cargo build --release -p host
#   PY=/path/to/venv/bin/python TORCH_PY=/path/to/torch-venv/bin/python \
#       bash benches/side-by-side/run.sh target/release/host /tmp/side.txt
# PY needs numpy, scikit-learn and threadpoolctl; TORCH_PY needs torch and numpy (the set-up lines
# of ../shared/reference/*.py). The 600-32-4 data set is generated into $TMPDIR/tinymlp-sensor.
set -u
HOST=$1; OUT=$2
HERE=$(cd "$(dirname "$0")" && pwd); REF=$HERE/../../../shared/reference
MNIST=$HERE/../../../shared/data/mnist; SENSOR=${TMPDIR:-/tmp}/tinymlp-sensor
PY=${PY:-python3}; TORCH_PY=${TORCH_PY:-$PY}
[ -f "$SENSOR/train-images-idx3-ubyte.gz" ] || "$PY" "$HERE/make_sensor.py" "$SENSOR"
# The shared numpy reference with its input and class counts read from the data (784 and 10 are
# written into it); nothing else changed.
NUMPY_ANY=$(mktemp --suffix .py)
sed -e 's/d, h, c = 784, args.hidden, 10/d, h, c = xtr.shape[1], args.hidden, int(ytr.max()) + 1/' \
    "$REF/numpy_mlp.py" > "$NUMPY_ANY"
np() { OPENBLAS_NUM_THREADS=$1 "$PY" "$NUMPY_ANY" --data "$2" --hidden "$3" --batch 32 --epochs "$4" | grep -E 'median|accuracy' | tr '\n' ' '; }
torch() { "$TORCH_PY" "$REF/torch_mlp.py" --data "$2" --layers "$3" --batch 32 --epochs "$4" --threads "$1" | grep -E 'median|accuracy' | tr '\n' ' '; }
sk() { OPENBLAS_NUM_THREADS=$1 "$PY" "$HERE/sklearn_sgd.py" --data "$2" --hidden "$3" --epochs "$4" | tr '\n' ' '; }
# tinymlp's own recipe (SGD with Nesterov momentum for pixels, Adam for the sensor features); with
# a fifth argument `plain`, the references' update instead: plain SGD at 0.1, no weight decay
# (tinymlp keeps its one-cycle schedule).
tiny() {
  local plain=(); [ "${5:-}" = plain ] && plain=(--optimizer sgd --momentum 0 --lr 0.1 --weight-decay 0)
  "$HOST" --quiet train --data "$2" --test "$2" --hidden "$3" --epochs "$4" --shift 0 --threads "$1" \
      "${plain[@]}" --out "${TMPDIR:-/tmp}/side-tiny" --force | tr '\n' ' '
  "$PY" -c "import json,statistics,sys;e=json.load(open(sys.argv[1]))['epochs'];print('median epoch: %.4f s'%statistics.median(x['seconds'] for x in e), end=' ')" \
      "${TMPDIR:-/tmp}/side-tiny/timings.json"
}
{
echo "== $(date -u) $(lscpu | grep 'Model name' | sed 's/  */ /g') load: $(cat /proc/loadavg)"
"$PY" "$HERE/sgemm_ceiling.py"
for shape in "784-64-10 $MNIST 64 784,64,10 5" "784-256-128-10 $MNIST 256,128 784,256,128,10 3" \
             "600-32-4 $SENSOR 32 600,32,4 10"; do
  set -- $shape; name=$1 data=$2 hidden=$3 layers=$4 ep=$5
  for t in 1 2; do
    echo "$name tinymlp threads=$t: $(tiny $t $data $hidden $ep)"
    echo "$name tinymlp-plain-sgd threads=$t: $(tiny $t $data $hidden $ep plain)"
    case $hidden in *,*) ;; *) echo "$name numpy threads=$t: $(np $t $data $hidden $ep)";; esac
    echo "$name torch threads=$t: $(torch $t $data $layers $ep)"
    echo "$name sklearn threads=$t: $(sk $t $data $hidden $ep)"
  done
done
echo "== end $(date -u) load: $(cat /proc/loadavg)"
} 2>&1 | tee "$OUT"
rm -f "$NUMPY_ANY"
