"""The epoch loop: runs one compiled epoch per call and keeps what lies between epochs (shuffling,
per-epoch learning rates, the loss history, divergence and stopping checks, callbacks, the progress
bar). Nothing here runs per batch or per sample."""

import contextlib
import math
import signal
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from ._kernels import losses, optim
from ._kernels.optim import Rate, Update

SCHEDULES = ("constant", "invscaling", "exponential", "cosine", "step", "optimal", "adaptive")

#: The "adaptive" schedule divides the rate by this when the loss stops improving, and stops
#: training once the rate is below ``ADAPTIVE_MIN_RATE`` (scikit-learn's SGD).
ADAPTIVE_DIVISOR = 5.0
ADAPTIVE_MIN_RATE = 1e-6

#: Each epoch's loss is taken before its updates, so the last epoch's updates go unchecked: weights
#: that stay finite can still make the scores overflow. The scores at the final weights are
#: checked (one forward pass) when the last epoch grew the largest weight by more than this
#: factor, as a divergence does; a pass after every fit cost a third of a one-epoch MLP fit.
#: Missed: scores already within this factor of overflowing before the last epoch.
FINAL_CHECK_GROWTH = 2.0


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
    """What an optimizer carries from one update to the next: ``S`` (n_slots, n_params), the
    number of updates taken, and a family's state beside the parameters (the linear models' L1
    accumulators and average, see ``linear.penalty_state``), None until the family sets it."""

    S: np.ndarray
    step: int = 0
    extra: tuple | None = None

    def copy(self):
        """A copy whose arrays are copies."""
        extra = None if self.extra is None else tuple(a.copy() for a in self.extra)
        return OptimizerState(self.S.copy(), self.step, extra)


class Epochs:
    """Runs epochs of a model by a backend's epoch kernel (see :mod:`fastgd.backends`). The driver
    needs only this interface from a model; each family subclasses it for the rest:

    - ``params``: the array being trained (checked for NaN/inf, saved and restored);
    - ``run(order, batch, lr, schedule, schedule_hyper)``: one epoch; returns the summed weighted
      loss of its batches, each taken before its update;
    - ``penalty()``: the L2 penalty at the current parameters;
    - ``validation_loss(X, Y, sw)``: the mean weighted loss on held-out rows.

    ``make_model(P, alpha, decay)`` builds the family's kernel tuple; AdamW's penalty is a decay of
    the weights, not a term of the gradient, so it goes to ``decay``. ``kernels`` is the family's
    kernel module, whose ``parts_gradient`` and ``full_batch_step`` take a full batch over explicit
    parts: ``parts`` (a list of ``Data``, see ``data.data_parts``) when set, and a dask cluster's
    chunks (:mod:`fastgd._dask`).
    """

    kernels = None
    parts = None
    #: The largest squared norm of a training row, when known (:meth:`BaseGD._row_norms`).
    largest_squared_norm = None

    def __init__(self, backend, data, P, state, make_model, *, optimizer, hyper, alpha):
        self.backend, self.data, self.params, self.state = backend, data, P, state
        self.optimizer, self.hyper, self.alpha = optimizer, hyper, alpha
        decoupled = optim.OPTIMIZERS[optimizer].decoupled
        self.model = make_model(P, 0.0 if decoupled else alpha, alpha if decoupled else 0.0)

    def snapshot(self):
        """A copy of what :meth:`restore` puts back: the parameters (early stopping keeps the best
        epoch's)."""
        return self.params.copy()

    def restore(self, saved):
        self.params[:] = saved

    def predicting_model(self):
        """The kernel tuple that the forward kernels take to predict."""
        return self.model

    def scores_finite(self):
        """Whether the scores of the training rows at the current parameters are finite: the
        driver's check of the last epoch's updates, whose loss was taken before them (weights that
        stay finite can make scores overflow). One forward pass, the kernel that predicts."""
        scores = self.backend.forward(self.data.X, self.predicting_model(), losses.IDENTITY,
                                      self.backend.threads())
        return bool(np.isfinite(scores).all())

    def new_order(self, n):
        """The order of the rows that :meth:`run` takes, ``train`` shuffles: (n,), or (k, n) for a
        model that trains each of its ``k`` outputs over an order of its own."""
        return np.arange(n, dtype=np.int64)

    def run(self, order, batch, lr, schedule, schedule_hyper):
        """One epoch over ``order``, ``batch`` rows per update."""
        if self.parts is not None and batch >= len(order):
            partial, G = self.kernels.parts_gradient(self.parts, self.model,
                                                     self.backend.threads())
            return self.full_batch_step(partial, G, len(order), lr, schedule, schedule_hyper)
        total, self.state.step = self.backend.epoch(
            self.data, order, self.model, self._update(), Rate(schedule, lr, schedule_hyper), batch,
            self.state.step, self.backend.threads())
        return total

    def full_batch_step(self, partial, G, n_rows, lr, schedule, schedule_hyper):
        """The step of a full batch of ``n_rows`` rows from its parts' loss sums ``partial`` and
        gradient sums ``G`` (added in part order); returns the loss sum."""
        total, self.state.step = self.kernels.full_batch_step(
            partial, G, self.model, self._update(), Rate(schedule, lr, schedule_hyper),
            self.state.step, n_rows)
        return total

    def _update(self):
        return Update(self.optimizer, self.state.S, self.hyper)


