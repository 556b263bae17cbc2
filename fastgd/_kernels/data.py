"""The seam between the training kernels and the data: the few row operations through which every
epoch kernel reads ``X``.

The kernels are written once against the functions below and compiled for each kind of ``X`` they
are given, as scikit-learn's ``_plain_sgd`` is written once against a ``SequentialDataset`` row and
skglm's solvers pick a datafit's dense or ``*_sparse`` method. Each function is a NumPy reference
with an implementation per input type registered by ``numba.extending.overload`` and inlined into
the kernel, so the dense loops compile exactly as if they indexed ``X[row, j]`` themselves.

The input types:

- dense: a C-contiguous 2-D array;
- CSR: a :class:`CSR` tuple of a SciPy CSR matrix's arrays (``data``, ``indices``, ``indptr``,
  ``shape``), float32 or float64 values with int32 or int64 indices, used where they lie
  (:func:`kernel_input` makes one from any SciPy CSR matrix or array without a copy). A row costs
  O(its stored values), not O(d).

A new input type adds its implementation of each function here, for its numba type. The NumPy
references take a dense array or a SciPy sparse matrix.

The training data travels as one :class:`Data` tuple: ``X``, targets ``Y`` (n, k) in ``X``'s dtype
and sample weights ``sw`` (n,).
"""

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from numba import prange, types
from numba.extending import overload

from ..config import (FULL_BATCH_MAX_ROW_BYTES, ROW_SCAN_MIN_ROWS, jit, jit_inline, jit_parallel,
                      renamed)
from .prefetch import prefetch, prefetch_element


class Data(NamedTuple):
    """The rows a kernel trains on: ``X`` (n, d), ``Y`` (n, k), ``sw`` (n,)."""

    X: object
    Y: np.ndarray
    sw: np.ndarray


class CSR(NamedTuple):
    """A CSR matrix as the kernels read it: row ``i`` holds ``data[indptr[i]:indptr[i + 1]]`` at the
    columns ``indices[indptr[i]:indptr[i + 1]]``; ``shape`` is (n, d)."""

    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    shape: tuple


def kernel_input(X):
    """``X`` as the compiled kernels take it: a SciPy CSR matrix or array as a :class:`CSR` of its
    own arrays (no copy), anything else as it is."""
    if sp.issparse(X):
        if X.format != "csr":
            raise TypeError(f"the kernels read CSR, not {X.format!r}: convert with X.tocsr().")
        return CSR(X.data, X.indices, X.indptr, tuple(int(s) for s in X.shape))
    return X


class _WritableView:
    """A read-only array's memory as NumPy makes a writable array of it (its
    ``__array_interface__`` with the read-only flag cleared), holding the array alive."""

    def __init__(self, array):
        interface = array.__array_interface__
        self.__array_interface__ = {**interface, "data": (interface["data"][0], False)}
        self.array = array


def _writable_type(array):
    return array if array.flags.writeable or array.size == 0 else np.asarray(_WritableView(array))


def compiled_types(X):
    """Validated ``X`` (dense, or CSR) in the numba types the kernels are compiled for anyway: numba
    types a read-only array (a read-only memmap, a broadcast) apart from a writable one, which
    would compile every kernel again for it, so a read-only ``X`` comes as a writable array over
    the same memory (no copy; no kernel writes ``X``)."""
    if not sp.issparse(X):
        return _writable_type(X)
    arrays = (X.data, X.indices, X.indptr)
    if all(array.flags.writeable for array in arrays):
        return X
    return type(X)(tuple(_writable_type(array) for array in arrays), shape=X.shape, copy=False)


def kernel_data(data):
    """:class:`Data` with its ``X`` through :func:`kernel_input`."""
    return data if not sp.issparse(data.X) else Data(kernel_input(data.X), data.Y, data.sw)


def data_parts(data, part_rows):
    """The rows of ``data`` as consecutive parts of ``part_rows`` rows each (a sequence of ints
    summing to the number of rows): a list of :class:`Data` views, no copy for dense ``X``, which
    the full-batch parts kernels (``parts_gradient``) take as a dask worker's chunks."""
    part_rows = [int(m) for m in part_rows]
    n = data.Y.shape[0]
    if any(m < 0 for m in part_rows) or sum(part_rows) != n:
        raise ValueError(f"the parts' row counts {part_rows} must be >= 0 and add up to the {n} "
                         "rows.")
    bounds = np.cumsum([0] + part_rows)
    return [Data(data.X[lo:hi], data.Y[lo:hi], data.sw[lo:hi])
            for lo, hi in zip(bounds[:-1], bounds[1:])]


