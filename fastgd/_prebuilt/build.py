"""Compile the kernels of the configurations users reach into a folder that ships in the wheel
(see :mod:`fastgd._prebuilt`): ``python -m fastgd._prebuilt.build OUT [--set smoke] [--jobs N]``.

Each configuration is fitted, and asked for every prediction it makes, in one of ``--jobs``
worker processes with numba's target one of ``TARGETS``, for each of them; each worker compiles
into a folder of its own (numba's cache index is rewritten whole on each entry, so two processes
writing one index would lose entries), and the folders are then merged into ``OUT/<target>``.
"""

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
from numba.core.caching import IndexDataCacheFile

from . import MANIFEST, TARGETS

#: Python expressions run after ``import numpy as np``, ``import scipy.sparse as sp`` and
#: ``from fastgd import *``: ``(data, estimator)``, the data from :data:`WORKER`'s ``dense`` and
#: ``sparse``.
DEFAULTS = [
    (f"{make}({n}, 20, {classes}, {dtype})", estimator)
    for make, n in (("dense", 500), ("sparse", 500))
    for dtype in ("np.float64", "np.float32")
    for estimator, classes in (("GDClassifier()", 2), ("GDClassifier()", 3),
                               ("GDRegressor()", 0), ("MLPClassifier(epochs=2)", 2),
                               ("MLPRegressor(epochs=2)", 0))]
#: The README's first example, full batch in its serial and its parallel kernel, and the
#: default backend on many rows (local SGD).
EXAMPLES = [
    ('dense(1000, 2, 2, np.float64)', 'GDClassifier(batch_size=None, backend="numba")'),
    ('dense(10000, 20, 2, np.float64)', 'GDClassifier(batch_size=None, epochs=2)'),
    ('dense(20000, 20, 2, np.float64)', 'GDClassifier(backend="local_sgd", epochs=2)'),
    ('dense(20000, 20, 0, np.float64)', 'GDRegressor(backend="local_sgd", epochs=2)'),
]
#: Every loss with plain SGD and with Adam, in every batch mode, dense float64.
LOSSES = [
    (f"dense(300, 20, {classes}, np.float64)",
     f'{estimator}(loss="{loss}", optimizer="{optimizer}", batch_size={batch}, epochs=2)')
    for estimator, classes, names in (
        ("GDClassifier", 2, ("log_loss", "hinge", "sigmoid_squared", "perceptron",
                             "squared_hinge", "modified_huber", "squared_error", "huber",
                             "epsilon_insensitive", "squared_epsilon_insensitive")),
        ("GDRegressor", 0, ("squared_error", "huber", "epsilon_insensitive",
                            "squared_epsilon_insensitive")))
    for loss in names for optimizer in ("sgd", "adam") for batch in (1, 32, None)]

SETS = {
    "full": DEFAULTS + EXAMPLES + LOSSES,
    # what the installed-wheel test fits: the defaults on dense float64 data
    "smoke": [("dense(300, 5, 2, np.float64)", "GDClassifier(epochs=2)"),
              ("sparse(300, 50, 2, np.float64)", "GDClassifier(epochs=2)")],
}

WORKER = """
import json, sys
import numpy as np
import scipy.sparse as sp
from fastgd import *

def targets(X, classes):
    score = X @ np.linspace(-1, 1, X.shape[1])
    if classes == 0:
        return score
    return np.digitize(score, np.quantile(score, np.linspace(0, 1, classes + 1)[1:-1]))

def dense(n, d, classes, dtype):
    X = np.random.default_rng(0).standard_normal((n, d)).astype(dtype)
    return X, targets(X, classes)

def sparse(n, d, classes, dtype):
    X = sp.random(n, d, density=0.2, format="csr", random_state=0, dtype=dtype)
    return X, targets(X, classes)

for data, estimator in json.loads(sys.argv[1]):
    X, y = eval(data)
    model = eval(estimator).fit(X, y)
    for method in ("predict", "predict_proba", "decision_function"):
        if hasattr(model, method):
            getattr(model, method)(X)
"""


def compile_into(folder, target, configurations):
    """Fit ``configurations`` in a fresh process that compiles every kernel for ``target`` into
    ``folder``."""
    # no features beyond those the CPU's name implies (numba adds this machine's otherwise)
    env = {**os.environ, "FASTGD_PREBUILD_INTO": str(folder), "NUMBA_CPU_NAME": target,
           "NUMBA_CPU_FEATURES": "", "PYTHONWARNINGS": "ignore"}
    env.pop("NUMBA_CACHE_DIR", None)
    return subprocess.Popen([sys.executable, "-c", WORKER, json.dumps(configurations)], env=env)


def merge(part, out):
    """Add every cache entry of the folder ``part`` to the folder ``out``."""
    for index in part.glob("*/*.nbi"):
        with open(index, "rb") as f:
            version = pickle.load(f)
            stamp, overloads = pickle.loads(f.read())
        if version != numba.__version__:  # a worker ran another numba: its kernels would miss
            raise RuntimeError(f"{index} was compiled by numba {version}, not {numba.__version__}")
        target = IndexDataCacheFile(str(out / index.parent.name), index.name[:-len(".nbi")], stamp)
        (out / index.parent.name).mkdir(parents=True, exist_ok=True)
        for key, data_name in overloads.items():
            target.save(key, pickle.loads((index.parent / data_name).read_bytes()))


def build(out, configurations, jobs):
    """Compile the kernels of ``configurations`` for every target on ``jobs`` processes into
    ``out``, with its manifest; return the seconds it took."""
    start = time.perf_counter()
    out = Path(out)
    with tempfile.TemporaryDirectory() as scratch:
        parts = {(target, i): Path(scratch) / target / f"part{i}"
                 for target in TARGETS for i in range(jobs)}
        jobs_left = list(parts.items())
        while jobs_left:  # ``jobs`` workers at a time
            running = [(compile_into(part, target, configurations[i::jobs]), target, part)
                       for (target, i), part in jobs_left[:jobs]]
            jobs_left = jobs_left[jobs:]
            if any(worker.wait() != 0 for worker, _, _ in running):
                raise RuntimeError("compiling the prebuilt kernels failed (see the errors above)")
            for _, target, part in running:
                merge(part, out / target)
    seconds = time.perf_counter() - start
    (out / MANIFEST).write_text(json.dumps({
        "numba": numba.__version__, "python": sys.version.split()[0], "targets": list(TARGETS),
        "configurations": configurations, "seconds": round(seconds, 1)}, indent=1))
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--set", choices=sorted(SETS), default="full")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    seconds = build(args.out, SETS[args.set], max(1, args.jobs))
    size = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    print(f"fastgd: {len(SETS[args.set])} configurations compiled into {args.out} in "
          f"{seconds:.0f} s, {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
