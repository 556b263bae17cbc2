"""Linear models trained by gradient descent: :class:`GDRegressor` and :class:`GDClassifier`."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._driver import BACKENDS, n_threads, train
from ._kernels import losses
from ._kernels.linear import _forward, _forward_parallel, forward
from ._kernels.optim import SGD, allocate_state

_DTYPES = [np.float64, np.float32]


class _BaseGD(BaseEstimator):
    """Validation, parameter allocation and the call into the driver, shared by both estimators."""

    _parameter_constraints = {
        "learning_rate": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [None, Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "fit_intercept": ["boolean"],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "backend": [StrOptions(set(BACKENDS))],
        "random_state": ["random_state"],
        "tol": [None, Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    }

    def _validate_X(self, X, reset):
        return validate_data(self, X, reset=reset, dtype=_DTYPES, order="C")

    def _fit(self, X, y, sample_weight, coef_init, intercept_init):
        X, y = validate_data(self, X, y, dtype=_DTYPES, order="C",
                             y_numeric=isinstance(self, RegressorMixin))
        Y, loss = self._encode_targets(y, X.dtype)
        sw = _check_sample_weight(sample_weight, X, dtype=X.dtype, ensure_non_negative=True)
        if self.learning_rate == "auto":
            self.learning_rate_ = auto_learning_rate(X, sw, loss, self.fit_intercept, self.alpha)
        else:
            self.learning_rate_ = float(self.learning_rate)
        k, d = Y.shape[1], X.shape[1]
        P = np.zeros((k, d + 1), dtype=X.dtype)
        if coef_init is not None:
            P[:, :-1] = _check_init("coef_init", coef_init, (k, d), self._coef_shape(k, d))
        if intercept_init is not None:
            P[:, -1] = _check_init("intercept_init", intercept_init, (k,), (k,))
        S = allocate_state(SGD, P.size, X.dtype)
        result = train(
            X, Y, sw, P, loss=loss, opt=SGD, S=S, hyper=np.zeros(0), step=0,
            batch_size=self.batch_size, epochs=self.epochs, learning_rate=self.learning_rate_,
            alpha=float(self.alpha), fit_intercept=self.fit_intercept, backend=self.backend,
            shuffle=self.shuffle, rng=check_random_state(self.random_state), tol=self.tol,
            n_iter_no_change=self.n_iter_no_change, name=type(self).__name__)
        self.coef_ = P[:, :-1].reshape(self._coef_shape(k, d)).copy()
        self.intercept_ = P[:, -1].copy()
        self.loss_history_ = np.asarray(result.loss_history)
        self.n_iter_ = result.n_iter
        return self

    def _forward(self, X, link):
        """Return ``link(X @ coef_.T + intercept_)`` of shape (n, k) with the fitted backend."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        P = np.hstack([self.coef_.reshape(len(self.intercept_), -1), self.intercept_[:, None]])
        P = P.astype(X.dtype)
        if self.backend == "numpy":
            return forward(X, P, link)
        out = np.empty((X.shape[0], P.shape[0]), dtype=X.dtype)
        (_forward_parallel if self.backend == "parallel" else _forward)(X, P, link, out,
                                                                      n_threads(self.backend))
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


#: Bound on the second derivative of each loss term with respect to the score (hinge is not smooth;
#: 1 treats it like a smooth loss of the same scale).
_CURVATURE = {
    losses.SQUARED_ERROR: 2.0,
    losses.LOG_LOSS: 0.25,
    losses.SOFTMAX_LOG_LOSS: 0.5,
    losses.HINGE: 1.0,
    losses.SIGMOID_SQUARED: 0.5,
}


def auto_learning_rate(X, sw, loss, fit_intercept, alpha):
    """Return ``1 / L``, with ``L = c * max_i sw_i ||x_i||^2 + alpha`` bounding the Lipschitz constant
    of every sample's weighted gradient (``c`` the loss's curvature bound; ``||x_i||^2`` counts the
    intercept's constant feature). Like scikit-learn's SAG "auto" step, it is stable for any batch
    size and any scaling of X, where a fixed default would diverge on unscaled data."""
    squared_norms = np.einsum("ij,ij->i", X, X, dtype=np.float64) + fit_intercept
    return 1.0 / (_CURVATURE[loss] * float((sw * squared_norms).max()) + alpha)


