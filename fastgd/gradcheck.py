"""Analytic gradients against numerical ones.

The tutorials fastgd grew from contrast the numerical gradient, slow and approximate, with the exact
analytic one, and one of them printed a loss beside a gradient that was not its derivative.
:func:`gradcheck` measures how far an analytic gradient is from two finite differences of the
objective fastgd trains,

- forward: ``(f(w + h e_i) - f(w)) / h``, error of order ``h``;
- central: ``(f(w + h e_i) - f(w - h e_i)) / (2 h)``, error of order ``h**2``,

where ``f(w) = mean_i sw_i l(x_i . w + b, y_i) + alpha / 2 * ||w||**2`` is evaluated by the same
NumPy reference kernels that the compiled kernels are tested against.
"""

from numbers import Real
from typing import NamedTuple

import numpy as np
from sklearn.base import clone
from sklearn.utils import check_X_y

from ._kernels import losses
from ._kernels.data import Data
from ._kernels.linear import finish_gradient, loss_gradient
from .linear import GDClassifier, GDRegressor, _BaseGD, _check_init

#: loss name a user may pass -> estimator that trains it, from the losses table (a regression
#: loss stands for the regressor, though the classifier takes it too)
_LOSSES = {**dict.fromkeys(losses.PUBLIC["classifier"], GDClassifier),
           **dict.fromkeys(losses.PUBLIC["regressor"], GDRegressor)}


class GradcheckResult(NamedTuple):
    """Relative errors ``||g - n|| / (||g|| + ||n||)`` of an analytic gradient ``g`` against the
    forward- and central-difference gradients ``n`` (0 when both are zero)."""

    forward: float
    central: float


def gradcheck(estimator, X, y, *, coef=None, intercept=None, sample_weight=None, gradient=None,
              h=1e-6):
    """Compare an analytic gradient of a fastgd loss with its numerical gradient.

    Parameters
    ----------
    estimator : GDClassifier, GDRegressor or str
        Fitted or not; its ``loss``, ``epsilon``, ``penalty``, ``alpha``, ``l1_ratio`` and
        ``fit_intercept`` define the objective (the L1 part's subgradient is ``sign(w)``). A loss
        name (any of the estimators', e.g. "squared_error", "log_loss", "hinge") stands for an
        estimator with that loss and default parameters (the regressor for a regression loss).
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
        Targets, or class labels for a classifier.
    coef, intercept : array-like, optional
        The point at which to compare, shaped like the estimator's ``coef_`` and ``intercept_``.
        By default the fitted weights, or for an unfitted estimator a random point (seed 0) at which
        the scores ``x . w + b`` are of order 1.
    sample_weight : array-like of shape (n_samples,), optional
    gradient : callable, optional
        ``gradient(coef, intercept) -> (coef_gradient, intercept_gradient)`` to check instead of
        fastgd's own, for example a gradient written by hand for a tutorial. The intercept's
        gradient is not checked when ``fit_intercept=False``.
    h : float
        Finite-difference step. Its default suits both differences in float64; for a hinge loss, a
        point closer than ``h`` to a kink (a margin of exactly 1) has no derivative to compare.

    Returns
    -------
    GradcheckResult
        ``forward`` and ``central`` relative errors. A correct gradient gives about ``h`` (forward)
        and ``1e-8`` or less (central); a wrong one gives errors of order 1.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> X, y = make_blobs(n_samples=200, centers=2, random_state=0)
    >>> result = gradcheck("sigmoid_squared", X, y)
    >>> result.central < 1e-7
    True
    """
    if not (isinstance(h, Real) and 0 < h < 1):
        raise ValueError(f"h must be a float between 0 and 1, got {h!r}.")
    estimator = _as_estimator(estimator)
    objective, (k, d) = _training_objective(estimator, X, y, sample_weight)
    P = _start_point(estimator, coef, intercept, X, k, d)
    base, G = objective(P)
    if gradient is not None:
        G = _pack(estimator, *gradient(*_unpack(estimator, P)), k, d,
                  names=("the coef gradient", "the intercept gradient"))
    free = (slice(None), slice(None) if estimator.fit_intercept else slice(-1))
    forward, central = np.zeros_like(P), np.zeros_like(P)
    for index in np.ndindex(P[free].shape):
        step = np.zeros_like(P)
        step[index] = h
        after, _ = objective(P + step)
        before, _ = objective(P - step)
        forward[index] = (after - base) / h
        central[index] = (after - before) / (2 * h)
    return GradcheckResult(_relative_error(G[free], forward[free]),
                           _relative_error(G[free], central[free]))