@dataclass
class Schedule:
    """Learning rate as a function of the epoch and, inside the compiled epoch, of the step.

    ``kind`` is one of ``SCHEDULES`` or a callable ``epoch -> learning rate`` (epochs from 0).
    exponential: ``lr * gamma**epoch``; step: ``lr * gamma**(epoch // step_size)``;
    invscaling: ``lr / t**power_t`` at update ``t``; cosine: from ``lr`` down to 0 over all the
    updates of ``epochs`` epochs; optimal: ``lr / (1 + alpha lr (t - 1))``, which is scikit-learn's
    ``1 / (alpha (t0 + t - 1))`` with ``lr = 1 / (alpha t0)``; adaptive: ``lr``, divided by
    ``ADAPTIVE_DIVISOR`` by :func:`train` each time the loss stops improving.
    """

    kind: object
    lr: float
    power_t: float = 0.25
    gamma: float = 0.9
    step_size: int = 10
    epochs: int = 1
    alpha: float = 0.0

    def for_epoch(self, epoch, n_batches):
        """Return ``(lr, kernel schedule code, kernel schedule hyper-parameters)``."""
        per_step = np.array([self.power_t, max(1, self.epochs * n_batches), self.alpha])
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
        if self.kind == "optimal":
            return self.lr, optim.OPTIMAL, per_step
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


def train(model, n, schedule, stopping, **options):
    """Train ``model`` (an :class:`Epochs`) on its ``n`` rows for up to ``epochs``
    epochs, in place.

    ``loss_history[e]`` is the mean weighted loss over epoch ``e``'s batches, each taken before its
    update (for full batch: the loss at the start of the epoch), plus the L2 penalty at the start of
    the epoch. ``callback(e, loss)`` runs after epoch ``e``; returning True stops. Ctrl-C stops
    after the epoch in progress (see :func:`_stop_on_interrupt`).
    """
    with _stop_on_interrupt() as interrupted:
        return _train(model, n, schedule, stopping, interrupted=interrupted, **options)


@contextlib.contextmanager
def _stop_on_interrupt():
    """Yield a list that holds True once Ctrl-C (SIGINT) has arrived, for training to stop after
    the epoch in progress: that epoch finishes (a compiled epoch cannot stop halfway) and is kept,
    as a finished fit would keep it. A second Ctrl-C raises ``KeyboardInterrupt`` as usual.

    Only Python's default handler, in the main thread, is replaced, and put back after training:
    an application that handles SIGINT itself stays in charge of it.
    """
    interrupted = []
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield interrupted
        return

    def handler(signum, frame):
        if interrupted:
            raise KeyboardInterrupt
        interrupted.append(True)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


