"""Losses: one table, :data:`LOSSES`, each entry a loss's name, NumPy reference, compiled scalar
rule and the facts the estimators need; and the links that turn scores into predictions.

A loss is named by its code, its index in :data:`LOSSES`, and reaches the compiled kernels as a
:func:`Rule`, an instance of a numba type of its own: a kernel compiles for the one loss it is
called with, with no branch on the loss in its loops. An unknown code raises in :func:`Rule`,
before any kernel sees it.

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

To add a loss: its NumPy reference, its two scalar rules ``(z, y, e, one)`` and its entry in
:data:`LOSSES` (CONTRIBUTING.md has the steps).
"""

from typing import Callable, NamedTuple

import numpy as np

from numba.extending import overload

from ..config import jit, jit_inline
from . import entry_type
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


def check_link(link):
    """Raise for a link outside IDENTITY, SIGMOID, SOFTMAX, before a compiled kernel sees it."""
    if link not in (IDENTITY, SIGMOID, SOFTMAX):
        raise ValueError(f"unknown link {link}: the links are IDENTITY, SIGMOID and SOFTMAX of "
                         "fastgd._kernels.losses")


def apply_link(link, Z):
    """Return the link applied to scores ``Z`` of shape (m, k)."""
    check_link(link)
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


# --- compiled scalar rules ------------------------------------------------------------------
# ``(z, y, e, one) -> value``: the loss or ``dl/dz`` of one element, with ``e`` the loss's epsilon
# and ``one`` 1, both in the dtype of ``z``. The margin losses see ``s = 2y - 1`` (1 for the
# positive class, -1 for the other).

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
def _positive_part(x, zero):
    """``max(x, 0)``, NaN for a NaN ``x`` as NumPy's ``maximum``: numba's ``max`` keeps its first
    argument unless the second is greater, so ``max(0, nan)`` is 0, and a diverged score would
    leave a finite loss that the driver cannot catch."""
    return max(x, zero)


def _squared_error_loss(z, y, e, one):
    return (z - y) * (z - y)


def _squared_error_derivative(z, y, e, one):
    return (one + one) * (z - y)


def _log_loss_loss(z, y, e, one):
    return _positive_part(z, one - one) + log1p_unit(exp_nonpositive(-abs(z))) - y * z


def _log_loss_derivative(z, y, e, one):
    return _sigmoid(z, one) - y


def _log_loss_terms(z, y, e, one):
    """Both at once: the loss and the derivative share one ``exp(-|z|)``."""
    ez = exp_nonpositive(-abs(z))
    return _positive_part(z, one - one) + log1p_unit(ez) - y * z, _sigmoid_given(z, ez, one) - y


def _hinge_loss(z, y, e, one):
    return _positive_part(one - (y + y - one) * z, one - one)


def _hinge_derivative(z, y, e, one):
    s = y + y - one
    return -s if s * z <= one else one - one


def _sigmoid_squared_loss(z, y, e, one):
    r = _sigmoid(z, one) - y
    return r * r


def _sigmoid_squared_derivative(z, y, e, one):
    p = _sigmoid(z, one)
    return (one + one) * (p - y) * p * (one - p)


def _perceptron_loss(z, y, e, one):
    return _positive_part(-(y + y - one) * z, one - one)


def _perceptron_derivative(z, y, e, one):
    s = y + y - one
    return -s if s * z <= 0 else one - one


def _squared_hinge_loss(z, y, e, one):
    gap = _positive_part(one - (y + y - one) * z, one - one)
    return gap * gap


def _squared_hinge_derivative(z, y, e, one):
    s = y + y - one
    margin = s * z
    return -(one + one) * s * (one - margin) if margin < one else one - one


def _modified_huber_loss(z, y, e, one):
    margin = (y + y - one) * z
    if margin < -one:
        return -(one + one + one + one) * margin
    gap = _positive_part(one - margin, one - one)
    return gap * gap


def _modified_huber_derivative(z, y, e, one):
    s = y + y - one
    margin = s * z
    if margin >= one:
        return one - one
    return -(one + one) * s * (one - margin) if margin >= -one else -(one + one + one + one) * s


def _huber_loss(z, y, e, one):
    r = abs(z - y)
    return r * r / (one + one) if r <= e else e * r - e * e / (one + one)


