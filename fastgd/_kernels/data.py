"""The seam between the training kernels and the data: the few row operations through which every
epoch kernel reads ``X``.

The kernels are written once against the functions below and compiled for each kind of ``X`` they
are given, as scikit-learn's ``_plain_sgd`` is written once against a ``SequentialDataset`` row and
skglm's solvers pick a datafit's dense or ``*_sparse`` method. Each function is a NumPy reference
with an implementation per input type registered by ``numba.extending.overload`` and inlined into
the kernel, so the dense loops compile exactly as if they indexed ``X[row, j]`` themselves.

Today's input type is a C-contiguous 2-D array (``dense``). A new input type (a CSR matrix as a
tuple of its arrays, say) adds its implementation of each function here, for its numba type, and
:func:`storage_order_rows` says whether the dense full-batch kernel may read it.

The training data travels as one :class:`Data` tuple: ``X``, targets ``Y`` (n, k) in ``X``'s dtype
and sample weights ``sw`` (n,).
"""

from typing import NamedTuple

import numpy as np
from numba import types
from numba.extending import overload

from ..config import FULL_BATCH_MAX_ROW_BYTES
from .prefetch import prefetch


class Data(NamedTuple):
    """The rows a kernel trains on: ``X`` (n, d), ``Y`` (n, k), ``sw`` (n,)."""

    X: object
    Y: np.ndarray
    sw: np.ndarray


def _dense(X):
    return isinstance(X, types.Array) and X.ndim == 2


# --- NumPy references -------------------------------------------------------------------------

def row_dot(X, row, P, c):
    """``X[row] . P[c, :d] + P[c, d]``: the score of output ``c`` (``P`` is (k, d + 1))."""
    return X[row] @ P[c, :-1] + P[c, -1]


def row_axpy(X, row, a, G, c):
    """``G[c, :d] += a X[row]``."""
    G[c, :-1] += a * X[row]


def row_scaled_axpy(X, row, keep, a, P, c):
    """``P[c, :d] = keep P[c, :d] - a X[row]``: SGD's step on one output, decay and L2 in ``keep``."""
    P[c, :-1] = keep * P[c, :-1] - a * X[row]


def row_prefetch(X, row):
    """Ask for ``X[row]`` ahead of its use (no effect in NumPy)."""


def row_copy(X, row, out):
    """``out[:d] = X[row]``: a row into a dense buffer (the MLP's input layer)."""
    out[:X.shape[1]] = X[row]


def storage_order_rows(X):
    """Whether the full-batch kernel that reads ``X`` in blocks of rows in storage order applies:
    dense rows of at most ``FULL_BATCH_MAX_ROW_BYTES``."""
    return X.ndim == 2 and X.shape[1] * X.itemsize <= FULL_BATCH_MAX_ROW_BYTES


# --- dense rows -------------------------------------------------------------------------------

@overload(row_dot, inline="always")
def _row_dot(X, row, P, c):
    if _dense(X):
        def impl(X, row, P, c):
            d = X.shape[1]
            s = P[c, d]
            for j in range(d):
                s += X[row, j] * P[c, j]
            return s
        return impl


@overload(row_axpy, inline="always")
def _row_axpy(X, row, a, G, c):
    if _dense(X):
        def impl(X, row, a, G, c):
            for j in range(X.shape[1]):
                G[c, j] += a * X[row, j]
        return impl


@overload(row_scaled_axpy, inline="always")
def _row_scaled_axpy(X, row, keep, a, P, c):
    if _dense(X):
        def impl(X, row, keep, a, P, c):
            for j in range(X.shape[1]):
                P[c, j] = keep * P[c, j] - a * X[row, j]
        return impl


@overload(row_prefetch, inline="always")
def _row_prefetch(X, row):
    if _dense(X):
        def impl(X, row):
            line = 64 // X.itemsize  # elements in a cache line
            for j in range(0, X.shape[1], line):
                prefetch(X, row, j)
        return impl


@overload(row_copy, inline="always")
def _row_copy(X, row, out):
    if _dense(X):
        def impl(X, row, out):
            x = X[row]
            for j in range(x.size):
                out[j] = x[j]
        return impl


@overload(storage_order_rows, inline="always")
def _storage_order_rows(X):
    if _dense(X):
        def impl(X):
            return X.shape[1] * X.itemsize <= FULL_BATCH_MAX_ROW_BYTES
        return impl
