"""Linear models trained by gradient descent: :class:`GDRegressor` and :class:`GDClassifier`."""

from concurrent.futures import ThreadPoolExecutor
from numbers import Integral, Real

import numba
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from . import _sklearn, backends
from ._base import (CLASS_WEIGHT_PARAMETER, COMMON_ATTRIBUTES, COMMON_PARAMETERS, COMMON_DEFAULTS,
                    BaseGD, ClassifierTargets, dask_rows, keyword_init, validate_input,
                    with_defaults)
from ._driver import Epochs
from ._kernels import linear as linear_kernels
from ._kernels import losses, optim
from ._kernels.data import Data, kernel_data, row_norm_maxima
from ._kernels.linear import Linear, _loss_gradient, loss_gradient, scratch
from ._kernels.optim import Rate, Update

#: Scores bounded below this share of the dtype's largest value are finite, whatever the rounding.
SCORE_BOUND_SHARE = 0.5

#: The "auto" step estimates the curvature of the mean loss from every ``n // 4096``-th row: a
#: Gram matrix of 4,096 to 8,191 rows costs little beside an epoch, and underestimating the
#: curvature by up to 2x still leaves a step under ``2 / L``, where gradient descent converges.
CURVATURE_SAMPLE_ROWS = 4096

#: Up to this many features (with the intercept's) a part's sample is summed as its Gram matrix,
#: 8 MB at most, and the eigenvalue is exact; wider samples stay rows.
GRAM_MAX_FEATURES = 1024

#: At most this many products by the sampled rows' Gram matrix; power iteration stops earlier once
#: the estimate changes by less than 1e-4 of itself.
POWER_ITERATIONS = 100


def curvature_stats(X, sw, fit_intercept, stride, batch_rows, n, steepest=None):
    """What the "auto" step needs from the rows ``X``, ``sw`` of one part: ``(largest, sample,
    weight)``. ``largest`` is ``max_i sw_i ||x_i||^2`` (``steepest`` when it is given, see
    ``data.row_norm_maxima``) (``||x_i||^2`` counting the intercept's
    constant feature) when a batch of ``batch_rows`` of the ``n`` rows is smaller than all of them
    or one row, else 0; ``sample`` holds every ``stride``-th row from the part's first (dense with
    at most ``GRAM_MAX_FEATURES``: their weighted Gram matrix ``sum_i sw_i x_i x_i^T``
    (d + 1, d + 1), float64, so that parts add up; else the rows themselves, float64, and their
    weights), ``weight`` their weight sum; both None for a batch of one row. Parts are a dask array's chunks or ``row_parts``; without them the whole ``X`` is one."""
    largest = 0.0
    if batch_rows < n or batch_rows == 1:
        largest = steepest if steepest is not None else row_norm_maxima(
            X, sw, float(fit_intercept), numba.get_num_threads())[1]
    if batch_rows == 1:
        return largest, None, None
    rows = slice(0, None, stride)
    X_s, w_s = X[rows], sw[rows].astype(np.float64)
    if fit_intercept:
        X_s = (sp.hstack if sp.issparse(X_s) else np.hstack)(
            [X_s, np.ones((X_s.shape[0], 1), dtype=X_s.dtype)])
        X_s = X_s.tocsr() if sp.issparse(X_s) else X_s
    X_s = X_s.astype(np.float64)
    if X_s.shape[1] > GRAM_MAX_FEATURES:
        return largest, (X_s, w_s), float(w_s.sum())
    if sp.issparse(X_s):  # the same Gram matrix as of the dense rows, so the same step
        return largest, (X_s.T @ X_s.multiply(w_s[:, None])).toarray(), float(w_s.sum())
    return largest, X_s.T @ (w_s[:, None] * X_s), float(w_s.sum())


