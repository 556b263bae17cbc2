"""Losses: one table, :data:`LOSSES`, each entry a loss's name, NumPy reference, compiled scalar
rule and the facts the estimators need; and the links that turn scores into predictions.

A loss is chosen by its code, its index in :data:`LOSSES`. The compiled kernels branch on the code
once per block of rows, outside the element loop, so that each loop compiles for one loss and
vectorises. A code outside the table cannot run another loss's branch: the compiled branches give
NaN for it, and the epoch kernels' entry points reject it first (:func:`check_code`).

Shapes: the kernels work on flat row-major blocks of ``m * k`` scores ``Z`` (``m`` rows, ``k``
outputs) with targets ``Y`` of the same shape, and write the loss of each element to ``L`` and
``dL/dZ`` to ``D``. Targets are floats: the value for regression, ``{0, 1}`` per output for the
classification losses (one-hot rows for softmax).

Loss terms, per element (``p = sigmoid(z)``):

=====================  ===============================  ==================================
name                   loss ``l(z, y)``                 ``dl/dz``
=====================  ===============================  ==================================
``squared_error``      ``(z - y)**2``                   ``2 (z - y)``
``log_loss``           ``log(1 + e**z) - y z``          ``p - y``
``softmax_log_loss``   ``logsumexp(z_row) - z_row . y`` ``softmax(z_row) - y``
``hinge``              ``max(0, 1 - s z)``, ``s=2y-1``  ``-s`` where ``s z < 1``, else 0
``sigmoid_squared``    ``(p - y)**2``                   ``2 (p - y) p (1 - p)``
``perceptron``         ``max(0, -s z)``                 ``-s`` where ``s z <= 0``, else 0
``squared_hinge``      ``max(0, 1 - s z)**2``           ``-2 s (1 - s z)`` where ``s z < 1``
``modified_huber``     ``max(0, 1 - s z)**2`` for       ``-2 s (1 - s z)``, ``-4 s`` below
                       ``s z >= -1``, else ``-4 s z``   ``s z = -1``
``huber``              ``r**2 / 2`` for ``|r| <= e``,   ``r``, clipped to ``[-e, e]``
                       else ``e |r| - e**2 / 2``
``epsilon_insensitive``         ``max(0, |r| - e)``     ``sign(r)`` where ``|r| > e``
``squared_epsilon_insensitive`` ``max(0, |r| - e)**2``  ``2 sign(r) (|r| - e)``
=====================  ===============================  ==================================

with ``r = z - y`` and ``e`` the loss's ``epsilon`` (:class:`Rule`). The definitions and the
subgradients at the kinks are scikit-learn's (``sklearn/linear_model/_sgd_fast.pyx``: the hinge's
subgradient is ``-s`` at ``s z = 1`` too), except ``squared_error``, which is the mean squared error
(PyTorch's ``MSELoss``), twice scikit-learn's ``r**2 / 2``. The regression losses also train
classifiers, on targets ``s`` (-1 or 1) instead of ``y``, as scikit-learn's ``SGDClassifier`` does.

The mean of these terms over the rows is the training loss, so ``squared_error`` is the mean of
squared residuals with gradient ``2/n X.T @ (p - y)``.

The kernels take a loss as a :class:`Rule`: its code and its ``epsilon``.

To add a loss: its NumPy reference and its entry in :data:`LOSSES`; its compiled branch in
:func:`_derivative` and in :func:`_loss_values_body` (and a loop with its constant code in
:func:`_loss_derivative_body`); its row in the tests' table (``tests/test_losses.py``).
"""

from typing import Callable, NamedTuple

import numpy as np

from ..config import jit, jit_inline, renamed
from .vecmath import exp_nonpositive, log1p_unit

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


def squared_error_terms(Z, Y, epsilon):
    r = Z - Y
    return r * r, 2 * r


def log_loss_terms(Z, Y, epsilon):
    e = np.exp(-np.abs(Z))
    return np.maximum(Z, 0) + np.log1p(e) - Y * Z, sigmoid(Z) - Y


