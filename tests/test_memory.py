"""Fitting adds little to the memory that X already takes: no copy of X, no upcast of float32.

The compiled backends are held to it; the NumPy reference, whose full batch keeps scores,
derivatives and losses of every row, adds about a third of X and is not. The measurement (a fit of
1,000,000 x 32 in a fresh process) is the benchmark suite's.
"""

import pytest

from fastgd.bench.memory import fit_peak


@pytest.mark.parametrize("backend,batch_size,dtype", [
    ("numba", None, "float64"), ("parallel", None, "float64"), ("numba", 32, "float64"),
    ("local_sgd", 1, "float64"), ("numba", 1, "float32"), ("parallel", None, "float32"),
])
def test_fit_adds_at_most_a_fifth_of_X(backend, batch_size, dtype):
    extra, x_bytes = fit_peak(backend, batch_size, dtype)
    assert extra <= 0.2 * x_bytes, (extra, x_bytes)
