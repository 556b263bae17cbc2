"""Linear models trained by gradient descent: :class:`GDRegressor` and :class:`GDClassifier`."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._driver import (BACKENDS, SCHEDULES, LinearEpochs, OptimizerState, Schedule, Stopping,
                      n_threads, train)
from ._kernels import losses, optim
from ._kernels.linear import _forward, _forward_parallel, forward

_DTYPES = [np.float64, np.float32]

#: Bound on the second derivative of each loss term with respect to the score (hinge is not smooth;
#: 1 treats it like a smooth loss of the same scale).
_CURVATURE = {
    losses.SQUARED_ERROR: 2.0,
    losses.LOG_LOSS: 0.25,
    losses.SOFTMAX_LOG_LOSS: 0.5,
    losses.HINGE: 1.0,
    losses.SIGMOID_SQUARED: 0.5,
}

#: "auto" learning rate of the adaptive optimizers: torch.optim's defaults, since their step does
#: not scale with the gradient.
_ADAPTIVE_DEFAULT_RATE = {optim.ADAGRAD: 0.01, optim.RMSPROP: 0.01, optim.ADAM: 0.001,
                          optim.ADAMW: 0.001}


def auto_learning_rate(X, sw, loss, optimizer, momentum, fit_intercept, alpha):
    """Step size for ``learning_rate="auto"``.

    For the gradient-scaled optimizers ``(1 - momentum) / L``, with
    ``L = c * max_i sw_i ||x_i||^2 + alpha`` bounding the Lipschitz constant of every sample's weighted
    gradient (``c`` the loss's curvature bound; ``||x_i||^2`` counts the intercept's constant
    feature). Like scikit-learn's SAG "auto" step it is stable for any batch size and any scaling of
    X, where a fixed default would diverge on unscaled data. The adaptive optimizers take torch's
    default rates.
    """
    if optimizer in _ADAPTIVE_DEFAULT_RATE:
        return _ADAPTIVE_DEFAULT_RATE[optimizer]
    squared_norms = np.einsum("ij,ij->i", X, X, dtype=np.float64) + fit_intercept
    lipschitz = _CURVATURE[loss] * float((sw * squared_norms).max()) + alpha
    return (1.0 - momentum if optimizer in (optim.MOMENTUM, optim.NESTEROV) else 1.0) / lipschitz


class _BaseGD(BaseEstimator):
    """Validation, parameter allocation and the call into the driver, shared by both estimators."""

    _parameter_constraints = {
        "optimizer": [StrOptions(set(optim.NAMES))],
        "learning_rate": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        "schedule": [StrOptions(set(SCHEDULES)), callable],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [None, Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "fit_intercept": ["boolean"],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "rho": [Interval(Real, 0, 1, closed="left")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "gamma": [Interval(Real, 0, 1, closed="right")],
        "step_size": [Interval(Integral, 1, None, closed="left")],
        "tol": [None, Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "loss_threshold": [None, Real],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "max_time": [None, Interval(Real, 0, None, closed="neither")],
        "warm_start": ["boolean"],
        "backend": [StrOptions(set(BACKENDS))],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callback": [None, callable],
    }

    # --- fitting ---------------------------------------------------------------------------

    def _fit(self, X, y, sample_weight, coef_init, intercept_init):
        X, y = validate_data(self, X, y, dtype=_DTYPES, order="C",
                             y_numeric=isinstance(self, RegressorMixin))
        self._rng = rng = check_random_state(self.random_state)
        Y, loss, class_sw = self._targets(y, X.dtype, first_call=True)
        sw = self._sample_weight(sample_weight, X, class_sw)
        warm = self.warm_start and hasattr(self, "_state") and self._same_shape(Y.shape[1], X.shape[1])
        P = self._initial_params(X.dtype, Y.shape[1], X.shape[1], coef_init, intercept_init, warm)
        fresh_state = optim.allocate_state(self._optimizer, P.size, X.dtype)
        if not (warm and self._state.S.shape == fresh_state.shape
                and self._state.S.dtype == fresh_state.dtype):
            self._state = OptimizerState(fresh_state)
        validation = None
        if self.early_stopping:
            X, Y, sw, validation = self._split_validation(X, Y, sw, y, rng)
        if not warm:
            self._set_learning_rate(X, sw, loss)
        history = list(self.loss_history_) if warm else []
        self._run(X, Y, sw, P, loss, rng, self.epochs, validation, history)
        return self

    def _partial_fit(self, X, y, classes, sample_weight):
        first_call = not hasattr(self, "_state")
        X, y = validate_data(self, X, y, dtype=_DTYPES, order="C", reset=first_call,
                             y_numeric=isinstance(self, RegressorMixin))
        if not first_call and X.dtype != self._state.S.dtype:
            X = X.astype(self._state.S.dtype)
        Y, loss, class_sw = self._targets(y, X.dtype, first_call=first_call, classes=classes)
        sw = self._sample_weight(sample_weight, X, class_sw)
        if first_call:
            P = self._initial_params(X.dtype, Y.shape[1], X.shape[1], None, None, warm=False)
            self._state = OptimizerState(optim.allocate_state(self._optimizer, P.size, X.dtype))
            self._set_learning_rate(X, sw, loss)
            self._rng = check_random_state(self.random_state)
            history = []
        else:
            P = self._initial_params(X.dtype, Y.shape[1], X.shape[1], None, None, warm=True)
            history = list(self.loss_history_)
        self._run(X, Y, sw, P, loss, self._rng, 1, None, history)
        return self

    def _run(self, X, Y, sw, P, loss, rng, epochs, validation, history):
        """Train ``P`` for ``epochs`` epochs after ``len(history)`` earlier ones; set the fitted
        attributes."""
        model = LinearEpochs(
            X, Y, sw, P, self._state, loss=loss, optimizer=self._optimizer,
            hyper=np.array([self.momentum, self.beta_1, self.beta_2, self.epsilon, self.rho]),
            alpha=float(self.alpha), fit_intercept=self.fit_intercept, backend=self.backend)
        offset = len(history)
        schedule = _OffsetSchedule(
            kind=self.schedule, lr=self.learning_rate_, power_t=self.power_t, gamma=self.gamma,
            step_size=self.step_size, epochs=self.epochs, offset=offset)
        stopping = Stopping(tol=self.tol, n_iter_no_change=self.n_iter_no_change,
                            loss_threshold=self.loss_threshold, max_time=self.max_time,
                            validation=validation)
        callback = None
        if self.callback is not None:
            def callback(e, loss_value):
                self._set_params(P)
                return bool(self.callback(offset + e, loss_value, self))
        result = train(model, len(X), schedule, stopping, epochs=epochs, batch_size=self.batch_size,
                       shuffle=self.shuffle, rng=rng, callback=callback, verbose=self.verbose,
                       name=type(self).__name__)
        self._set_params(P)
        self.loss_history_ = np.asarray(history + result.loss_history)
        if validation is not None:
            self.validation_loss_history_ = np.asarray(result.validation_loss_history)
        self.n_iter_ = len(self.loss_history_)
        self.t_ = self._state.step
        self.stop_reason_ = result.stop_reason

    @property
    def _optimizer(self):
        return optim.NAMES[self.optimizer]

    def _set_learning_rate(self, X, sw, loss):
        if self.learning_rate == "auto":
            self.learning_rate_ = auto_learning_rate(X, sw, loss, self._optimizer, self.momentum,
                                                     self.fit_intercept, self.alpha)
        else:
            self.learning_rate_ = float(self.learning_rate)

    def _sample_weight(self, sample_weight, X, class_sw):
        """Per-row weights, rescaled to average 1 so that the loss is the weighted mean
        ``sum_i w_i l_i / sum_i w_i`` (as in torch's weighted losses): only their ratios matter, and
        the "auto" step does not shrink with their scale."""
        sw = _check_sample_weight(sample_weight, X, dtype=X.dtype, ensure_non_negative=True)
        if class_sw is not None:
            sw = sw * class_sw.astype(X.dtype)
        total = float(sw.sum(dtype=np.float64))
        if not total > 0:
            raise ValueError("sample_weight (times class_weight) sums to zero: give some rows a "
                             "positive weight.")
        return sw if sample_weight is None and class_sw is None else sw * (len(sw) / total)

    def _same_shape(self, k, d):
        return self.coef_.size == k * d and len(self.intercept_) == k

    def _initial_params(self, dtype, k, d, coef_init, intercept_init, warm):
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

    def _split_validation(self, X, Y, sw, y, rng):
        stratify = y if isinstance(self, ClassifierMixin) else None
        train_rows, validation_rows = train_test_split(
            np.arange(len(X)), test_size=self.validation_fraction, stratify=stratify,
            random_state=rng)
        if len(train_rows) == 0 or len(validation_rows) == 0:
            raise ValueError(f"early_stopping needs rows to train and to validate on; with "
                             f"{len(X)} rows and validation_fraction={self.validation_fraction} "
                             "one of them is empty. Add rows or change validation_fraction.")
        validation = (X[validation_rows], Y[validation_rows], sw[validation_rows])
        return X[train_rows], Y[train_rows], sw[train_rows], validation

    # --- prediction ------------------------------------------------------------------------

    def _forward(self, X, link):
        """Return ``link(X @ coef_.T + intercept_)`` of shape (n, k) with the fitted backend."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=_DTYPES, order="C")
        P = np.hstack([self.coef_.reshape(len(self.intercept_), -1), self.intercept_[:, None]])
        P = P.astype(X.dtype)
        if self.backend == "numpy":
            return forward(X, P, link)
        out = np.empty((X.shape[0], P.shape[0]), dtype=X.dtype)
        kernel = _forward_parallel if BACKENDS[self.backend][1] else _forward
        kernel(X, P, link, out, n_threads(self.backend))
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


class _OffsetSchedule(Schedule):
    """A schedule continued after ``offset`` earlier epochs (``partial_fit``, ``warm_start``)."""

    def __init__(self, offset, **kwargs):
        super().__init__(**kwargs)
        self.offset = offset

    def for_epoch(self, epoch, n_batches):
        return super().for_epoch(self.offset + epoch, n_batches)


def _check_init(name, value, shape, user_shape):
    value = np.asarray(value, dtype=np.float64)
    if value.size != np.prod(shape) or value.shape not in (shape, user_shape, ()):
        raise ValueError(f"{name} must have shape {user_shape}, got {value.shape}.")
    if not np.isfinite(value).all():
        raise ValueError(f"{name} contains NaN or infinity.")
    return value.reshape(shape)


_COMMON_PARAMETERS = """\
    optimizer : {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"}
        The update rule, with torch.optim's equations (see ``fastgd._kernels.optim``). Its state
        (velocities, moments, step count) persists across epochs, ``warm_start`` and
        ``partial_fit``. With "adamw", ``alpha`` is a decoupled weight decay.
    learning_rate : float > 0 or "auto"
        Step size. "auto": for sgd, momentum and nesterov ``(1 - momentum) / L`` with ``L`` a bound
        on the curvature of every sample's loss (``2 max_i ||x_i||^2`` for squared error), which
        cannot diverge whatever the scale of X; for the adaptive optimizers torch's defaults
        (0.01 for adagrad and rmsprop, 0.001 for adam and adamw).
    schedule : {"constant", "invscaling", "exponential", "cosine", "step"} or callable
        Learning rate over time: invscaling ``lr / t**power_t`` at update ``t``; exponential
        ``lr * gamma**epoch``; cosine from ``lr`` to 0 over all updates of ``epochs`` epochs; step
        ``lr * gamma**(epoch // step_size)``; a callable ``epoch -> learning rate`` (epochs from 0).
    epochs : int
        Passes over the data.
    batch_size : int or None
        Rows per update: 1 (the default, as scikit-learn's SGD) is stochastic gradient descent,
        ``k`` mini-batch, None all rows (vanilla full-batch gradient descent).
    shuffle : bool
        Visit rows in a new random order each epoch (mini-batch and SGD only).
    fit_intercept : bool
        Learn the intercept. When False it is held at ``intercept_init`` (default 0).
    alpha : float >= 0
        L2 penalty ``alpha/2 ||W||^2`` on the weights (not the intercept).
    momentum, beta_1, beta_2, epsilon, rho : float
        Hyper-parameters of the optimizers: momentum and nesterov's ``momentum``; adam's
        ``beta_1``, ``beta_2``; the ``epsilon`` of adagrad, rmsprop and adam; rmsprop's decay ``rho``.
    power_t, gamma, step_size
        Hyper-parameters of the schedules.
    tol : float or None
        When set, stop once the loss has not improved by ``tol`` for ``n_iter_no_change`` epochs.
    n_iter_no_change : int
    loss_threshold : float or None
        Stop once the training loss is at or below it.
    early_stopping : bool
        Hold out ``validation_fraction`` of the rows (stratified for classifiers), stop once their
        loss has not improved by ``tol`` (0 when None) for ``n_iter_no_change`` epochs, and restore
        the weights of the best validation loss.
    validation_fraction : float in (0, 1)
    max_time : float or None
        Stop after the epoch during which this many seconds have passed.
    warm_start : bool
        ``fit`` continues from the previous fit: its weights, optimizer state, learning rate and
        epoch count (``epochs`` more epochs; ``loss_history_`` grows).
    backend : {"numba", "parallel", "local_sgd", "numpy"}
        "numba" runs each epoch in one compiled serial call; "parallel" splits large batches across
        numba's threads and gives the serial result up to rounding (deterministic for a given
        thread count); "local_sgd" scales small batches instead: each thread trains its own copy of
        the model on its part of the rows and the copies are averaged every 8,192 rows per thread
        (deterministic for a given thread count, but not the serial result); "numpy" is the
        vectorised reference.
    random_state : int, RandomState or None
        Seeds the shuffle and the validation split; the same seed and backend give the same model
        bit for bit.
    verbose : bool or int
        Show a progress bar with the current loss.
    callback : callable or None
        ``callback(epoch, loss, estimator)`` after each epoch (from 0), with ``coef_`` and
        ``intercept_`` holding the current weights; returning True stops training.
"""

_COMMON_ATTRIBUTES = """\
    learning_rate_ : float
        The base step size used.
    loss_history_ : ndarray of shape (n_iter_,)
        Training loss of each epoch: the mean of each batch's loss before its update (for full
        batch the loss at the start of the epoch), plus the L2 penalty.
    validation_loss_history_ : ndarray
        With ``early_stopping``: the validation loss after each epoch.
    n_iter_ : int
        Epochs run (``partial_fit`` calls count as epochs).
    t_ : int
        Updates taken.
    stop_reason_ : {"epochs", "tol", "early_stopping", "loss_threshold", "max_time", "callback"}
"""


class GDRegressor(RegressorMixin, _BaseGD):
    __doc__ = f"""Linear regression trained by gradient descent.

    Minimises ``mean_i sw_i (x_i . w + b - y_i)**2 + alpha / 2 * ||w||**2`` by full-batch, stochastic
    or mini-batch gradient descent with the chosen optimizer.

    Parameters
    ----------
    loss : {{"squared_error"}}
        The mean of squared residuals; its gradient is ``2/n X.T @ (p - y)``.
{_COMMON_PARAMETERS}
    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : ndarray of shape (1,)
{_COMMON_ATTRIBUTES}"""

    _parameter_constraints = {**_BaseGD._parameter_constraints,
                              "loss": [StrOptions({"squared_error"})]}

    def __init__(self, loss="squared_error", *, optimizer="sgd", learning_rate="auto",
                 schedule="constant", epochs=100, batch_size=1, shuffle=True, fit_intercept=True,
                 alpha=0.0, momentum=0.9, beta_1=0.9, beta_2=0.999, epsilon=1e-8, rho=0.9,
                 power_t=0.25, gamma=0.9, step_size=10, tol=None, n_iter_no_change=5,
                 loss_threshold=None, early_stopping=False, validation_fraction=0.1,
                 max_time=None, warm_start=False, backend="numba", random_state=None,
                 verbose=False, callback=None):
        self.loss = loss
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.schedule = schedule
        self.epochs = epochs
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.fit_intercept = fit_intercept
        self.alpha = alpha
        self.momentum = momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.rho = rho
        self.power_t = power_t
        self.gamma = gamma
        self.step_size = step_size
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.loss_threshold = loss_threshold
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.max_time = max_time
        self.warm_start = warm_start
        self.backend = backend
        self.random_state = random_state
        self.verbose = verbose
        self.callback = callback

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, coef_init=None, intercept_init=None):
        """Fit to ``X`` (n_samples, n_features) and ``y`` (n_samples,), starting from zeros or from
        ``coef_init`` (n_features,) and ``intercept_init`` (a float)."""
        return self._fit(X, y, sample_weight, coef_init, intercept_init)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Run one epoch over ``X``, ``y``, continuing from the previous call."""
        return self._partial_fit(X, y, None, sample_weight)

    def _targets(self, y, dtype, first_call, classes=None):
        return y.astype(dtype).reshape(-1, 1), losses.SQUARED_ERROR, None

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
    __doc__ = f"""Linear classifier trained by gradient descent, binary or multi-class.

    Two classes are one score ``z = x . w + b``; more are one score per class, trained jointly
    through a softmax for ``log_loss`` and one-vs-rest for the other losses.

    Parameters
    ----------
    loss : {{"log_loss", "hinge", "sigmoid_squared"}}
        ``log_loss`` is logistic regression (softmax for more than two classes); ``hinge`` a linear
        SVM; ``sigmoid_squared`` the squared error of the sigmoid output, the classic tutorials'
        first model, trained with its true gradient ``2 (p - y) p (1 - p) x``.
{_COMMON_PARAMETERS}    class_weight : dict, "balanced" or None
        Multiplies each sample's weight by its class's weight; "balanced" uses
        ``n_samples / (n_classes * count(class))``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) for two classes, else (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
{_COMMON_ATTRIBUTES}"""

    _parameter_constraints = {**_BaseGD._parameter_constraints,
                              "loss": [StrOptions({"log_loss", "hinge", "sigmoid_squared"})],
                              "class_weight": [None, dict, StrOptions({"balanced"})]}

    def __init__(self, loss="log_loss", *, optimizer="sgd", learning_rate="auto",
                 schedule="constant", epochs=100, batch_size=1, shuffle=True, fit_intercept=True,
                 alpha=0.0, momentum=0.9, beta_1=0.9, beta_2=0.999, epsilon=1e-8, rho=0.9,
                 power_t=0.25, gamma=0.9, step_size=10, tol=None, n_iter_no_change=5,
                 loss_threshold=None, early_stopping=False, validation_fraction=0.1,
                 max_time=None, warm_start=False, backend="numba", random_state=None,
                 verbose=False, callback=None, class_weight=None):
        self.loss = loss
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.schedule = schedule
        self.epochs = epochs
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.fit_intercept = fit_intercept
        self.alpha = alpha
        self.momentum = momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.rho = rho
        self.power_t = power_t
        self.gamma = gamma
        self.step_size = step_size
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.loss_threshold = loss_threshold
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.max_time = max_time
        self.warm_start = warm_start
        self.backend = backend
        self.random_state = random_state
        self.verbose = verbose
        self.callback = callback
        self.class_weight = class_weight

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, coef_init=None, intercept_init=None):
        """Fit to ``X`` (n_samples, n_features) and labels ``y`` (n_samples,), starting from zeros or
        from ``coef_init`` (n_outputs, n_features) and ``intercept_init`` (n_outputs,), where
        n_outputs is 1 for two classes and n_classes otherwise."""
        return self._fit(X, y, sample_weight, coef_init, intercept_init)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Run one epoch over ``X``, ``y``, continuing from the previous call. The first call needs
        ``classes``, every label that any call will see."""
        if not hasattr(self, "_state") and classes is None:
            raise ValueError("The first call to partial_fit needs classes=, the list of every label "
                             "the calls will see.")
        if self.class_weight == "balanced":
            raise ValueError("class_weight='balanced' needs every label at once, which partial_fit "
                             "does not see; pass a dict, e.g. from "
                             "sklearn.utils.class_weight.compute_class_weight.")
        return self._partial_fit(X, y, classes, sample_weight)

    def _targets(self, y, dtype, first_call, classes=None):
        """Return the target array ``Y`` (n, k), the loss code and the class weight of each row."""
        check_classification_targets(y)
        if first_call:
            self.classes_ = np.unique(y if classes is None else classes)
            if len(self.classes_) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs at least 2 classes in y, but it holds only one "
                    f"class: {self.classes_[0]!r}.")
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes={classes!r} differs from the first call's {self.classes_!r}.")
        index = np.searchsorted(self.classes_, y)
        unknown = (index >= len(self.classes_)) | (self.classes_[np.minimum(index, len(self.classes_) - 1)] != y)
        if unknown.any():
            raise ValueError(f"y holds labels not in classes: {np.unique(y[unknown])!r}.")
        k = len(self.classes_)
        if k == 2:
            Y = (index == 1).astype(dtype).reshape(-1, 1)
            codes = {"log_loss": losses.LOG_LOSS}
        else:
            Y = np.zeros((len(y), k), dtype=dtype)
            Y[np.arange(len(y)), index] = 1
            codes = {"log_loss": losses.SOFTMAX_LOG_LOSS}
        codes |= {"hinge": losses.HINGE, "sigmoid_squared": losses.SIGMOID_SQUARED}
        return Y, codes[self.loss], self._class_weights(y, index)

    def _class_weights(self, y, index):
        if self.class_weight is None:
            return None
        if isinstance(self.class_weight, dict):
            unknown = set(self.class_weight) - set(self.classes_.tolist())
            if unknown:
                raise ValueError(f"class_weight names labels not in classes: {sorted(unknown)!r}.")
        weights = compute_class_weight(self.class_weight, classes=self.classes_, y=y)
        return weights[index]

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
