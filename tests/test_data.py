"""fastgd/_kernels/data.py, the seam between the kernels and the data: each compiled row function
(the numba overload, called from a small compiled wrapper) against its NumPy reference, for dense
rows and for CSR rows (random SciPy matrices, property-based); the CSR structure check; the
kernels' zero-copy view of a SciPy CSR matrix."""

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from fastgd._kernels import data
from fastgd.config import FULL_BATCH_MAX_ROW_BYTES

from .conftest import DTYPES, RTOL, assert_close, make_sparse, unsorted


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
def compiled_lazy_shrink(X):
    return data.lazy_shrink(X)


@numba.njit
def compiled_input_round_trip(X):
    return data.input_from_parts(data.input_parts(X))


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
    X, P = rows(dtype, d=40)
    before = X.copy(), P.copy()
    for row in range(len(X)):
        compiled_row_prefetch(X, row)
        assert data.row_prefetch(X, row) is None
    np.testing.assert_array_equal(X, before[0])
    np.testing.assert_array_equal(P, before[1])


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


# --- CSR rows -----------------------------------------------------------------------------------

@st.composite
def csr_matrices(draw):
    """A random SciPy CSR matrix: shapes from 1 x 1, densities from 0 to 1, an empty row and
    column, float32 or float64 values, int32 or int64 indices, sorted or unsorted, matrix or
    array."""
    n, d = draw(st.integers(1, 30)), draw(st.integers(1, 30))
    X, _ = make_sparse(draw(st.integers(0, 2**32 - 1)), n, d,
                       density=draw(st.sampled_from([0.0, 0.1, 0.5, 1.0])),
                       dtype=draw(st.sampled_from(DTYPES)),
                       index_dtype=draw(st.sampled_from([np.int32, np.int64])),
                       container=draw(st.sampled_from([sp.csr_array, sp.csr_matrix])))
    return unsorted(X, seed=n * d) if draw(st.booleans()) else X


def weights(X, k, seed):
    """Random parameters (k, d + 1) in ``X``'s dtype."""
    return np.random.default_rng(seed).standard_normal((k, X.shape[1] + 1)).astype(X.dtype)


CSR_SETTINGS = settings(max_examples=40, deadline=None)


@CSR_SETTINGS
@given(X=csr_matrices(), k=st.integers(1, 3))
def test_csr_row_dot(X, k):
    P = weights(X, k, seed=X.nnz)
    K = data.kernel_input(X)
    for row in range(X.shape[0]):
        for c in range(k):
            assert_close(compiled_row_dot(K, row, P, c), data.row_dot(X, row, P, c),
                         RTOL["numba", X.dtype.type])


@CSR_SETTINGS
@given(X=csr_matrices(), k=st.integers(1, 3))
def test_csr_row_axpy(X, k):
    G0 = weights(X, k, seed=X.nnz)
    a = X.dtype.type(-0.37)
    for row in range(X.shape[0]):
        c = row % k
        G_ref, G = G0.copy(), G0.copy()
        data.row_axpy(X, row, a, G_ref, c)
        compiled_row_axpy(data.kernel_input(X), row, a, G, c)
        assert_close(G, G_ref, RTOL["numba", X.dtype.type])
        np.testing.assert_array_equal(G[:, -1], G0[:, -1])


@CSR_SETTINGS
@given(X=csr_matrices(), k=st.integers(1, 3))
def test_csr_row_scaled_axpy(X, k):
    P0 = weights(X, k, seed=X.nnz)
    keep, a = X.dtype.type(0.99), X.dtype.type(0.05)
    for row in range(X.shape[0]):
        c = row % k
        P_ref, P = P0.copy(), P0.copy()
        data.row_scaled_axpy(X, row, keep, a, P_ref, c)
        compiled_row_scaled_axpy(data.kernel_input(X), row, keep, a, P, c)
        assert_close(P, P_ref, RTOL["numba", X.dtype.type])
        np.testing.assert_array_equal(P[:, -1], P0[:, -1])


