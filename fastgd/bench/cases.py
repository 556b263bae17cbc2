"""The benchmark matrix: which problems are timed, by which variants, and the timed calls.

The pytest-benchmark suite in ``benchmarks/`` and the regression check both build their calls here,
so that a case means the same thing in both.

A *case* is one training problem: a model (loss), an optimizer, ``n`` rows by ``d`` features, a
batch size and a dtype, timed either as one ``"epoch"`` (the epoch call that the driver makes,
recorded from a real ``fit``) or as one ``"fit"`` (a ``fit`` of the public estimator for
``epochs`` epochs, validation included, which is what a scikit-learn or PyTorch peer can be
compared with, and whose training loss, the objective of its loss and penalty, is recorded beside
its time by :func:`training_loss`). A *serial* case pins BLAS to one thread and leaves out the
variants that use several, so that the serial kernel meets a serial NumPy. A *variant* is what runs
it: a fastgd backend ("numpy" is the reference), a peer, or the physical limit ``X @ w``.

A case's ``data`` names its :class:`Problem`: ``"dense"``, standard normal features, or ``"text"``,
the text-like CSR of ``fastgd.bench.textlike`` (issue 13's sparse input), whose sweeps are
``TEXT_SWEEPS``; there the limit of a full-batch epoch is SciPy's two products ``X @ w`` and
``X.T @ r`` on the same CSR.

The full cross product (6 batch sizes x 4 row counts x 4 feature counts x 2 dtypes x 5 losses x 7
optimizers) is over 6,000 cases: far more than 20 minutes on 2 cores allow. The design is sampled
instead: each of ``SWEEPS`` varies one axis around a central point, in both dtypes.

Adding an optimizer is a name in ``OPTIMIZERS``; adding a model is an entry in ``MODELS`` and its
name in a sweep's values. The models of ``SGD_TWINS`` are scikit-learn's ``SGDClassifier`` settings
(its losses and penalties, averaging) with the fastgd estimator converted from the very
``SGDClassifier`` that is their peer.
"""

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib.util import find_spec
from time import perf_counter

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier, SGDRegressor
from sklearn.metrics import log_loss
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier

from .. import backends
from .._kernels import losses
from ..linear import GDClassifier, GDRegressor
from ..mlp import MLPClassifier
from .machine import THREADS
from .textlike import csr_bytes, text_like

#: Step size of every timed run: a constant, as scikit-learn's ``eta0``, so that no run spends a
#: pass over X on ``learning_rate="auto"``; small enough that no benchmarked problem diverges.
LEARNING_RATE = 0.01

#: The peer of a full-batch epoch on sparse input: the two products that a gradient needs, by SciPy.
TWO_PRODUCTS = "X @ w, X.T @ r"

#: The variant every speedup is measured against, and the compiled backends measured against it:
#: every family's, in the order of ``fastgd.backends``.
REFERENCE = "numpy"
COMPILED = tuple(dict.fromkeys(name for table in backends.FAMILIES.values() for name in table
                               if name != REFERENCE))
#: The estimators' default backend, which picks one of ``COMPILED`` per fit: not timed itself, its
#: pick is recorded (:func:`auto_choice`) and judged by that backend's time.
AUTO = backends.AUTO

#: Seconds per update of the variants that loop over batches in Python (measured here). Where a
#: call would take them longer than ``MAX_CALL_SECONDS`` they are left out of a case, which would
#: otherwise cost minutes.
PYTHON_UPDATE_SECONDS = {"numpy": 25e-6, "torch": 200e-6}
MAX_CALL_SECONDS = 1.0

DTYPES = ("float64", "float32")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")

#: A benchmark's rounds are set so that it takes about a budget of seconds, within these bounds.
MIN_ROUNDS, MAX_ROUNDS = 5, 200


