"""The epoch loop: runs one compiled epoch per call and keeps what lies between epochs (shuffling,
the loss history, divergence and stopping checks). Nothing here runs per batch or per sample."""

from dataclasses import dataclass

import numpy as np

import numba

from ._kernels.linear import _run_epoch, run_epoch

#: backend name -> (epoch function, whether it splits batches across threads)
BACKENDS = {
    "numpy": (run_epoch, False),
    "numba": (_run_epoch, False),
    "parallel": (_run_epoch, True),
}


def n_threads(backend):
    """Threads a backend may use: numba's current setting for "parallel", else 1."""
    return numba.get_num_threads() if BACKENDS[backend][1] else 1


class DivergenceError(ValueError):
    """Training produced a NaN or infinite loss or weights.

    ``epoch`` is the 1-based epoch at which it happened and ``loss_history`` the losses up to then.
    """

    def __init__(self, message, epoch, loss_history):
        super().__init__(message)
        self.epoch = epoch
        self.loss_history = loss_history


@dataclass
class TrainResult:
    loss_history: list
    n_iter: int
    step: int


def train(X, Y, sw, P, *, loss, opt, S, hyper, step, batch_size, epochs, learning_rate, alpha,
          fit_intercept, backend, shuffle, rng, tol, n_iter_no_change, name):
    """Train ``P`` (k, d + 1) in place for up to ``epochs`` epochs.

    ``loss_history[e]`` is the mean weighted loss over the epoch's batches, each taken before its
    update (for full batch: the loss at the start of the epoch), plus ``0.5 * alpha * ||W||^2`` at the
    start of the epoch. With ``tol`` set, training stops once the loss has failed to improve on the
    best so far by at least ``tol`` for ``n_iter_no_change`` epochs in a row.
    """
    n = X.shape[0]
    batch = n if batch_size is None else min(batch_size, n)
    run = BACKENDS[backend][0]
    threads = n_threads(backend)
    order = np.arange(n, dtype=np.int64)
    W = P[:, :-1]
    history = []
    best, stale = np.inf, 0
    for epoch in range(1, epochs + 1):
        if shuffle and batch < n:
            rng.shuffle(order)
        penalty = 0.5 * alpha * float(np.sum(W * W)) if alpha else 0.0
        # a diverging run is reported below, with its epoch, instead of as NumPy overflow warnings
        with np.errstate(over="ignore", invalid="ignore"):
            data_loss, step = run(X, Y, sw, order, P, S, hyper, batch, loss, opt, fit_intercept,
                                  alpha, learning_rate, step, threads)
        value = data_loss / n + penalty
        history.append(value)
        if not (np.isfinite(value) and np.isfinite(P).all()):
            raise DivergenceError(
                f"{name} diverged at epoch {epoch}: the loss became {value:.6g}"
                f"{'' if np.isfinite(P).all() else ' and the weights non-finite'}. "
                f"Lower learning_rate (it is {learning_rate:g}) or scale X, for example with "
                "sklearn.preprocessing.StandardScaler.",
                epoch, history)
        if tol is not None:
            stale = stale + 1 if value > best - tol else 0
            best = min(best, value)
            if stale >= n_iter_no_change:
                break
    return TrainResult(history, epoch, step)