def softmax_log_loss_terms(Z, Y, epsilon):
    shift = Z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(Z - shift).sum(axis=1, keepdims=True)) + shift
    # the row's whole loss goes in its first element so that L.sum() is the total
    L = np.zeros_like(Z)
    L[:, 0] = (log_norm - (Z * Y).sum(axis=1, keepdims=True))[:, 0]
    return L, softmax(Z) - Y


def hinge_terms(Z, Y, epsilon):
    s = 2 * Y - 1
    margin = s * Z
    return np.maximum(0, 1 - margin), np.where(margin <= 1, -s, 0).astype(Z.dtype)


def sigmoid_squared_terms(Z, Y, epsilon):
    p = sigmoid(Z)
    r = p - Y
    return r * r, 2 * r * p * (1 - p)


def perceptron_terms(Z, Y, epsilon):
    s = 2 * Y - 1
    margin = s * Z
    return np.maximum(0, -margin), np.where(margin <= 0, -s, 0).astype(Z.dtype)


def squared_hinge_terms(Z, Y, epsilon):
    s = 2 * Y - 1
    gap = np.maximum(0, 1 - s * Z)
    return gap * gap, -2 * s * gap


def modified_huber_terms(Z, Y, epsilon):
    s = 2 * Y - 1
    margin = s * Z
    gap = np.maximum(0, 1 - margin)
    linear = margin < -1
    return (np.where(linear, -4 * margin, gap * gap),
            np.where(linear, -4 * s, -2 * s * gap).astype(Z.dtype))


def huber_terms(Z, Y, epsilon):
    r = Z - Y
    inside = np.abs(r) <= epsilon
    return (np.where(inside, r * r / 2, epsilon * np.abs(r) - epsilon * epsilon / 2),
            np.clip(r, -epsilon, epsilon).astype(Z.dtype))


def epsilon_insensitive_terms(Z, Y, epsilon):
    r = Z - Y
    return np.maximum(0, np.abs(r) - epsilon), (np.sign(r) * (np.abs(r) > epsilon)).astype(Z.dtype)


def squared_epsilon_insensitive_terms(Z, Y, epsilon):
    r = Z - Y
    excess = np.maximum(0, np.abs(r) - epsilon)
    return excess * excess, 2 * np.sign(r) * excess


class Loss(NamedTuple):
    """One loss: what the estimators, the gradient check, the tests and the kernels know of it."""

    name: str
    #: NumPy reference ``(Z, Y, epsilon) -> (L, D)`` on (m, k) scores and targets.
    reference: Callable
    #: Whether the loss is one of each element (else of each row, as softmax).
    elementwise: bool
    #: "regressor" or "classifier": the estimator that takes it (a classifier takes the regression
    #: losses too, on targets -1 and 1).
    task: str
    #: Bound on ``d2l/dz2`` for the "auto" step (hinge is not smooth; 1 treats it like a smooth
    #: loss of the same scale).
    curvature: float
    #: The link of ``predict_proba`` (SIGMOID, SOFTMAX), or None where the scores are no
    #: probabilities.
    proba_link: object
    #: The name of the loss trained for more than two classes (a classifier's one output per class).
    multiclass: str