def sgd_peer(estimator, **params):
    """Return ``make(batch_size, learning_rate, epochs, alpha=0, fit_intercept=True)`` building
    scikit-learn's plain SGD (constant step, no shuffle) with ``params``; unless they name a
    penalty, an L2 penalty ``alpha`` when it is positive, as fastgd's. It only does batch size 1,
    so ``make`` returns None for any other."""
    def make(batch_size, learning_rate, epochs, alpha=0.0, fit_intercept=True):
        if batch_size != 1:
            return None
        penalty = {} if "penalty" in params else {"penalty": "l2" if alpha else None,
                                                  "alpha": alpha}
        return estimator(**params, **penalty, learning_rate="constant", eta0=learning_rate,
                         fit_intercept=fit_intercept, max_iter=epochs, tol=None, shuffle=False)
    return make


def mlp_peer(batch_size, learning_rate, epochs, alpha=0.0):
    """scikit-learn's MLPClassifier: one hidden layer of 64, SGD with momentum 0.9."""
    return SklearnMLPClassifier((64,), solver="sgd", momentum=0.9, nesterovs_momentum=False,
                                learning_rate_init=learning_rate, batch_size=batch_size,
                                alpha=alpha, max_iter=epochs, shuffle=False, random_state=0)


#: The backends of the linear models, the NumPy reference first.
LINEAR_BACKENDS = tuple(sorted(backends.LINEAR, key=lambda name: name != REFERENCE))


@dataclass(frozen=True)
class Model:
    """A fastgd estimator with its parameters, the kind of targets it takes (``classes`` 0 for
    regression), an optional peer ``peer(batch_size, learning_rate, epochs) -> estimator or None``,
    and the backends the estimator has (its family's, from ``fastgd.backends``). With
    ``from_peer`` the estimator is ``estimator.from_sklearn`` of the peer, and ``params`` unused."""

    estimator: type
    params: dict = field(hash=False)
    classes: int
    peer: object = None
    backends: tuple = LINEAR_BACKENDS
    from_peer: bool = False


#: The strength of the penalty of the ``SGD_TWINS``: scikit-learn's default.
SGD_ALPHA = 1e-4
SGD_L1_RATIO = 0.15


def sgd_twin(loss, penalty="l2", average=False):
    """The model that scikit-learn's ``SGDClassifier`` with ``loss``, ``penalty`` (of strength
    ``SGD_ALPHA``, ``SGD_L1_RATIO`` its L1 share) and ``average`` trains, fastgd's side converted
    from that very estimator, so that every setting is provably the same on both sides."""
    # local_sgd trains copies of the weights that it averages: it has no L1 penalty or averaging
    # (and refuses them)
    names = LINEAR_BACKENDS if penalty in ("l2", None) and not average else tuple(
        name for name in LINEAR_BACKENDS if name != "local_sgd")
    return Model(GDClassifier, {}, 2,
                 sgd_peer(SGDClassifier, loss=loss, penalty=penalty, alpha=SGD_ALPHA,
                          l1_ratio=SGD_L1_RATIO, average=average),
                 backends=names, from_peer=True)


#: scikit-learn's classification losses at its default penalty, and its other penalties and
#: averaging at its default loss; each named ``<loss>-<penalty>[-average]``.
SGD_TWINS = {
    **{f"{loss}-l2": sgd_twin(loss)
       for loss in ("hinge", "log_loss", "modified_huber", "squared_hinge", "perceptron")},
    "hinge-l1": sgd_twin("hinge", "l1"),
    "hinge-elasticnet": sgd_twin("hinge", "elasticnet"),
    "hinge-l2-average": sgd_twin("hinge", average=True),
}


