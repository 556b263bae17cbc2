"""Multi-layer perceptrons trained by gradient descent: :class:`MLPClassifier` and
:class:`MLPRegressor`.

They share the linear models' engine: the driver's epoch loop (schedules, stopping rules,
callbacks, loss history), the optimizers' compiled updates and the loss terms, with the dense-layer
kernels of ``fastgd._kernels.mlp``. All of a network's weights and biases live in one flat array
that the optimizer updates in place.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from . import backends
from ._base import (CLASS_WEIGHT_PARAMETER, COMMON_ATTRIBUTES, COMMON_DEFAULTS, COMMON_PARAMETERS,
                    BaseGD, ClassifierTargets, dask_rows, keyword_init, validate_input,
                    with_defaults)
from ._driver import Epochs
from ._kernels import losses, mlp, optim
from ._kernels.data import Data

INITS = ("glorot", "he", "unit_norm")

#: The networks' defaults where they differ from the linear models'.
_MLP_DEFAULTS = {**with_defaults(COMMON_DEFAULTS, "beta_2", epsilon=1e-8), "optimizer": "adam",
                 "epochs": 200, "batch_size": 32}

#: "auto" learning rate of plain SGD on a network: the loss of a network has no global curvature
#: bound to derive a step from (unlike the linear models), so this is the customary default;
#: momentum and nesterov take ``(1 - momentum)`` times it, the same effective step (with momentum
#: 0.9 it is scikit-learn's MLP default of 0.001).
SGD_DEFAULT_RATE = 0.01


def initial_weights(init, fan_in, fan_out, rng):
    """Return the initial ``W`` (fan_in, fan_out) of a layer, float64, drawn from ``rng``.

    glorot: uniform on ``+-sqrt(6 / (fan_in + fan_out))`` (Glorot and Bengio, 2010); he: normal
    with standard deviation ``sqrt(2 / fan_in)`` (He et al., 2015); unit_norm: standard normal
    with each unit's incoming weights scaled to norm 1, as in the NumPy tutorial's network.
    """
    if init == "glorot":
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-bound, bound, (fan_in, fan_out))
    if init == "he":
        return rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)
    W = rng.standard_normal((fan_in, fan_out))
    return W / np.linalg.norm(W, axis=0)


class MLPEpochs(Epochs):
    """Epochs of a network, the flat ``P``, on ``X``, ``Y``, ``sw`` (see :class:`Epochs`)."""

    kernels = mlp

    def __init__(self, backend, X, Y, sw, P, state, *, sizes, activation, loss, optimizer, hyper,
                 alpha):
        super().__init__(backend, Data(X, Y, sw), P, state,
                         lambda P, l2, decay: mlp.Network(P, sizes, activation, loss, l2, decay),
                         optimizer=optimizer, hyper=hyper, alpha=alpha)

    def penalty(self):
        if not self.alpha:
            return 0.0
        return 0.5 * self.alpha * sum(float(np.sum(W * W))
                                      for W, _ in mlp.unpack(self.params, self.model.sizes))

    def validation_loss(self, X, Y, sw):
        Z = self.backend.forward(X, self.model, losses.IDENTITY, self.backend.threads())
        L, _ = losses.loss_terms(self.model.loss, Z, Y)
        return float(sw @ L.sum(axis=1)) / X.shape[0]


class _BaseMLP(BaseGD):
    """Networks: the layer sizes, initialisation, the flat parameters and predictions."""

    _family = "mlp"
    _parameter_constraints = {
        **BaseGD._parameter_constraints,
        "hidden_layer_sizes": ["array-like", Integral],
        "activation": [StrOptions(set(mlp.ACTIVATIONS))],
        "init": [StrOptions(set(INITS))],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "backend": [StrOptions({backends.AUTO, *backends.MLP})],
    }

    def _epochs(self, X, Y, sw, P, loss):
        self._layer_sizes = self._sizes(X.shape[1], Y.shape[1])
        return MLPEpochs(self._backend, X, Y, sw, P, self._state, sizes=self._layer_sizes,
                         activation=mlp.ACTIVATIONS[self.activation], loss=loss,
                         optimizer=self._optimizer, hyper=self._hyper(), alpha=float(self.alpha))

    def _curvature_stats(self, X, sw, n, steepest=None):
        return None  # the step does not depend on the rows; see SGD_DEFAULT_RATE

    def _learning_rate_from(self, stats, loss, n):
        rule = optim.OPTIMIZERS[self._optimizer]
        if rule.default_rate is not None:
            return rule.default_rate
        return SGD_DEFAULT_RATE * (1.0 - self.momentum if rule.damped else 1.0)

    def _hidden(self):
        sizes = np.atleast_1d(np.asarray(self.hidden_layer_sizes))
        if sizes.ndim != 1 or not all(isinstance(h, Integral) and h >= 1 for h in sizes.tolist()):
            raise ValueError("hidden_layer_sizes must be an int or a sequence of ints >= 1 (one "
                             f"per hidden layer), got {self.hidden_layer_sizes!r}.")
        return sizes.tolist()

    def _sizes(self, d, k):
        """``[n_features, hidden..., n_outputs]`` as the kernels take it."""
        return np.array([d, *self._hidden(), k], dtype=np.int64)

    def _same_shape(self, k, d):
        return (hasattr(self, "coefs_")
                and [W.shape[0] for W in self.coefs_] + [self.coefs_[-1].shape[1]]
                == self._sizes(d, k).tolist())

    def _initial_params(self, dtype, k, d, warm):
        """The flat parameters: the fitted ones, or weights drawn by ``init`` and zero biases."""
        sizes = self._sizes(d, k)
        if warm:
            return self._packed_params(dtype)
        P = np.zeros(mlp.n_params(sizes), dtype=dtype)
        for l, (W, _) in enumerate(mlp.unpack(P, sizes)):
            W[:] = initial_weights(self.init, sizes[l], sizes[l + 1], self._rng)
        return P

    def _packed_params(self, dtype):
        # one copy, not three: on 2**18 sparse inputs these are over 100 MB, at every predict
        return np.concatenate([part for W, b in zip(self.coefs_, self.intercepts_)
                               for part in (W.ravel(), b)], dtype=dtype)

    def _set_params(self, P):
        layers = mlp.unpack(P, self._layer_sizes)
        self.coefs_ = [W.copy() for W, _ in layers]
        self.intercepts_ = [b.copy() for _, b in layers]
        self.n_layers_ = len(self._layer_sizes)
        self.n_outputs_ = int(self._layer_sizes[-1])

    def _output(self, X, link):
        """Return the network's output ``link(Z)`` (n, n_outputs) with the fitted backend."""
        check_is_fitted(self)
        X = validate_input(self, X, reset=False)
        sizes = np.array([W.shape[0] for W in self.coefs_] + [self.coefs_[-1].shape[1]],
                         dtype=np.int64)
        net = mlp.Network(self._packed_params(X.dtype), sizes, mlp.ACTIVATIONS[self.activation],
                          0, 0.0, 0.0)
        backend = self._backend
        return backend.forward(X, net, link, backend.threads())