LOSSES = (
    Loss("squared_error", squared_error_terms, True, "regressor", 2.0, None,
         "squared_error"),
    Loss("log_loss", log_loss_terms, True, "classifier", 0.25, SIGMOID, "softmax_log_loss"),
    Loss("softmax_log_loss", softmax_log_loss_terms, False, "classifier", 0.5, SOFTMAX,
         "softmax_log_loss"),
    Loss("hinge", hinge_terms, True, "classifier", 1.0, None, "hinge"),
    Loss("sigmoid_squared", sigmoid_squared_terms, True, "classifier", 0.5, SIGMOID,
         "sigmoid_squared"),
    Loss("perceptron", perceptron_terms, True, "classifier", 1.0, None, "perceptron"),
    Loss("squared_hinge", squared_hinge_terms, True, "classifier", 2.0, None, "squared_hinge"),
    Loss("modified_huber", modified_huber_terms, True, "classifier", 2.0, None, "modified_huber"),
    Loss("huber", huber_terms, True, "regressor", 1.0, None, "huber"),
    Loss("epsilon_insensitive", epsilon_insensitive_terms, True, "regressor", 1.0, None,
         "epsilon_insensitive"),
    Loss("squared_epsilon_insensitive", squared_epsilon_insensitive_terms, True, "regressor", 2.0,
         None, "squared_epsilon_insensitive"),
)
CODES = {loss.name: code for code, loss in enumerate(LOSSES)}
(SQUARED_ERROR, LOG_LOSS, SOFTMAX_LOG_LOSS, HINGE, SIGMOID_SQUARED, PERCEPTRON, SQUARED_HINGE,
 MODIFIED_HUBER, HUBER, EPSILON_INSENSITIVE, SQUARED_EPSILON_INSENSITIVE) = range(len(LOSSES))
#: The losses a user names: softmax is what log_loss becomes for more than two classes.
PUBLIC = {"regressor": tuple(loss.name for loss in LOSSES if loss.task == "regressor"),
          "classifier": tuple(loss.name for loss in LOSSES if loss.elementwise)}


class Rule(NamedTuple):
    """A loss as the compiled kernels take it: its code (its index in :data:`LOSSES`) and the
    ``epsilon`` of huber and the epsilon-insensitive losses (unused by the others)."""

    code: int
    epsilon: float = 0.0


def rule(name, n_outputs=1, epsilon=0.0):
    """The :class:`Rule` of the loss ``name`` trained with ``n_outputs`` scores per row."""
    code = CODES[LOSSES[CODES[name]].multiclass if n_outputs > 1 else name]
    return Rule(code, float(epsilon))


def on_signs(name):
    """Whether a classifier trains the loss ``name`` on targets -1 and 1 (a regression loss)."""
    return LOSSES[CODES[name]].task == "regressor"


def loss_terms(loss, Z, Y):
    """Return ``(L, D)``: per-element loss and its derivative, for scores and targets of shape
    (m, k); ``loss`` a :class:`Rule`."""
    check_code(loss.code)
    return LOSSES[loss.code].reference(Z, Y, Z.dtype.type(loss.epsilon))


# --- compiled kernels -------------------------------------------------------------------------
# Each loss's compiled terms are branches of _derivative and _loss_values_body, chosen by a constant
# code in each loop: LLVM vectorises a loop compiled for one loss, and does not unswitch a loop on a
# chain of codes (with the code a variable, the loss loops ran 3 to 8 times slower, measured).

N_LOSSES = len(LOSSES)


def check_code(loss):
    """Raise for a code outside :data:`LOSSES`, before a compiled kernel could run on it."""
    if not 0 <= loss < N_LOSSES:
        raise ValueError(f"unknown loss code {loss}: the codes are 0 to {N_LOSSES - 1}, the "
                         "indices of fastgd._kernels.losses.LOSSES")


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


@jit_inline
def _softmax_row(Z, r0, k, E):
    """Write ``exp(Z[r0 + c] - shift)`` to ``E[r0 + c]`` for the row of ``k`` scores at ``r0``, with
    ``shift`` the row's largest score (so that nothing overflows); return ``(shift, sum of E)``.
    ``E`` may be ``Z``. The row loop of the softmax link, its derivative and its loss."""
    shift = Z[r0]
    for c in range(1, k):
        shift = max(shift, Z[r0 + c])
    total = Z.dtype.type(0)
    for c in range(k):
        E[r0 + c] = exp_nonpositive(Z[r0 + c] - shift)
        total += E[r0 + c]
    return shift, total


