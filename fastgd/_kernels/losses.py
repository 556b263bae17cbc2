"""Links and per-sample loss terms with their derivative with respect to the score.

A loss is chosen by an integer code and the compiled code branches once per block of rows, outside
the element loop. Passing compiled functions as arguments would be the other way to specialise, but
numba cannot cache a function compiled for a dispatcher argument, and every process would recompile.

Shapes: the kernels work on flat row-major blocks of ``m * k`` scores ``Z`` (``m`` rows, ``k``
outputs) with targets ``Y`` of the same shape, and write the loss of each element to ``L`` and
``dL/dZ`` to ``D``. Targets are floats: the value for regression, ``{0, 1}`` per output for the
classification losses (one-hot rows for softmax).

Loss terms, per element (``p = sigmoid(z)``):

===================  ===============================  ==================================
code                 loss ``l(z, y)``                 ``dl/dz``
===================  ===============================  ==================================
``SQUARED_ERROR``    ``(z - y)**2``                   ``2 (z - y)``
``LOG_LOSS``         ``log(1 + e**z) - y z``          ``p - y``
``SOFTMAX_LOG_LOSS`` ``logsumexp(z_row) - z_row . y`` ``softmax(z_row) - y``
``HINGE``            ``max(0, 1 - s z)``, ``s=2y-1``  ``-s`` where ``s z < 1``, else 0
``SIGMOID_SQUARED``  ``(p - y)**2``                   ``2 (p - y) p (1 - p)``
===================  ===============================  ==================================

The mean of these terms over the rows is the training loss, so ``squared_error`` is the mean of
squared residuals with gradient ``2/n X.T @ (p - y)``.
"""

import numpy as np

from ..config import jit, jit_inline, renamed
from .vecmath import exp_nonpositive, log1p_unit

SQUARED_ERROR, LOG_LOSS, SOFTMAX_LOG_LOSS, HINGE, SIGMOID_SQUARED = range(5)
IDENTITY, SIGMOID, SOFTMAX = range(3)


# --- NumPy references -------------------------------------------------------------------------

def sigmoid(z):
    """Logistic function, stable for any finite ``z``: only ``exp(-|z|)`` is ever evaluated."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(z.dtype, copy=False)


def softmax(z):
    """Row-wise softmax of a 2-D array, shifted by the row maximum so that ``exp`` cannot overflow."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def apply_link(link, Z):
    """Return the link applied to scores ``Z`` of shape (m, k)."""
    if link == SIGMOID:
        return sigmoid(Z)
    if link == SOFTMAX:
        return softmax(Z)
    return Z.copy()


def loss_terms(loss, Z, Y):
    """Return ``(L, D)``: per-element loss and its derivative, for scores and targets of shape (m, k)."""
    if loss == SQUARED_ERROR:
        r = Z - Y
        return r * r, 2 * r
    if loss == LOG_LOSS:
        e = np.exp(-np.abs(Z))
        return np.maximum(Z, 0) + np.log1p(e) - Y * Z, sigmoid(Z) - Y
    if loss == SOFTMAX_LOG_LOSS:
        shift = Z.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(Z - shift).sum(axis=1, keepdims=True)) + shift
        # the row's whole loss goes in its first element so that L.sum() is the total
        L = np.zeros_like(Z)
        L[:, 0] = (log_norm - (Z * Y).sum(axis=1, keepdims=True))[:, 0]
        return L, softmax(Z) - Y
    if loss == HINGE:
        s = 2 * Y - 1
        margin = s * Z
        return np.maximum(0, 1 - margin), np.where(margin < 1, -s, 0).astype(Z.dtype)
    if loss == SIGMOID_SQUARED:
        p = sigmoid(Z)
        r = p - Y
        return r * r, 2 * r * p * (1 - p)
    raise ValueError(f"unknown loss code {loss}")


# --- compiled kernels -------------------------------------------------------------------------

@jit
def _sigmoid(z, one):
    # exp(-|z|) is at most 1, so nothing overflows even for |z| = 1e4 (scikit-learn clips at
    # |z| > 18 instead)
    return _sigmoid_given(z, exp_nonpositive(-abs(z)), one)


@jit_inline
def _sigmoid_given(z, e, one):
    """The logistic function of ``z`` from ``e = exp(-|z|)``, which the log loss needs too; one
    division with selected operands keeps the loops that call it SIMD."""
    return (one if z >= 0 else e) / (one + e)


@jit
def _apply_link(link, Z, size, k):
    """Apply the link in place to the first ``size`` flat row-major scores of ``Z`` (``k`` per row)."""
    one = Z.dtype.type(1)
    if link == SIGMOID:
        for t in range(size):
            Z[t] = _sigmoid(Z[t], one)
    elif link == SOFTMAX:
        for r0 in range(0, size, k):
            shift = Z[r0]
            for c in range(1, k):
                shift = max(shift, Z[r0 + c])
            total = Z.dtype.type(0)
            for c in range(k):
                Z[r0 + c] = exp_nonpositive(Z[r0 + c] - shift)
                total += Z[r0 + c]
            for c in range(k):
                Z[r0 + c] /= total


