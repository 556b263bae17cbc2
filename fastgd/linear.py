"""Linear models trained by gradient descent: :class:`GDRegressor` and :class:`GDClassifier`."""

import numpy as np
import scipy.sparse as sp
from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from . import backends
from ._base import (CLASS_WEIGHT_PARAMETER, COMMON_ATTRIBUTES, COMMON_PARAMETERS, COMMON_DEFAULTS,
                    BaseGD, ClassifierTargets, dask_rows, keyword_init, validate_input)
from ._driver import Epochs
from ._kernels import linear as linear_kernels
from ._kernels import losses, optim
from ._kernels.data import Data, kernel_data, squared_row_norms
from ._kernels.linear import Linear, _loss_gradient, loss_gradient, scratch

_CHUNK_ROWS = 65_536


def auto_learning_rate(X, sw, loss, optimizer, momentum, fit_intercept, alpha):
    """Step size for ``learning_rate="auto"``.

    For the gradient-scaled optimizers ``(1 - momentum) / L``, with
    ``L = c * max_i sw_i ||x_i||^2 + alpha`` bounding the Lipschitz constant of every sample's weighted
    gradient (``c`` the loss's curvature bound; ``||x_i||^2`` counts the intercept's constant
    feature). Like scikit-learn's SAG "auto" step it is stable for any batch size and any scaling of
    X, where a fixed default would diverge on unscaled data. The adaptive optimizers take torch's
    default rates.
    """
    rule = optim.OPTIMIZERS[optimizer]
    if rule.default_rate is not None:
        return rule.default_rate
    if sp.issparse(X):
        largest = float((sw * (squared_row_norms(X) + fit_intercept)).max())
    else:
        largest = 0.0
        for lo in range(0, X.shape[0], _CHUNK_ROWS):  # in chunks: temporaries of a few rows
            chunk = X[lo:lo + _CHUNK_ROWS]
            squared_norms = np.einsum("ij,ij->i", chunk, chunk, dtype=np.float64) + fit_intercept
            largest = max(largest, float((sw[lo:lo + _CHUNK_ROWS] * squared_norms).max()))
    lipschitz = losses.LOSSES[loss].curvature * largest + alpha
    return (1.0 - momentum if rule.damped else 1.0) / lipschitz


def mean_loss(backend, data, P, loss):
    """Mean weighted loss of ``P`` on ``data``, computed by the kernels of ``backend`` (a name)."""
    n = len(data.Y)
    if backend == "numpy":
        return loss_gradient(data, P, loss)[0] / n
    G, buf = scratch(1, P)
    return _loss_gradient(kernel_data(data), np.arange(n, dtype=np.int64), 0, n, P, loss, G, buf) / n


class LinearEpochs(Epochs):
    """Epochs of a linear model ``P`` (k, d + 1) on ``X``, ``Y``, ``sw`` (see :class:`Epochs`)."""

    kernels = linear_kernels

    def __init__(self, backend, X, Y, sw, P, state, *, loss, optimizer, hyper, alpha,
                 fit_intercept):
        super().__init__(backend, Data(X, Y, sw), P, state,
                         lambda P, l2, decay: Linear(P, loss, fit_intercept, l2, decay),
                         optimizer=optimizer, hyper=hyper, alpha=alpha)

    def penalty(self):
        W = self.params[:, :-1]
        return 0.5 * self.alpha * float(np.sum(W * W)) if self.alpha else 0.0

    def validation_loss(self, X, Y, sw):
        return mean_loss(self.backend.name, Data(X, Y, sw), self.params, self.model.loss)