@jit
def _apply_link(link, Z, size, k):
    """Apply the link in place to the first ``size`` flat row-major scores of ``Z`` (``k`` per row)."""
    one = Z.dtype.type(1)
    if link == SIGMOID:
        for t in range(size):
            Z[t] = _sigmoid(Z[t], one)
    elif link == SOFTMAX:
        for r0 in range(0, size, k):
            _, total = _softmax_row(Z, r0, k, Z)
            for c in range(k):
                Z[r0 + c] /= total
    elif link != IDENTITY:
        for t in range(size):
            Z[t] = (one - one) / (one - one)


@jit_inline
def _derivative(code, epsilon, z, y, one):
    """``dl/dz`` of one element, for every loss but softmax (whose derivative needs the whole row);
    ``one`` is 1 and ``epsilon`` the loss's epsilon, both in the dtype of ``z``; NaN for a code that
    has no such rule."""
    zero = one - one
    two = one + one
    if code == SQUARED_ERROR:
        return two * (z - y)
    if code == LOG_LOSS:
        return _sigmoid(z, one) - y
    if code == SIGMOID_SQUARED:
        p = _sigmoid(z, one)
        return two * (p - y) * p * (one - p)
    if code == HUBER:
        return min(max(z - y, -epsilon), epsilon)
    if code == EPSILON_INSENSITIVE:
        r = z - y
        return one if r > epsilon else (-one if r < -epsilon else zero)
    if code == SQUARED_EPSILON_INSENSITIVE:
        r = z - y
        return two * (r - epsilon) if r > epsilon else (two * (r + epsilon) if r < -epsilon
                                                         else zero)
    # the margin losses, of s = 2y - 1 (1 for the positive class, -1 for the other)
    s = two * y - one
    margin = s * z
    if code == HINGE:
        return -s if margin <= one else zero
    if code == PERCEPTRON:
        return -s if margin <= zero else zero
    if code == SQUARED_HINGE:
        return -two * s * (one - margin) if margin < one else zero
    if code == MODIFIED_HUBER:
        if margin >= one:
            return zero
        return -two * s * (one - margin) if margin >= -one else -(two + two) * s
    return zero / zero


@jit_inline
def _positive_part(x, zero):
    """``max(x, 0)``, NaN for a NaN ``x`` as NumPy's ``maximum``: numba's ``max`` keeps its first
    argument unless the second is greater, so ``max(0, nan)`` is 0, and a diverged score would
    leave a finite loss that the driver cannot catch."""
    return max(x, zero)


@jit_inline
def _loss_value(code, epsilon, z, y, one):
    """The loss of one element, for every loss but softmax and log_loss (which
    :func:`_loss_values_body` evaluates in loops of their own); NaN for any other code."""
    zero = one - one
    two = one + one
    if code == SQUARED_ERROR:
        r = z - y
        return r * r
    if code == SIGMOID_SQUARED:
        r = _sigmoid(z, one) - y
        return r * r
    if code == HUBER:
        r = abs(z - y)
        return r * r / two if r <= epsilon else epsilon * r - epsilon * epsilon / two
    if code == EPSILON_INSENSITIVE:
        return _positive_part(abs(z - y) - epsilon, zero)
    if code == SQUARED_EPSILON_INSENSITIVE:
        excess = _positive_part(abs(z - y) - epsilon, zero)
        return excess * excess
    margin = (two * y - one) * z
    if code == HINGE:
        return _positive_part(one - margin, zero)
    if code == PERCEPTRON:
        return _positive_part(-margin, zero)
    if code == SQUARED_HINGE:
        gap = _positive_part(one - margin, zero)
        return gap * gap
    if code == MODIFIED_HUBER:
        if margin < -one:
            return -(two + two) * margin
        gap = _positive_part(one - margin, zero)
        return gap * gap
    return zero / zero


