"""The memory that a fit adds to what X already takes, measured in a fresh process.

    python -m fastgd.bench.memory BACKEND BATCH_SIZE DTYPE   # prints {"extra": bytes, "X": bytes}
    python -m fastgd.bench.memory text ROWS FEATURES BACKEND BATCH_SIZE DTYPE
        # prints {"extra": bytes, "csr": bytes, "allowance": bytes, "traced": bytes, "threads": n}

A fresh process, because the peak resident size (``ru_maxrss``) only ever grows: a fit's own peak
shows only in a process that has not been bigger before it. There the kernels are loaded (or
compiled) first, on a small X, since compilation has a peak of its own that is not the fit's; then
X is made, and the fit's addition is the growth of the peak during it.

The text-like CSR (issue 13) takes more care, as drawing it has a peak of about twice its
size that would hide the fit's: once it is drawn, the memory that the drawing freed is handed back
to the system (glibc's ``malloc_trim``, so that the fit cannot reuse it unseen) and the peak is set
back to the current resident size (Linux's ``/proc/self/clear_refs``, since 4.0); the fit's
addition is its peak less that size. Where the peak cannot be set back, the measurement is None.
A second fit of the same estimator under ``tracemalloc`` gives the peak of the allocations that
Python and NumPy report to it (the compiled kernels' own arrays are not among them), beside it.
"""

import contextlib
import ctypes
import gc
import json
import resource
import subprocess
import sys
import tracemalloc

import numba
import numpy as np

from ..backends import is_threaded
from ..linear import GDClassifier
from .cases import COMPILED, TEXT_FEATURES, TEXT_MINI_BATCH, TEXT_QUICK_ROWS, TEXT_ROWS
from .textlike import clear_cache, csr_bytes, text_like

#: The issue's problem: 1,000,000 x 32, which is 256 MB in float64.
ROWS, FEATURES = 1_000_000, 32
#: Two epochs: whatever one epoch leaves allocated for the next counts too.
EPOCHS = 2
#: ``(backend, batch_size, dtype)`` of each measured fit: every compiled backend, full batch and
#: SGD, in float64; and one float32 fit, which would add twice X's size if X were upcast.
FITS = [*((backend, batch_size, "float64") for backend in COMPILED for batch_size in (None, 1)),
        ("numba", None, "float32")]
#: pytest-benchmark's group of these measurements, which the report looks them up by.
GROUP = "memory a fit adds"

#: ``(backend, batch_size, dtype, rows)`` of each measured fit on the text-like CSR of
#: ``TEXT_FEATURES`` columns: the default estimator (``numba``, SGD) in both dtypes, then the
#: threaded backends, whose per-thread buffers are O(d) each. The first is the quick design's.
TEXT_FITS = [("numba", 1, "float64", TEXT_QUICK_ROWS),
             *(("numba", 1, dtype, TEXT_ROWS) for dtype in ("float64", "float32")),
             ("parallel", None, "float64", TEXT_ROWS),
             ("parallel", TEXT_MINI_BATCH, "float64", TEXT_ROWS),
             ("local_sgd", 1, "float64", TEXT_ROWS)]
TEXT_GROUP = "memory a fit adds, text-like CSR"
#: What a fit may add beyond its share of the CSR: this many arrays of ``d + 1`` values per thread
#: (the weights, a gradient, optimizer state and a copy of the weights), O(d) per thread.
ALLOWANCE_ARRAYS = 4


def fit_peak(backend, batch_size, dtype):
    """Return ``(extra, x_bytes)``: the bytes that fitting a ``GDClassifier`` with ``backend`` and
    ``batch_size`` (None: full batch) on ``ROWS x FEATURES`` of ``dtype`` adds to the peak resident
    memory of a fresh process, and the bytes of X."""
    out = subprocess.run([sys.executable, "-m", __name__, backend, str(batch_size), dtype],
                         capture_output=True, text=True, check=True).stdout
    measured = json.loads(out)
    return measured["extra"], measured["X"]


def text_fit_peak(backend, batch_size, dtype, rows, features=TEXT_FEATURES):
    """Return what a fit of the default ``GDClassifier`` (with ``backend`` and ``batch_size``) on
    the text-like CSR of ``rows x features`` in ``dtype`` adds to the peak resident memory of a
    fresh process, as the dict that ``python -m fastgd.bench.memory text ...`` prints; its
    ``extra`` is None where the peak cannot be set back."""
    out = subprocess.run([sys.executable, "-m", __name__, "text", str(rows), str(features),
                          backend, str(batch_size), dtype],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def _peak_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux counts KiB


def _status_bytes(field):
    """A field of ``/proc/self/status`` (VmRSS: resident now, VmHWM: its peak) in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024  # in kB


def _reset_peak():
    """Hand freed memory back to the system and set the peak resident size back to the current
    one; return the resident bytes, or None where that is not possible."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)  # glibc: the heap's free memory, not only its top
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return _status_bytes("VmRSS")
    except (OSError, TypeError):
        return None


def _measure_text(rows, features, backend, batch_size, dtype):
    def estimator(epochs):
        return GDClassifier(backend=backend, batch_size=batch_size, epochs=epochs)

    estimator(1).fit(*text_like(3000, 1024, dtype))  # compiles for the same types
    X, y = text_like(rows, features, dtype)
    clear_cache()  # only X and y stay
    threads = numba.get_num_threads() if is_threaded(backend) else 1
    result = {"csr": csr_bytes(X), "threads": threads,
              "allowance": ALLOWANCE_ARRAYS * threads * (features + 1) * X.dtype.itemsize}
    fitted = estimator(EPOCHS)
    resident = _reset_peak()
    fitted.fit(X, y)
    result["extra"] = None if resident is None else _status_bytes("VmHWM") - resident
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    fitted.fit(X, y)
    result["traced"] = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    return result


def _measure(backend, batch_size, dtype):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3000, FEATURES), dtype=np.dtype(dtype).type)
    GDClassifier(backend=backend, batch_size=batch_size, epochs=1).fit(X, np.arange(3000) % 2)
    X = rng.standard_normal((ROWS, FEATURES), dtype=np.dtype(dtype).type)
    y = (X[:, 0] > 0).astype(np.int64)
    before = _peak_bytes()
    GDClassifier(backend=backend, batch_size=batch_size, epochs=EPOCHS).fit(X, y)
    return {"extra": _peak_bytes() - before, "X": X.nbytes}


def _batch_size(text):
    return None if text == "None" else int(text)


if __name__ == "__main__":
    if sys.argv[1] == "text":
        rows, features, backend, batch_size, dtype = sys.argv[2:]
        print(json.dumps(_measure_text(int(rows), int(features), backend, _batch_size(batch_size),
                                       dtype)))
    else:
        backend, batch_size, dtype = sys.argv[1:]
        print(json.dumps(_measure(backend, _batch_size(batch_size), dtype)))
