"""Two of the performance targets that the suite's matrix does not time (run after `fastgd bench`):

- the serial njit epoch against the NumPy reference with BLAS pinned to one thread (full batch and
  mini-batch 32, 1,000,000 x 32, both dtypes);
- ``backend="local_sgd"`` against serial SGD: time for 5 epochs and the training loss they reach.

    python benchmarks/targets.py
"""

import time

import numpy as np
from sklearn.metrics import log_loss
from threadpoolctl import threadpool_limits

from fastgd import GDClassifier
from fastgd._driver import BACKENDS, n_threads
from fastgd._kernels import losses, optim

def problem(n, d, dtype):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d)).astype(dtype); Y = (rng.random((n, 1)) < .5).astype(dtype)
    return X, Y, np.ones(n, dtype), (rng.standard_normal((1, d + 1)) * .01).astype(dtype)

def runner(backend, X, Y, sw, P, batch):
    run = BACKENDS[backend][0]; order = np.arange(len(X)); S = np.zeros((0, P.size), P.dtype)
    hyper = np.zeros(5); sh = np.array([.25, 1.]); th = n_threads(backend)
    return lambda: run(X, Y, sw, order, P, S, hyper, batch, losses.LOG_LOSS, optim.SGD, True, 0., 0., 1e-4, optim.CONSTANT, sh, 0, th)

def side_by_side(fns, rounds=11):
    for f in fns.values(): f()
    ts = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            t = time.perf_counter(); f(); ts[k].append(time.perf_counter() - t)
    return {k: np.median(v) for k, v in ts.items()}

with threadpool_limits(1):
    for dtype in (np.float64, np.float32):
        for batch in (None, 32):
            n = 1_000_000
            X, Y, sw, P = problem(n, 32, dtype)
            m = side_by_side({b: runner(b, X, Y, sw, P.copy(), batch or n) for b in ("numpy", "numba")}, rounds=7 if batch else 11)
            print(f"BLAS 1 thread, {dtype.__name__}, batch {batch or 'full'}: numpy {m['numpy']*1e3:.1f} ms, numba {m['numba']*1e3:.1f} ms, numba {m['numpy']/m['numba']:.2f}x faster")

# parallel SGD: local_sgd vs serial at equal loss (epochs to reach the serial run's final loss)
rng = np.random.default_rng(0)
for d in (32, 100):
    n = 100_000
    X = rng.standard_normal((n, d)); y = (X @ rng.standard_normal(d) / np.sqrt(d) + rng.standard_normal(n) > 0).astype(int)
    res = {}
    for b in ("numba", "local_sgd"):
        GDClassifier(backend=b, learning_rate=0.01, epochs=1).fit(X[:20000], y[:20000])
        ts = []
        for _ in range(5):
            t = time.perf_counter(); m = GDClassifier(backend=b, learning_rate=0.01, epochs=5, random_state=0).fit(X, y); ts.append(time.perf_counter() - t)
        res[b] = (np.median(ts), log_loss(y, m.predict_proba(X)))
    print(f"SGD 100,000 x {d}, 5 epochs: numba {res['numba'][0]*1e3:.0f} ms loss {res['numba'][1]:.5f}; local_sgd {res['local_sgd'][0]*1e3:.0f} ms loss {res['local_sgd'][1]:.5f}; {res['numba'][0]/res['local_sgd'][0]:.2f}x")
