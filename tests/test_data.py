"""fastgd/_kernels/data.py, the seam between the kernels and the data: each compiled row function
(the numba overload, called from a small compiled wrapper) against its NumPy reference."""

import numba
import numpy as np
import pytest

from fastgd._kernels import data
from fastgd.config import FULL_BATCH_MAX_ROW_BYTES

from .conftest import DTYPES, RTOL, assert_close


@numba.njit
def compiled_row_dot(X, row, P, c):
    return data.row_dot(X, row, P, c)


@numba.njit
def compiled_row_axpy(X, row, a, G, c):
    data.row_axpy(X, row, a, G, c)


@numba.njit
def compiled_row_scaled_axpy(X, row, keep, a, P, c):
    data.row_scaled_axpy(X, row, keep, a, P, c)


@numba.njit
def compiled_row_prefetch(X, row):
    data.row_prefetch(X, row)


@numba.njit
def compiled_row_copy(X, row, out):
    data.row_copy(X, row, out)


@numba.njit
def compiled_storage_order_rows(X):
    return data.storage_order_rows(X)


def rows(dtype, n=7, d=13, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    P = rng.standard_normal((k, d + 1)).astype(dtype)
    return X, P


@pytest.mark.parametrize("dtype", DTYPES)
def test_row_dot(dtype):
    X, P = rows(dtype)
    for row in range(len(X)):
        for c in range(P.shape[0]):
            assert_close(compiled_row_dot(X, row, P, c), data.row_dot(X, row, P, c),
                         RTOL["numba", dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_row_axpy(dtype):
    X, G0 = rows(dtype)
    a = dtype(0.37)
    for row, c in ((0, 0), (3, 2), (6, 1)):
        G_ref, G = G0.copy(), G0.copy()
        data.row_axpy(X, row, a, G_ref, c)
        compiled_row_axpy(X, row, a, G, c)
        assert_close(G, G_ref, RTOL["numba", dtype])
        np.testing.assert_array_equal(G[:, -1], G0[:, -1])  # the intercept is not touched


@pytest.mark.parametrize("dtype", DTYPES)
def test_row_scaled_axpy(dtype):
    X, P0 = rows(dtype)
    keep, a = dtype(0.99), dtype(0.05)
    for row, c in ((0, 0), (3, 2), (6, 1)):
        P_ref, P = P0.copy(), P0.copy()
        data.row_scaled_axpy(X, row, keep, a, P_ref, c)
        compiled_row_scaled_axpy(X, row, keep, a, P, c)
        assert_close(P, P_ref, RTOL["numba", dtype])
        np.testing.assert_array_equal(P[:, -1], P0[:, -1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_row_prefetch_changes_nothing(dtype):
    X, _ = rows(dtype, d=40)
    before = X.copy()
    for row in range(len(X)):
        compiled_row_prefetch(X, row)
        assert data.row_prefetch(X, row) is None
    np.testing.assert_array_equal(X, before)


@pytest.mark.parametrize("dtype", DTYPES)
def test_row_copy(dtype):
    X, _ = rows(dtype)
    for row in range(len(X)):
        out_ref, out = np.full(20, -1, dtype), np.full(20, -1, dtype)  # longer than a row
        data.row_copy(X, row, out_ref)
        compiled_row_copy(X, row, out)
        np.testing.assert_array_equal(out, out_ref)
        np.testing.assert_array_equal(out[:13], X[row])
        assert (out[13:] == -1).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_storage_order_rows(dtype):
    widest = FULL_BATCH_MAX_ROW_BYTES // np.dtype(dtype).itemsize
    for d, expected in ((1, True), (widest, True), (widest + 1, False)):
        X = np.zeros((3, d), dtype)
        assert data.storage_order_rows(X) is expected
        assert compiled_storage_order_rows(X) == expected


def test_data_tuple():
    X, Y, sw = np.zeros((2, 3)), np.zeros((2, 1)), np.ones(2)
    d = data.Data(X, Y, sw)
    assert d.X is X and d.Y is Y and d.sw is sw
    assert tuple(d) == (X, Y, sw)