MODELS = {
    "log_loss": Model(GDClassifier, {"loss": "log_loss"}, 2,
                      sgd_peer(SGDClassifier, loss="log_loss")),
    "hinge": Model(GDClassifier, {"loss": "hinge"}, 2, sgd_peer(SGDClassifier, loss="hinge")),
    "sigmoid_squared": Model(GDClassifier, {"loss": "sigmoid_squared"}, 2),
    "softmax": Model(GDClassifier, {"loss": "log_loss"}, 3),
    "squared_error": Model(GDRegressor, {"loss": "squared_error"}, 0,
                           sgd_peer(SGDRegressor, loss="squared_error")),
    "mlp": Model(MLPClassifier, {"hidden_layer_sizes": (64,)}, 2, mlp_peer,
                 backends=tuple(sorted(backends.MLP, key=lambda name: name != REFERENCE))),
    **SGD_TWINS,
}

#: Losses of the PyTorch peer (plain SGD on a linear layer), by model; other models have none.
TORCH_LOSSES = {"log_loss": "binary_cross_entropy_with_logits", "squared_error": "mse_loss"}
HAS_TORCH = find_spec("torch") is not None


@dataclass(frozen=True)
class Problem:
    """The data of a case and how every variant trains on it: ``make(n, d, dtype, classes) ->
    (X, y)``, cached; the constant step; ``options``, keyword arguments of the fastgd estimator
    and of the peer's ``make`` (``alpha``, ``fit_intercept``) where they differ from the
    defaults; and ``python_update_seconds(case)``, the seconds per update of the variants that
    loop over batches in Python where they differ from ``PYTHON_UPDATE_SECONDS``."""

    make: Callable
    learning_rate: float
    options: dict = field(default_factory=dict, hash=False)
    python_update_seconds: Callable = lambda case: {}


@dataclass(frozen=True)
class Case:
    """One timed problem; ``batch=None`` is full batch. ``epochs`` is for fits only: an epoch case
    times one epoch."""

    kind: str
    model: str = "log_loss"
    optimizer: str = "sgd"
    n: int = 100_000
    d: int = 32
    batch: int | None = None
    dtype: str = "float64"
    epochs: int = 1
    serial: bool = False
    data: str = "dense"

    @property
    def id(self):
        # epochs, serial and data at their defaults add nothing: the ids that baselines are keyed
        # on stay
        suffix = ((f"-e{self.epochs}" if self.epochs != 1 else "")
                  + ("-serial" if self.serial else "")
                  + (f"-{self.data}" if self.data != "dense" else ""))
        return (f"{self.kind}-{self.model}-{self.optimizer}-{self.n}x{self.d}"
                f"-b{self.batch or 'full'}-{self.dtype}{suffix}")

    @property
    def threads(self):
        """Threads that BLAS and numba get while the case is timed."""
        return 1 if self.serial else THREADS

    def info(self):
        """The case's parameters, for pytest-benchmark's ``extra_info``."""
        return {"case": self.id, "kind": self.kind, "model": self.model,
                "optimizer": self.optimizer, "rows": self.n, "features": self.d,
                "batch": self.batch, "dtype": self.dtype, "epochs": self.epochs,
                "serial": self.serial, "threads": self.threads, "data": self.data}

    @property
    def problem(self):
        return PROBLEMS[self.data]


@dataclass(frozen=True)
class Sweep:
    """One axis of ``Case`` varied around ``center``: ``values`` in the full design, ``quick`` in
    the quick one; ``headline`` values also go in the report's headline table; ``note``, what the
    report says of the sweep beside its centre."""

    name: str
    center: Case
    axis: str
    values: tuple
    quick: tuple = ()
    headline: tuple = ()
    note: str = ""

    def cases(self, values=None, dtypes=DTYPES):
        return [replace(self.center, **{self.axis: value}, dtype=dtype)
                for value in (self.values if values is None else values) for dtype in dtypes]


FULL_BATCH = Case("epoch", n=100_000)
MINI_BATCH = Case("epoch", n=10_000, batch=32)
SGD_FIT = Case("fit", n=10_000, batch=1)
SERIAL = replace(FULL_BATCH, n=1_000_000, serial=True)
#: The parallel-SGD target's problem: five epochs, timed with the training loss they reach.
SGD_EPOCHS = replace(SGD_FIT, n=100_000, epochs=5)

