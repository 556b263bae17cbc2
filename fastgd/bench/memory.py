"""The memory that a fit adds to what X already takes, measured in a fresh process.

    python -m fastgd.bench.memory BACKEND BATCH_SIZE DTYPE   # prints {"extra": bytes, "X": bytes}

A fresh process, because the peak resident size (``ru_maxrss``) only ever grows: a fit's own peak
shows only in a process that has not been bigger before it. There the kernels are loaded (or
compiled) first, on a small X, since compilation has a peak of its own that is not the fit's; then
X is made, and the fit's addition is the growth of the peak during it.
"""

import json
import resource
import subprocess
import sys

import numpy as np

from ..linear import GDClassifier
from .cases import COMPILED

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


def fit_peak(backend, batch_size, dtype):
    """Return ``(extra, x_bytes)``: the bytes that fitting a ``GDClassifier`` with ``backend`` and
    ``batch_size`` (None: full batch) on ``ROWS x FEATURES`` of ``dtype`` adds to the peak resident
    memory of a fresh process, and the bytes of X."""
    out = subprocess.run([sys.executable, "-m", __name__, backend, str(batch_size), dtype],
                         capture_output=True, text=True, check=True).stdout
    measured = json.loads(out)
    return measured["extra"], measured["X"]


def _peak_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux counts KiB


def _measure(backend, batch_size, dtype):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3000, FEATURES), dtype=np.dtype(dtype).type)
    GDClassifier(backend=backend, batch_size=batch_size, epochs=1).fit(X, np.arange(3000) % 2)
    X = rng.standard_normal((ROWS, FEATURES), dtype=np.dtype(dtype).type)
    y = (X[:, 0] > 0).astype(np.int64)
    before = _peak_bytes()
    GDClassifier(backend=backend, batch_size=batch_size, epochs=EPOCHS).fit(X, y)
    return {"extra": _peak_bytes() - before, "X": X.nbytes}


if __name__ == "__main__":
    backend, batch_size, dtype = sys.argv[1:]
    print(json.dumps(_measure(backend, None if batch_size == "None" else int(batch_size), dtype)))