def _huber_derivative(z, y, e, one):
    return min(max(z - y, -e), e)


def _epsilon_insensitive_loss(z, y, e, one):
    return _positive_part(abs(z - y) - e, one - one)


def _epsilon_insensitive_derivative(z, y, e, one):
    r = z - y
    return one if r > e else (-one if r < -e else one - one)


def _squared_epsilon_insensitive_loss(z, y, e, one):
    excess = _positive_part(abs(z - y) - e, one - one)
    return excess * excess


def _squared_epsilon_insensitive_derivative(z, y, e, one):
    r = z - y
    return (one + one) * (r - e) if r > e else ((one + one) * (r + e) if r < -e else one - one)


def _softmax_log_loss_rows():
    """Softmax is a loss of whole rows, with no scalar rule: :func:`_softmax_terms` and
    :func:`_softmax_derivatives` evaluate it a row at a time."""


class Loss(NamedTuple):
    """One loss: what the estimators, the gradient check, the tests and the kernels know of it."""

    name: str
    #: NumPy reference ``(Z, Y, epsilon) -> (L, D)`` on (m, k) scores and targets.
    reference: Callable
    #: Compiled scalar rules ``(z, y, e, one)``: the loss of one element and its ``dl/dz``; None
    #: for a loss of whole rows (softmax), which the kernels evaluate a row at a time.
    loss: Callable
    derivative: Callable
    #: "regressor" or "classifier": the estimator that takes it (a classifier takes the regression
    #: losses too, on targets -1 and 1).
    task: str
    #: Bound on ``d2l/dz2`` for the "auto" step (hinge is not smooth; 1 treats it like a smooth
    #: loss of the same scale).
    curvature: float
    #: The link of ``predict_proba`` (SIGMOID, SOFTMAX), or None where the scores are no
    #: probabilities.
    proba_link: object = None
    #: The name of the loss trained for more than two classes (a classifier's one output per
    #: class); None: the loss itself, one output per class.
    multiclass: str = None
    #: ``(z, y, e, one) -> (loss, dl/dz)`` where the two share work; None: the two rules.
    terms: Callable = None

    @property
    def elementwise(self):
        """Whether the loss is one of each element (else of each row, as softmax)."""
        return self.derivative is not None


LOSSES = (
    Loss("squared_error", squared_error_terms, _squared_error_loss, _squared_error_derivative,
         "regressor", 2.0),
    Loss("log_loss", log_loss_terms, _log_loss_loss, _log_loss_derivative, "classifier", 0.25,
         SIGMOID, "softmax_log_loss", _log_loss_terms),
    Loss("softmax_log_loss", softmax_log_loss_terms, None, None, "classifier", 0.5, SOFTMAX),
    Loss("hinge", hinge_terms, _hinge_loss, _hinge_derivative, "classifier", 1.0),
    Loss("sigmoid_squared", sigmoid_squared_terms, _sigmoid_squared_loss,
         _sigmoid_squared_derivative, "classifier", 0.5, SIGMOID),
    Loss("perceptron", perceptron_terms, _perceptron_loss, _perceptron_derivative, "classifier",
         1.0),
    Loss("squared_hinge", squared_hinge_terms, _squared_hinge_loss, _squared_hinge_derivative,
         "classifier", 2.0),
    Loss("modified_huber", modified_huber_terms, _modified_huber_loss, _modified_huber_derivative,
         "classifier", 2.0),
    Loss("huber", huber_terms, _huber_loss, _huber_derivative, "regressor", 1.0),
    Loss("epsilon_insensitive", epsilon_insensitive_terms, _epsilon_insensitive_loss,
         _epsilon_insensitive_derivative, "regressor", 1.0),
    Loss("squared_epsilon_insensitive", squared_epsilon_insensitive_terms,
         _squared_epsilon_insensitive_loss, _squared_epsilon_insensitive_derivative, "regressor",
         2.0),
)
CODES = {loss.name: code for code, loss in enumerate(LOSSES)}
(SQUARED_ERROR, LOG_LOSS, SOFTMAX_LOG_LOSS, HINGE, SIGMOID_SQUARED, PERCEPTRON, SQUARED_HINGE,
 MODIFIED_HUBER, HUBER, EPSILON_INSENSITIVE, SQUARED_EPSILON_INSENSITIVE) = range(len(LOSSES))