def _largest_eigenvalue(samples):
    """The largest eigenvalue of the summed weighted Gram matrix of the parts' ``samples`` (see
    :func:`curvature_stats`), deterministically: of a Gram matrix exactly (``eigvalsh``, or
    Lanczos from a fixed start), of sampled rows by power iteration, which holds two vectors of
    ``d + 1`` where Lanczos would hold twenty (42 MB at 2**18 features)."""
    if isinstance(samples[0], tuple):
        X_s = (sp.vstack if sp.issparse(samples[0][0]) else np.vstack)([x for x, _ in samples])
        w_s = np.concatenate([w for _, w in samples])
        v = np.full(X_s.shape[1], 1 / np.sqrt(X_s.shape[1]))
        value = 0.0
        for _ in range(POWER_ITERATIONS):
            u = X_s.T @ (w_s * (X_s @ v))
            previous, value = value, float(v @ u)  # the Rayleigh quotient: from below
            norm = np.linalg.norm(u)
            if norm == 0 or abs(value - previous) <= 1e-4 * value:
                break
            v = u / norm
        return value
    gram = samples[0].copy()
    for G in samples[1:]:  # in part order
        gram += G
    if not np.isfinite(gram).all():  # squares of values beyond 1e154 overflow float64
        return np.inf
    if gram.shape[0] <= 64:
        return float(np.linalg.eigvalsh(gram)[-1])
    return float(spla.eigsh(gram, k=1, which="LA", v0=np.ones(gram.shape[0]), tol=1e-4,
                            return_eigenvectors=False)[0])


def auto_learning_rate(stats, loss, optimizer, momentum, alpha, n, batch_rows):
    """Step size for ``learning_rate="auto"``, from each part's :func:`curvature_stats`.

    For the gradient-scaled optimizers ``(1 - momentum) / L_B``, with ``L_B`` a bound on the
    curvature of the mean loss of a batch of ``B`` of the ``n`` rows (Gower et al. 2019, "SGD:
    general analysis and improved rates"):
    ``L_B = n (B - 1) / (B (n - 1)) L + (n - B) / (B (n - 1)) L_max``, where
    ``L = c lambda_max(sum_i sw_i x_i x_i^T / sum_i sw_i) + alpha`` is the curvature of the mean
    loss (from a sample of the rows) and ``L_max = c max_i sw_i ||x_i||^2 + alpha`` that of the
    steepest single row (``c`` the loss's curvature bound). SGD gets ``1 / L_max``, which cannot
    diverge whatever the scale of X (as scikit-learn's SAG "auto" step); a full batch gets
    ``1 / L``, as large as gradient descent allows. The adaptive optimizers take torch's default
    rates.
    """
    rule = optim.OPTIMIZERS[optimizer]
    if rule.default_rate is not None:
        return rule.default_rate
    c = losses.LOSSES[loss.code].curvature
    B = min(batch_rows, n)
    lipschitz = c * max(largest for largest, _, _ in stats) + alpha
    total = sum(weight for _, _, weight in stats if weight)
    if B > 1 and total > 0:
        samples = [sample for _, sample, weight in stats if weight]
        mean = c * _largest_eigenvalue(samples) / total + alpha
        lipschitz = mean if B == n else (n * (B - 1) * mean + (n - B) * lipschitz) / (B * (n - 1))
    if not np.isfinite(lipschitz):
        # a step of 1 / inf would leave the model at its start; no float64 step is small enough
        raise ValueError("learning_rate='auto' cannot take a step on this X: the squared norms of "
                         "its rows overflow float64 (values beyond about 1e154). Scale X, for "
                         "example with sklearn.preprocessing.StandardScaler.")
    if not lipschitz > 0:
        return 1.0  # no curvature (X zero, no intercept, no penalty): the loss is flat
    return (1.0 - momentum if rule.damped else 1.0) / lipschitz