def _check_init(name, value, shape, user_shape):
    value = np.asarray(value, dtype=np.float64)
    if value.size != np.prod(shape) or value.shape not in (shape, user_shape, ()):
        raise ValueError(f"{name} must have shape {user_shape}, got {value.shape}.")
    if not np.isfinite(value).all():
        raise ValueError(f"{name} contains NaN or infinity.")
    return value.reshape(shape)


class GDRegressor(RegressorMixin, _BaseGD):
    """Linear regression trained by gradient descent.

    Minimises ``mean_i sw_i (x_i . w + b - y_i)**2 + alpha / 2 * ||w||**2`` by full-batch
    (``batch_size=None``), stochastic (``batch_size=1``) or mini-batch gradient descent,
    ``w <- w - learning_rate * grad``.

    Parameters
    ----------
    loss : {"squared_error"}
        The mean of squared residuals; its gradient is ``2/n X.T @ (p - y)``.
    learning_rate : float > 0 or "auto"
        Step size. "auto" takes ``1 / L`` for ``L`` a bound on the curvature of every sample's loss
        (``2 max_i ||x_i||^2`` for squared error), which cannot diverge whatever the scale of X.
    epochs : int
        Passes over the data.
    batch_size : int or None
        Rows per update; None uses all rows (vanilla gradient descent).
    shuffle : bool
        Visit rows in a new random order each epoch (mini-batch and SGD only).
    fit_intercept : bool
        Learn the intercept. When False it is held at ``intercept_init`` (default 0).
    alpha : float >= 0
        L2 penalty on the weights (not the intercept).
    backend : {"numba", "parallel", "numpy"}
        "numba" runs each epoch in one compiled serial call, "parallel" splits large batches across
        numba's threads (deterministic for a given thread count), "numpy" is the vectorised reference.
    random_state : int, RandomState or None
        Seeds the shuffle; the same seed and backend give the same model bit for bit.
    tol : float or None
        When set, stop once the loss has not improved by ``tol`` for ``n_iter_no_change`` epochs.
    n_iter_no_change : int

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : ndarray of shape (1,)
    learning_rate_ : float
        The step size used.
    loss_history_ : ndarray of shape (n_iter_,)
        Training loss of each epoch; for full batch the loss at the start of the epoch.
    n_iter_ : int
        Epochs run.
    """

    _parameter_constraints = {**_BaseGD._parameter_constraints,
                              "loss": [StrOptions({"squared_error"})]}

    def __init__(self, loss="squared_error", *, learning_rate="auto", epochs=100, batch_size=32,
                 shuffle=True, fit_intercept=True, alpha=0.0, backend="numba", random_state=None,
                 tol=None, n_iter_no_change=5):
        self.loss = loss
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.fit_intercept = fit_intercept
        self.alpha = alpha
        self.backend = backend
        self.random_state = random_state
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, coef_init=None, intercept_init=None):
        """Fit to ``X`` (n_samples, n_features) and ``y`` (n_samples,), starting from zeros or from
        ``coef_init`` (n_features,) and ``intercept_init`` (a float)."""
        return self._fit(X, y, sample_weight, coef_init, intercept_init)

    def _encode_targets(self, y, dtype):
        return y.astype(dtype).reshape(-1, 1), losses.SQUARED_ERROR

    @staticmethod
    def _coef_shape(k, d):
        return (d,)

    def predict(self, X):
        """Return ``X @ coef_ + intercept_``, shape (n_samples,)."""
        return self._forward(X, losses.IDENTITY)[:, 0]


def _has_proba(estimator):
    if estimator.loss not in ("log_loss", "sigmoid_squared"):
        raise AttributeError(f"probability estimates are not available for loss={estimator.loss!r}")
    return True