@CSR_SETTINGS
@given(X=csr_matrices())
def test_csr_row_copy(X):
    d = X.shape[1]
    for row in range(X.shape[0]):
        out_ref, out = np.full(d + 3, -1, X.dtype), np.full(d + 3, -1, X.dtype)
        data.row_copy(X, row, out_ref)
        compiled_row_copy(data.kernel_input(X), row, out)
        np.testing.assert_array_equal(out, out_ref)
        assert (out[d:] == -1).all()


@CSR_SETTINGS
@given(X=csr_matrices(), k=st.integers(1, 3))
def test_csr_prefetches_change_nothing(X, k):
    P = weights(X, k, seed=0)
    before = X.copy(), P.copy()
    K = data.kernel_input(X)
    for row in range(X.shape[0]):
        compiled_row_prefetch(K, row)
        assert data.row_prefetch(X, row) is None
    for array in ("data", "indices", "indptr"):
        np.testing.assert_array_equal(getattr(X, array), getattr(before[0], array))
    np.testing.assert_array_equal(P, before[1])


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("dtype", DTYPES)
def test_csr_input_kind(dtype, index_dtype):
    """A CSR never takes the dense full-batch kernel, and its plain SGD keeps the L2 shrink as a
    running scale; dense rows the other way round."""
    X, dense = make_sparse(0, 5, 3, 0.5, dtype, index_dtype)
    K = data.kernel_input(X)
    assert data.storage_order_rows(X) is False and compiled_storage_order_rows(K) is False
    assert data.lazy_shrink(X) is True and compiled_lazy_shrink(K) is True
    assert data.storage_order_rows(dense) is True and compiled_storage_order_rows(dense) is True
    assert data.lazy_shrink(dense) is False and compiled_lazy_shrink(dense) is False


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_input_parts_round_trip(index_dtype):
    X, dense = make_sparse(0, 6, 4, 0.5, np.float64, index_dtype)
    K = data.kernel_input(X)
    back = compiled_input_round_trip(K)
    for name in ("data", "indices", "indptr"):
        assert np.shares_memory(getattr(back, name), getattr(K, name))
    assert isinstance(back, data.CSR) and tuple(back.shape) == (6, 4)
    assert data.input_from_parts(data.input_parts(X)) is X
    assert np.shares_memory(compiled_input_round_trip(dense), dense)


# --- CSR structure and the kernels' view of it ---------------------------------------------------

@pytest.mark.parametrize("indices,indptr,message", [
    ([0, -1, 2], [0, 2, 3], r"column index outside \[0, 3\)"),
    ([0, 3, 2], [0, 2, 3], r"column index outside \[0, 3\)"),
    ([0, 1, 2], [0, 3, 2], "indptr decreases"),
])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_check_csr_refuses_a_broken_structure(indices, indptr, message, index_dtype):
    X = sp.csr_matrix((np.ones(3), np.array(indices, index_dtype), np.array(indptr, index_dtype)),
                      shape=(2, 3))
    with pytest.raises(ValueError, match=message):
        data.check_csr(X)


def test_check_csr_refuses_indptr_that_does_not_fit_the_values():
    X = sp.csr_matrix(np.eye(3))
    X.indptr = np.array([1, 1, 2, 3], np.int32)  # scipy's constructor refuses this one
    with pytest.raises(ValueError, match="indptr must have n_samples"):
        data.check_csr(X)
    X.indptr = np.array([0, 1, 2, 4], np.int32)
    with pytest.raises(ValueError, match="indptr must have n_samples"):
        data.check_csr(X)


@pytest.mark.parametrize("shape,density", [((1, 1), 1.0), ((4, 7), 0.0), ((0, 3), 0.0),
                                           ((50, 20), 0.3)])
def test_check_csr_accepts_a_valid_matrix(shape, density):
    X, _ = make_sparse(1, *shape, density)
    data.check_csr(X)
    data.check_csr(unsorted(X, 0))


