"""The epoch loop: runs one compiled epoch per call and keeps what lies between epochs (shuffling,
per-epoch learning rates, the loss history, divergence and stopping checks, callbacks, the progress
bar). Nothing here runs per batch or per sample."""

import math
import time
from dataclasses import dataclass, field

import numba
import numpy as np

from ._kernels import optim
from ._kernels.linear import _loss_gradient, _run_epoch, loss_gradient, run_epoch
from .config import BLOCK_ROWS

#: backend name -> (epoch function, whether it splits batches across threads)
BACKENDS = {
    "numpy": (run_epoch, False),
    "numba": (_run_epoch, False),
    "parallel": (_run_epoch, True),
}

SCHEDULES = ("constant", "invscaling", "exponential", "cosine", "step")


def n_threads(backend):
    """Threads a backend may use: numba's current setting for "parallel", else 1."""
    return numba.get_num_threads() if BACKENDS[backend][1] else 1


class DivergenceError(ValueError):
    """Training produced a NaN or infinite loss or weights.

    ``epoch`` is the index (from 0) of the epoch in which it happened and ``loss_history`` the
    losses up to and including it.
    """

    def __init__(self, message, epoch, loss_history):
        super().__init__(message)
        self.epoch = epoch
        self.loss_history = loss_history


@dataclass
class OptimizerState:
    """What an optimizer carries from one update to the next: ``S`` (n_slots, n_params) and the
    number of updates taken."""

    S: np.ndarray
    step: int = 0


@dataclass
class Epoch:
    """Everything that stays fixed from one epoch to the next."""

    loss: int
    optimizer: int
    hyper: np.ndarray
    batch_size: int | None
    alpha: float
    fit_intercept: bool
    backend: str
    shuffle: bool
    rng: np.random.RandomState


