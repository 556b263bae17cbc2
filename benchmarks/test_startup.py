"""Start-up, apart from every kernel timing: ``import fastgd`` plus the first fit in a fresh
process, with an empty numba cache (JIT compile) and with the cache that run left (cache load), for
each backend and the default ("auto"); and ``import sklearn`` alone, timed the same way, which
issue 16's start-up target is set against."""

import os
import subprocess
import sys

import numpy as np
import pytest

from fastgd import backends
from fastgd.bench import coldstart
from fastgd.bench.machine import THREADS

FIRST_FIT = """
import time
start = time.perf_counter()
import numpy as np
import fastgd
imported = time.perf_counter()
fastgd.GDClassifier({options}epochs=1).fit(np.random.rand(100, 4), np.arange(100) % 2)
print(imported - start, time.perf_counter() - imported)
"""

IMPORT_SKLEARN = """
import time
start = time.perf_counter()
import numpy as np
import sklearn
print(time.perf_counter() - start)
"""


@pytest.mark.parametrize("backend", [backends.AUTO, *backends.LINEAR])  # fits a GDClassifier
def test_first_fit_in_a_fresh_process(benchmark, backend, tmp_path):
    """The benchmark times the warm start (whole process, cache loaded); the cold compile is one
    run, recorded in ``extra_info`` with the in-process import and first-fit seconds of both."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    code = FIRST_FIT.format(options="" if backend == backends.AUTO else f"backend={backend!r}, ")

    def first_fit():
        out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True,
                             text=True).stdout.split()
        return float(out[0]), float(out[1])

    cold_import, cold_fit = first_fit()
    warm = []
    benchmark.group = "first fit in a fresh process"
    benchmark.pedantic(lambda: warm.append(first_fit()), rounds=3, iterations=1)
    benchmark.extra_info.update(
        variant=backend, threads=THREADS, cold_import_s=cold_import, cold_first_fit_s=cold_fit,
        warm_import_s=float(np.median([w[0] for w in warm])),
        warm_first_fit_s=float(np.median([w[1] for w in warm])))


@pytest.mark.quick
@pytest.mark.parametrize("config", list(coldstart.CONFIGS))
def test_cold_first_fit(benchmark, config):
    """The first fit a new user meets (``fastgd.bench.coldstart``): the fit alone, in a fresh
    process with an empty numba cache, then in another with the cache it left. One run each (a
    cold compile cannot be repeated in one cache); the seconds in ``extra_info``."""
    measured = []
    benchmark.group = coldstart.GROUP
    benchmark.pedantic(lambda: measured.append(coldstart.cold_and_warm(config)), rounds=1,
                       iterations=1)
    cold, warm = measured[0]
    benchmark.extra_info.update(config=config, cold_s=cold, warm_s=warm, threads=THREADS)


@pytest.fixture(scope="module")
def wheel_python(tmp_path_factory):
    """The Python of a fresh environment with fastgd installed from its wheel, the prebuilt
    kernels in it (building it compiles them: minutes)."""
    return coldstart.install_wheel(tmp_path_factory.mktemp("wheel"))[0]


@pytest.mark.parametrize("config", list(coldstart.CONFIGS))
def test_cold_first_fit_from_the_wheel(benchmark, config, wheel_python):
    """The same first fit, installed from the wheel with its prebuilt kernels, in a fresh process
    with an empty numba cache."""
    measured = []
    benchmark.group = coldstart.WHEEL_GROUP
    benchmark.pedantic(lambda: measured.append(coldstart.cold_from_wheel(config, wheel_python)),
                       rounds=1, iterations=1)
    benchmark.extra_info.update(config=config, cold_s=measured[0], threads=THREADS)


def test_import_sklearn_in_a_fresh_process(benchmark):
    """``import sklearn`` (after NumPy, as the first fit's process imports it) in a fresh process:
    the in-process seconds' median in ``extra_info``."""
    seconds = []

    def run():
        out = subprocess.run([sys.executable, "-c", IMPORT_SKLEARN], check=True,
                             capture_output=True, text=True).stdout
        seconds.append(float(out))

    benchmark.group = "import scikit-learn in a fresh process"
    benchmark.pedantic(run, rounds=5, iterations=1)
    benchmark.extra_info.update(import_s=float(np.median(seconds)))
