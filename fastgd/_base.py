"""What every fastgd estimator shares: parameter constraints, input validation, sample and class
weights, the early-stopping split, the optimizer state, the schedule, stopping rules and callback
handed to the driver, and the fitted attributes it leaves.

A model family (linear.py, mlp.py) supplies the parameters it trains and the object that runs its
epochs (:meth:`BaseGD._epochs`); :meth:`BaseGD._run` hands it to :func:`fastgd._driver.train`.
"""

import contextlib
import functools
import inspect
from numbers import Integral, Real

import numba
import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils._unique import attach_unique, cached_unique
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _assert_all_finite, _check_sample_weight, validate_data

from . import backends
from ._driver import SCHEDULES, OptimizerState, Schedule, Stopping, train
from ._kernels import losses, optim
from ._kernels.data import check_csr, compiled_types, data_parts, row_norm_maxima, seen_labels

DTYPES = [np.float64, np.float32]


def is_dask(X):
    """Whether ``X`` is a dask collection (without importing dask where it is not loaded)."""
    return type(X).__module__.partition(".")[0] in ("dask", "dask_expr") and hasattr(
        X, "__dask_graph__")


def _dask():
    """The dask interface, imported on first use: dask is an optional dependency."""
    from . import _dask as module

    return module


def dask_rows(method):
    """A prediction method that, given a dask array, returns a lazy dask array: one
    ``map_blocks`` of ``method`` over its row chunks."""

    @functools.wraps(method)
    def wrapper(self, X):
        if is_dask(X):
            return _dask().map_rows(self, method, X)
        return method(self, X)

    return wrapper


def validate_input(estimator, X, y="no_validation", **options):
    """scikit-learn's ``validate_data`` with fastgd's rules for ``X``: float64 or float32 (others
    become float64), dense in C order, or any SciPy sparse matrix or array as CSR (a CSR of either
    dtype is used as it is), its structure checked, all in the types the kernels are compiled for
    (``data.compiled_types``). Returns what ``validate_data`` returns: ``X``, or ``(X, y)`` when
    ``y`` is given."""
    out = validate_data(estimator, X, y, dtype=DTYPES, order="C", accept_sparse="csr", **options)
    X = compiled_types(out[0] if isinstance(out, tuple) else out)
    if sp.issparse(X):
        check_csr(X)
    return (X, *out[1:]) if isinstance(out, tuple) else X

#: The keyword parameters every estimator has, with their defaults, in the order of the signature.
COMMON_DEFAULTS = dict(
    optimizer="sgd", learning_rate="auto", schedule="constant", epochs=100, batch_size=1,
    shuffle=True, alpha=0.0, momentum=0.9, beta_1=0.9, beta_2=0.999, rho=0.9, power_t=0.25, gamma=0.9, step_size=10, tol=None, n_iter_no_change=5, loss_threshold=None,
    early_stopping=False, validation_fraction=0.1, max_time=None, warm_start=False,
    backend="auto", sync_rows=None, random_state=None, verbose=False, callback=None)


def with_defaults(defaults, after, **added):
    """``defaults`` with ``added`` inserted after the key ``after``, in the signature's order."""
    out = {}
    for name, value in defaults.items():
        out[name] = value
        if name == after:
            out.update(added)
    return out