@dataclass
class Schedule:
    """Learning rate as a function of the epoch and, inside the compiled epoch, of the step.

    ``kind`` is one of ``SCHEDULES`` or a callable ``epoch -> learning rate`` (epochs from 0).
    exponential: ``lr * gamma**epoch``; step: ``lr * gamma**(epoch // step_size)``;
    invscaling: ``lr / t**power_t`` at update ``t``; cosine: from ``lr`` down to 0 over all the
    updates of ``epochs`` epochs.
    """

    kind: object
    lr: float
    power_t: float = 0.25
    gamma: float = 0.9
    step_size: int = 10
    epochs: int = 1

    def for_epoch(self, epoch, n_batches):
        """Return ``(lr, kernel schedule code, kernel schedule hyper-parameters)``."""
        per_step = np.array([self.power_t, max(1, self.epochs * n_batches)])
        if callable(self.kind):
            lr = float(self.kind(epoch))
            if not (math.isfinite(lr) and lr > 0):
                raise ValueError(f"the learning-rate schedule returned {lr!r} for epoch {epoch}; "
                                 "it must return a finite float > 0.")
            return lr, optim.CONSTANT, per_step
        if self.kind == "invscaling":
            return self.lr, optim.INVSCALING, per_step
        if self.kind == "cosine":
            return self.lr, optim.COSINE, per_step
        if self.kind == "exponential":
            return self.lr * self.gamma**epoch, optim.CONSTANT, per_step
        if self.kind == "step":
            return self.lr * self.gamma ** (epoch // self.step_size), optim.CONSTANT, per_step
        return self.lr, optim.CONSTANT, per_step


@dataclass
class Stopping:
    """Opt-in stopping rules, checked after each epoch.

    ``tol``/``n_iter_no_change``: stop once the monitored loss (the validation loss when
    ``validation`` is given, else the training loss) has not improved on the best by at least
    ``tol`` for that many epochs. ``loss_threshold``: stop once the training loss is at or below it.
    ``max_time``: stop once that many seconds have passed. With ``validation = (X, Y, sw)``, the
    weights of the best validation loss are restored.
    """

    tol: float | None = None
    n_iter_no_change: int = 5
    loss_threshold: float | None = None
    max_time: float | None = None
    validation: tuple | None = None


@dataclass
class TrainResult:
    loss_history: list
    validation_loss_history: list = field(default_factory=list)
    stop_reason: str = "epochs"


def mean_loss(backend, X, Y, sw, P, loss):
    """Mean weighted loss of ``P`` on ``(X, Y, sw)``, computed by ``backend``'s kernels."""
    if backend == "numpy":
        return loss_gradient(X, Y, sw, P, loss)[0] / len(X)
    k, d1 = P.shape
    G = np.empty((1, k, d1), dtype=P.dtype)
    buf = np.empty((1, 4, BLOCK_ROWS * k), dtype=P.dtype)
    order = np.arange(len(X), dtype=np.int64)
    return _loss_gradient(X, Y, sw, order, 0, len(X), P, loss, G, buf) / len(X)


def train(X, Y, sw, P, state, epoch, schedule, stopping, *, epochs, callback=None, verbose=False,
          name="estimator"):
    """Train ``P`` (k, d + 1) in place for up to ``epochs`` epochs; ``state`` carries over.

    ``loss_history[e]`` is the mean weighted loss over epoch ``e``'s batches, each taken before its
    update (for full batch: the loss at the start of the epoch), plus ``alpha/2 ||W||^2`` at the
    start of the epoch. ``callback(e, loss)`` runs after epoch ``e``; returning True stops.
    """
    n = X.shape[0]
    batch = n if epoch.batch_size is None else min(epoch.batch_size, n)
    n_batches = -(-n // batch)
    run = BACKENDS[epoch.backend][0]
    threads = n_threads(epoch.backend)
    decoupled = epoch.optimizer in optim.DECOUPLED
    l2, decay = (0.0, epoch.alpha) if decoupled else (epoch.alpha, 0.0)
    order = np.arange(n, dtype=np.int64)
    W = P[:, :-1]
    result = TrainResult([])
    history, validation_history = result.loss_history, result.validation_loss_history
    best, stale, best_P = np.inf, 0, None
    tol = stopping.tol if stopping.tol is not None else (0.0 if stopping.validation else None)
    started = time.perf_counter()
    progress = _progress_bar(epochs, name) if verbose else None
    for e in range(epochs):
        if epoch.shuffle and batch < n:
            epoch.rng.shuffle(order)
        lr, schedule_code, schedule_hyper = schedule.for_epoch(e, n_batches)
        penalty = 0.5 * epoch.alpha * float(np.sum(W * W)) if epoch.alpha else 0.0
        # a diverging run is reported below, with its epoch, instead of as NumPy overflow warnings
        with np.errstate(over="ignore", invalid="ignore"):
            data_loss, state.step = run(
                X, Y, sw, order, P, state.S, epoch.hyper, batch, epoch.loss, epoch.optimizer,
                epoch.fit_intercept, l2, decay, lr, schedule_code, schedule_hyper, state.step,
                threads)
        value = data_loss / n + penalty
        history.append(value)
        if not (np.isfinite(value) and np.isfinite(P).all()):
            if progress is not None:
                progress.close()
            raise DivergenceError(
                f"{name} diverged at epoch {e} (counting from 0): the loss became {value:.6g}"
                f"{'' if np.isfinite(P).all() else ' and the weights non-finite'}. "
                f"Lower learning_rate (it is {lr:g}) or scale X, for example with "
                "sklearn.preprocessing.StandardScaler.",
                e, history)
        monitored = value
        if stopping.validation is not None:
            monitored = mean_loss(epoch.backend, *stopping.validation, P, epoch.loss)
            validation_history.append(monitored)
        if progress is not None:
            progress.set_postfix(loss=f"{value:.6g}", refresh=False)
            progress.update()
        if tol is not None:
            stale = 0 if monitored < best - tol else stale + 1
            if monitored < best:
                best = monitored
                if stopping.validation is not None:
                    best_P = P.copy()
        if callback is not None and callback(e, value):
            result.stop_reason = "callback"
        elif stopping.loss_threshold is not None and value <= stopping.loss_threshold:
            result.stop_reason = "loss_threshold"
        elif tol is not None and stale >= stopping.n_iter_no_change:
            result.stop_reason = "early_stopping" if stopping.validation else "tol"
        elif stopping.max_time is not None and time.perf_counter() - started >= stopping.max_time:
            result.stop_reason = "max_time"
        if result.stop_reason != "epochs":
            break
    if progress is not None:
        progress.close()
    if best_P is not None:
        P[:] = best_P
    return result


def _progress_bar(epochs, name):
    from tqdm.auto import tqdm

    return tqdm(total=epochs, desc=name, unit="epoch")
