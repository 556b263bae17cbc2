import numpy as np
import pytest

BACKENDS = ["numpy", "numba", "parallel"]

#: relative tolerance of each compiled variant against the NumPy reference, per dtype
RTOL = {
    ("numba", np.float64): 1e-10,
    ("parallel", np.float64): 1e-8,
    ("numba", np.float32): 2e-4,
    ("parallel", np.float32): 2e-4,
}


def assert_close(actual, desired, rtol):
    """``actual`` equals ``desired`` within ``rtol`` relative to the largest magnitude in ``desired``
    (elementwise relative error is meaningless for entries that cancel to ~0)."""
    actual, desired = np.asarray(actual), np.asarray(desired)
    scale = max(1.0, float(np.abs(desired).max())) if desired.size else 1.0
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=rtol * scale)


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param