SWEEPS = (
    Sweep("rows, full batch", FULL_BATCH, "n", (1_000, 10_000, 100_000, 1_000_000, 4_000_000),
          quick=(10_000, 1_000_000), headline=(1_000_000, 4_000_000)),
    Sweep("rows, batch 32", replace(FULL_BATCH, batch=32), "n", (1_000, 10_000, 100_000, 1_000_000),
          headline=(1_000_000,)),
    Sweep("features, full batch", FULL_BATCH, "d", (8, 32, 128, 256), quick=(256,)),
    Sweep("batch size", MINI_BATCH, "batch", (1, 8, 32, 128, 512, None), quick=(1, 32, None),
          headline=(1, 32)),
    Sweep("loss, full batch", FULL_BATCH, "model",
          ("log_loss", "hinge", "sigmoid_squared", "softmax", "squared_error"), quick=("hinge",)),
    Sweep("optimizer, batch 32", MINI_BATCH, "optimizer", OPTIMIZERS, quick=("adam",),
          headline=("adam",)),
    Sweep("one SGD epoch against scikit-learn", SGD_FIT, "model",
          ("log_loss", "hinge", "squared_error"), quick=("log_loss",), headline=("log_loss",)),
    Sweep("one SGD epoch on 100,000 rows", replace(SGD_FIT, n=100_000), "d", (32, 100),
          quick=(32,), headline=(32, 100)),
    Sweep("serial: BLAS on one thread, 1,000,000 rows", SERIAL, "batch", (32, 512, None),
          quick=(None,)),
    Sweep("five SGD epochs on 100,000 rows, with the loss reached", SGD_EPOCHS, "d", (32, 100),
          quick=(32,)),
    Sweep("one mini-batch epoch against PyTorch", replace(SGD_FIT, n=100_000, batch=32), "batch",
          (32, 256), headline=(32,)),
    Sweep("MLP (64 hidden, momentum) against scikit-learn",
          Case("fit", model="mlp", optimizer="momentum", n=10_000, d=64), "batch", (1, 32),
          quick=(32,), headline=(1, 32)),
    Sweep("scikit-learn's SGD losses and penalties: one SGD epoch against SGDClassifier",
          replace(SGD_FIT, n=100_000), "model", tuple(SGD_TWINS),
          quick=("modified_huber-l2", "hinge-elasticnet"),
          note="Each loss is `<loss>-<penalty>[-average]`: scikit-learn's `SGDClassifier` with "
               f"that loss and penalty, `alpha={SGD_ALPHA:g}`, `l1_ratio={SGD_L1_RATIO:g}`, "
               f"`average` when named, `learning_rate=\"constant\"`, `eta0={LEARNING_RATE:g}`, "
               "`max_iter=1`, `tol=None`, `shuffle=False`; fastgd's side is "
               "`GDClassifier.from_sklearn` of that very estimator on each backend (`local_sgd`, "
               "which averages copies of the weights, has no L1 penalty or averaging). The "
               "training loss is each fit's objective, its mean loss plus its penalty, computed "
               "alike from every variant's weights."),
)

#: Issue 13's sparse input: the text-like CSR (``fastgd.bench.textlike``), 2**18 hashed features,
#: 200,000 rows (50,000 in the quick design), plain SGD at a constant step with a small L2 penalty
#: (``PROBLEMS["text"]``).
TEXT_ROWS, TEXT_QUICK_ROWS, TEXT_FEATURES = 200_000, 50_000, 2**18
TEXT_EPOCH = Case("epoch", n=TEXT_ROWS, d=TEXT_FEATURES, data="text")
TEXT_SGD_FIT = replace(TEXT_EPOCH, kind="fit", batch=1)
#: The fits whose difference is the time of one more SGD epoch: 1 and this many epochs.
TEXT_SGD_EPOCHS = replace(TEXT_SGD_FIT, epochs=5)
TEXT_MINI_BATCH = 256
TEXT_SIZES = (TEXT_QUICK_ROWS, TEXT_ROWS)