def keyword_init(positional, keywords):
    """Return an ``__init__`` that stores each parameter as an attribute of the same name, as
    scikit-learn requires, with the explicit signature ``(self, <positional>, *, <keywords>)``
    (dicts of name -> default) that ``get_params`` and ``help()`` read: one definition for the
    four estimators instead of four spelled-out lists."""
    kind = inspect.Parameter
    signature = inspect.Signature(
        [kind("self", kind.POSITIONAL_OR_KEYWORD)]
        + [kind(name, kind.POSITIONAL_OR_KEYWORD, default=value)
           for name, value in positional.items()]
        + [kind(name, kind.KEYWORD_ONLY, default=value) for name, value in keywords.items()])

    def __init__(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        for name, value in list(bound.arguments.items())[1:]:
            setattr(self, name, value)

    __init__.__signature__ = signature
    return __init__


class BaseGD(BaseEstimator):
    """Validation, optimizer state and the options of the driver, shared by every estimator.

    A family sets ``_family`` (its name in :mod:`fastgd.backends`) and the constraint of its
    ``backend`` parameter, and defines ``_epochs`` (its :class:`fastgd._driver.Epochs`),
    ``_initial_params``, ``_same_shape``, ``_set_params``, and ``_curvature_stats(X, sw, n,
    steepest=None)`` and ``_learning_rate_from`` for the "auto" step; an estimator
    defines ``_targets``.
    """

    _parameter_constraints = {
        "optimizer": [StrOptions(set(optim.NAMES))],
        "learning_rate": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        "schedule": [StrOptions(set(SCHEDULES)), callable],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [None, Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
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
        "sync_rows": [None, Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callback": [None, callable],
    }

    # --- fitting ---------------------------------------------------------------------------

    def _fit(self, X, y, sample_weight, row_parts=None, **init):
        """Fit from scratch (or continue, with ``warm_start``); ``init`` holds initial values that
        the family's ``_initial_params`` understands. A dask array goes to the cluster
        (:mod:`fastgd._dask`). ``row_parts`` (the row counts of consecutive parts) makes a full batch
        sum its gradient over those parts in order, as a fit on a dask array with those chunks
        does: the same model, bit for bit."""
        with self._unchanged_on_error():
            if is_dask(X):
                _dask().fit(self, X, y, sample_weight, init)
                return self
            X, Y, sw, P, loss, rng, validation, history, largest = self._prepare(
                X, y, sample_weight, row_parts=row_parts, **init)
            self._run(X, Y, sw, P, loss, rng, validation, history, self.epochs,
                      row_parts=row_parts, largest_squared_norm=largest)
        return self

    @contextlib.contextmanager
    def _unchanged_on_error(self):
        """Leave the estimator exactly as it was before the block when the block raises (a bad
        batch in a stream, a divergence, a second Ctrl-C), so that a caller can skip the batch and
        go on: its attributes put back, with what training changes in place, the optimizer
        state and the random generator's state (the rest it replaces). ``copy.deepcopy`` of those
        two took 0.8 ms, a third of a one-epoch SGD fit of 10,000 rows."""
        saved = dict(vars(self))
        state = saved.get("_state")
        if state is not None:
            saved["_state"] = state.copy()
        rng = saved.get("_rng")
        rng_state = rng.get_state() if rng is not None else None
        try:
            yield
        except BaseException:
            vars(self).clear()
            vars(self).update(saved)
            if rng is not None:
                rng.set_state(rng_state)
            raise

    def _epochs_for(self, X, y, sample_weight=None, **init):
        """The :class:`fastgd._driver.Epochs` that ``fit(X, y)`` would train, set up as ``fit``
        sets it up but not run: what the benchmark suite times an epoch of."""
        X, Y, sw, P, loss, *_ = self._prepare(X, y, sample_weight, **init)
        return self._epochs(X, Y, sw, P, loss)

    def _prepare(self, X, y, sample_weight, row_parts=None, **init):
        """Validate, then set up what ``fit`` trains: returns ``(X, Y, sw, P, loss, rng,
        validation, history, largest_squared_norm)``."""
        X, y = validate_input(self, X, y, ensure_all_finite=False, **self._y_options())
        self._rng = rng = check_random_state(self.random_state)
        Y, loss, class_sw = self._targets(y, X.dtype, first_call=True)
        self._choose_backend(X.shape[0], self._per_class(Y, loss))
        sw = self._sample_weight(sample_weight, X, class_sw)
        norms = self._row_norms(X, sw)
        warm = self.warm_start and hasattr(self, "_state") and self._same_shape(Y.shape[1], X.shape[1])
        P = self._initial_params(X.dtype, Y.shape[1], X.shape[1], warm, **init)
        fresh_state = optim.allocate_state(self._optimizer, P.size, X.dtype)
        if not (warm and self._state.S.shape == fresh_state.shape
                and self._state.S.dtype == fresh_state.dtype):
            self._state = OptimizerState(fresh_state)
        validation = None
        if self.early_stopping:
            X, Y, sw, validation = self._split_validation(X, Y, sw, y, rng)
        if not warm:
            # the rows' largest norm is that of all of them, not of the training part's
            steepest = None if validation is not None else norms[1]
            self._set_learning_rate(
                lambda: self._auto_learning_rate(X, sw, loss, row_parts, steepest))
        history = list(self.loss_history_) if warm else []
        return X, Y, sw, P, loss, rng, validation, history, norms[0]

    def _partial_fit(self, X, y, classes, sample_weight):
        with self._unchanged_on_error():
            if is_dask(X):
                _dask().partial_fit(self, X, y, classes, sample_weight)
            else:
                self._partial_fit_in_process(X, y, classes, sample_weight)
        return self

    def _partial_fit_in_process(self, X, y, classes, sample_weight):
        first_call = not hasattr(self, "_state")
        X, y = validate_input(self, X, y, reset=first_call, ensure_all_finite=False,
                              **self._y_options())
        if not first_call and X.dtype != self._state.S.dtype:
            X = X.astype(self._state.S.dtype)
        Y, loss, class_sw = self._targets(y, X.dtype, first_call=first_call, classes=classes)
        sw = self._sample_weight(sample_weight, X, class_sw)
        largest, steepest = self._row_norms(X, sw)
        if first_call:
            self._choose_backend(X.shape[0], self._per_class(Y, loss))
            self._rng = check_random_state(self.random_state)
            P = self._initial_params(X.dtype, Y.shape[1], X.shape[1], warm=False)
            self._state = OptimizerState(optim.allocate_state(self._optimizer, P.size, X.dtype))
            self._set_learning_rate(
                lambda: self._auto_learning_rate(X, sw, loss, steepest=steepest))
            history = []
        else:
            if not self._same_shape(Y.shape[1], X.shape[1]):
                raise ValueError(f"y has {Y.shape[1]} outputs or the parameters changed shape "
                                 "since the first call to partial_fit; fit a new estimator.")
            P = self._initial_params(X.dtype, Y.shape[1], X.shape[1], warm=True)
            history = list(self.loss_history_)
        self._run(X, Y, sw, P, loss, self._rng, None, history, 1, largest_squared_norm=largest)

    def _run(self, X, Y, sw, P, loss, rng, validation, history, epochs, row_parts=None,
             largest_squared_norm=None):
        """Train ``P`` for ``epochs`` epochs after ``len(history)`` earlier ones; set the fitted
        attributes. ``largest_squared_norm``, the largest squared norm of a row of ``X``, lets the
        check after the last epoch bound the scores instead of computing them."""
        model = self._epochs(X, Y, sw, P, loss)
        model.largest_squared_norm = largest_squared_norm
        if row_parts is not None:
            model.parts = data_parts(model.data, row_parts)
        result = train(model, X.shape[0], **self._train_options(P, epochs, rng, validation,
                                                             len(history)))
        self._record(P, result, history, validation)

    def _y_options(self):
        return {"y_numeric": isinstance(self, RegressorMixin)}

    def _train_options(self, P, epochs, rng, validation, offset):
        """Keyword arguments of :func:`fastgd._driver.train` after ``offset`` earlier epochs:
        the schedule, the stopping rules, and the callback that sees the current parameters."""
        schedule = _OffsetSchedule(
            kind=self.schedule, lr=self.learning_rate_, power_t=self.power_t, gamma=self.gamma,
            step_size=self.step_size, epochs=self.epochs, alpha=float(self.alpha), offset=offset)
        stopping = Stopping(tol=self.tol, n_iter_no_change=self.n_iter_no_change,
                            loss_threshold=self.loss_threshold, max_time=self.max_time,
                            validation=validation)
        callback = None
        if self.callback is not None:
            def callback(e, loss_value):
                self._set_params(P)
                return bool(self.callback(offset + e, loss_value, self))
        return dict(schedule=schedule, stopping=stopping, epochs=epochs,
                    batch_size=self.batch_size, shuffle=self.shuffle, rng=rng, callback=callback,
                    verbose=self.verbose, name=type(self).__name__)

    def _record(self, P, result, history, validation):
        """Set the fitted attributes after a call to ``train``."""
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

    @property
    def _backend(self):
        """The backend that trains and predicts: ``backend``, or the one "auto" chose at fit."""
        name = self.backend_ if self.backend == backends.AUTO else self.backend
        return backends.get(self._family, name)

    def _choose_backend(self, n, per_class=False):
        """Set ``backend_`` for a fit of ``n`` rows (``per_class``: see :meth:`_per_class`)."""
        self.backend_ = self.backend if self.backend != backends.AUTO else backends.choose(
            self._family, n, self.batch_size, numba.get_num_threads(), self._takes_local_sgd(),
            per_class)

    def _per_class(self, Y, loss):
        """Whether each output of the targets ``Y`` trains apart, over its own order of the rows
        (the linear classifiers' one-vs-rest SGD)."""
        return False

    def _takes_local_sgd(self):
        """Whether the model can train by local SGD (see ``backends.choose``)."""
        return True

    #: The parameter holding the optimizers' epsilon: "epsilon" as in scikit-learn's MLP; the linear
    #: models call it "eps" (torch's name), since scikit-learn's SGD gives "epsilon" to its losses.
    _optimizer_epsilon = "epsilon"

    def _hyper(self):
        """The optimizers' hyper-parameters in the kernels' order (``optim.HYPER``)."""
        names = [self._optimizer_epsilon if name == "epsilon" else name for name in optim.HYPER]
        return np.array([getattr(self, name) for name in names], dtype=np.float64)

    def _loss_epsilon(self):
        """The epsilon of the loss (huber and the epsilon-insensitive losses)."""
        return 0.0

    def _set_learning_rate(self, auto):
        """Set ``learning_rate_``; ``auto()`` computes the "auto" step when it is needed."""
        if self.schedule == "optimal" and not self.alpha > 0:
            raise ValueError("schedule='optimal' takes steps 1 / (alpha (t0 + t)), so it needs "
                             "alpha > 0; set alpha (scikit-learn's default is 0.0001) or choose "
                             "another schedule.")
        if self.learning_rate != "auto":
            self.learning_rate_ = float(self.learning_rate)
        elif self.schedule == "optimal":
            # the first step of scikit-learn's 1 / (alpha (t0 + t - 1)): Bottou's heuristic
            # alpha**-0.25, divided by max(1, dloss(-alpha**-0.25, 1)) in scikit-learn, which is 1
            # for every loss: each slopes down toward a positive target, and no absolute value is
            # taken (tests/test_sgd.py holds every loss to scikit-learn's weights)
            self.learning_rate_ = float(self.alpha) ** -0.25
        else:
            self.learning_rate_ = auto()

    def _auto_learning_rate(self, X, sw, loss, row_parts=None, steepest=None):
        """The "auto" step for rows ``X``, ``sw``, from the family's statistics of each part of
        ``row_parts`` (a dask array's chunks give the same parts, :mod:`fastgd._dask`);
        ``steepest``, the second of :meth:`_row_norms` when it was of these rows."""
        n = X.shape[0]
        bounds = np.cumsum([0, *(row_parts if row_parts is not None else [n])])
        if len(bounds) == 2:  # X itself: a slice of a SciPy sparse matrix is a copy
            stats = [self._curvature_stats(X, sw, n, steepest)]
        else:
            stats = [self._curvature_stats(X[lo:hi], sw[lo:hi], n)
                     for lo, hi in zip(bounds[:-1], bounds[1:])]
        return self._learning_rate_from(stats, loss, n)

    #: The constant feature that a row's norm counts in :meth:`_row_norms` (the intercept's).
    _intercept_feature = 0.0

    def _row_norms(self, X, sw):
        """``data.row_norm_maxima`` of the training rows, which is also their finiteness check:
        scikit-learn's error when ``X`` holds NaN or inf. Squares that overflow give inf."""
        largest, steepest = row_norm_maxima(X, sw, self._intercept_feature,
                                            numba.get_num_threads())
        if not np.isfinite(largest):
            _assert_all_finite(X.data if sp.issparse(X) else X, input_name="X",
                               estimator_name=type(self).__name__)
            largest = steepest = np.inf  # finite values whose squares overflow
        return largest, steepest

    def _sample_weight(self, sample_weight, X, class_sw):
        """Per-row weights in ``X``'s dtype, rescaled to average 1 so that the loss is the weighted
        mean ``sum_i w_i l_i / sum_i w_i`` (as in torch's weighted losses): only their ratios
        matter, and the "auto" step does not shrink with their scale. They are rescaled in float64,
        so that weights beyond float32's range (1e300, 1e-300) keep their ratios in a float32 fit."""
        if sample_weight is None and class_sw is None:
            return np.ones(X.shape[0], dtype=X.dtype)
        sw = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        if class_sw is not None:
            sw = sw * class_sw
        with np.errstate(over="ignore"):  # a sum that overflows is refused below, saying why
            total = float(sw.sum())
        if not total > 0:
            raise ValueError("sample_weight (times class_weight) sums to zero: give some rows a "
                             "positive weight.")
        if not 0 < len(sw) / total < np.inf:  # weights near float64's largest, or subnormal
            raise ValueError(f"sample_weight (times class_weight) sums to {total:g}, too far from "
                             "the number of rows to rescale in float64: multiply the weights by a "
                             "common factor (only their ratios matter).")
        return (sw * (len(sw) / total)).astype(X.dtype, copy=False)

    def _split_validation(self, X, Y, sw, y, rng):
        stratify = y if isinstance(self, ClassifierMixin) else None
        try:
            train_rows, validation_rows = train_test_split(
                np.arange(X.shape[0]), test_size=self.validation_fraction, stratify=stratify,
                random_state=rng)
        except ValueError as error:  # its message speaks of test_size, not of our parameters
            raise ValueError(
                f"early_stopping cannot hold out validation_fraction={self.validation_fraction} "
                f"of {X.shape[0]} rows{' in every class' if stratify is not None else ''}: "
                f"{str(error).rstrip('.')}. Add rows, change validation_fraction or set "
                "early_stopping=False."
            ) from error
        validation = (X[validation_rows], Y[validation_rows], sw[validation_rows])
        return X[train_rows], Y[train_rows], sw[train_rows], validation

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = True
        return tags


class ClassifierTargets:
    """Labels of any type to target rows, class weights, and ``partial_fit``'s ``classes``, for the
    classifiers. The loss trained is the estimator's ``loss`` (its multi-class form for more than
    two classes)."""

    _parameter_constraints = {"class_weight": [None, dict, StrOptions({"balanced"})]}

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
        """Return the target array ``Y`` (n, k), the loss code and the class weight of each row.

        Two classes are one output (1 for the second class); more are one-hot rows.
        """
        if first_call and classes is None and y.ndim == 1 and y.dtype.kind in "iub":
            # integer labels are binary or multiclass: which are present is counted, not sorted
            self.classes_ = seen_labels(y)
        else:
            y = attach_unique(y)  # one np.unique for the target check and classes_
            check_classification_targets(y)
            if first_call:
                self.classes_ = cached_unique(y) if classes is None else np.unique(classes)
        if first_call:
            if len(self.classes_) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs at least 2 classes in y, but it holds only one "
                    f"class: {self.classes_.tolist()[0]!r}.")
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes={classes!r} differs from the first call's {self.classes_!r}.")
        if classes is not None or not first_call:  # fit takes its classes from y itself
            unknown = ~np.isin(y, self.classes_)
            if unknown.any():
                raise ValueError(f"y holds labels not in classes: {np.unique(y[unknown])!r}.")
        Y = self._encode(y, dtype)
        return Y, self._loss(Y.shape[1]), self._class_weights(y)

    def _loss(self, k):
        """The :class:`fastgd._kernels.losses.Rule` trained for ``k`` outputs."""
        return losses.rule(self.loss, k, self._loss_epsilon())

    def _encode(self, y, dtype):
        """The target rows of labels ``y``, all in ``classes_``: one output (1 for the second class)
        for two classes, else one-hot rows."""
        k = len(self.classes_)
        if k == 2:
            # a comparison, not an index array: for a million rows a 1 MB mask, not 8 MB of indices
            Y = (y == self.classes_[1]).astype(dtype).reshape(-1, 1)
        else:
            Y = np.zeros((len(y), k), dtype=dtype)
            Y[np.arange(len(y)), np.searchsorted(self.classes_, y)] = 1
        if losses.on_signs(self.loss):  # a regression loss fits the scores to -1 and 1
            Y = 2 * Y - 1
        return Y

    def _class_weights(self, y):
        """Each row's class weight, or None without ``class_weight``."""
        if self.class_weight is None:
            return None
        if isinstance(self.class_weight, dict):
            unknown = set(self.class_weight) - set(self.classes_.tolist())
            if unknown:
                raise ValueError(f"class_weight names labels not in classes: {sorted(unknown)!r}.")
        weights = compute_class_weight(self.class_weight, classes=self.classes_, y=y)
        return weights[np.searchsorted(self.classes_, y)]


class _OffsetSchedule(Schedule):
    """A schedule continued after ``offset`` earlier epochs (``partial_fit``, ``warm_start``)."""

    def __init__(self, offset, **kwargs):
        super().__init__(**kwargs)
        self.offset = offset

    def for_epoch(self, epoch, n_batches):
        return super().for_epoch(self.offset + epoch, n_batches)


#: The documentation of the parameters every estimator shares, for the numpydoc docstrings.
#: ``{backend}`` documents the family's backends, ``{seeded}`` what the seed draws and ``{weights}``
#: the fitted attributes that the callback sees.
COMMON_PARAMETERS = """\
    optimizer : {{"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"}}
        The update rule, with torch.optim's equations (see ``fastgd._kernels.optim``). Its state
        (velocities, moments, step count) persists across epochs, ``warm_start`` and
        ``partial_fit``. With "adamw", ``alpha`` is a decoupled weight decay.
    schedule : {{"constant", "invscaling", "exponential", "cosine", "step", "optimal", \
"adaptive"}} or callable
        Learning rate over time: invscaling ``lr / t**power_t`` at update ``t``; exponential
        ``lr * gamma**epoch``; cosine from ``lr`` to 0 over all updates of ``epochs`` epochs; step
        ``lr * gamma**(epoch // step_size)``; optimal (Bottou's, as scikit-learn's SGD)
        ``1 / (alpha (t0 + t - 1))`` with the first step ``1 / (alpha t0)`` the learning rate
        ("auto": ``alpha**-0.25``); adaptive ``lr``, divided by 5 each time the loss has not
        improved by ``tol`` (0 when None) for ``n_iter_no_change`` epochs, stopping once it falls
        under 1e-6; a callable ``epoch -> learning rate`` (epochs from 0).
    epochs : int
        Passes over the data.
    batch_size : int or None
        Rows per update: 1 is stochastic gradient descent, ``k`` mini-batch, None all rows
        (vanilla full-batch gradient descent).
    shuffle : bool
        Visit rows in a new random order each epoch (mini-batch and SGD only).
    alpha : float >= 0
        L2 penalty ``alpha/2 ||W||^2`` on the weights (not the intercepts).
    momentum, beta_1, beta_2, {optimizer_epsilon}, rho : float
        Hyper-parameters of the optimizers: momentum and nesterov's ``momentum``; adam's
        ``beta_1``, ``beta_2``; the ``{optimizer_epsilon}`` of adagrad, rmsprop and adam (default 1e-8);
        rmsprop's decay ``rho``.
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
{backend}    sync_rows : int or None
        On a dask array, mini-batch and SGD train by local SGD: each worker trains its own copy
        of the model on this many of its rows, then the copies are averaged (weighted by rows).
        None: 1,048,576.
    random_state : int, RandomState or None
        Seeds {seeded}; the same seed and backend give the same model bit for bit.
    verbose : bool or int
        Show a progress bar with the current loss.
    callback : callable or None
        ``callback(epoch, loss, estimator)`` after each epoch (from 0), with {weights} holding the
        current weights; returning True stops training.
"""

COMMON_ATTRIBUTES = """\
    backend_ : str
        The backend that trained the model and predicts: ``backend``, or the one that "auto"
        chose (for ``partial_fit``, from its first call's rows).
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
    stop_reason_ : {"epochs", "tol", "early_stopping", "loss_threshold", "max_time", "callback", \
"interrupted"}
        Why training stopped. "interrupted": Ctrl-C, after which the epoch in progress finished
        and was kept; a second Ctrl-C raises ``KeyboardInterrupt`` and leaves the estimator as it
        was before the call.
"""

CLASS_WEIGHT_PARAMETER = """\
    class_weight : dict, "balanced" or None
        Multiplies each sample's weight by its class's weight; "balanced" uses
        ``n_samples / (n_classes * count(class))``.
"""
