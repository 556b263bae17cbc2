"""Linear-model kernels: forward pass, loss gradient and a whole training epoch.

Parameters are one C-contiguous array ``P`` of shape ``(k, d + 1)``: row ``c`` holds the ``d``
weights of output ``c`` followed by its intercept, so the optimizer updates a single flat vector.
``X`` is ``(n, d)``, targets ``Y`` are ``(n, k)`` in ``X``'s dtype, ``sw`` the ``(n,)`` sample weights,
and ``order`` the ``(n,)`` int64 order in which rows are visited.

Three variants share each signature: a NumPy reference (no underscore), a serial ``@njit`` kernel
and a ``parallel=True`` kernel that splits rows into one contiguous part per thread, each with its
own gradient buffer, reduced serially in a fixed order (deterministic for a given thread count).
"""

import numpy as np
from numba import prange

from ..config import BLOCK_ROWS, MIN_ROWS_PER_THREAD, jit, jit_inline, jit_parallel
from .losses import _apply_link, _loss_terms, apply_link, loss_terms
from .optim import _step_rate, _update, step_rate, update


# --- NumPy references -------------------------------------------------------------------------

def forward(X, P, link):
    """Return ``link(X @ W.T + b)``, shape (n, k)."""
    return apply_link(link, X @ P[:, :-1].T + P[:, -1])


def loss_gradient(X, Y, sw, P, loss):
    """Return ``(sum_i sw_i l_i, G)`` with ``G = sum_i sw_i dl_i/dP``, shape (k, d + 1)."""
    L, D = loss_terms(loss, X @ P[:, :-1].T + P[:, -1], Y)
    D *= sw[:, None]
    G = np.empty_like(P)
    G[:, :-1] = D.T @ X
    G[:, -1] = D.sum(axis=0)
    return float(sw @ L.sum(axis=1)), G


def finish_gradient(G, P, n_rows, alpha, fit_intercept):
    """Turn a summed gradient into the mean plus the L2 term ``alpha * W`` (the intercept is not
    penalised, and has no gradient when it is not fitted)."""
    G /= n_rows
    G[:, :-1] += alpha * P[:, :-1]
    if not fit_intercept:
        G[:, -1] = 0


def run_epoch(X, Y, sw, order, P, S, hyper, batch_size, loss, opt, fit_intercept, alpha, decay, lr,
              schedule, schedule_hyper, step, n_threads):
    """One epoch of (mini-)batch gradient descent over ``order``, updating ``P`` and ``S`` in place.

    Each batch: its loss and gradient at the current ``P`` (L2 penalty ``alpha``), the learning rate
    of the step from the schedule, the decoupled weight decay ``W *= 1 - rate * decay``, then the
    optimizer's update. Returns ``(sum of weighted losses, step)``.
    """
    n = X.shape[0]
    total = 0.0
    for lo in range(0, n, batch_size):
        rows = order[lo:lo + batch_size]
        if rows.size == n:  # full batch: the order only changes rounding, so skip the copy of X
            batch_loss, G = loss_gradient(X, Y, sw, P, loss)
        else:
            batch_loss, G = loss_gradient(X[rows], Y[rows], sw[rows], P, loss)
        total += batch_loss
        finish_gradient(G, P, rows.size, alpha, fit_intercept)
        step += 1
        rate = step_rate(schedule, lr, step, schedule_hyper)
        P[:, :-1] *= 1 - rate * decay
        update(opt, P.reshape(-1), G.reshape(-1), S, step, rate, hyper)
    return total, step


# --- compiled kernels -------------------------------------------------------------------------

@jit_inline
def _accumulate(X, Y, sw, order, lo, hi, P, loss, G, Zb, Yb, Lb, Db):
    """Set ``G`` to the weighted gradient sum of rows ``order[lo:hi]``; return their loss sum.

    Works in blocks of ``BLOCK_ROWS``: scores, then the loss terms as one flat loop, then the
    gradient, so each stage is a simple loop over data in L1. ``Zb``, ``Yb``, ``Lb``, ``Db`` are
    ``BLOCK_ROWS * k`` scratch; they arrive as whole arrays because every view made here would
    cost two atomic reference-count updates, which dominate a batch of one row.
    """
    k = P.shape[0]
    d = X.shape[1]
    for c in range(k):
        for j in range(d + 1):
            G[c, j] = 0
    total = 0.0
    for r0 in range(lo, hi, BLOCK_ROWS):
        m = min(BLOCK_ROWS, hi - r0)
        for i in range(m):
            row = order[r0 + i]
            for c in range(k):
                s = P[c, d]
                for j in range(d):
                    s += X[row, j] * P[c, j]
                Zb[i * k + c] = s
                Yb[i * k + c] = Y[row, c]
        _loss_terms(loss, Zb, Yb, Lb, Db, m * k, k)
        for i in range(m):
            row = order[r0 + i]
            w = sw[row]
            for c in range(k):
                total += w * Lb[i * k + c]
                g = w * Db[i * k + c]
                for j in range(d):
                    G[c, j] += g * X[row, j]
                G[c, d] += g
    return total


