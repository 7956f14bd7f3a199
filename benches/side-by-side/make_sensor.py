"""A seeded sensor-shaped data set for benches/side-by-side: 600 8-bit readings, 4 classes (12,000 train, 2,000 test) as IDX with MNIST file names and as CSV."""
import gzip, os, struct, sys
import numpy as np
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(600)
t = np.linspace(0, 1, 600, dtype=np.float64)
shapes = [np.sin(2 * np.pi * 3 * t), np.sign(np.sin(2 * np.pi * 2 * t)), 2 * (t * 4 % 1) - 1, np.exp(-((t - 0.5) ** 2) / 0.02) * 2 - 1]
def make(n):
    y = rng.integers(0, 4, n)
    gain = rng.uniform(0.5, 1.5, (n, 1)); off = rng.uniform(-0.3, 0.3, (n, 1))
    x = np.stack([shapes[k] for k in y]) * gain + off + rng.normal(0, 4.0, (n, 600))
    return np.clip(np.round(128 + 20 * x), 0, 255).astype(np.uint8), y.astype(np.uint8)
for prefix, n in (("train", 12000), ("t10k", 2000)):
    x, y = make(n)
    with gzip.open(os.path.join(out, f"{prefix}-images-idx3-ubyte.gz"), "wb") as f:
        f.write(struct.pack(">HBBII", 0, 8, 2, n, 600)); f.write(x.tobytes())
    with gzip.open(os.path.join(out, f"{prefix}-labels-idx1-ubyte.gz"), "wb") as f:
        f.write(struct.pack(">HBBI", 0, 8, 1, n)); f.write(y.tobytes())
    with open(os.path.join(out, f"{prefix}.csv"), "w") as f:
        f.write("label," + ",".join(f"r{i}" for i in range(600)) + "\n")
        for row, lab in zip(x, y):
            f.write(f"{lab}," + ",".join(map(str, row)) + "\n")