TEXT_SWEEPS = (
    Sweep("SGD fits of one epoch against scikit-learn", TEXT_SGD_FIT, "n", TEXT_SIZES,
          quick=(TEXT_QUICK_ROWS,), headline=(TEXT_ROWS,)),
    Sweep(f"SGD fits of {TEXT_SGD_EPOCHS.epochs} epochs against scikit-learn", TEXT_SGD_EPOCHS,
          "n", TEXT_SIZES, quick=(TEXT_QUICK_ROWS,)),
    Sweep("one SGD epoch (shuffled)", replace(TEXT_EPOCH, batch=1), "n", TEXT_SIZES),
    Sweep(f"one mini-batch {TEXT_MINI_BATCH} epoch against the SciPy reference",
          replace(TEXT_EPOCH, batch=TEXT_MINI_BATCH), "n", TEXT_SIZES, quick=(TEXT_QUICK_ROWS,),
          headline=(TEXT_ROWS,)),
    Sweep("one full-batch epoch against SciPy's two products", TEXT_EPOCH, "n", TEXT_SIZES,
          quick=(TEXT_QUICK_ROWS,), headline=(TEXT_ROWS,)),
    Sweep("2**20 hashed features: one epoch", replace(TEXT_EPOCH, d=2**20), "batch",
          (1, TEXT_MINI_BATCH, None)),
    Sweep("2**20 hashed features: SGD fits against scikit-learn", replace(TEXT_SGD_FIT, d=2**20),
          "epochs", (1, TEXT_SGD_EPOCHS.epochs)),
)


def design(quick=False):
    """Return the distinct cases of every sweep, dense and sparse, in sweep order."""
    cases = {}
    for sweep in (*SWEEPS, *TEXT_SWEEPS):
        for case in sweep.cases(sweep.quick if quick else sweep.values):
            cases.setdefault(case, None)
    return list(cases)


def variants(case):
    """Return the variants that time ``case``; the first, when present, is the NumPy reference."""
    model = MODELS[case.model]
    sparse = case.data != "dense"
    names = [name for name in model.backends if not (case.serial and backends.is_threaded(name))]
    if case.kind == "epoch" and case.batch is None:
        names.append(TWO_PRODUCTS if sparse else "X @ w")
    if case.kind == "fit" and model.peer and model.peer(case.batch, 1, 1):
        names.append("scikit-learn")
    if (case.kind == "fit" and HAS_TORCH and case.model in TORCH_LOSSES and not case.serial
            and not sparse):
        names.append("torch")
    updates = case.epochs * math.ceil(case.n / (case.batch or case.n))
    seconds = {**PYTHON_UPDATE_SECONDS, **case.problem.python_update_seconds(case)}
    return [v for v in names if updates * seconds.get(v, 0) <= MAX_CALL_SECONDS]


def _text(n, d, dtype, classes):
    if classes != 2:
        raise ValueError("the text-like problem has two classes")
    return text_like(n, d, dtype)


