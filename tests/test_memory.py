"""Fitting adds little to the memory that X already takes: no copy of X, no upcast of float32.

The compiled backends are held to it; the NumPy reference, whose full batch keeps scores,
derivatives and losses of every row, adds about a third of X and is not.
"""

import json
import subprocess
import sys

import pytest

MEASURE = """
import json, resource, sys
import numpy as np
import fastgd

def peak_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

backend, batch_size, dtype = sys.argv[1], None if sys.argv[2] == "None" else int(sys.argv[2]), sys.argv[3]
# load (or compile) the kernels first: compilation has its own peak, which is not the fit's
fastgd.GDClassifier(backend=backend, batch_size=batch_size, epochs=1).fit(
    np.random.rand(3000, 32).astype(dtype), np.arange(3000) % 2)
rng = np.random.default_rng(0)
X = rng.standard_normal((1_000_000, 32), dtype=np.dtype(dtype).type)
y = (X[:, 0] > 0).astype(np.int64)
before = peak_bytes()
fastgd.GDClassifier(backend=backend, batch_size=batch_size, epochs=2).fit(X, y)
print(json.dumps({"extra": peak_bytes() - before, "X": X.nbytes}))
"""


@pytest.mark.parametrize("backend,batch_size,dtype", [
    ("numba", None, "float64"), ("parallel", None, "float64"), ("numba", 32, "float64"),
    ("local_sgd", 1, "float64"), ("numba", 1, "float32"), ("parallel", None, "float32"),
])
def test_fit_adds_at_most_a_fifth_of_X(backend, batch_size, dtype):
    out = subprocess.run([sys.executable, "-c", MEASURE, backend, str(batch_size), dtype],
                         capture_output=True, text=True, check=True).stdout
    measured = json.loads(out)
    assert measured["extra"] <= 0.2 * measured["X"], measured