#: The losses a user names: softmax is what log_loss becomes for more than two classes.
PUBLIC = {"regressor": tuple(loss.name for loss in LOSSES if loss.task == "regressor"),
          "classifier": tuple(loss.name for loss in LOSSES if loss.elementwise)}
N_LOSSES = len(LOSSES)


#: The rule type of each loss, by code: a named tuple of its ``epsilon`` whose class is the loss.
RULE_TYPES = tuple(
    entry_type(globals(), "".join(part.title() for part in loss.name.split("_")) + "Rule",
               [("epsilon", float)], f"The {loss.name} loss as the kernels take it.", code=code)
    for code, loss in enumerate(LOSSES))


def Rule(code, epsilon=0.0):
    """A loss as the compiled kernels take it: an instance of its rule type (its code is
    ``.code``), holding the ``epsilon`` of huber and the epsilon-insensitive losses (unused by the
    others). An unknown code raises here, before any kernel sees it."""
    if not 0 <= code < N_LOSSES:
        raise ValueError(f"unknown loss code {code}: the codes are 0 to {N_LOSSES - 1}, the "
                         "indices of fastgd._kernels.losses.LOSSES")
    return RULE_TYPES[code](float(epsilon))


def rule(name, n_outputs=1, epsilon=0.0):
    """The rule of the loss ``name`` trained with ``n_outputs`` scores per row."""
    loss = LOSSES[CODES[name]]
    return Rule(CODES[loss.multiclass or name] if n_outputs > 1 else CODES[name], epsilon)


def on_signs(name):
    """Whether a classifier trains the loss ``name`` on targets -1 and 1 (a regression loss)."""
    return LOSSES[CODES[name]].task == "regressor"


def loss_terms(loss, Z, Y):
    """Return ``(L, D)``: per-element loss and its derivative, for scores and targets of shape
    (m, k); ``loss`` a rule (:func:`Rule`)."""
    return LOSSES[loss.code].reference(Z, Y, Z.dtype.type(loss.epsilon))


# --- compiled kernels -------------------------------------------------------------------------
# The kernels reach a loss only through the functions below, each an ``overload`` on the rule's
# type: a kernel compiled for the log loss holds the log loss's code and nothing else, and its
# loops have no branch on the loss left, so they vectorise.

def _loss_of(rule_type):
    """The :data:`LOSSES` entry of a numba rule type (None for another type)."""
    cls = getattr(rule_type, "instance_class", None)
    return LOSSES[cls.code] if cls in RULE_TYPES else None


def _elementwise(rule_type):
    loss = _loss_of(rule_type)
    return loss is not None and loss.elementwise


def element_derivative(loss, z, y, one):
    """``dl/dz`` of one element (compiled only, for a loss of each element)."""


def element_loss(loss, z, y, one):
    """The loss of one element (compiled only, for a loss of each element)."""


def element_terms(loss, z, y, one):
    """``(loss, dl/dz)`` of one element (compiled only, for a loss of each element)."""


_compiled_rules = {}


def _compiled(rule):
    """The compiled form of a scalar rule, made once."""
    if rule not in _compiled_rules:
        _compiled_rules[rule] = jit(rule)
    return _compiled_rules[rule]


def _scalar_overload(rules):
    """The typer of a scalar function whose compiled form applies ``rules(loss)``: one rule, or
    the loss's and the derivative's to return both."""
    def typer(loss, z, y, one):
        if not _elementwise(loss):
            return None
        dtype = one  # the numba type of the scores: a cast in the compiled code
        fns = [_compiled(rule) for rule in rules(_loss_of(loss))]
        if len(fns) == 1:
            fn = fns[0]

            def impl(loss, z, y, one):
                return fn(z, y, dtype(loss.epsilon), one)
            return impl
        value, derivative = fns

        def both(loss, z, y, one):
            e = dtype(loss.epsilon)
            return value(z, y, e, one), derivative(z, y, e, one)
        return both
    return typer


overload(element_derivative)(_scalar_overload(lambda loss: [loss.derivative]))
overload(element_loss)(_scalar_overload(lambda loss: [loss.loss]))
overload(element_terms)(_scalar_overload(
    lambda loss: [loss.terms] if loss.terms else [loss.loss, loss.derivative]))


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