def _as_estimator(estimator):
    if isinstance(estimator, str):
        if estimator not in _LOSSES:
            raise ValueError(f"unknown loss {estimator!r}: choose one of {', '.join(_LOSSES)}, or "
                             "pass a GDClassifier or GDRegressor.")
        estimator = _LOSSES[estimator](loss=estimator)
    if not isinstance(estimator, _BaseGD):
        raise ValueError("gradcheck takes a GDClassifier, a GDRegressor or a loss name "
                         f"({', '.join(_LOSSES)}), got {type(estimator).__name__}.")
    estimator._validate_params()
    return estimator


def _training_objective(estimator, X, y, sample_weight=None):
    """Return ``(objective, (k, d))`` for the loss an estimator trains on ``(X, y)``.

    ``objective(P) -> (loss, gradient)`` takes parameters ``P`` of shape (k, d + 1), each row an
    output's ``d`` weights followed by its intercept, and returns the training loss (the value
    ``loss_history_`` records for full-batch training) and its gradient (zero for the intercept when
    it is not fitted), in float64.
    """
    X, y = check_X_y(X, y, dtype=np.float64, order="C",
                     y_numeric=isinstance(estimator, GDRegressor))
    # a clone, because encoding the targets sets ``classes_`` on the estimator it runs on
    encoder = clone(estimator)
    Y, loss, class_sw = encoder._targets(y, np.float64, first_call=True)
    sw = encoder._sample_weight(sample_weight, X, class_sw)
    n = len(X)
    l2, l1 = estimator._penalties()
    data = Data(X, Y, sw)

    def objective(P):
        total, G = loss_gradient(data, P, loss)
        finish_gradient(G, P, n, l2, float(estimator.fit_intercept))
        W = P[:, :-1]
        G[:, :-1] += l1 * np.sign(W)
        return total / n + 0.5 * l2 * float(np.sum(W ** 2)) + l1 * float(np.abs(W).sum()), G

    return objective, (Y.shape[1], X.shape[1])


def _pack(estimator, coef, intercept, k, d, names=("coef", "intercept")):
    """Return the float64 parameters (k, d + 1) of weights shaped like the estimator's ``coef_`` and
    ``intercept_`` (the intercept may be a scalar); ``names`` name the arguments in errors."""
    P = np.empty((k, d + 1))
    P[:, :-1] = _check_init(names[0], coef, (k, d), estimator._coef_shape(k, d))
    P[:, -1] = _check_init(names[1], intercept, (k,), (k,))
    return P


def _unpack(estimator, P):
    """Return ``(coef, intercept)`` from parameters ``P``, shaped like the fitted attributes."""
    k, d = P.shape[0], P.shape[1] - 1
    return P[:, :-1].reshape(estimator._coef_shape(k, d)).copy(), P[:, -1].copy()


def _start_point(estimator, coef, intercept, X, k, d):
    """The given weights, else the fitted ones, else random ones."""
    # scores of order 1 keep sigmoid losses out of saturation, where the gradient is too small for
    # a finite difference to resolve
    squared_norms = np.sum(np.square(np.asarray(X, dtype=np.float64)), axis=1)
    scale = 1 / np.sqrt(1 + squared_norms.mean())
    random = np.random.default_rng(0).standard_normal((k, d + 1)) * scale
    if coef is None:
        coef = getattr(estimator, "coef_", random[:, :-1])
    if intercept is None:
        intercept = getattr(estimator, "intercept_", random[:, -1])
    return _pack(estimator, coef, intercept, k, d)


def _relative_error(analytic, numerical):
    norm = np.linalg.norm(analytic) + np.linalg.norm(numerical)
    return 0.0 if norm == 0 else float(np.linalg.norm(analytic - numerical) / norm)