class _BaseGD(BaseGD):
    """Linear models: parameters ``P`` (k, d + 1), the "auto" step, and predictions."""

    _family = "linear"
    _parameter_constraints = {**BaseGD._parameter_constraints, "fit_intercept": ["boolean"],
                              "backend": [StrOptions(set(backends.LINEAR))]}

    def _epochs(self, X, Y, sw, P, loss):
        return LinearEpochs(self._backend, X, Y, sw, P, self._state, loss=loss,
                            optimizer=self._optimizer, hyper=self._hyper(),
                            alpha=float(self.alpha), fit_intercept=self.fit_intercept)

    def _auto_learning_rate(self, X, sw, loss):
        return auto_learning_rate(X, sw, loss, self._optimizer, self.momentum, self.fit_intercept,
                                  self.alpha)

    def _same_shape(self, k, d):
        return self.coef_.size == k * d and len(self.intercept_) == k

    def _initial_params(self, dtype, k, d, warm, coef_init=None, intercept_init=None):
        """Parameters ``P`` (k, d + 1): zeros, the given initial values, or the fitted ones."""
        P = np.zeros((k, d + 1), dtype=dtype)
        if warm:
            P[:, :-1] = self.coef_.reshape(k, d)
            P[:, -1] = self.intercept_
        if coef_init is not None:
            P[:, :-1] = _check_init("coef_init", coef_init, (k, d), self._coef_shape(k, d))
        if intercept_init is not None:
            P[:, -1] = _check_init("intercept_init", intercept_init, (k,), (k,))
        return P

    def _set_params(self, P):
        k, d1 = P.shape
        self.coef_ = P[:, :-1].reshape(self._coef_shape(k, d1 - 1)).copy()
        self.intercept_ = P[:, -1].copy()

    # --- prediction ------------------------------------------------------------------------

    def _forward(self, X, link):
        """Return ``link(X @ coef_.T + intercept_)`` of shape (n, k) with the fitted backend."""
        check_is_fitted(self)
        X = validate_input(self, X, reset=False)
        P = np.hstack([self.coef_.reshape(len(self.intercept_), -1), self.intercept_[:, None]])
        model = Linear(P.astype(X.dtype), 0, self.fit_intercept, 0.0, 0.0)
        backend = self._backend
        return backend.forward(X, model, link, backend.threads())


def _check_init(name, value, shape, user_shape):
    value = np.asarray(value, dtype=np.float64)
    if value.size != np.prod(shape) or value.shape not in (shape, user_shape, ()):
        raise ValueError(f"{name} must have shape {user_shape}, got {value.shape}.")
    if not np.isfinite(value).all():
        raise ValueError(f"{name} contains NaN or infinity.")
    return value.reshape(shape)


_LINEAR_PARAMETERS = """\
    learning_rate : float > 0 or "auto"
        Step size. "auto": for sgd, momentum and nesterov ``(1 - momentum) / L`` with ``L`` a bound
        on the curvature of every sample's loss (``2 max_i ||x_i||^2`` for squared error), which
        cannot diverge whatever the scale of X; for the adaptive optimizers torch's defaults
        (0.01 for adagrad and rmsprop, 0.001 for adam and adamw).
    fit_intercept : bool
        Learn the intercept. When False it is held at ``intercept_init`` (default 0).
""" + COMMON_PARAMETERS.format(backend=backends.parameter_doc("linear"),
                               seeded="the shuffle and the validation split",
                               weights="``coef_`` and ``intercept_``")


