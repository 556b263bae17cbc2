"""The vectorisable ``exp`` and ``log1p`` against NumPy's over the whole range the losses use."""

import numpy as np
import pytest

from fastgd.config import jit
from fastgd._kernels.vecmath import exp_nonpositive, log1p_unit


@jit
def _exp_all(x, out):
    for t in range(x.size):
        out[t] = exp_nonpositive(x[t])


@jit
def _log1p_all(x, out):
    for t in range(x.size):
        out[t] = log1p_unit(x[t])


# (dtype, lowest argument with a normal result, relative tolerance: a few units in the last place;
# float64's exp loses some digits to the reassociation fastmath allows in the range reduction)
CASES = [(np.float64, -708.0, 5e-14), (np.float32, -87.0, 1e-6)]


@pytest.mark.parametrize("dtype,lowest,rtol", CASES)
def test_exp_matches_numpy(dtype, lowest, rtol):
    rng = np.random.default_rng(0)
    x = -np.concatenate([np.linspace(0, -lowest, 100_001), rng.exponential(3, 100_000),
                         [0.0, 1e-30, 0.5 * np.log(2)]]).astype(dtype)
    out = np.empty_like(x)
    _exp_all(x, out)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, np.exp(x.astype(np.float64)), rtol=rtol)


@pytest.mark.parametrize("dtype,lowest,rtol", CASES)
def test_exp_below_the_normal_range_is_tiny_not_nan(dtype, lowest, rtol):
    x = np.array([lowest - 1, -1e4, -np.inf], dtype=dtype)
    out = np.empty_like(x)
    _exp_all(x, out)
    assert np.all((out >= 0) & (out < 4 * np.finfo(dtype).tiny))


@pytest.mark.parametrize("dtype,lowest,rtol", CASES)
def test_log1p_matches_numpy(dtype, lowest, rtol):
    e = np.concatenate([np.random.default_rng(1).random(100_000), [0.0, 1e-30, 1.0],
                        np.sqrt(2) - 1 + np.array([-1e-7, 0.0, 1e-7])]).astype(dtype)
    out = np.empty_like(e)
    _log1p_all(e, out)
    assert out.dtype == dtype
    expected = np.log1p(e.astype(np.float64))
    np.testing.assert_allclose(out, expected, rtol=max(rtol, 2 * np.finfo(dtype).eps), atol=0)
