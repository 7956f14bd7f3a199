"""numpy's sgemm rate (GFLOP/s): a large square product with 1 and 2 threads (the ceiling), then
one thread on the layer shapes of a batch of 32 (forward 32x784 @ 784xH), median of 7 / 200."""
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
rng = np.random.default_rng(2)
with threadpool_limits(limits=1):
    for h in (64, 256):
        x = rng.standard_normal((32, 784), dtype=np.float32); w = rng.standard_normal((784, h), dtype=np.float32)
        y = np.empty((32, h), dtype=np.float32); ts = []
        for _ in range(200):
            t = time.perf_counter(); np.matmul(x, w, out=y); ts.append(time.perf_counter() - t)
        print(f"sgemm 32x784x{h} threads=1: {2 * 32 * 784 * h / statistics.median(ts) / 1e9:.1f} GFLOP/s")
