"""Thread pinning and the description of the machine that a benchmark result belongs to."""

import contextlib
import importlib.metadata
import os
import platform
import time

import numba
import numpy as np
import sklearn
from threadpoolctl import threadpool_info, threadpool_limits

#: Threads for numba's parallel backend and for BLAS: every core numba sees, so that the NumPy
#: reference and the parallel kernel get the same hardware (the serial kernel is serial by
#: construction).
THREADS = numba.config.NUMBA_NUM_THREADS

#: Average cores kept busy by other processes above which a timing counts as disturbed: a backend
#: that runs on every core stalls whenever another process holds one.
BUSY_CORES = 0.25


@contextlib.contextmanager
def pinned_threads(threads=THREADS):
    """Fix numba's and BLAS's thread counts to ``threads`` for the duration of a block."""
    previous = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        numba.set_num_threads(previous)


def describe():
    """Return the machine and library versions that a set of timings depends on, as a dict."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "system": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "scikit-learn": sklearn.__version__,
        "torch": _version("torch"),
        "numba_threads": numba.get_num_threads(),
        "threading_layer": _threading_layer(),
        "threadpools": [{"library": os.path.basename(pool["filepath"]),
                         **{key: pool.get(key) for key in ("user_api", "internal_api", "version",
                                                           "architecture", "num_threads")}}
                        for pool in threadpool_info()],
    }


def _cpu_model():
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _threading_layer():
    # numba picks its threading layer when the first parallel function runs, and raises before that
    try:
        return numba.threading_layer()
    except ValueError:
        return "not yet chosen"


def cpu_sample():
    """Return ``(wall, busy, own)`` seconds: a monotonic clock, the CPU time that the whole machine
    has spent busy (Linux's /proc/stat, counting time stolen by the hypervisor; None elsewhere), and
    the CPU time of this process's threads."""
    own = os.times()
    try:
        with open("/proc/stat") as stat:
            ticks = [int(x) for x in stat.readline().split()[1:9]]
    except OSError:
        return time.monotonic(), None, own.user + own.system
    # user nice system idle iowait irq softirq steal: busy is all but idle and iowait
    busy = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
    return time.monotonic(), busy, own.user + own.system


def others_cores(before, after):
    """Cores that other processes kept busy, on average, between two :func:`cpu_sample` s (0 where
    the machine's busy time is unknown)."""
    if before[1] is None:
        return 0.0
    return max(0.0, (after[1] - before[1] - (after[2] - before[2])) / (after[0] - before[0]))