@jit_inline
def _derivative(loss, z, y, one):
    """``dl/dz`` of one element, for every loss but softmax (whose derivative needs the whole row);
    ``one`` is 1 in the dtype of ``z``."""
    two = one + one
    if loss == SQUARED_ERROR:
        return two * (z - y)
    if loss == LOG_LOSS:
        return _sigmoid(z, one) - y
    if loss == HINGE:
        s = two * y - one
        return -s if s * z < one else one - one
    p = _sigmoid(z, one)
    return two * (p - y) * p * (one - p)


def _loss_derivative_body(loss, Z, Y, D, start, stop, k):
    """Fill ``D[start:stop]`` with ``dl/dz`` for the flat row-major blocks ``Z``, ``Y`` (``k``
    outputs per row; ``start`` and ``stop`` are multiples of ``k``).

    The buffers are whole (not sliced) so that numba sees unit-stride arrays and vectorises."""
    one = Z.dtype.type(1)
    if loss == SOFTMAX_LOG_LOSS:
        for r0 in range(start, stop, k):
            shift = Z[r0]
            for c in range(1, k):
                shift = max(shift, Z[r0 + c])
            total = Z.dtype.type(0)
            for c in range(k):
                D[r0 + c] = exp_nonpositive(Z[r0 + c] - shift)
                total += D[r0 + c]
            for c in range(k):
                D[r0 + c] = D[r0 + c] / total - Y[r0 + c]
    # a constant code in each loop, so that it compiles without a branch and vectorises
    elif loss == SQUARED_ERROR:
        for t in range(start, stop):
            D[t] = _derivative(SQUARED_ERROR, Z[t], Y[t], one)
    elif loss == LOG_LOSS:
        for t in range(start, stop):
            D[t] = _derivative(LOG_LOSS, Z[t], Y[t], one)
    elif loss == HINGE:
        for t in range(start, stop):
            D[t] = _derivative(HINGE, Z[t], Y[t], one)
    else:
        for t in range(start, stop):
            D[t] = _derivative(SIGMOID_SQUARED, Z[t], Y[t], one)


def _loss_values_body(loss, Z, Y, L, start, stop, k):
    """Fill ``L[start:stop]`` with the loss of each element (for softmax, each row's loss in its
    first element and 0 in the others)."""
    one = Z.dtype.type(1)
    zero = Z.dtype.type(0)
    two = Z.dtype.type(2)
    if loss == SQUARED_ERROR:
        for t in range(start, stop):
            r = Z[t] - Y[t]
            L[t] = r * r
    elif loss == LOG_LOSS:
        for t in range(start, stop):
            z = Z[t]
            L[t] = max(z, zero) + log1p_unit(exp_nonpositive(-abs(z))) - Y[t] * z
    elif loss == SOFTMAX_LOG_LOSS:
        for r0 in range(start, stop, k):
            shift = Z[r0]
            for c in range(1, k):
                shift = max(shift, Z[r0 + c])
            total = zero
            dot = zero
            for c in range(k):
                total += exp_nonpositive(Z[r0 + c] - shift)
                dot += Z[r0 + c] * Y[r0 + c]
                L[r0 + c] = zero
            L[r0] = np.log(total) + shift - dot
    elif loss == HINGE:
        for t in range(start, stop):
            L[t] = max(zero, one - (two * Y[t] - one) * Z[t])
    elif loss == SIGMOID_SQUARED:
        for t in range(start, stop):
            r = _sigmoid(Z[t], one) - Y[t]
            L[t] = r * r


_loss_derivative = jit(_loss_derivative_body)
_loss_values = jit(_loss_values_body)
# the block loops call this once per block of rows, where a call's passing of four arrays would
# cost about as much as the rows themselves
_loss_derivative_inline = jit_inline(renamed(_loss_derivative_body, "_loss_derivative_inline"))


def _loss_terms_body(loss, Z, Y, L, D, size, k):
    """Fill ``L`` and ``D`` for the first ``size`` elements of the flat blocks ``Z``, ``Y``; the log
    loss in one pass, whose loss and derivative share one ``exp(-|z|)``."""
    if loss == LOG_LOSS:
        one = Z.dtype.type(1)
        zero = Z.dtype.type(0)
        for t in range(size):
            z = Z[t]
            e = exp_nonpositive(-abs(z))
            D[t] = _sigmoid_given(z, e, one) - Y[t]
            L[t] = max(z, zero) + log1p_unit(e) - Y[t] * z
    else:
        # called, not inlined: a second inlined copy of log1p_unit in one function trips numba's
        # SSA checks (NumbaIRAssumptionWarning)
        _loss_values(loss, Z, Y, L, 0, size, k)
        _loss_derivative_inline(loss, Z, Y, D, 0, size, k)


_loss_terms = jit(_loss_terms_body)
_loss_terms_inline = jit_inline(renamed(_loss_terms_body, "_loss_terms_inline"))
