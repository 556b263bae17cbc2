"""One full-batch logistic-regression epoch: NumPy reference vs serial and parallel JIT, beside the
physical limit, a single BLAS read of X (``X @ w``)."""

import os
import subprocess
import sys

import numpy as np
import pytest

from fastgd._driver import BACKENDS

from .conftest import THREADS, epoch_runner, logistic_problem

SIZES = [(100_000, 32), (1_000_000, 32)]
DTYPES = [np.float64, np.float32]


def info(benchmark, X, variant):
    benchmark.extra_info.update(rows=X.shape[0], features=X.shape[1], dtype=X.dtype.name,
                                variant=variant, threads=THREADS, bytes=X.nbytes)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: t.__name__)
@pytest.mark.parametrize("n,d", SIZES, ids=lambda v: str(v))
@pytest.mark.parametrize("backend", list(BACKENDS))
def test_full_batch_epoch(benchmark, backend, n, d, dtype):
    X, Y, sw, P = logistic_problem(n, d, dtype)
    benchmark.group = f"full-batch epoch {n}x{d} {dtype.__name__}"
    info(benchmark, X, backend)
    one_epoch = epoch_runner(backend, X, Y, sw, P, n)
    benchmark.pedantic(one_epoch, rounds=15, warmup_rounds=1)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: t.__name__)
@pytest.mark.parametrize("n,d", SIZES, ids=lambda v: str(v))
def test_blas_read_of_X(benchmark, n, d, dtype):
    X, _, _, P = logistic_problem(n, d, dtype)
    w = P[0, :-1].copy()
    benchmark.group = f"full-batch epoch {n}x{d} {dtype.__name__}"
    info(benchmark, X, "X @ w (limit)")
    benchmark.pedantic(lambda: X @ w, rounds=15, warmup_rounds=1)


FIRST_FIT = """
import time
start = time.perf_counter()
import numpy as np
import fastgd
imported = time.perf_counter()
fastgd.GDClassifier(backend="{backend}", epochs=1).fit(np.random.rand(100, 4), np.arange(100) % 2)
print(imported - start, time.perf_counter() - imported)
"""


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_first_fit_compile_and_cache_load(benchmark, backend, tmp_path):
    """JIT compile time, apart from every kernel timing: the first fit in a fresh process with an
    empty numba cache (cold compile), then again with the cache it left (cache load)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    code = FIRST_FIT.format(backend=backend)

    def first_fit():
        out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True,
                             text=True).stdout.split()
        return float(out[0]), float(out[1])

    import_cold, cold = first_fit()
    timings = []
    benchmark.group = "first fit in a fresh process"
    benchmark.pedantic(lambda: timings.append(first_fit()), rounds=3, iterations=1)
    benchmark.extra_info.update(variant=backend, cold_compile_s=cold, import_s=import_cold,
                                warm_first_fit_s=float(np.median([t[1] for t in timings])))