_MLP_PARAMETERS = """\
    hidden_layer_sizes : int or sequence of int
        Units of each hidden layer, from the input; ``()`` leaves a linear model.
    activation : {"relu", "tanh", "logistic", "identity"}
        Activation of the hidden layers.
    init : {"glorot", "he", "unit_norm"}
        Initial weights (biases start at 0): "glorot" uniform on ``+-sqrt(6 / (fan_in +
        fan_out))``, "he" normal with standard deviation ``sqrt(2 / fan_in)`` (suited to relu),
        "unit_norm" standard normal with each unit's incoming weights scaled to norm 1.
    learning_rate : float > 0 or "auto"
        Step size. "auto": 0.01 for sgd, ``0.01 * (1 - momentum)`` for momentum and nesterov
        (scikit-learn's 0.001 at momentum 0.9), torch's defaults for the adaptive optimizers (0.01
        for adagrad and rmsprop, 0.001 for adam and adamw).
""" + COMMON_PARAMETERS.format(backend=backends.parameter_doc("mlp"),
                               seeded="the initial weights, the shuffle and the validation split",
                               weights="``coefs_`` and ``intercepts_``",
                               optimizer_epsilon="epsilon")

#: How the networks take sparse input, and what it costs; in both docstrings.
_SPARSE_INPUT = """\
    ``X`` may be a SciPy sparse matrix or array: a CSR one is read where it lies (other formats are
    converted to CSR once). The first layer then reads only a row's stored values, O(stored values
    x first-layer units) each way, but every step of the optimizer still updates every weight,
    O(n_features x first-layer units) a step, as for dense input: on wide sparse input, larger
    batches (fewer steps) train faster per epoch.
"""

