"""The first fit a new user meets: each configuration of :data:`CONFIGS` fitted in a fresh Python
process with an empty numba cache (``NUMBA_CACHE_DIR`` a new directory), the fit alone timed
(imports and data excluded), then once more in another fresh process with the cache the first one
left. ``python -m fastgd.bench.coldstart`` prints the table; the benchmark suite records it."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

#: name -> (data, estimator): Python expressions run after ``import numpy as np``, ``import
#: scipy.sparse as sp`` and ``from fastgd import *``; ``X``, ``y`` come from the data expression.
CONFIGS = {
    "README example (blobs, full batch, numba)": (
        "make_blobs(n_samples=1000, centers=2, cluster_std=1.5, random_state=1)",
        'GDClassifier(loss="log_loss", learning_rate=0.01, epochs=100, batch_size=None, '
        'backend="numba")'),
    "GDClassifier() 2,000 x 20": ("dense(2000, 20, True)", "GDClassifier()"),
    "GDRegressor() 2,000 x 20": ("dense(2000, 20, False)", "GDRegressor()"),
    "mini-batch 32, adam, modified_huber": (
        "dense(2000, 20, True)",
        'GDClassifier(batch_size=32, optimizer="adam", loss="modified_huber")'),
    "GDClassifier() on CSR": ("sparse(2000, 1000)", "GDClassifier()"),
    "MLPClassifier()": ("dense(2000, 20, True)", "MLPClassifier(epochs=5)"),
    "local_sgd": ("dense(2000, 20, True)", 'GDClassifier(backend="local_sgd")'),
}

#: The benchmark group of the cold first fits in ``benchmark.json``.
GROUP = "cold first fit"
#: The first fits measured before issue 27 (the kernels then chose the loss and optimizer inside
#: their loops), for the report's before-and-after table.
BEFORE = Path(__file__).resolve().parents[2] / "benchmarks" / "coldstart_before.json"

SCRIPT = """
import time
import numpy as np
import scipy.sparse as sp
from sklearn.datasets import make_blobs
from fastgd import *

def dense(n, d, classes):
    X = np.random.default_rng(0).standard_normal((n, d))
    return X, (X[:, 0] > 0) if classes else X @ np.arange(d)

def sparse(n, d):
    X = sp.random(n, d, density=0.02, format="csr", random_state=0)
    return X, np.arange(n) % 2

X, y = {data}
model = {estimator}
start = time.perf_counter()
model.fit(X, y)
print(time.perf_counter() - start)
"""


def first_fit(name, cache_dir):
    """Seconds of the first fit of configuration ``name`` in a fresh process caching in
    ``cache_dir``."""
    data, estimator = CONFIGS[name]
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    result = subprocess.run([sys.executable, "-c", SCRIPT.format(data=data, estimator=estimator)],
                            env=env, check=True, capture_output=True, text=True)
    return float(result.stdout.split()[-1])


def cold_and_warm(name):
    """``(cold, warm)``: the first fit's seconds with an empty cache, then with the one it left."""
    with tempfile.TemporaryDirectory() as cache_dir:
        return first_fit(name, cache_dir), first_fit(name, cache_dir)


def table(measured):
    """The report's rows: ``measured[config] = (cold, warm)`` beside the cold seconds of
    :data:`BEFORE` where it is there."""
    before = json.loads(BEFORE.read_text())["cold_s"] if BEFORE.is_file() else {}
    rows = []
    for config, (cold, warm) in measured.items():
        row = {"first fit": config, "empty cache (s)": f"{cold:.1f}", "cache warm (s)": f"{warm:.2f}"}
        if config in before:
            row["before issue 27, empty cache (s)"] = f"{before[config]:.1f}"
            row["faster"] = f"{before[config] / cold:.1f}x"
        rows.append(row)
    return rows


def main():
    print("| first fit | empty cache (s) | cache warm (s) |\n|---|---|---|")
    for name in CONFIGS:
        cold, warm = cold_and_warm(name)
        print(f"| {name} | {cold:.1f} | {warm:.2f} |", flush=True)


if __name__ == "__main__":
    main()