def _apply_link_body(link, Z, size, k):
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


_apply_link = jit(_apply_link_body)


def loss_derivatives(loss, Z, Y, D, start, stop, k):
    """Fill ``D[start:stop]`` with ``dl/dz`` for the flat row-major blocks ``Z``, ``Y`` (``k``
    outputs per row; ``start`` and ``stop`` are multiples of ``k``); ``loss`` a rule. Compiled only:
    inlined into the kernels.

    The buffers are whole (not sliced) so that numba sees unit-stride arrays and vectorises."""


def loss_values(loss, Z, Y, L, start, stop, k):
    """Fill ``L[start:stop]`` with the loss of each element (for softmax, each row's loss in its
    first element and 0 in the others). Compiled only."""


def loss_values_and_derivatives(loss, Z, Y, L, D, size, k):
    """Fill ``L`` and ``D`` for the first ``size`` elements of the flat blocks ``Z``, ``Y``.
    Compiled only."""


@overload(loss_derivatives, inline="always")
def _loss_derivatives(loss, Z, Y, D, start, stop, k):
    if _elementwise(loss):
        def impl(loss, Z, Y, D, start, stop, k):
            one = Z.dtype.type(1)
            for t in range(start, stop):
                D[t] = element_derivative(loss, Z[t], Y[t], one)
        return impl
    if _loss_of(loss) is not None:  # softmax
        def softmax_impl(loss, Z, Y, D, start, stop, k):
            for r0 in range(start, stop, k):
                _, total = _softmax_row(Z, r0, k, D)
                for c in range(k):
                    D[r0 + c] = D[r0 + c] / total - Y[r0 + c]
        return softmax_impl


@overload(loss_values)
def _loss_values_overload(loss, Z, Y, L, start, stop, k):
    if _elementwise(loss):
        def impl(loss, Z, Y, L, start, stop, k):
            one = Z.dtype.type(1)
            for t in range(start, stop):
                L[t] = element_loss(loss, Z[t], Y[t], one)
        return impl
    if _loss_of(loss) is not None:
        def softmax_impl(loss, Z, Y, L, start, stop, k):
            zero = Z.dtype.type(0)
            for r0 in range(start, stop, k):
                shift, total = _softmax_row(Z, r0, k, L)
                dot = zero
                for c in range(k):
                    dot += Z[r0 + c] * Y[r0 + c]
                    L[r0 + c] = zero
                L[r0] = np.log(total) + shift - dot
        return softmax_impl


@overload(loss_values_and_derivatives)
def _loss_values_and_derivatives(loss, Z, Y, L, D, size, k):
    if _elementwise(loss):
        def impl(loss, Z, Y, L, D, size, k):
            one = Z.dtype.type(1)
            for t in range(size):
                L[t], D[t] = element_terms(loss, Z[t], Y[t], one)
        return impl
    if _loss_of(loss) is not None:
        # the derivatives called, not inlined: a second inlined copy of the softmax row in one
        # function trips numba's SSA checks (NumbaIRAssumptionWarning)
        def softmax_impl(loss, Z, Y, L, D, size, k):
            loss_values(loss, Z, Y, L, 0, size, k)
            _loss_derivative(loss, Z, Y, D, 0, size, k)
        return softmax_impl


# the overloads as functions of their own: the tests call them, and code that may not inline a
# second softmax row
@jit
def _loss_derivative(loss, Z, Y, D, start, stop, k):
    loss_derivatives(loss, Z, Y, D, start, stop, k)


@jit
def _loss_values(loss, Z, Y, L, start, stop, k):
    loss_values(loss, Z, Y, L, start, stop, k)


@jit
def _loss_terms(loss, Z, Y, L, D, size, k):
    loss_values_and_derivatives(loss, Z, Y, L, D, size, k)


@jit
def _derivative(loss, z, y):
    """``dl/dz`` of one element through :func:`loss_derivatives`, for the tests."""
    Z, Y = np.full(1, z), np.full(1, y)
    D = np.empty_like(Z)
    loss_derivatives(loss, Z, Y, D, 0, 1, 1)
    return D[0]