def _train(model, n, schedule, stopping, *, epochs, batch_size, shuffle, rng, callback=None,
           verbose=False, name="estimator", interrupted=()):
    batch = n if batch_size is None else min(batch_size, n)
    n_batches = -(-n // batch)
    order = model.new_order(n)
    P = model.params
    result = TrainResult([])
    history, validation_history = result.loss_history, result.validation_loss_history
    best, stale, best_saved = np.inf, 0, None
    adaptive = schedule.kind == "adaptive"
    tol = stopping.tol
    if tol is None and (stopping.validation is not None or adaptive):
        tol = 0.0
    started = time.perf_counter()
    progress = _progress_bar(epochs, name) if verbose else None
    for e in range(epochs):
        largest_before = float(np.abs(P).max(initial=0.0))
        if shuffle and batch < n:
            if order.ndim == 1:
                rng.shuffle(order)
            else:  # one order per output, each shuffled on its own
                for output_order in order:
                    rng.shuffle(output_order)
        lr, schedule_code, schedule_hyper = schedule.for_epoch(e, n_batches)
        penalty = model.penalty()
        # a diverging run is reported below, with its epoch, instead of as NumPy overflow warnings
        with np.errstate(over="ignore", invalid="ignore"):
            data_loss = model.run(order, batch, lr, schedule_code, schedule_hyper)
        value = data_loss / n + penalty
        history.append(value)
        if not (np.isfinite(value) and np.isfinite(P).all()):
            _close(progress)
            raise _diverged(name, e, f"the loss became {value:.6g}"
                            f"{'' if np.isfinite(P).all() else ' and the weights non-finite'}",
                            lr, history)
        monitored = value
        if stopping.validation is not None:
            monitored = model.validation_loss(*stopping.validation)
            validation_history.append(monitored)
            if not np.isfinite(monitored):
                _close(progress)
                raise _diverged(name, e, f"the validation loss became {monitored:.6g}", lr,
                                history)
        if progress is not None:
            progress.set_postfix(loss=f"{value:.6g}", refresh=False)
            progress.update()
        if tol is not None:
            stale = 0 if monitored < best - tol else stale + 1
            if monitored < best:
                best = monitored
                if stopping.validation is not None:
                    best_saved = model.snapshot()
            if adaptive and stale >= stopping.n_iter_no_change and schedule.lr > ADAPTIVE_MIN_RATE:
                schedule.lr /= ADAPTIVE_DIVISOR
                stale = 0
        asked_to_stop = callback is not None and callback(e, value)
        result.stop_reason = _stop_reason(stopping, value, tol, stale, started,
                                          bool(interrupted), asked_to_stop)
        if result.stop_reason != "epochs":
            break
    _close(progress)
    if best_saved is not None:
        model.restore(best_saved)
    grew = float(np.abs(P).max(initial=0.0)) > FINAL_CHECK_GROWTH * largest_before
    if best_saved is None and grew and not model.scores_finite():
        raise _diverged(name, e, "the weights it ended with give the training rows infinite or "
                        "NaN scores", lr, history)
    return result


def _stop_reason(stopping, value, tol, stale, started, interrupted, asked_to_stop):
    """Why training stops after an epoch whose loss is ``value``, or "epochs" to go on."""
    if interrupted:
        return "interrupted"
    if asked_to_stop:
        return "callback"
    if stopping.loss_threshold is not None and value <= stopping.loss_threshold:
        return "loss_threshold"
    if tol is not None and stale >= stopping.n_iter_no_change:
        return "early_stopping" if stopping.validation else "tol"
    if stopping.max_time is not None and time.perf_counter() - started >= stopping.max_time:
        return "max_time"
    return "epochs"


def _diverged(name, epoch, what, lr, history):
    return DivergenceError(
        f"{name} diverged at epoch {epoch} (counting from 0): {what}. Lower learning_rate (it is "
        f"{lr:g}) or scale X, for example with sklearn.preprocessing.StandardScaler.",
        epoch, history)


def _close(progress):
    if progress is not None:
        progress.close()


def _progress_bar(epochs, name):
    from tqdm.auto import tqdm

    return tqdm(total=epochs, desc=name, unit="epoch")
