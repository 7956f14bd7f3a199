#!/bin/bash
# Reading a CSV file: tinymlp (`host inspect`, the whole process: read, parse, class histogram)
# against pandas.read_csv (what ../shared/reference/sklearn_mlp.py reads with; timed inside
# Python, without the interpreter's start), on the same files. Medians of five runs.
# Results are recorded in BENCHMARKS.md.
#
# Usage, from the repository root:
#   cargo build --release -p host
#   PY=/path/to/venv/bin/python bash benches/side-by-side/read_csv.sh target/release/host FILE.csv...
# PY needs pandas.
set -u
HOST=$1; shift
PY=${PY:-python3}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "== $(date -u) $(lscpu | grep 'Model name' | sed 's/  */ /g') load: $(cat /proc/loadavg)"
for file in "$@"; do
  echo "$file: $(wc -c < "$file") bytes"
  for threads in 1 2; do
    t=$(for _ in 1 2 3 4 5; do
      /usr/bin/time -f %e env RAYON_NUM_THREADS=$threads "$HOST" --quiet inspect "$file" 2>&1 >/dev/null | tail -1
    done | median)
    echo "  tinymlp inspect, $threads thread(s): $t s"
  done
  "$PY" - "$file" <<'PY'
import statistics, sys, time
import pandas as pd
times = []
for _ in range(5):
    start = time.perf_counter()
    pd.read_csv(sys.argv[1])
    times.append(time.perf_counter() - start)
print(f"  pandas {pd.__version__} read_csv: {statistics.median(times):.3f} s")
PY
done