class GDClassifier(ClassifierMixin, _BaseGD):
    """Linear classifier trained by gradient descent, binary or multi-class.

    Two classes are one score ``z = x . w + b``; more are one score per class, trained jointly
    through a softmax for ``log_loss`` and one-vs-rest for the other losses.

    Parameters
    ----------
    loss : {"log_loss", "hinge", "sigmoid_squared"}
        ``log_loss`` is logistic regression (softmax for more than two classes); ``hinge`` a linear
        SVM; ``sigmoid_squared`` the squared error of the sigmoid output, the classic tutorials'
        first model, trained with its true gradient ``2 (p - y) p (1 - p) x``.
    learning_rate, epochs, batch_size, shuffle, fit_intercept, alpha, backend, random_state, tol, \
n_iter_no_change
        As in :class:`GDRegressor`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) for two classes, else (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
    learning_rate_ : float
    loss_history_ : ndarray of shape (n_iter_,)
    n_iter_ : int
    """

    _parameter_constraints = {**_BaseGD._parameter_constraints,
                              "loss": [StrOptions({"log_loss", "hinge", "sigmoid_squared"})]}

    def __init__(self, loss="log_loss", *, learning_rate="auto", epochs=100, batch_size=32,
                 shuffle=True, fit_intercept=True, alpha=0.0, backend="numba", random_state=None,
                 tol=None, n_iter_no_change=5):
        self.loss = loss
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.fit_intercept = fit_intercept
        self.alpha = alpha
        self.backend = backend
        self.random_state = random_state
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, coef_init=None, intercept_init=None):
        """Fit to ``X`` (n_samples, n_features) and labels ``y`` (n_samples,), starting from zeros or
        from ``coef_init`` (n_outputs, n_features) and ``intercept_init`` (n_outputs,), where
        n_outputs is 1 for two classes and n_classes otherwise."""
        return self._fit(X, y, sample_weight, coef_init, intercept_init)

    def _encode_targets(self, y, dtype):
        check_classification_targets(y)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes in y, but it holds only one class: "
                f"{self.classes_[0]!r}.")
        if len(self.classes_) == 2:
            Y = (y_index == 1).astype(dtype).reshape(-1, 1)
            codes = {"log_loss": losses.LOG_LOSS}
        else:
            Y = np.zeros((len(y), len(self.classes_)), dtype=dtype)
            Y[np.arange(len(y)), y_index] = 1
            codes = {"log_loss": losses.SOFTMAX_LOG_LOSS}
        codes |= {"hinge": losses.HINGE, "sigmoid_squared": losses.SIGMOID_SQUARED}
        return Y, codes[self.loss]

    @staticmethod
    def _coef_shape(k, d):
        return (k, d)

    def decision_function(self, X):
        """Return the scores ``X @ coef_.T + intercept_``: (n_samples,) for two classes, else
        (n_samples, n_classes)."""
        scores = self._forward(X, losses.IDENTITY)
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict(self, X):
        """Return the class of each row: positive score for two classes, else the highest score."""
        scores = self.decision_function(X)
        index = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[index]

    @available_if(_has_proba)
    def predict_proba(self, X):
        """Return class probabilities, shape (n_samples, n_classes): the sigmoid of the score for two
        classes; the softmax for ``log_loss`` with more; normalised one-vs-rest sigmoids otherwise."""
        check_is_fitted(self)
        if len(self.classes_) == 2:
            p = self._forward(X, losses.SIGMOID)[:, 0]
            return np.column_stack([1 - p, p])
        if self.loss == "log_loss":
            return self._forward(X, losses.SOFTMAX)
        p = self._forward(X, losses.SIGMOID)
        return p / p.sum(axis=1, keepdims=True)

    @available_if(_has_proba)
    def predict_log_proba(self, X):
        """Return the logarithm of :meth:`predict_proba`."""
        return np.log(self.predict_proba(X))