@pytest.mark.parametrize("container", [sp.csr_array, sp.csr_matrix])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("dtype", DTYPES)
def test_kernel_input_does_not_copy(dtype, index_dtype, container):
    X, _ = make_sparse(2, 9, 5, 0.4, dtype, index_dtype, container)
    K = data.kernel_input(X)
    assert isinstance(K, data.CSR)
    for name in ("data", "indices", "indptr"):
        assert np.shares_memory(getattr(K, name), getattr(X, name))
        assert getattr(K, name).dtype == getattr(X, name).dtype
    assert K.shape == (9, 5) and all(type(s) is int for s in K.shape)
    dense = np.zeros((2, 3))
    assert data.kernel_input(dense) is dense


def test_kernel_data_replaces_only_a_sparse_X():
    X, dense = make_sparse(3, 4, 3, 0.5)
    Y, sw = np.zeros((4, 1)), np.ones(4)
    kd = data.kernel_data(data.Data(X, Y, sw))
    assert isinstance(kd.X, data.CSR) and kd.X.data is X.data and kd.Y is Y and kd.sw is sw
    plain = data.Data(dense, Y, sw)
    assert data.kernel_data(plain) is plain


@pytest.mark.parametrize("fmt", ["csc", "coo", "lil", "dok", "bsr", "dia"])
def test_kernel_input_refuses_other_formats(fmt):
    X, _ = make_sparse(4, 6, 4, 0.5)
    with pytest.raises(TypeError, match=r"convert with X\.tocsr\(\)"):
        data.kernel_input(X.asformat(fmt))


def reference_norm_maxima(X, sw, extra):
    """``data.row_norm_maxima`` in NumPy, float64."""
    X = X.toarray() if sp.issparse(X) else X
    norms = np.einsum("ij,ij->i", X.astype(np.float64), X.astype(np.float64))
    return norms.max(initial=0.0), (sw * (norms + extra)).max(initial=0.0)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 300), d=st.integers(1, 40), threads=st.integers(1, 4),
       extra=st.sampled_from([0.0, 1.0]), dtype=st.sampled_from(DTYPES),
       sparse=st.booleans(), seed=st.integers(0, 2**16))
def test_row_norm_maxima(n, d, threads, extra, dtype, sparse, seed):
    X, dense = make_sparse(seed, n, d, 0.3, dtype) if sparse else (None, None)
    X = X if sparse else np.random.default_rng(seed).standard_normal((n, d)).astype(dtype) * 10
    sw = np.random.default_rng(seed + 1).random(n).astype(dtype)
    with pytest.MonkeyPatch.context() as patch:
        # parts of a few rows, so that small inputs are split across threads too
        patch.setattr(data, "ROW_SCAN_MIN_ROWS", 7)
        maxima = data.row_norm_maxima(X, sw, extra, threads)
    assert_close(maxima, reference_norm_maxima(X, sw, extra),
                 1e-6 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("sparse", [False, True])
def test_row_norm_maxima_is_not_finite_exactly_when_x_is_not(dtype, value, sparse):
    X = np.random.default_rng(0).standard_normal((200_000, 3)).astype(dtype)
    sw = np.ones(len(X), dtype=dtype)
    assert np.isfinite(data.row_norm_maxima(sp.csr_array(X) if sparse else X, sw, 1.0, 2)).all()
    for row in (0, 99_999, 100_000, len(X) - 1):  # at the ends of both threads' parts
        X_bad = X.copy()
        X_bad[row, 1] = value
        largest, steepest = data.row_norm_maxima(sp.csr_array(X_bad) if sparse else X_bad, sw,
                                                 1.0, 2)
        assert not np.isfinite(largest) and not np.isfinite(steepest)
    X_big = X.astype(np.float64)
    X_big[5, 0] = 1e200  # finite, but its square overflows float64
    assert not np.isfinite(data.row_norm_maxima(X_big, sw, 0.0, 2)[0])


@pytest.mark.parametrize("y", [
    np.array([3, 1, 1, 3, 2]), np.array([-5, 7, -5]), np.array([0, 0, 1], dtype=np.uint8),
    np.array([True, False, True]), np.array([10**12, 0, 5]), np.array([4, 4, 4]),
    np.arange(1000) % 7 - 3])
def test_seen_labels_are_numpys_unique(y):
    labels = data.seen_labels(y)
    np.testing.assert_array_equal(labels, np.unique(y))
    assert labels.dtype == np.unique(y).dtype
