"""scikit-learn MLPClassifier with the same plain SGD, batch and epochs as the others (IDX dir in, float32)."""
import argparse, gzip, os, struct, time, warnings
import numpy as np
from sklearn.neural_network import MLPClassifier
def read_idx(path):
    raw = gzip.open(path, "rb").read(); ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)
def load(d, p):
    x = read_idx(os.path.join(d, f"{p}-images-idx3-ubyte.gz")); y = read_idx(os.path.join(d, f"{p}-labels-idx1-ubyte.gz"))
    return x.reshape(len(x), -1).astype(np.float32) / np.float32(255.0), y.astype(np.int64)
ap = argparse.ArgumentParser(); ap.add_argument("--data"); ap.add_argument("--hidden", default="64")
ap.add_argument("--epochs", type=int, default=10); ap.add_argument("--batch", type=int, default=32)
a = ap.parse_args()
xtr, ytr = load(a.data, "train"); xte, yte = load(a.data, "t10k")
clf = MLPClassifier(hidden_layer_sizes=tuple(int(h) for h in a.hidden.split(",")), solver="sgd", batch_size=a.batch,
                    learning_rate_init=0.1, momentum=0.0, nesterovs_momentum=False, max_iter=a.epochs, tol=0,
                    n_iter_no_change=10**9, alpha=0.0, shuffle=True, random_state=0)
warnings.filterwarnings("ignore")
t = time.perf_counter(); clf.fit(xtr, ytr); dt = time.perf_counter() - t
print(f"epochs {clf.n_iter_}  fit {dt:.3f} s  per epoch {dt / clf.n_iter_:.3f} s  coef dtype {clf.coefs_[0].dtype}")
print(f"test accuracy: {(clf.predict(xte) == yte).mean() * 100:.2f}%")