class GDRegressor(RegressorMixin, _BaseGD):
    __doc__ = f"""Linear regression trained by gradient descent.

    Minimises ``mean_i sw_i (x_i . w + b - y_i)**2 + alpha / 2 * ||w||**2`` by full-batch, stochastic
    or mini-batch gradient descent with the chosen optimizer.

    Parameters
    ----------
    loss : {{"squared_error"}}
        The mean of squared residuals; its gradient is ``2/n X.T @ (p - y)``.
{_LINEAR_PARAMETERS}
    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : ndarray of shape (1,)
{COMMON_ATTRIBUTES}"""

    _parameter_constraints = {**_BaseGD._parameter_constraints,
                              "loss": [StrOptions(set(losses.PUBLIC["regressor"]))]}

    __init__ = keyword_init({"loss": "squared_error"}, {**COMMON_DEFAULTS, "fit_intercept": True})

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, coef_init=None, intercept_init=None):
        """Fit to ``X`` (n_samples, n_features) and ``y`` (n_samples,), starting from zeros or from
        ``coef_init`` (n_features,) and ``intercept_init`` (a float)."""
        return self._fit(X, y, sample_weight, coef_init=coef_init, intercept_init=intercept_init)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Run one epoch over ``X``, ``y``, continuing from the previous call."""
        return self._partial_fit(X, y, None, sample_weight)

    def _targets(self, y, dtype, first_call, classes=None):
        return self._encode(y, dtype), self._loss_code(1), None

    def _encode(self, y, dtype):
        return y.astype(dtype).reshape(-1, 1)

    def _loss_code(self, k):
        return losses.code(self.loss)

    @staticmethod
    def _coef_shape(k, d):
        return (d,)

    @dask_rows
    def predict(self, X):
        """Return ``X @ coef_ + intercept_``, shape (n_samples,)."""
        return self._forward(X, losses.IDENTITY)[:, 0]


def _has_proba(estimator):
    code = losses.CODES.get(estimator.loss)
    if code is None or losses.LOSSES[code].proba_link is None:
        raise AttributeError(f"probability estimates are not available for loss={estimator.loss!r}")
    return True


class GDClassifier(ClassifierMixin, ClassifierTargets, _BaseGD):
    __doc__ = f"""Linear classifier trained by gradient descent, binary or multi-class.

    Two classes are one score ``z = x . w + b``; more are one score per class, trained jointly
    through a softmax for ``log_loss`` and one-vs-rest for the other losses.

    Parameters
    ----------
    loss : {{"log_loss", "hinge", "sigmoid_squared"}}
        ``log_loss`` is logistic regression (softmax for more than two classes); ``hinge`` a linear
        SVM; ``sigmoid_squared`` the squared error of the sigmoid output, the classic tutorials'
        first model, trained with its true gradient ``2 (p - y) p (1 - p) x``.
{_LINEAR_PARAMETERS}{CLASS_WEIGHT_PARAMETER}
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) for two classes, else (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
{COMMON_ATTRIBUTES}"""

    _parameter_constraints = {**_BaseGD._parameter_constraints,
                              **ClassifierTargets._parameter_constraints,
                              "loss": [StrOptions(set(losses.PUBLIC["classifier"]))]}

    __init__ = keyword_init({"loss": "log_loss"}, {**COMMON_DEFAULTS, "fit_intercept": True,
                                                   "class_weight": None})

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, coef_init=None, intercept_init=None):
        """Fit to ``X`` (n_samples, n_features) and labels ``y`` (n_samples,), starting from zeros or
        from ``coef_init`` (n_outputs, n_features) and ``intercept_init`` (n_outputs,), where
        n_outputs is 1 for two classes and n_classes otherwise."""
        return self._fit(X, y, sample_weight, coef_init=coef_init, intercept_init=intercept_init)

    @staticmethod
    def _coef_shape(k, d):
        return (k, d)

    @dask_rows
    def decision_function(self, X):
        """Return the scores ``X @ coef_.T + intercept_``: (n_samples,) for two classes, else
        (n_samples, n_classes)."""
        scores = self._forward(X, losses.IDENTITY)
        return scores[:, 0] if scores.shape[1] == 1 else scores

    @dask_rows
    def predict(self, X):
        """Return the class of each row: positive score for two classes, else the highest score."""
        scores = self.decision_function(X)
        index = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[index]

    @available_if(_has_proba)
    @dask_rows
    def predict_proba(self, X):
        """Return class probabilities, shape (n_samples, n_classes): the sigmoid of the score for two
        classes; the softmax for ``log_loss`` with more; normalised one-vs-rest sigmoids otherwise."""
        check_is_fitted(self)
        if len(self.classes_) == 2:
            p = self._forward(X, losses.SIGMOID)[:, 0]
            return np.column_stack([1 - p, p])
        link = losses.LOSSES[losses.code(self.loss, len(self.classes_))].proba_link
        if link == losses.SOFTMAX:
            return self._forward(X, losses.SOFTMAX)
        p = self._forward(X, losses.SIGMOID)
        return p / p.sum(axis=1, keepdims=True)

    @available_if(_has_proba)
    @dask_rows
    def predict_log_proba(self, X):
        """Return the logarithm of :meth:`predict_proba`."""
        return np.log(self.predict_proba(X))