def _loss_gradient_body(X, Y, sw, order, lo, hi, P, loss, G, buf):
    """Set ``G[0]`` to the weighted gradient sum of rows ``order[lo:hi]``; return their loss sum.

    ``G`` (n_parts, k, d + 1) and ``buf`` (n_parts, 4, BLOCK_ROWS * k) hold one buffer per part;
    a part gets at least ``MIN_ROWS_PER_THREAD`` rows.
    """
    nb = hi - lo
    n_parts = min(G.shape[0], max(1, nb // MIN_ROWS_PER_THREAD))
    partial = np.zeros(n_parts)
    for t in prange(n_parts):
        partial[t] = _accumulate(X, Y, sw, order, lo + t * nb // n_parts, lo + (t + 1) * nb // n_parts,
                                 P, loss, G[t], buf[t, 0], buf[t, 1], buf[t, 2], buf[t, 3])
    for t in range(1, n_parts):
        G[0] += G[t]
    return partial.sum()


_loss_gradient = jit(_loss_gradient_body)
_loss_gradient_parallel = jit_parallel(_loss_gradient_body, "_loss_gradient_parallel")


@jit_inline
def _finish_gradient(G, P, n_rows, alpha, fit_intercept):
    k, d1 = P.shape
    inv = G.dtype.type(1.0 / n_rows)
    for c in range(k):
        for j in range(d1 - 1):
            G[c, j] = G[c, j] * inv + alpha * P[c, j]
        G[c, d1 - 1] = G[c, d1 - 1] * inv if fit_intercept else 0


@jit
def _run_epoch(X, Y, sw, order, P, S, hyper, batch_size, loss, opt, fit_intercept, alpha, decay, lr,
               schedule, schedule_hyper, step, n_threads):
    """Compiled twin of :func:`run_epoch`: the whole epoch in one call, no Python per batch.

    With ``n_threads > 1``, batches large enough are split across that many threads.
    """
    n, d = X.shape
    k = P.shape[0]
    n_parts = max(1, min(n_threads, n // MIN_ROWS_PER_THREAD))
    G = np.empty((n_parts, k, d + 1), dtype=P.dtype)
    buf = np.empty((n_parts, 4, BLOCK_ROWS * k), dtype=P.dtype)
    # views made once: inside the batch loop each would cost atomic reference counting
    G0, Zb, Yb, Lb, Db = G[0], buf[0, 0], buf[0, 1], buf[0, 2], buf[0, 3]
    P_flat = P.reshape(-1)
    G_flat = G0.reshape(-1)
    total = 0.0
    for lo in range(0, n, batch_size):
        hi = min(n, lo + batch_size)
        if n_parts > 1 and hi - lo >= 2 * MIN_ROWS_PER_THREAD:
            total += _loss_gradient_parallel(X, Y, sw, order, lo, hi, P, loss, G, buf)
        else:
            total += _accumulate(X, Y, sw, order, lo, hi, P, loss, G0, Zb, Yb, Lb, Db)
        _finish_gradient(G0, P, hi - lo, alpha, fit_intercept)
        step += 1
        rate = _step_rate(schedule, lr, step, schedule_hyper)
        if decay != 0:
            shrink = 1 - rate * decay
            for c in range(k):
                for j in range(d):
                    P[c, j] *= shrink
        _update(opt, P_flat, G_flat, S, step, rate, hyper)
    return total, step


def _forward_body(X, P, link, out, n_threads):
    """Write ``link(X @ W.T + b)`` into ``out`` (n, k), one contiguous part of rows per thread."""
    n, d = X.shape
    k = P.shape[0]
    n_parts = max(1, min(n_threads, n // MIN_ROWS_PER_THREAD))
    for t in prange(n_parts):
        Zb = np.empty(BLOCK_ROWS * k, dtype=out.dtype)
        hi_t = (t + 1) * n // n_parts
        for r0 in range(t * n // n_parts, hi_t, BLOCK_ROWS):
            m = min(BLOCK_ROWS, hi_t - r0)
            for i in range(m):
                for c in range(k):
                    s = P[c, d]
                    for j in range(d):
                        s += X[r0 + i, j] * P[c, j]
                    Zb[i * k + c] = s
            _apply_link(link, Zb, m * k, k)
            for i in range(m):
                for c in range(k):
                    out[r0 + i, c] = Zb[i * k + c]


_forward = jit(_forward_body)
_forward_parallel = jit_parallel(_forward_body, "_forward_parallel")