def for_each_part(run, n_parts, n_threads):
    """``run(t)`` for each part ``t``, on up to ``n_threads`` Python threads: the compiled kernels
    release the GIL, so serial kernels on different parts run at once, with no parallel build to
    compile (a ``prange`` over the parts took about 25 s to compile per dtype) and without
    entering numba's threading layer from several threads."""
    if n_threads <= 1 or n_parts <= 1:
        for t in range(n_parts):
            run(t)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(min(n_threads, n_parts)) as pool:
        list(pool.map(run, range(n_parts)))


def check_csr(X):
    """Raise a ValueError naming the problem when the CSR matrix ``X`` has a broken structure:
    ``indptr`` not starting at 0, decreasing, or not ending at the number of stored values, or a
    column index outside ``[0, n_features)``. (Its values' finiteness is checked with the dense
    inputs'.) One compiled pass over ``indices``."""
    n, d = X.shape
    indptr = X.indptr
    if len(indptr) != n + 1 or indptr[0] != 0 or indptr[-1] > len(X.indices):
        raise ValueError(f"X is a broken CSR matrix: indptr must have n_samples + 1 = {n + 1} "
                         f"entries from 0 to at most {len(X.indices)}; rebuild it with "
                         "scipy.sparse.csr_array.")
    problem = _csr_problem(X.indices, indptr, d)
    if problem == 1:
        raise ValueError("X is a broken CSR matrix: its indptr decreases; rebuild it with "
                         "scipy.sparse.csr_array.")
    if problem == 2:
        raise ValueError(f"X holds a column index outside [0, {d}) (X has {d} columns): negative "
                         "or too large; fix the indices or the shape of the matrix.")