def sample_stride(n):
    """Every how many rows the "auto" step samples the mean loss's curvature."""
    return max(1, n // CURVATURE_SAMPLE_ROWS)


def mean_loss(backend, data, P, loss):
    """Mean weighted loss of ``P`` on ``data``, computed by the kernels of ``backend`` (a name)."""
    n = len(data.Y)
    if backend == "numpy":
        return loss_gradient(data, P, loss)[0] / n
    G, buf = scratch(1, P)
    return _loss_gradient(kernel_data(data), np.arange(n, dtype=np.int64), 0, n, P, loss, G, buf) / n


class LinearEpochs(Epochs):
    """Epochs of a linear model ``P`` (k, d + 1) on ``X``, ``Y``, ``sw`` (see :class:`Epochs`):
    ``alpha`` the L2 part of the penalty, ``l1`` the L1 part, ``average`` the update from which
    the parameters are averaged (0: never). The L1 state and the average live in ``state.extra``,
    so that they continue across epochs, ``warm_start`` and ``partial_fit``.

    ``l1_step`` is the L1 strength the kernels apply after each step: ``l1`` for plain SGD, and
    ``l1 / (1 - momentum)`` for momentum and nesterov, whose steps settle at ``1 / (1 - momentum)``
    times the gradient's, so that the soft-thresholding keeps pace and the fixed point is the
    penalised optimum.

    ``per_class``: each output is a model of its own trained over its own order of the rows
    (one-vs-rest as scikit-learn's SGD trains it), one output at a time, or on a threaded backend
    one output per thread, each by the serial kernel."""

    kernels = linear_kernels

    def __init__(self, backend, X, Y, sw, P, state, *, loss, optimizer, hyper, alpha,
                 intercept_rate, l1=0.0, average=0, l1_step=None, per_class=False):
        if state.extra is None or state.extra[1].shape[0] not in (0, P.shape[0]) or (
                state.extra[2].shape not in ((0, 0), P.shape)):
            state.extra = linear_kernels.penalty_state(P.shape, l1, average)
        u, Q, A = state.extra
        if l1 > 0 and Q.shape != (P.shape[0], P.shape[1] - 1):
            Q = np.zeros((P.shape[0], P.shape[1] - 1))
        if average and A.shape != P.shape:
            A = np.zeros(P.shape)
        state.extra = (u, Q, A)
        self.l1, self.per_class, self._class_targets = l1, per_class, None
        super().__init__(backend, Data(X, Y, sw), P, state,
                         lambda P, l2, decay: Linear(P, loss, intercept_rate, l2, decay,
                                                     l1 if l1_step is None else l1_step, u, Q, A,
                                                     average),
                         optimizer=optimizer, hyper=hyper, alpha=alpha)

    def penalty(self):
        W = self.params[:, :-1]
        value = 0.5 * self.alpha * float(np.sum(W * W)) if self.alpha else 0.0
        return value + (self.l1 * float(np.abs(W).sum()) if self.l1 else 0.0)

    def new_order(self, n):
        order = super().new_order(n)
        return np.tile(order, (self.params.shape[0], 1)) if self.per_class else order

    def run(self, order, batch, lr, schedule, schedule_hyper):
        if order.ndim == 1:
            return super().run(order, batch, lr, schedule, schedule_hyper)
        X, Y, sw = self.data
        k, d1 = self.params.shape
        if self._class_targets is None:  # an output's column of Y, contiguous as kernels take it
            self._class_targets = [np.ascontiguousarray(Y[:, c:c + 1]) for c in range(k)]
        model, state = self.model, self.state
        slots = state.S.reshape(-1, k, d1)
        rate = Rate(schedule, lr, schedule_hyper)
        threads = min(self.backend.threads(), k)
        epoch = self.backend.epoch if threads == 1 else linear_kernels._run_epoch

        def train_class(c):
            # its own copies of the state shared by the outputs: the L1 penalty's running total
            # (the same after every output's epoch) and the optimizer's state, whose slice is
            # not contiguous
            S = np.ascontiguousarray(slots[:, c])
            one = model._replace(P=self.params[c:c + 1], u=model.u.copy(),
                                 Q=model.Q[c:c + 1] if model.Q.size else model.Q,
                                 A=model.A[c:c + 1] if model.A.size else model.A)
            total, step = epoch(Data(X, self._class_targets[c], sw), order[c], one,
                                Update(self.optimizer, S, self.hyper), rate, batch, state.step, 1)
            slots[:, c] = S
            return total, step, one.u

        if threads == 1:
            results = [train_class(c) for c in range(k)]
        else:  # the kernels release the GIL
            with ThreadPoolExecutor(threads) as pool:
                results = list(pool.map(train_class, range(k)))
        model.u[:] = results[0][2]
        state.step = results[0][1]
        return sum(total for total, _, _ in results)

    def averaged(self):
        """Whether the parameters that predict are the average (its first update has passed)."""
        return bool(self.model.average) and self.state.step >= self.model.average

    def current(self):
        """The parameters that predict: the average once it has started, else ``P``."""
        return self.model.A.astype(self.params.dtype) if self.averaged() else self.params

    def predicting_model(self):
        return self.model._replace(P=self.current()) if self.averaged() else self.model

    def snapshot(self):
        return self.params.copy(), self.model.A.copy()

    def restore(self, saved):
        self.params[:], self.model.A[:] = saved

    def scores_finite(self):
        # |x . w + b| <= ||x|| ||w|| + |b|: bounded well inside the dtype's range, the scores need
        # not be computed (a pass over X, 4x the time of X @ w on a million rows)
        if self.largest_squared_norm is not None:
            P = self.current().astype(np.float64)
            W = P[:, :-1]
            with np.errstate(over="ignore", invalid="ignore"):
                bound = (np.sqrt(self.largest_squared_norm * np.einsum("ij,ij->i", W, W))
                         + np.abs(P[:, -1])).max()
            if bound < SCORE_BOUND_SHARE * np.finfo(self.params.dtype).max:
                return True
        return super().scores_finite()

    def validation_loss(self, X, Y, sw):
        return mean_loss(self.backend.name, Data(X, Y, sw), self.current(), self.model.loss)


class _BaseGD(BaseGD):
    """Linear models: parameters ``P`` (k, d + 1), the penalties, averaging, the "auto" step, and
    predictions."""

    _family = "linear"
    _parameter_constraints = {**BaseGD._parameter_constraints, "fit_intercept": ["boolean"],
                              "sparse_intercept_decay": [Interval(Real, 0, 1, closed="right")],
                              "backend": [StrOptions({backends.AUTO, *backends.LINEAR})],
                              "penalty": [StrOptions({"l2", "l1", "elasticnet"}), None],
                              "l1_ratio": [Interval(Real, 0, 1, closed="both")],
                              "epsilon": [Interval(Real, 0, None, closed="left")],
                              "eps": [Interval(Real, 0, None, closed="neither")],
                              "average": ["boolean", Interval(Integral, 0, None, closed="left")]}
    _optimizer_epsilon = "eps"

    def _loss_epsilon(self):
        return float(self.epsilon)

    def _penalties(self):
        """``(l2, l1)``: the coefficients of ``l2 / 2 ||W||^2`` and ``l1 ||W||_1``."""
        alpha = float(self.alpha)
        if self.penalty is None:
            return 0.0, 0.0
        if self.penalty == "l1":
            return 0.0, alpha
        if self.penalty == "elasticnet":
            return alpha * (1 - self.l1_ratio), alpha * self.l1_ratio
        return alpha, 0.0

    def _average_start(self):
        """The update from which the parameters are averaged (True: the first); 0 for none."""
        return int(self.average)

    def _epochs(self, X, Y, sw, P, loss):
        l2, l1 = self._penalties()
        average = self._average_start()
        rule = optim.OPTIMIZERS[self._optimizer]
        if l1 > 0 and rule.default_rate is not None:
            raise ValueError(f"penalty={self.penalty!r} takes optimizer 'sgd', 'momentum' or "
                             f"'nesterov', not {self.optimizer!r}: an adaptive optimizer's step "
                             "differs per weight, so the L1 part's soft-thresholding would not "
                             "be the penalty's. Use penalty='l2' or one of those optimizers.")
        if self.backend == "local_sgd" and (l1 > 0 or average):
            raise ValueError("backend='local_sgd' has no L1 penalty or averaging: its threads "
                             "train copies of the weights that are averaged. Use "
                             "backend='numba' or 'parallel' with penalty='l1'/'elasticnet' or "
                             "average.")
        return LinearEpochs(self._backend, X, Y, sw, P, self._state, loss=loss,
                            optimizer=self._optimizer, hyper=self._hyper(), alpha=l2,
                            intercept_rate=self._intercept_rate(X), l1=l1, average=average,
                            per_class=self._per_class(Y, loss),
                            l1_step=l1 / (1 - self.momentum) if rule.damped else l1)

    def _intercept_rate(self, X):
        """The factor of the intercept's gradient in the kernels (``Linear.intercept_rate``)."""
        if not self.fit_intercept:
            return 0.0
        return float(self.sparse_intercept_decay) if sp.issparse(X) else 1.0

    def _takes_local_sgd(self):
        return not (self._penalties()[1] > 0 or self._average_start())

    def _curvature_stats(self, X, sw, n, steepest=None):
        """The "auto" step's statistics of one part of the ``n`` rows (:func:`curvature_stats`)."""
        batch = n if self.batch_size is None else min(self.batch_size, n)
        # squares that overflow are refused by auto_learning_rate, saying why
        with np.errstate(over="ignore", invalid="ignore"):
            return curvature_stats(X, sw, self.fit_intercept, sample_stride(n), batch, n,
                                   steepest)

    @property
    def _intercept_feature(self):
        return float(self.fit_intercept)

    def _learning_rate_from(self, stats, loss, n):
        """The "auto" step from the parts' :func:`curvature_stats` of ``n`` rows."""
        batch = n if self.batch_size is None else min(self.batch_size, n)
        return auto_learning_rate(stats, loss, self._optimizer, self.momentum, self._penalties()[0],
                                  n, batch)

    @classmethod
    def from_sklearn(cls, sgd):
        """The estimator equivalent to scikit-learn's ``sgd`` (an ``SGDClassifier`` for
        :class:`GDClassifier`, an ``SGDRegressor`` for :class:`GDRegressor`): every parameter
        carried over (``max_iter`` to ``epochs``, ``eta0`` and ``learning_rate`` to
        ``learning_rate`` and ``schedule``), with plain SGD on one row at a time. The table of the
        mapping is ``fastgd._sklearn.MAPPING`` and the README's "Coming from scikit-learn"."""
        twin = cls._sklearn_twin
        if type(sgd).__name__ != twin:
            raise TypeError(f"{cls.__name__}.from_sklearn takes a scikit-learn {twin}, not "
                            f"{type(sgd).__name__}.")
        return cls(**_sklearn.fastgd_params(sgd))

    def _same_shape(self, k, d):
        return self.coef_.size == k * d and len(self.intercept_) == k

    def _initial_params(self, dtype, k, d, warm, coef_init=None, intercept_init=None):
        """Parameters ``P`` (k, d + 1): zeros, the given initial values, or the fitted ones (the
        trained, not the averaged, parameters: training continues from where it was)."""
        P = np.zeros((k, d + 1), dtype=dtype)
        if warm:
            P[:] = self._trained_params
        if coef_init is not None:
            P[:, :-1] = _check_init("coef_init", coef_init, (k, d), self._coef_shape(k, d))
        if intercept_init is not None:
            P[:, -1] = _check_init("intercept_init", intercept_init, (k,), (k,))
        return P

    def _set_params(self, P):
        k, d1 = P.shape
        self._trained_params = P.copy()
        if self._average_start() and self._state.step >= self._average_start():
            P = self._state.extra[2].astype(P.dtype)
        self.coef_ = P[:, :-1].reshape(self._coef_shape(k, d1 - 1)).copy()
        self.intercept_ = P[:, -1].copy()

    # --- prediction ------------------------------------------------------------------------

    def _forward(self, X, link):
        """Return ``link(X @ coef_.T + intercept_)`` of shape (n, k) with the fitted backend."""
        check_is_fitted(self)
        X = validate_input(self, X, reset=False)
        P = np.hstack([self.coef_.reshape(len(self.intercept_), -1), self.intercept_[:, None]])
        model = Linear(P.astype(X.dtype), losses.Rule(0), self._intercept_rate(X), 0.0, 0.0)
        backend = self._backend
        return backend.forward(X, model, link, backend.threads())


def _check_init(name, value, shape, user_shape):
    value = np.asarray(value, dtype=np.float64)
    # one output takes its values flat too, as scikit-learn's binary coef_init (d,) and
    # intercept_init (a float)
    flat = (shape[-1],) if shape[0] == 1 else shape
    if value.size != np.prod(shape) or value.shape not in (shape, user_shape, flat, ()):
        raise ValueError(f"{name} must have shape {user_shape}, got {value.shape}.")
    if not np.isfinite(value).all():
        raise ValueError(f"{name} contains NaN or infinity.")
    return value.reshape(shape)


_LINEAR_PARAMETERS = """\
    learning_rate : float > 0 or "auto"
        Step size. "auto": for sgd, momentum and nesterov ``(1 - momentum) / L_B`` with ``L_B`` a
        bound on the curvature of the mean loss of a batch (for batches of one row the steepest
        row's, ``2 max_i ||x_i||^2`` for squared error, which cannot diverge whatever the scale of
        X; for a full batch the mean loss's, estimated from a sample of rows); for the adaptive
        optimizers torch's defaults (0.01 for adagrad and rmsprop, 0.001 for adam and adamw); with
        ``schedule="optimal"`` its first step ``alpha**-0.25``.
    penalty : {"l2", "l1", "elasticnet"} or None
        The penalty of the weights (not the intercepts), as in scikit-learn's SGD: l2
        ``alpha / 2 ||w||^2``; l1 ``alpha ||w||_1``; elasticnet
        ``alpha (l1_ratio ||w||_1 + (1 - l1_ratio) / 2 ||w||^2)``. The L1 part is a proximal step
        (soft-thresholding) after each update of a full batch or of a batch of at least 32 rows,
        and scikit-learn's cumulative penalty (Tsuruoka et al. 2009) after smaller ones; either
        leaves exact zeros in ``coef_``. With optimizer "adamw" the L2 part is a decoupled decay.
    alpha : float >= 0
        The strength of the penalty.
    l1_ratio : float in [0, 1]
        The L1 share of the elasticnet penalty.
    epsilon : float >= 0
        The width of huber's quadratic zone and of the epsilon-insensitive losses' free zone.
    average : bool or int
        Averaged SGD: ``coef_`` and ``intercept_`` are the mean of the parameters after each update
        from the first (True) or from update number ``average`` on; training continues from the
        last parameters, not their mean.
    fit_intercept : bool
        Learn the intercept. When False it is held at ``intercept_init`` (default 0).
    sparse_intercept_decay : float in (0, 1]
        On sparse input, the intercept's gradient is multiplied by this: scikit-learn's SGD damps
        the intercept's steps on sparse input by 0.01 (its ``SPARSE_INTERCEPT_DECAY``), since the
        intercept is updated at every row where each weight is updated only at the rows that
        store its feature. ``from_sklearn`` sets 0.01; the default 1 leaves it undamped.
""" + COMMON_PARAMETERS.format(backend=backends.parameter_doc("linear"),
                               seeded="the shuffle and the validation split",
                               weights="``coef_`` and ``intercept_``", optimizer_epsilon="eps")

#: The keyword parameters of the linear models: scikit-learn's SGD's, and the optimizers'.
_LINEAR_DEFAULTS = with_defaults(
    with_defaults(COMMON_DEFAULTS, "shuffle", penalty="l2"), "alpha", l1_ratio=0.15,
    epsilon=0.1, average=False)
_LINEAR_DEFAULTS = {**with_defaults(_LINEAR_DEFAULTS, "beta_2", eps=1e-8), "fit_intercept": True,
                    "sparse_intercept_decay": 1.0}


class GDRegressor(RegressorMixin, _BaseGD):
    __doc__ = f"""Linear regression trained by gradient descent.

    Minimises the weighted mean of ``loss`` over the rows plus the penalty, by full-batch,
    stochastic or mini-batch gradient descent with the chosen optimizer. A 2-D ``y`` fits one
    model per column at once.

    Parameters
    ----------
    loss : {{"squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive"}}
        ``squared_error`` is the mean of squared residuals ``r = x . w + b - y``, with gradient
        ``2/n X.T @ r`` (twice scikit-learn's ``r**2 / 2``); huber is ``r**2 / 2`` within
        ``epsilon`` and linear beyond; the epsilon-insensitive losses ignore residuals within
        ``epsilon`` (``fastgd._kernels.losses`` has each formula).
{_LINEAR_PARAMETERS}
    Attributes
    ----------
    coef_ : ndarray of shape (n_features,), or (n_targets, n_features) for a 2-D y
    intercept_ : ndarray of shape (1,) or (n_targets,)
{COMMON_ATTRIBUTES}"""

    _parameter_constraints = {**_BaseGD._parameter_constraints,
                              "loss": [StrOptions(set(losses.PUBLIC["regressor"]))]}
    _sklearn_twin = "SGDRegressor"

    __init__ = keyword_init({"loss": "squared_error"}, _LINEAR_DEFAULTS)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, coef_init=None, intercept_init=None):
        """Fit to ``X`` (n_samples, n_features) and ``y`` (n_samples,) or (n_samples, n_targets),
        starting from zeros or from ``coef_init`` (n_features,) or (n_targets, n_features) and
        ``intercept_init`` (a float, or (n_targets,))."""
        return self._fit(X, y, sample_weight, coef_init=coef_init, intercept_init=intercept_init)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Run one epoch over ``X``, ``y``, continuing from the previous call."""
        return self._partial_fit(X, y, None, sample_weight)

    def _y_options(self):
        return {"y_numeric": True, "multi_output": True}

    def _targets(self, y, dtype, first_call, classes=None):
        if first_call:
            self._y_columns = y.ndim == 2
        elif self._y_columns != (y.ndim == 2):
            raise ValueError(f"y has {y.ndim} dimensions, but the first call to partial_fit had "
                             f"{2 if self._y_columns else 1}; keep y's shape across calls.")
        return self._encode(y, dtype), self._loss(1), None

    def _encode(self, y, dtype):
        return y.astype(dtype).reshape(len(y), -1)

    def _loss(self, k):
        return losses.rule(self.loss, 1, self._loss_epsilon())

    def _coef_shape(self, k, d):
        return (k, d) if getattr(self, "_y_columns", False) else (d,)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    @dask_rows
    def predict(self, X):
        """Return ``X @ coef_.T + intercept_``: (n_samples,), or (n_samples, n_targets) for a
        model fitted to a 2-D y."""
        Z = self._forward(X, losses.IDENTITY)
        return Z if self.coef_.ndim == 2 else Z[:, 0]


def _has_proba(estimator):
    code = losses.CODES.get(estimator.loss)
    if code is None or (losses.LOSSES[code].proba_link is None
                        and code != losses.MODIFIED_HUBER):
        raise AttributeError(f"probability estimates are not available for loss={estimator.loss!r}")
    return True


class GDClassifier(ClassifierMixin, ClassifierTargets, _BaseGD):
    __doc__ = f"""Linear classifier trained by gradient descent, binary or multi-class.

    Two classes are one score ``z = x . w + b``; more are one score per class, trained jointly
    through a softmax for ``log_loss`` (``multi_class="multinomial"``) and one-vs-rest for the
    other losses, and for ``log_loss`` with ``multi_class="ovr"`` (scikit-learn's SGD).

    Parameters
    ----------
    loss : {{"log_loss", "hinge", "sigmoid_squared", "modified_huber", "squared_hinge", \
"perceptron", "squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive"}}
        ``log_loss`` is logistic regression (softmax for more than two classes); ``hinge`` a linear
        SVM; ``sigmoid_squared`` the squared error of the sigmoid output, the classic tutorials'
        first model, trained with its true gradient ``2 (p - y) p (1 - p) x``; the others are
        scikit-learn's (``modified_huber`` with its ``predict_proba``), the regression losses
        fitting the scores to -1 and 1 (``fastgd._kernels.losses`` has each formula).
{_LINEAR_PARAMETERS}{CLASS_WEIGHT_PARAMETER}
    multi_class : {{"multinomial", "ovr"}}
        For ``log_loss`` with more than two classes: one softmax over the classes ("multinomial")
        or one logistic regression per class against the rest ("ovr", what ``SGDClassifier`` does
        and ``from_sklearn`` sets), whose ``predict_proba`` normalises the classes' sigmoids. The
        other losses are one-vs-rest either way.
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) for two classes, else (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
{COMMON_ATTRIBUTES}"""

    _parameter_constraints = {**_BaseGD._parameter_constraints,
                              **ClassifierTargets._parameter_constraints,
                              "loss": [StrOptions(set(losses.PUBLIC["classifier"]))],
                              "multi_class": [StrOptions({"multinomial", "ovr"})]}
    _sklearn_twin = "SGDClassifier"

    __init__ = keyword_init({"loss": "log_loss"}, {**_LINEAR_DEFAULTS, "class_weight": None,
                                                   "multi_class": "multinomial"})

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, coef_init=None, intercept_init=None):
        """Fit to ``X`` (n_samples, n_features) and labels ``y`` (n_samples,), starting from zeros or
        from ``coef_init`` (n_outputs, n_features) and ``intercept_init`` (n_outputs,), where
        n_outputs is 1 for two classes (whose ``coef_init`` may be (n_features,) and
        ``intercept_init`` a float) and n_classes otherwise."""
        return self._fit(X, y, sample_weight, coef_init=coef_init, intercept_init=intercept_init)

    def _coef_shape(self, k, d):
        return (k, d)

    def _loss(self, k):
        return losses.rule(self.loss, 1 if self.multi_class == "ovr" else k, self._loss_epsilon())

    def _per_class(self, Y, loss):
        # one-vs-rest SGD as scikit-learn's: each class over its own shuffle, where one order for
        # all let the classes of the last rows seen gain together (20 hashed-text classes: 3.6
        # points less accurate)
        return Y.shape[1] > 1 and loss.code != losses.SOFTMAX_LOG_LOSS and self.batch_size == 1

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
        classes; the softmax for ``log_loss`` with more; normalised one-vs-rest sigmoids otherwise.
        ``modified_huber``: scikit-learn's ``(clip(z, -1, 1) + 1) / 2``, normalised over the classes
        (uniform where every class's is 0)."""
        check_is_fitted(self)
        if self.loss == "modified_huber":
            p = (np.clip(self._forward(X, losses.IDENTITY), -1, 1) + 1) / 2
            if len(self.classes_) == 2:
                return np.column_stack([1 - p[:, 0], p[:, 0]])
            total = p.sum(axis=1, keepdims=True)
            return np.divide(p, total, out=np.full_like(p, 1 / p.shape[1]), where=total != 0)
        if len(self.classes_) == 2:
            p = self._forward(X, losses.SIGMOID)[:, 0]
            return np.column_stack([1 - p, p])
        link = losses.LOSSES[self._loss(len(self.classes_)).code].proba_link
        if link == losses.SOFTMAX:
            return self._forward(X, losses.SOFTMAX)
        # the one-vs-rest sigmoids normalised in log space: far from every class each sigmoid
        # underflows to 0, and their plain ratio would be 0 / 0
        return losses.softmax(-np.logaddexp(0, -self._forward(X, losses.IDENTITY)))

    @available_if(_has_proba)
    @dask_rows
    def predict_log_proba(self, X):
        """Return the logarithm of :meth:`predict_proba`."""
        return np.log(self.predict_proba(X))
