"""numpy's single-core sgemm ceiling (GFLOP/s) on a large square product, median of 7."""
import time, statistics
import numpy as np
from threadpoolctl import threadpool_limits
a = np.random.default_rng(1).standard_normal((2048, 2048), dtype=np.float32); b = a.copy(); c = np.empty_like(a)
for threads in (1, 2):
    with threadpool_limits(limits=threads):
        np.matmul(a, b, out=c); ts = []
        for _ in range(7):
            t = time.perf_counter(); np.matmul(a, b, out=c); ts.append(time.perf_counter() - t)
        print(f"sgemm 2048^3 threads={threads}: {2 * 2048**3 / statistics.median(ts) / 1e9:.1f} GFLOP/s")