def row_norm_maxima(X, sw, extra, n_threads=1):
    """``(max_i ||x_i||^2, max_i sw_i (||x_i||^2 + extra))`` of dense or CSR ``X``, float64, in
    one pass over its values on up to ``n_threads`` of numba's threads: the steepest row's
    curvature for the "auto" step (``extra`` the intercept's constant feature), a bound on the
    scores for the check after the last epoch, and, being finite exactly when the values of ``X``
    are and their squares do not overflow, the finiteness check of a fit's ``X``: one read where
    ``np.isfinite(X).all()`` and a row-norm pass make two, each slower than ``X @ w``."""
    if sp.issparse(X):
        norms = squared_row_norms(X)
        with np.errstate(invalid="ignore", over="ignore"):
            return float(norms.max(initial=0.0)), float((sw * (norms + extra)).max(initial=0.0))
    parts = max(1, min(n_threads, X.shape[0] // ROW_SCAN_MIN_ROWS))
    out = np.zeros((parts, 2))
    # the parallel build only where it splits: it takes several times as long to compile
    (_dense_norm_maxima_parallel if parts > 1 else _dense_norm_maxima)(X, sw, float(extra), out)
    with np.errstate(invalid="ignore"):
        return float(np.max(out[:, 0])), float(np.max(out[:, 1]))


def _dense_norm_maxima_body(X, sw, extra, out):
    n, parts = X.shape[0], out.shape[0]
    for t in prange(parts):
        largest, steepest, poison = 0.0, 0.0, 0.0
        for i in range(t * n // parts, (t + 1) * n // parts):
            norm = 0.0
            for j in range(X.shape[1]):
                norm += float(X[i, j]) * X[i, j]
            poison += norm * 0.0  # NaN from the first NaN or inf on: a branch would not vectorise
            largest = max(largest, norm)
            steepest = max(steepest, sw[i] * (norm + extra))
        out[t, 0] = largest + poison
        out[t, 1] = steepest + poison


_dense_norm_maxima = jit(_dense_norm_maxima_body)
_dense_norm_maxima_parallel = jit_parallel(_dense_norm_maxima_body, "_dense_norm_maxima_parallel")


def seen_labels(y):
    """The distinct values of the integer or boolean labels ``y``, sorted, as ``np.unique(y)``
    gives them: marked in a table from the smallest to the largest, one pass where the sort behind
    ``np.unique`` took 20 ms on a million rows; ``np.unique`` itself when they spread wider than
    the rows."""
    if y.dtype.kind == "b":
        return np.unique(y)
    lo, hi = int(y.min()), int(y.max())
    if hi - lo > y.size:
        return np.unique(y)
    seen = np.zeros(hi - lo + 1, dtype=np.bool_)
    _mark_seen(y, lo, seen)
    return (np.flatnonzero(seen) + lo).astype(y.dtype)


@jit
def _mark_seen(y, lo, seen):
    for i in range(y.size):
        seen[y[i] - lo] = True


def squared_row_norms(X):
    """``||x_i||^2`` of every row of the CSR matrix ``X``, float64, in one pass over its values
    (slicing or ``X.multiply(X)`` would copy them)."""
    out = np.empty(X.shape[0])
    _csr_squared_norms(X.data, X.indptr, out)
    return out


@jit
def _csr_squared_norms(data, indptr, out):
    for i in range(out.size):
        total = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            total += float(data[p]) * data[p]
        out[i] = total


@jit
def _csr_problem(indices, indptr, d):
    """0, or 1 for a decreasing ``indptr``, 2 for a column index outside ``[0, d)``."""
    for i in range(indptr.size - 1):
        if indptr[i + 1] < indptr[i]:
            return 1
    for p in range(indptr[indptr.size - 1]):
        j = indices[p]
        if j < 0 or j >= d:
            return 2
    return 0


def dense_type(X):
    """Whether the numba type ``X`` is a dense input (a 2-D array)."""
    return isinstance(X, types.Array) and X.ndim == 2


def csr_type(X):
    """Whether the numba type ``X`` is a :class:`CSR`."""
    return isinstance(X, types.BaseNamedTuple) and X.instance_class is CSR


def _row(X, row):
    """Row ``row`` of a dense array or SciPy sparse matrix, as a dense 1-D array."""
    if sp.issparse(X):
        return X[[row]].toarray()[0]
    return X[row]


# --- NumPy references -------------------------------------------------------------------------

def input_parts(X):
    """``X`` as a plain tuple of arrays and integers, and :func:`input_from_parts` back: how ``X``
    crosses into a ``prange`` loop, which numba cannot hand a tuple nested in a tuple (``Data``
    holding a ``CSR``)."""
    return (X,)


def input_from_parts(parts):
    """The ``X`` that :func:`input_parts` split."""
    return parts[0]


def row_dot(X, row, P, c):
    """``X[row] . P[c, :d]``: the score of output ``c`` before its intercept ``P[c, d]`` (``P`` is
    (k, d + 1))."""
    return _row(X, row) @ P[c, :-1]


def row_axpy(X, row, a, G, c):
    """``G[c, :d] += a X[row]``."""
    G[c, :-1] += a * _row(X, row)


def row_scaled_axpy(X, row, keep, a, P, c):
    """``P[c, :d] = keep P[c, :d] - a X[row]``: SGD's step on one output, decay and L2 in ``keep``
    (O(d) whatever the input: sparse SGD keeps ``keep`` as a running scale instead, see
    :func:`lazy_shrink`)."""
    P[c, :-1] = keep * P[c, :-1] - a * _row(X, row)


def row_truncate(X, row, P, c, scale, u, Q):
    """The cumulative L1 penalty (Tsuruoka et al. 2009, as scikit-learn's ``l1penalty``) on the
    weights ``scale * P[c, :d]`` that ``X[row]`` touches: every weight of a dense row, the stored
    columns of a sparse one. ``u`` is the penalty every weight should have had so far, ``Q[c, j]``
    (float64) what weight ``j`` has had; a weight is moved toward zero by the difference and never
    across it."""
    columns = X[[row]].indices if sp.issparse(X) else range(X.shape[1])
    for j in columns:
        truncate(P, c, j, scale, u, Q)


def truncate(P, c, j, scale, u, Q):
    """One weight of :func:`row_truncate`."""
    before = scale * P[c, j]
    if P[c, j] > 0:
        P[c, j] = max(0.0, P[c, j] - (u + Q[c, j]) / scale)
    elif P[c, j] < 0:
        P[c, j] = min(0.0, P[c, j] + (u - Q[c, j]) / scale)
    Q[c, j] += scale * P[c, j] - before


def row_prefetch(X, row):
    """Ask for ``X[row]`` ahead of its use (no effect in NumPy)."""


def row_copy(X, row, out):
    """``out[:d] = X[row]``: a row into a dense buffer."""
    out[:X.shape[1]] = _row(X, row)


def storage_order_rows(X):
    """Whether the full-batch kernel that reads ``X`` in blocks of rows in storage order applies:
    dense rows of at most ``FULL_BATCH_MAX_ROW_BYTES``."""
    return (isinstance(X, np.ndarray) and X.ndim == 2
            and X.shape[1] * X.itemsize <= FULL_BATCH_MAX_ROW_BYTES)


def lazy_shrink(X):
    """Whether plain SGD should keep the shrink of the weights (L2 penalty, weight decay) as one
    running scale instead of applying it to every weight at each step: so for rows that touch few
    columns (CSR), which then cost O(stored values) a step instead of O(d), as in scikit-learn's
    ``WeightVector``."""
    return sp.issparse(X)


# --- compiled rows: dense and CSR -------------------------------------------------------------

@overload(input_parts)
def _input_parts(X):
    if dense_type(X):
        return lambda X: (X,)
    if csr_type(X):
        return lambda X: (X.data, X.indices, X.indptr, X.shape[0], X.shape[1])


@overload(input_from_parts)
def _input_from_parts(parts):
    if len(parts) == 1:
        return lambda parts: parts[0]
    if len(parts) == 5:
        return lambda parts: CSR(parts[0], parts[1], parts[2], (parts[3], parts[4]))


@overload(row_dot, inline="always")
def _row_dot(X, row, P, c):
    if dense_type(X):
        def impl(X, row, P, c):
            s = P.dtype.type(0)
            for j in range(X.shape[1]):
                s += X[row, j] * P[c, j]
            return s
        return impl
    if csr_type(X):
        def impl(X, row, P, c):
            # two sums by hand: left to fastmath's reassociation, LLVM vectorises this loop with
            # gathers, which ran at half the speed of scalar loads (as do signed indices, whose
            # negative wraparound numba checks: the casts leave it out)
            data, indices = X.data, X.indices
            s0 = s1 = P.dtype.type(0)
            p, hi = X.indptr[row], X.indptr[row + 1]
            while p + 1 < hi:
                s0 += data[p] * P[c, np.uint64(indices[p])]
                s1 += data[p + 1] * P[c, np.uint64(indices[p + 1])]
                p += 2
            if p < hi:
                s0 += data[p] * P[c, np.uint64(indices[p])]
            return s0 + s1
        return impl


@overload(row_axpy, inline="always")
def _row_axpy(X, row, a, G, c):
    if dense_type(X):
        def impl(X, row, a, G, c):
            for j in range(X.shape[1]):
                G[c, j] += a * X[row, j]
        return impl
    if csr_type(X):
        def impl(X, row, a, G, c):
            data, indices = X.data, X.indices
            for p in range(X.indptr[row], X.indptr[row + 1]):
                G[c, np.uint64(indices[p])] += a * data[p]
        return impl


@overload(row_scaled_axpy, inline="always")
def _row_scaled_axpy(X, row, keep, a, P, c):
    if dense_type(X):
        def impl(X, row, keep, a, P, c):
            for j in range(X.shape[1]):
                P[c, j] = keep * P[c, j] - a * X[row, j]
        return impl
    if csr_type(X):
        def impl(X, row, keep, a, P, c):
            for j in range(X.shape[1]):
                P[c, j] *= keep
            data, indices = X.data, X.indices
            for p in range(X.indptr[row], X.indptr[row + 1]):
                P[c, indices[p]] -= a * data[p]
        return impl


_truncate = jit_inline(renamed(truncate, "_truncate"))


@overload(row_truncate, inline="always")
def _row_truncate(X, row, P, c, scale, u, Q):
    if dense_type(X):
        def impl(X, row, P, c, scale, u, Q):
            for j in range(X.shape[1]):
                _truncate(P, c, j, scale, u, Q)
        return impl
    if csr_type(X):
        def impl(X, row, P, c, scale, u, Q):
            indices = X.indices
            for p in range(X.indptr[row], X.indptr[row + 1]):
                _truncate(P, c, np.uint64(indices[p]), scale, u, Q)
        return impl


@overload(row_prefetch, inline="always")
def _row_prefetch(X, row):
    if dense_type(X):
        def impl(X, row):
            line = 64 // X.itemsize  # elements in a cache line
            for j in range(0, X.shape[1], line):
                prefetch(X, row, j)
        return impl
    if csr_type(X):
        def impl(X, row):
            lo, hi = X.indptr[row], X.indptr[row + 1]
            for p in range(lo, hi, 64 // X.data.itemsize):
                prefetch_element(X.data, p)
            for p in range(lo, hi, 64 // X.indices.itemsize):
                prefetch_element(X.indices, p)
        return impl


@overload(row_copy, inline="always")
def _row_copy(X, row, out):
    if dense_type(X):
        def impl(X, row, out):
            x = X[row]
            for j in range(x.size):
                out[j] = x[j]
        return impl
    if csr_type(X):
        def impl(X, row, out):
            for j in range(X.shape[1]):
                out[j] = 0
            data, indices = X.data, X.indices
            for p in range(X.indptr[row], X.indptr[row + 1]):
                out[indices[p]] += data[p]
        return impl


@overload(storage_order_rows, inline="always")
def _storage_order_rows(X):
    if dense_type(X):
        def impl(X):
            return X.shape[1] * X.itemsize <= FULL_BATCH_MAX_ROW_BYTES
        return impl
    if csr_type(X):
        return lambda X: False


@overload(lazy_shrink, inline="always")
def _lazy_shrink(X):
    if dense_type(X):
        return lambda X: False
    if csr_type(X):
        return lambda X: True