def _loss_derivative_body(loss, Z, Y, D, start, stop, k):
    """Fill ``D[start:stop]`` with ``dl/dz`` for the flat row-major blocks ``Z``, ``Y`` (``k``
    outputs per row; ``start`` and ``stop`` are multiples of ``k``); ``loss`` a :class:`Rule`.

    The buffers are whole (not sliced) so that numba sees unit-stride arrays and vectorises."""
    one = Z.dtype.type(1)
    code = loss.code
    e = Z.dtype.type(loss.epsilon)
    if code == SOFTMAX_LOG_LOSS:
        for r0 in range(start, stop, k):
            _, total = _softmax_row(Z, r0, k, D)
            for c in range(k):
                D[r0 + c] = D[r0 + c] / total - Y[r0 + c]
    # a constant code in each loop, so that it compiles without a branch and vectorises
    elif code == SQUARED_ERROR:
        for t in range(start, stop):
            D[t] = _derivative(SQUARED_ERROR, e, Z[t], Y[t], one)
    elif code == LOG_LOSS:
        for t in range(start, stop):
            D[t] = _derivative(LOG_LOSS, e, Z[t], Y[t], one)
    elif code == HINGE:
        for t in range(start, stop):
            D[t] = _derivative(HINGE, e, Z[t], Y[t], one)
    elif code == SIGMOID_SQUARED:
        for t in range(start, stop):
            D[t] = _derivative(SIGMOID_SQUARED, e, Z[t], Y[t], one)
    else:
        # scikit-learn's other losses in one loop that branches on the code: a loop of its own
        # each, inlined into every block kernel, would double their compile time (measured: a
        # first mini-batch fit compiled in 80 s instead of 30)
        for t in range(start, stop):
            D[t] = _derivative(code, e, Z[t], Y[t], one)  # NaN for a code outside the table


def _loss_values_body(loss, Z, Y, L, start, stop, k):
    """Fill ``L[start:stop]`` with the loss of each element (for softmax, each row's loss in its
    first element and 0 in the others); ``loss`` a :class:`Rule`."""
    zero = Z.dtype.type(0)
    one = Z.dtype.type(1)
    code = loss.code
    e = Z.dtype.type(loss.epsilon)
    if code == LOG_LOSS:
        for t in range(start, stop):
            z = Z[t]
            L[t] = max(z, zero) + log1p_unit(exp_nonpositive(-abs(z))) - Y[t] * z
    elif code == SOFTMAX_LOG_LOSS:
        for r0 in range(start, stop, k):
            shift, total = _softmax_row(Z, r0, k, L)
            dot = zero
            for c in range(k):
                dot += Z[r0 + c] * Y[r0 + c]
                L[r0 + c] = zero
            L[r0] = np.log(total) + shift - dot
    # a constant code in each loop, as in _loss_derivative_body
    elif code == SQUARED_ERROR:
        for t in range(start, stop):
            L[t] = _loss_value(SQUARED_ERROR, e, Z[t], Y[t], one)
    elif code == HINGE:
        for t in range(start, stop):
            L[t] = _loss_value(HINGE, e, Z[t], Y[t], one)
    elif code == SIGMOID_SQUARED:
        for t in range(start, stop):
            L[t] = _loss_value(SIGMOID_SQUARED, e, Z[t], Y[t], one)
    else:  # scikit-learn's other losses, in one loop as in _loss_derivative_body
        for t in range(start, stop):
            L[t] = _loss_value(code, e, Z[t], Y[t], one)  # NaN for a code outside the table


_loss_derivative = jit(_loss_derivative_body)
_loss_values = jit(_loss_values_body)
# the block loops call this once per block of rows, where a call's passing of four arrays would
# cost about as much as the rows themselves
_loss_derivative_inline = jit_inline(renamed(_loss_derivative_body, "_loss_derivative_inline"))


def _loss_terms_body(loss, Z, Y, L, D, size, k):
    """Fill ``L`` and ``D`` for the first ``size`` elements of the flat blocks ``Z``, ``Y``; the log
    loss in one pass, whose loss and derivative share one ``exp(-|z|)``."""
    if loss.code == LOG_LOSS:
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