_MLP_ATTRIBUTES = """\
    coefs_ : list of ndarray
        ``coefs_[l]`` of shape (n_units[l], n_units[l + 1]) holds the weights from layer ``l`` to
        layer ``l + 1``, as in scikit-learn.
    intercepts_ : list of ndarray
        ``intercepts_[l]`` of shape (n_units[l + 1],).
    n_layers_ : int
        Layers, counting the input and the output: ``len(hidden_layer_sizes) + 2``.
    n_outputs_ : int
""" + COMMON_ATTRIBUTES


class MLPClassifier(ClassifierMixin, ClassifierTargets, _BaseMLP):
    __doc__ = f"""A multi-layer perceptron classifier trained by gradient descent.

    The hidden layers compute ``A_(l+1) = f(A_l @ W_l + b_l)``; the output is one sigmoid unit
    trained with binary cross-entropy for two classes, and a softmax over one unit per class trained
    with cross-entropy for more. The objective is the weighted mean of the per-row losses plus
    ``alpha / 2`` times the sum of every squared weight.

{_SPARSE_INPUT}
    Parameters
    ----------
{_MLP_PARAMETERS}{CLASS_WEIGHT_PARAMETER}
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
{_MLP_ATTRIBUTES}    out_activation_ : {{"logistic", "softmax"}}
    """

    _parameter_constraints = {**_BaseMLP._parameter_constraints,
                              **ClassifierTargets._parameter_constraints}

    __init__ = keyword_init({"hidden_layer_sizes": (100,), "activation": "relu"},
                            {"init": "glorot", **_MLP_DEFAULTS, "class_weight": None})

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit to ``X`` (n_samples, n_features) and labels ``y`` (n_samples,)."""
        return self._fit(X, y, sample_weight)

    loss = "log_loss"  # what the classifier trains; not a parameter

    def _set_params(self, P):
        super()._set_params(P)
        self.out_activation_ = "logistic" if self.n_outputs_ == 1 else "softmax"

    @dask_rows
    def predict(self, X):
        """Return the class of each row: the second class where the sigmoid output exceeds 1/2,
        else the class of the highest softmax output."""
        scores = self._output(X, losses.IDENTITY)
        index = (scores[:, 0] > 0).astype(int) if scores.shape[1] == 1 else scores.argmax(axis=1)
        return self.classes_[index]

    @dask_rows
    def predict_proba(self, X):
        """Return class probabilities, shape (n_samples, n_classes)."""
        check_is_fitted(self)
        if len(self.classes_) == 2:
            p = self._output(X, losses.SIGMOID)[:, 0]
            return np.column_stack([1 - p, p])
        return self._output(X, losses.SOFTMAX)

    @dask_rows
    def predict_log_proba(self, X):
        """Return the logarithm of :meth:`predict_proba`."""
        return np.log(self.predict_proba(X))


class MLPRegressor(RegressorMixin, _BaseMLP):
    __doc__ = f"""A multi-layer perceptron regressor trained by gradient descent.

    The hidden layers compute ``A_(l+1) = f(A_l @ W_l + b_l)`` and the output layer is linear, one
    unit per target. The objective is the weighted mean over rows of the squared residuals (summed
    over the targets), as ``GDRegressor``'s ``squared_error``, plus ``alpha / 2`` times the sum of
    every squared weight.

{_SPARSE_INPUT}
    Parameters
    ----------
{_MLP_PARAMETERS}
    Attributes
    ----------
{_MLP_ATTRIBUTES}    out_activation_ : "identity"
    """

    __init__ = keyword_init({"hidden_layer_sizes": (100,), "activation": "relu"},
                            {"init": "glorot", **_MLP_DEFAULTS})

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit to ``X`` (n_samples, n_features) and ``y`` (n_samples,) or (n_samples, n_targets)."""
        return self._fit(X, y, sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Run one epoch over ``X``, ``y``, continuing from the previous call."""
        return self._partial_fit(X, y, None, sample_weight)

    def _y_options(self):
        return {"y_numeric": True, "multi_output": True}

    def _targets(self, y, dtype, first_call, classes=None):
        return self._encode(y, dtype), self._loss(1), None

    def _encode(self, y, dtype):
        return y.astype(dtype).reshape(len(y), -1)

    def _loss(self, k):
        return losses.Rule(losses.SQUARED_ERROR)

    def _set_params(self, P):
        super()._set_params(P)
        self.out_activation_ = "identity"

    @dask_rows
    def predict(self, X):
        """Return the network's output: (n_samples,) for one target, else (n_samples, n_targets)."""
        Z = self._output(X, losses.IDENTITY)
        return Z[:, 0] if Z.shape[1] == 1 else Z

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