@lru_cache(maxsize=4)
def dataset(n, d, dtype, classes):
    """Return ``X`` (n, d) standard normal in ``dtype`` and targets from a noisy linear model:
    labels in ``range(classes)``, or floats for ``classes=0``. Cached: consecutive variants share
    it."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d), dtype=np.dtype(dtype).type)
    scores = X @ rng.standard_normal((d, max(classes, 1))) / math.sqrt(d)
    scores += rng.standard_normal(scores.shape)  # noise, so that the classes overlap
    if classes == 0:
        return X, scores[:, 0].astype(dtype)
    if classes == 2:
        return X, (scores[:, 0] > 0).astype(np.int64)
    return X, scores.argmax(axis=1)


PROBLEMS = {
    "dense": Problem(dataset, LEARNING_RATE),
    # rows of unit norm take a larger step: one epoch learns most of the planted model (training
    # log loss 0.47 after one epoch, 0.455 after five, 0.69 at the start). No intercept: the
    # planted labels are balanced, and scikit-learn damps its intercept's steps on sparse input
    # (by 0.01, its SPARSE_INTERCEPT_DECAY) where fastgd does not; without one both run the same
    # algorithm, to the same weights within 1e-12 in float64. The small L2 penalty shrinks the
    # weights at every step: the running scale that keeps a sparse SGD step O(the row's values).
    # The SciPy reference's update is dense, O(d): here 0.9 ms a batch of 256 rows on 2**18
    # features, 5.2 ms on 2**20.
    "text": Problem(_text, 0.5, {"alpha": 1e-5, "fit_intercept": False},
                    python_update_seconds=lambda case: {"numpy": 4e-9 * case.d}),
}


def prepare(case, variant):
    """Return a function of no arguments that runs ``case`` once with ``variant``.

    Building it fits once, so that any compilation is done by the time it is timed.
    """
    model, problem = MODELS[case.model], case.problem
    X, y = problem.make(case.n, case.d, case.dtype, model.classes)
    if variant == "X @ w":
        w = np.ones(case.d, dtype=X.dtype)
        return lambda: X @ w
    if variant == TWO_PRODUCTS:
        w, r = np.ones(case.d, dtype=X.dtype), np.ones(case.n, dtype=X.dtype)
        return lambda: (X @ w, X.T @ r)
    if variant == "scikit-learn":
        return _quiet_fit(_peer(case), X, y)
    if variant == "torch":
        return _torch_epoch(case, X, y)
    estimator = _estimator(case, variant)
    if case.kind == "fit":
        return _quiet_fit(estimator, X, y)
    return _recorded_epoch(estimator, X, y)


def _peer(case):
    """The unfitted peer estimator of ``case``."""
    problem = case.problem
    return MODELS[case.model].peer(case.batch, problem.learning_rate, case.epochs,
                                   **problem.options)


def _estimator(case, variant):
    """The unfitted fastgd estimator of ``case`` on the backend ``variant``."""
    model, problem = MODELS[case.model], case.problem
    if model.from_peer:
        return model.estimator.from_sklearn(_peer(case)).set_params(backend=variant)
    # the epoch benchmarks shuffle, as users do by default; the fits do not, as their peers
    return model.estimator(**model.params, **problem.options, optimizer=case.optimizer,
                           learning_rate=problem.learning_rate, epochs=case.epochs,
                           batch_size=case.batch, shuffle=case.kind == "epoch", random_state=0,
                           backend=variant)


def auto_choice(case):
    """The backend that ``backend="auto"`` picks for ``case`` on the current thread count, as a fit
    would (it costs microseconds, so its speed is that of its pick, timed in the case)."""
    estimator = _estimator(case, AUTO)
    estimator._choose_backend(case.n)
    return estimator.backend_


def _quiet_fit(estimator, X, y):
    def fit():
        # a fixed number of epochs is meant: scikit-learn's warning that max_iter epochs did not
        # converge is noise
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return estimator.fit(X, y)

    fit()
    return fit


def training_loss(case, fitted):
    """Return the training objective that ``fitted``, what a call of ``case`` returned, reaches:
    the mean over the training rows of the case's loss plus its penalty; None where the call
    returns no estimator (epochs, PyTorch's loop).

    A linear model's is computed from its ``coef_`` and ``intercept_``, whichever library fitted
    them, by the NumPy references of fastgd's losses (``fastgd._kernels.losses``) and with the
    loss, ``epsilon`` and penalty of the case's fastgd estimator: the same computation for every
    variant, which hangs neither on the backends' forward kernels (nor, on CSR, their sparse
    ones) nor on the variants' own definitions (scikit-learn's ``squared_error`` is half of
    fastgd's). An MLP's is the log loss of its probabilities: its penalty is 0.
    """
    if case.kind != "fit" or fitted is None:
        return None
    model = MODELS[case.model]
    X, y = case.problem.make(case.n, case.d, case.dtype, model.classes)
    if model.estimator is MLPClassifier:
        return float(log_loss(y, fitted.predict_proba(X)))
    objective = _estimator(case, REFERENCE)
    W = np.atleast_2d(fitted.coef_).astype(np.float64)
    k = W.shape[0]
    # the labels are range(classes): the order of both libraries' classes_
    Y = (y[:, None] == np.arange(k) if k > 1 else y[:, None]).astype(np.float64)
    if model.classes and losses.on_signs(objective.loss):
        Y = 2 * Y - 1
    Z = X @ W.T + np.asarray(fitted.intercept_, dtype=np.float64)
    L, _ = losses.loss_terms(losses.rule(objective.loss, k, objective.epsilon), Z, Y)
    l2, l1 = objective._penalties()
    return float(L.sum() / len(y) + l2 / 2 * np.sum(W * W) + l1 * np.abs(W).sum())


def _recorded_epoch(estimator, X, y):
    """Return a function that repeats the first epoch that ``estimator.fit(X, y)`` runs.

    ``estimator._epochs_for`` sets the epochs up as ``fit`` does (validation, targets, learning
    rate, optimizer state, backend and its threads), and the call below is the one that
    :func:`fastgd._driver.train` makes for epoch 0, with the order, batch and schedule that ``fit``
    would pass it: the timing stays on the path that users take, with no patching of the backends'
    registry or of the driver.
    """
    epochs = estimator._epochs_for(X, y)
    n = X.shape[0]
    options = estimator._train_options(epochs.params, estimator.epochs, estimator._rng, None, 0)
    batch = n if options["batch_size"] is None else min(options["batch_size"], n)
    order = np.arange(n, dtype=np.int64)
    if options["shuffle"] and batch < n:
        options["rng"].shuffle(order)
    lr, code, hyper = options["schedule"].for_epoch(0, -(-n // batch))

    def epoch():
        # the loss may overflow as the replayed epochs carry the weights on; only the time matters
        with np.errstate(over="ignore", invalid="ignore"):
            return epochs.run(order, batch, lr, code, hyper)

    epoch()  # compiles, as prepare() promises
    return epoch


def _torch_epoch(case, X, y):
    """Return one epoch of plain mini-batch SGD on a linear layer: the loop PyTorch users write."""
    import torch

    torch.set_num_threads(THREADS)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(X.dtype))
    layer = torch.nn.Linear(case.d, 1, dtype=Xt.dtype)
    optimizer = torch.optim.SGD(layer.parameters(), lr=LEARNING_RATE)
    loss = getattr(torch.nn.functional, TORCH_LOSSES[case.model])
    batch = case.batch or case.n

    def epoch():
        for lo in range(0, case.n, batch):
            optimizer.zero_grad()
            loss(layer(Xt[lo:lo + batch])[:, 0], yt[lo:lo + batch]).backward()
            optimizer.step()

    epoch()
    return epoch


def bytes_touched(case):
    """Bytes of X (a CSR's three arrays) times the epochs, as each epoch reads X at least once: the
    figure for achieved bandwidth."""
    if case.data != "dense":
        X, _ = case.problem.make(case.n, case.d, case.dtype, MODELS[case.model].classes)
        return case.epochs * csr_bytes(X)
    return case.epochs * case.n * case.d * np.dtype(case.dtype).itemsize


def time_once(fn, iterations=1, clock=perf_counter):
    """Return the seconds per call of ``fn`` on ``clock``, over ``iterations`` calls."""
    start = clock()
    for _ in range(iterations):
        fn()
    return (clock() - start) / iterations


def rounds_for(seconds_per_call, budget):
    """Rounds that make a benchmark take about ``budget`` seconds."""
    return int(np.clip(budget / seconds_per_call, MIN_ROUNDS, MAX_ROUNDS))
