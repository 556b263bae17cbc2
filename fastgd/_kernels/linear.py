"""Linear-model kernels: forward pass, loss gradient and a whole training epoch.

Parameters are one C-contiguous array ``P`` of shape ``(k, d + 1)``: row ``c`` holds the ``d``
weights of output ``c`` followed by its intercept, so the optimizer updates a single flat vector.
The arguments come grouped: ``data`` a :class:`fastgd._kernels.data.Data` (``X`` (n, d), targets
``Y`` (n, k) in ``X``'s dtype, sample weights ``sw`` (n,)), ``model`` a :class:`Linear`, ``update_``
and ``rate`` the optimizer's :class:`~fastgd._kernels.optim.Update` and the per-step
:class:`~fastgd._kernels.optim.Rate`; ``order`` is the (n,) int64 order in which rows are
visited. ``X`` is read only through the row functions of ``data.py``, the seam where another input
type plugs in.

Each kernel has a NumPy reference of the same signature (no underscore): the forward pass
(``forward``; ``_forward``, ``_forward_parallel``), the loss gradient (``loss_gradient``;
``_loss_gradient``) and the epoch (``run_epoch``; ``_run_epoch``, ``_run_epoch_parallel`` and
``_local_sgd_epoch``). The parallel kernels split rows into one contiguous part per thread, each with
its own buffers, reduced serially in a fixed order (deterministic for a given thread count); the
parallel split of a large batch's gradient lives inside the parallel epoch, since a serial kernel
must not call a parallel one.
"""

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from numba import prange
from numba.extending import overload

from ..config import (
    BLOCK_ROWS,
    FOLD_SCALE,
    FULL_BATCH_ROWS,
    LOCAL_SGD_SYNC_ROWS,
    MIN_ROWS_PER_THREAD,
    PREFETCH_BATCH_ROWS,
    PREFETCH_MIN_ROWS,
    PREFETCH_ROWS,
    PROX_L1_MIN_ROWS,
    jit,
    jit_inline,
    jit_parallel,
    renamed,
    specialised,
)
from .data import (
    CSR,
    Data,
    _truncate,
    dense_type,
    for_each_part,
    kernel_data,
    input_from_parts,
    input_parts,
    kernel_input,
    lazy_shrink,
    row_axpy,
    row_dot,
    row_prefetch,
    row_scaled_axpy,
    row_truncate,
    storage_order_rows,
    truncate,
)
from .prefetch import prefetch, prefetch_element
from .losses import (
    _apply_link,
    apply_link,
    check_link,
    loss_derivatives,
    loss_terms,
    loss_values,
    loss_values_and_derivatives,
)
from .optim import SGD, _step_rate, apply_update, plain_sgd_type, step_rate, update, with_state

#: The functions that each build of a body binds (``config.specialised``, see the end of this
#: module): the L1 penalty and averaging or nothing, a parallel split's part kernel, local SGD's
#: step kernel, whether sparse SGD averages. Unbound here: a body compiled as it is fails to
#: type, it cannot run the wrong one.
_penalise = _part = _local_step = _averaged = None


class Linear(NamedTuple):
    """A linear model as the kernels train it: parameters ``P`` (k, d + 1), the loss (a
    :class:`~fastgd._kernels.losses.Rule`), the factor of the intercept's gradient
    ``intercept_rate`` (0 when the intercept is not learned, 1, or scikit-learn's damping of it on
    sparse input), the L2 penalty
    ``alpha`` in the gradient, the decoupled weight decay ``decay`` (AdamW's), the L1 penalty
    ``l1`` with its cumulative state (``u`` (1,) and ``Q`` (k, d), see ``data.row_truncate``),
    and the running average ``A`` (k, d + 1) of the parameters after every update from update
    number ``average`` on (0: none); the three float64 (:func:`penalty_state`; the defaults serve
    neither, and are never written)."""

    P: np.ndarray
    loss: tuple
    intercept_rate: float
    alpha: float
    decay: float
    l1: float = 0.0
    u: np.ndarray = np.zeros(1)
    Q: np.ndarray = np.zeros((0, 0))
    A: np.ndarray = np.zeros((0, 0))
    average: int = 0


def penalty_state(model_shape, l1, average):
    """Fresh ``(u, Q, A)`` of :class:`Linear` for parameters of shape ``model_shape``, sized to
    what the penalty and the averaging use (empty where unused). All float64, whatever the
    parameters' dtype: sums over millions of updates, and one type for numba to compile."""
    k, d1 = model_shape
    Q = np.zeros((k, d1 - 1) if l1 > 0 else (0, 0))
    A = np.zeros(model_shape if average else (0, 0))
    return np.zeros(1), Q, A


# --- NumPy references -------------------------------------------------------------------------

def forward(X, P, link):
    """Return ``link(X @ W.T + b)``, shape (n, k)."""
    return apply_link(link, X @ P[:, :-1].T + P[:, -1])


def loss_gradient(data, P, loss):
    """Return ``(sum_i sw_i l_i, G)`` with ``G = sum_i sw_i dl_i/dP``, shape (k, d + 1)."""
    X, Y, sw = data
    L, D = loss_terms(loss, X @ P[:, :-1].T + P[:, -1], Y)
    D *= sw[:, None]
    G = np.empty_like(P)
    G[:, :-1] = (X.T @ D).T  # X first: a SciPy sparse X then makes the product
    G[:, -1] = D.sum(axis=0)
    return float(sw @ L.sum(axis=1)), G


def finish_gradient(G, P, n_rows, alpha, intercept_rate):
    """Turn a summed gradient into the mean plus the L2 term ``alpha * W``; the intercept's is
    not penalised but multiplied by ``intercept_rate`` (0: not fitted)."""
    G /= n_rows
    G[:, :-1] += alpha * P[:, :-1]
    G[:, -1] = G[:, -1] * intercept_rate if intercept_rate else 0


def l1_prox(model, lr):
    """The proximal step of the L1 penalty: the weights soft-thresholded by ``lr * l1``."""
    W = model.P[:, :-1]
    W[:] = np.sign(W) * np.maximum(np.abs(W) - lr * model.l1, 0)


def l1_cumulative(model, lr, X, rows):
    """The cumulative L1 penalty after a step at rate ``lr`` on ``rows``: ``u += lr * l1``, then
    ``data.row_truncate`` on every weight (dense ``X``) or on the columns the rows touch (sparse, as
    scikit-learn does)."""
    model.u[0] += lr * model.l1
    P = model.P
    for c in range(P.shape[0]):
        if sp.issparse(X):
            for row in rows:
                row_truncate(X, row, P, c, 1.0, model.u[0], model.Q)
        else:
            for j in range(P.shape[1] - 1):
                truncate(P, c, j, 1.0, model.u[0], model.Q)


def after_update(model, step, lr, prox, X, rows):
    """The running average and the L1 penalty after update number ``step`` at rate ``lr`` on
    ``rows``, in place, in scikit-learn's order.

    Averaging: ``A += (P - A) / (step - average + 1)`` from update ``average`` on, so that ``A``
    is the mean of the parameters after each of those updates (ASGD). L1: the proximal step
    (:func:`l1_prox`) with ``prox`` (a full batch, or a batch of at least ``PROX_L1_MIN_ROWS``
    rows), else the cumulative penalty (:func:`l1_cumulative`); either leaves exact zeros."""
    if model.average and step >= model.average:
        model.A[:] += (model.P - model.A) / (step - model.average + 1)
    if model.l1 > 0:
        if prox:
            l1_prox(model, lr)
        else:
            l1_cumulative(model, lr, X, rows)


def run_epoch(data, order, model, update_, rate, batch_size, step, n_threads):
    """One epoch of (mini-)batch gradient descent over ``order``, updating ``model.P`` and the
    optimizer state ``update_.S`` in place.

    Each batch: its loss and gradient at the current ``P`` (L2 penalty ``alpha``), the learning rate
    of the step from the schedule, the decoupled weight decay ``W *= 1 - rate * decay``, the
    optimizer's update, then the L1 penalty and the average (:func:`after_update`). Returns
    ``(sum of weighted losses, step)``.
    """
    X, Y, sw = data
    P, loss, intercept_rate, alpha, decay = model[:5]
    n = len(order)
    total = 0.0
    for lo in range(0, n, batch_size):
        rows = order[lo:lo + batch_size]
        if rows.size == X.shape[0]:  # full batch: the order only changes rounding, so skip the copy of X
            batch_loss, G = loss_gradient(data, P, loss)
        else:
            batch_loss, G = loss_gradient(Data(X[rows], Y[rows], sw[rows]), P, loss)
        total += batch_loss
        finish_gradient(G, P, rows.size, alpha, intercept_rate)
        step += 1
        lr = step_rate(rate.schedule, rate.lr, step, rate.hyper)
        P[:, :-1] *= 1 - lr * decay
        update(update_.opt, P.reshape(-1), G.reshape(-1), update_.S, step, lr, update_.hyper)
        after_update(model, step, lr, rows.size >= PROX_L1_MIN_ROWS or rows.size == X.shape[0],
                     X, rows)
    return total, step


# --- compiled kernels -------------------------------------------------------------------------

class Blocks(NamedTuple):
    """One thread's block buffers, ``BLOCK_ROWS * k`` each, as views made once (inside a batch loop
    each view made would cost two atomic reference counts a row): scores ``Z``, targets ``Y``,
    derivatives ``D``, and the scores, targets, row weights and loss terms of the rows whose losses
    wait to be evaluated together (``Zp``, ``Yp``, ``Wp``, ``L``)."""

    Z: np.ndarray
    Y: np.ndarray
    D: np.ndarray
    Zp: np.ndarray
    Yp: np.ndarray
    Wp: np.ndarray
    L: np.ndarray


@jit_inline
def _blocks(buf, t):
    b = buf[t]
    return Blocks(b[0], b[1], b[2], b[3], b[4], b[5], b[6])


@jit_inline
def _prefetch_row(data, row):
    """Ask for row ``row`` of ``X``, its targets and its weight: in a shuffled order beyond the
    cache each is a miss of its own (the targets and weights of a million rows are 16 MB)."""
    X, Y, sw = data
    row_prefetch(X, row)
    prefetch(Y, row, 0)
    prefetch_element(sw, row)


def _accumulate_body(data, order, lo, hi, P, loss, G, blocks, pending):
    """Set ``G`` to the weighted gradient sum of rows ``order[lo:hi]``.

    Works in blocks of ``BLOCK_ROWS``: the scores and targets, then ``dl/dz`` as one flat loop, then
    the gradient, so each stage is a simple loop over data in L1. The losses are only reported, so
    the scores, targets and weights wait in ``blocks``, ``pending`` elements of them, until a whole
    block's worth can be evaluated at once (:func:`_flush_losses`): a batch of one row then costs no
    ``exp``/``log1p`` chain of its own. Returns ``(loss sum of the rows evaluated, elements
    pending)``.
    """
    X, Y, sw = data
    Zb, Yb, Db, Zp, Yp, Wp, Lb = blocks
    k = P.shape[0]
    for c in range(k):
        for j in range(P.shape[1]):
            G[c, j] = 0
    d = P.shape[1] - 1
    total = 0.0
    last = order.size - 1
    # rows that stay in the cache lose to the prefetch's instructions (10,000 x 32, batch 32:
    # 60-75 ns a row without, 85-90 with)
    far = Y.shape[0] >= PREFETCH_MIN_ROWS
    for r0 in range(lo, hi, BLOCK_ROWS):
        m = min(BLOCK_ROWS, hi - r0)
        for i in range(m):
            # a stride ahead, into the next batch: shuffled rows beyond the cache are otherwise
            # fetched one at a time (1,000,000 x 32 float64: 300 ns a row, 130 with this)
            if far:
                _prefetch_row(data, order[min(r0 + i + PREFETCH_BATCH_ROWS, last)])
            row = order[r0 + i]
            for c in range(k):
                Zb[i * k + c] = row_dot(X, row, P, c) + P[c, d]
                Yb[i * k + c] = Y[row, c]
        loss_derivatives(loss, Zb, Yb, Db, 0, m * k, k)
        for i in range(m):
            row = order[r0 + i]
            w = sw[row]
            if pending == Zp.size:
                total += _flush_losses(loss, blocks, pending, k)
                pending = 0
            Wp[pending // k] = w
            for c in range(k):
                Zp[pending + c] = Zb[i * k + c]
                Yp[pending + c] = Yb[i * k + c]
                g = w * Db[i * k + c]
                row_axpy(X, row, g, G, c)
                G[c, d] += g
            pending += k
    return total, pending


def _storage_order_body(data, P, loss, G, Zb, Db, Lb):
    """Set ``G`` to the weighted gradient sum of all rows of ``data`` (a slice of the training
    data, in storage order); return their weighted loss sum. The full batch's kernel, for dense
    rows (see ``data.storage_order_rows``).

    The steps of :func:`_accumulate_body`, on blocks of ``FULL_BATCH_ROWS`` rows, with three
    things that the order of a batch does not allow:

    - indices into a slice from 0: numba wraps an index that might be negative, a select per
      access that keeps LLVM from vectorising;
    - the scores of four rows at a time, for one load of each weight per four rows;
    - the gradient of eight rows at a time into a block buffer, for one load and store of each
      gradient element per eight rows (a row at a time, each row waits on the previous row's
      stores).

    Each block's gradient is added to a float64 total, so float32 data loses no precision over
    millions of rows.
    """
    X, Y, sw = data
    n, d = X.shape
    k = P.shape[0]
    G_block = np.empty(d, dtype=X.dtype)
    G_total = np.zeros((k, d + 1))
    Y_flat = Y.reshape(-1)
    zero = X.dtype.type(0)
    total = 0.0
    for r0 in range(0, n, FULL_BATCH_ROWS):
        m = min(FULL_BATCH_ROWS, n - r0)
        X_b = X[r0:r0 + m]
        m4 = m - m % 4
        for c in range(k):
            b = P[c, d]
            for i in range(0, m4, 4):
                s0 = s1 = s2 = s3 = b
                for j in range(d):
                    w = P[c, j]
                    s0 += X_b[i, j] * w
                    s1 += X_b[i + 1, j] * w
                    s2 += X_b[i + 2, j] * w
                    s3 += X_b[i + 3, j] * w
                Zb[i * k + c] = s0
                Zb[(i + 1) * k + c] = s1
                Zb[(i + 2) * k + c] = s2
                Zb[(i + 3) * k + c] = s3
            for i in range(m4, m):
                s = b
                for j in range(d):
                    s += X_b[i, j] * P[c, j]
                Zb[i * k + c] = s
        Y_b = Y_flat[r0 * k:(r0 + m) * k]
        loss_values_and_derivatives(loss, Zb, Y_b, Lb, Db, m * k, k)
        sw_b = sw[r0:r0 + m]
        block_loss = zero
        if k == 1:  # the same as below, in a loop that vectorises
            for i in range(m):
                block_loss += sw_b[i] * Lb[i]
                Db[i] *= sw_b[i]
        else:
            for i in range(m):
                for c in range(k):
                    block_loss += sw_b[i] * Lb[i * k + c]
                    Db[i * k + c] *= sw_b[i]
        total += block_loss
        m8 = m - m % 8
        for c in range(k):
            for j in range(d):
                G_block[j] = zero
            for i in range(0, m8, 8):
                g0, g1, g2, g3 = Db[i * k + c], Db[(i + 1) * k + c], Db[(i + 2) * k + c], Db[
                    (i + 3) * k + c]
                g4, g5, g6, g7 = Db[(i + 4) * k + c], Db[(i + 5) * k + c], Db[
                    (i + 6) * k + c], Db[(i + 7) * k + c]
                for j in range(d):
                    G_block[j] += (((g0 * X_b[i, j] + g1 * X_b[i + 1, j])
                                    + (g2 * X_b[i + 2, j] + g3 * X_b[i + 3, j]))
                                   + ((g4 * X_b[i + 4, j] + g5 * X_b[i + 5, j])
                                      + (g6 * X_b[i + 6, j] + g7 * X_b[i + 7, j])))
            for i in range(m8, m):
                g = Db[i * k + c]
                for j in range(d):
                    G_block[j] += g * X_b[i, j]
            intercept = zero
            for i in range(m):
                intercept += Db[i * k + c]
            for j in range(d):
                G_total[c, j] += G_block[j]
            G_total[c, d] += intercept
    for c in range(k):
        for j in range(d + 1):
            G[c, j] = G_total[c, j]
    return total


_storage_order = jit(_storage_order_body)


def _whole_rows(data, lo, hi, P, loss, G, blocks):
    """:func:`_storage_order_body` on rows ``lo:hi`` of ``data``, for the inputs it takes (see
    ``data.storage_order_rows``); for the others it is never called, and compiles to nothing."""


@overload(_whole_rows)
def _whole_rows_overload(data, lo, hi, P, loss, G, blocks):
    if dense_type(data.types[0]):
        def impl(data, lo, hi, P, loss, G, blocks):
            X, Y, sw = data
            return _storage_order(Data(X[lo:hi], Y[lo:hi], sw[lo:hi]), P, loss, G, blocks.Z,
                                  blocks.D, blocks.L)
        return impl
    return lambda data, lo, hi, P, loss, G, blocks: 0.0


@jit
def _flush_losses(loss, blocks, pending, k):
    """The weighted loss sum of the ``pending`` elements (``pending // k`` rows) waiting in
    ``blocks``."""
    Lb, Wp = blocks.L, blocks.Wp
    loss_values(loss, blocks.Zp, blocks.Yp, Lb, 0, pending, k)
    total = 0.0
    for i in range(pending // k):
        row_loss = Lb[i * k]
        for c in range(1, k):
            row_loss += Lb[i * k + c]
        total += Wp[i] * row_loss
    return total


# inlined into the batch loop, where a call per batch of one row would cost more than the row; a
# parallel region and the loss of held-out rows call the compiled function, which compiles faster
_accumulate = jit_inline(_accumulate_body)
_accumulate_call = jit(renamed(_accumulate_body, "_accumulate_call"))


@jit_inline
def _finish_gradient(G, P, n_rows, alpha, intercept_rate):
    k, d1 = P.shape
    inv = G.dtype.type(1.0 / n_rows)
    for c in range(k):
        for j in range(d1 - 1):
            G[c, j] = G[c, j] * inv + alpha * P[c, j]
        G[c, d1 - 1] = G[c, d1 - 1] * inv * intercept_rate if intercept_rate else 0


@jit_inline
def _l1_prox(model, lr):
    """The compiled twin of :func:`l1_prox`."""
    P = model.P
    threshold = P.dtype.type(lr * model.l1)
    zero = P.dtype.type(0)
    for c in range(P.shape[0]):
        for j in range(P.shape[1] - 1):
            w = P[c, j]
            P[c, j] = max(w - threshold, zero) if w > 0 else min(w + threshold, zero)


@jit_inline
def _l1_cumulative(model, lr, X, order, lo, hi):
    """The compiled twin of :func:`l1_cumulative`."""
    P, Q = model.P, model.Q
    model.u[0] += lr * model.l1
    u = model.u[0]
    if lazy_shrink(X):
        for i in range(lo, hi):
            for c in range(P.shape[0]):
                row_truncate(X, order[i], P, c, 1.0, u, Q)
    else:
        for c in range(P.shape[0]):
            for j in range(P.shape[1] - 1):
                _truncate(P, c, j, 1.0, u, Q)


@jit
def _after_update(model, step, lr, prox, X, order, lo, hi):
    """The compiled twin of :func:`after_update`: what the step kernels call as ``_penalise`` in
    their builds for a model with an L1 penalty or averaging. Called, not inlined: one compiled
    copy instead of one in each of their loops keeps their compile time down."""
    if model.average > 0 and step >= model.average:
        _average_update(model, step)
    if model.l1 > 0:
        if prox:
            _l1_prox(model, lr)
        else:
            _l1_cumulative(model, lr, X, order, lo, hi)


@jit_inline
def _unpenalised(model, step, lr, prox, X, order, lo, hi):
    """``_penalise`` in the builds for a model without L1 penalty or averaging: nothing to do,
    and nothing of the penalties' code to compile (or to pay for in the row loop, where the
    untaken test of the penalty cost 20% of an SGD row's time: its arrays' reference counts)."""


@jit_inline
def _average_update(model, step):
    P, A = model.P, model.A
    mu = 1.0 / (step - model.average + 1)
    for c in range(P.shape[0]):
        for j in range(P.shape[1]):
            A[c, j] += mu * (P[c, j] - A[c, j])


def row_step(update_, model, X, row, D, lr, step, scratch):
    """Update ``model.P`` at rate ``lr`` from one row ``X[row]`` whose weighted ``dl/dz`` are
    ``D[:k]``: the decay, the L2 term and the optimizer's update number ``step``. ``scratch`` is
    ``(G_row, P.reshape(-1), G_row.reshape(-1))``, the row's gradient (k, d + 1) and the flat views
    the update takes, made once (a view made at each row costs atomic reference counting).
    Compiled only, for the optimizer ``update_`` alone."""


@overload(row_step, inline="always")
def _row_step(update_, model, X, row, D, lr, step, scratch):
    if plain_sgd_type(update_):
        def sgd(update_, model, X, row, D, lr, step, scratch):
            # p -= lr (g x + alpha p) after the decay p *= 1 - lr decay, in one multiply-add per
            # weight and with no Adam corrections (two powers a row): this is the loop SGD waits on
            P = model.P
            d = P.shape[1] - 1
            keep = 1 - lr * model.decay - lr * model.alpha
            for c in range(P.shape[0]):
                g = lr * D[c]
                row_scaled_axpy(X, row, keep, g, P, c)
                if model.intercept_rate:
                    P[c, d] -= g * model.intercept_rate
        return sgd

    def general(update_, model, X, row, D, lr, step, scratch):
        G_row, P_flat, G_flat = scratch
        P, alpha = model.P, model.alpha
        k, d1 = P.shape
        d = d1 - 1
        for c in range(k):
            for j in range(d):
                G_row[c, j] = alpha * P[c, j]
            row_axpy(X, row, D[c], G_row, c)
            G_row[c, d] = D[c] * model.intercept_rate if model.intercept_rate else 0
        if model.decay != 0:
            shrink = 1 - lr * model.decay
            for c in range(k):
                for j in range(d):
                    P[c, j] *= shrink
        apply_update(update_, P_flat, G_flat, step, lr)
    return general


def _rows_body(data, order, lo, hi, model, update_, rate, batch_size, step, step_stride):
    """Batches of one row (SGD) over ``order[lo:hi]``: what :func:`_batches_body` does with a batch
    size of 1, as one flat loop per row: the scores, ``dl/dz``, then each parameter's gradient and
    update in the same pass. Returns ``(loss sum, step)``.

    The general batch loop zeroes, fills, finishes and applies a gradient buffer per batch; for one
    row those passes and the inlined helpers' reference counting cost more than the row itself.
    The row's losses wait in block buffers as in :func:`_accumulate_body`. ``batch_size`` is 1:
    the argument makes the signature every local-SGD step kernel has."""
    X, Y, sw = data
    P, loss = model.P, model.loss
    k, d1 = P.shape
    d = d1 - 1
    blocks = _blocks(_scratch(1, P)[1], 0)
    Zr, Yr, Dr, Zp, Yp, Wp = blocks.Z, blocks.Y, blocks.D, blocks.Zp, blocks.Yp, blocks.Wp
    G_row = np.empty_like(P)  # the other optimizers' gradient of one row
    row_scratch = (G_row, P.reshape(-1), G_row.reshape(-1))
    total = 0.0
    # np.int64, not 0: typed Literal[int](0) at first, it would have numba compile the loss flush
    # twice, for Literal[int](0) and int64 (3 s more of a cold first fit)
    pending = np.int64(0)
    for i in range(lo, hi):
        row = order[i]
        w = sw[row]
        _prefetch_row(data, order[min(i + PREFETCH_ROWS, hi - 1)])
        for c in range(k):
            Zr[c] = row_dot(X, row, P, c) + P[c, d]
            Yr[c] = Y[row, c]
        loss_derivatives(loss, Zr, Yr, Dr, 0, k, k)
        if pending == Zp.size:
            total += _flush_losses(loss, blocks, pending, k)
            pending = 0
        Wp[pending // k] = w
        for c in range(k):
            Zp[pending + c] = Zr[c]
            Yp[pending + c] = Yr[c]
        pending += k
        step += step_stride
        lr = _step_rate(rate.schedule, rate.lr, step, rate.hyper)
        for c in range(k):
            Dr[c] *= w
        row_step(update_, model, X, row, Dr, lr, step, row_scratch)
        _penalise(model, step, lr, False, X, order, i, i + 1)
    return total + _flush_losses(loss, blocks, pending, k), step


def _scaled_sgd_body(data, order, lo, hi, model, update_, rate, batch_size, step, step_stride):
    """Plain SGD over the batches of ``order[lo:hi]`` for CSR rows (see ``data.lazy_shrink``): the
    weights are ``scale * P[:, :d]``, so that the shrink of every step, ``1 - lr (alpha + decay)``,
    multiplies one number instead of ``d`` weights, and a batch costs O(its stored values)
    (scikit-learn's ``WeightVector``). The steps of :func:`_batches_body` with the SGD update, up
    to rounding: the batch's scores at the current weights, then each row's
    ``lr / rows * sw * dl/dz * x`` subtracted. The scale is folded back into ``P`` once it falls
    below ``FOLD_SCALE`` and at the end. The rows' losses wait in block buffers as in
    :func:`_accumulate_body`. ``update_`` is plain SGD's. Returns ``(loss sum, step)``.

    The build with ``_averaged`` keeps the average of the weights lazily too, as scikit-learn's
    ``WeightVector`` does: between folds the average is ``(A + a P) / b`` for two numbers ``a``
    and ``b``, so that an update changes ``A`` only where it changes ``P`` (see
    :func:`_average_scaled`).

    The loops over a row's stored values are written out here rather than through the row
    functions of ``data.py``: the CSR's arrays are bound once, since each binding inside the row
    loop costs a reference count taken and dropped per row, and positions and columns are
    unsigned, which spares numba's check for negative indices at every stored value."""
    X, Y, sw = data
    values, columns, starts = X.data, X.indices, X.indptr
    P, loss, intercept_rate, alpha, decay = (model.P, model.loss, model.intercept_rate,
                                             model.alpha, model.decay)
    k, d1 = P.shape
    d = d1 - 1
    blocks = _blocks(_scratch(1, P)[1], 0)
    Zp, Yp, Wp, Dp = blocks.Zp, blocks.Yp, blocks.Wp, blocks.D
    l1, u, Q, A = model.l1, model.u, model.Q, model.A
    D = np.empty(max(1, min(batch_size, hi - lo)) * k, dtype=P.dtype)  # the batch's dl/dz
    zero = P.dtype.type(0)
    scale = 1.0
    avg_a, avg_b = 0.0, 1.0  # the average is (A + avg_a P) / avg_b: see _average_scaled
    total = 0.0
    pending = np.int64(0)  # not 0: see _rows_body
    pending_rows = 0  # pending // k, counted: a division per row costs more than the row's dot
    for b_lo in range(lo, hi, batch_size):
        nb = min(hi, b_lo + batch_size) - b_lo
        for i in range(nb):
            row = order[b_lo + i]
            ahead = order[min(b_lo + i + PREFETCH_ROWS, hi - 1)]
            if ahead != row + PREFETCH_ROWS:  # shuffled: in storage order the hardware streams
                _prefetch_row(data, ahead)
            if pending == Zp.size:
                total += _flush_losses(loss, blocks, pending, k)
                pending = pending_rows = 0
            p0, p1 = np.uint64(starts[row]), np.uint64(starts[row + 1])
            Wp[pending_rows] = sw[row]
            for c in range(k):
                s = zero
                for p in range(p0, p1):
                    s += values[p] * P[c, np.uint64(columns[p])]
                Zp[pending + c] = scale * s + P[c, d]
                Yp[pending + c] = Y[row, c]
            loss_derivatives(loss, Zp, Yp, Dp, pending, pending + k, k)
            for c in range(k):
                D[i * k + c] = Dp[pending + c]
            pending += k
            pending_rows += 1
        step += step_stride
        lr = _step_rate(rate.schedule, rate.lr, step, rate.hyper)
        scale *= 1 - lr * (alpha + decay)
        averaging = False
        if _averaged:  # a constant of the build: the plain build holds none of this
            averaging = step >= model.average
            if step == model.average:  # the first update averaged: the mean so far is 0
                A[:, :] = 0
                avg_a, avg_b = 0.0, 1.0
        if abs(scale) < FOLD_SCALE:
            if _averaged:
                avg_a, avg_b = _materialise_average(A, P, avg_a, avg_b)
            _fold_scale(P, scale)
            scale = 1.0
        per_row = lr / nb
        if l1 > 0:
            u[0] += lr * l1
        for i in range(nb):
            row = order[b_lo + i]
            p0, p1 = np.uint64(starts[row]), np.uint64(starts[row + 1])
            w = sw[row]
            for c in range(k):
                g = per_row * w * D[i * k + c]
                a = P.dtype.type(-g / scale)
                for p in range(p0, p1):
                    P[c, np.uint64(columns[p])] += a * values[p]
                if _averaged and averaging:  # scikit-learn's rounding: (a_avg x) (g / scale)
                    for p in range(p0, p1):
                        A[c, np.uint64(columns[p])] -= (avg_a * values[p]) * a
                if intercept_rate:
                    P[c, d] -= g * intercept_rate
        if _averaged and averaging:
            avg_a, avg_b = _average_scaled(A, P, step - model.average + 1, scale, avg_a, avg_b)
        if l1 > 0:  # after the average, as after_update: the columns the rows touched, as
            # scikit-learn does for sparse rows
            for i in range(nb):
                row = order[b_lo + i]
                for c in range(k):
                    for p in range(np.uint64(starts[row]), np.uint64(starts[row + 1])):
                        j = np.uint64(columns[p])
                        if _averaged and averaging:  # a change of P the average must not see
                            A[c, j] += avg_a * P[c, j]
                        _truncate(P, c, j, scale, u[0], Q)
                        if _averaged and averaging:
                            A[c, j] -= avg_a * P[c, j]
    if _averaged:
        _materialise_average(A, P, avg_a, avg_b)
    _fold_scale(P, scale)
    return total + _flush_losses(loss, blocks, pending, k), step


@jit_inline
def _average_scaled(A, P, count, scale, avg_a, avg_b):
    """The lazy average after update number ``count`` of the average, ``mu = 1 / count``: with
    the weights ``scale * P`` and the average ``(A + a P) / b``, the new average
    ``(1 - mu) old + mu scale P`` is ``(A + a' P) / b'`` for ``b' = b / (1 - mu)`` and
    ``a' = a + mu b' scale``, once each stored weight's change ``dP`` of the update has been
    taken off ``A`` as ``a dP`` (the kernel does that as it changes ``P``). The intercepts'
    averages are kept plainly. Returns ``(a', b')``."""
    mu = 1.0 / count
    if count > 1:
        avg_b /= 1.0 - mu
    avg_a += mu * avg_b * scale
    d = P.shape[1] - 1
    for c in range(P.shape[0]):
        A[c, d] += mu * (P[c, d] - A[c, d])
    return avg_a, avg_b


@jit_inline
def _materialise_average(A, P, avg_a, avg_b):
    """Write the lazy average ``(A + a P) / b`` of the weights into ``A``, as scikit-learn's
    ``reset_wscale`` does (a multiply by ``1 / b``); returns the ``(a, b)`` that then stand for
    it, ``(0, 1)``."""
    inv = 1.0 / avg_b
    for c in range(P.shape[0]):
        for j in range(P.shape[1] - 1):
            A[c, j] = (A[c, j] + avg_a * P[c, j]) * inv
    return 0.0, 1.0


@jit_inline
def _fold_scale(P, scale):
    """``P[:, :d] *= scale``."""
    for c in range(P.shape[0]):
        for j in range(P.shape[1] - 1):
            P[c, j] *= scale


def scaled_sgd_applies(X, update_, batch_size, model):
    """Whether an epoch runs :func:`_scaled_sgd_body`: plain SGD on rows that touch few columns
    (``X`` as the kernels take it), in batches small enough that O(d) per batch would dominate,
    averaged or not (the average is lazy too). Larger batches (which the
    parallel backend splits across threads) sum their gradient in a dense buffer, which then
    costs less than the running scale's per-row work (full batch on 200,000 x 2**18 CSR: 55 ms
    against 78)."""
    return (isinstance(X, CSR) and update_.opt == SGD and batch_size < 2 * MIN_ROWS_PER_THREAD
            and (model.l1 == 0 or batch_size < PROX_L1_MIN_ROWS))


@jit_inline
def _descend(model, update_, rate, G, flat, n_rows, step):
    """The step from the summed gradient ``G`` of ``n_rows`` rows: the mean plus the L2 term,
    the learning rate of update number ``step``, the decoupled decay and the optimizer's update.
    ``flat`` is ``(P.reshape(-1), G.reshape(-1))``, made once by the caller: a view made at each
    batch costs atomic reference counting. Returns the learning rate."""
    P, decay = model.P, model.decay
    k, d1 = P.shape
    _finish_gradient(G, P, n_rows, model.alpha, model.intercept_rate)
    lr = _step_rate(rate.schedule, rate.lr, step, rate.hyper)
    if decay != 0:
        shrink = 1 - lr * decay
        for c in range(k):
            for j in range(d1 - 1):
                P[c, j] *= shrink
    apply_update(update_, flat[0], flat[1], step, lr)
    return lr


def _batches_body(data, order, lo, hi, model, update_, rate, batch_size, step, step_stride):
    """The mini-batches of ``order[lo:hi]`` in turn on one thread: gradient, step, update. Returns
    ``(loss sum, step)``; ``step`` grows by ``step_stride`` per batch."""
    X, Y, sw = data
    P, loss = model.P, model.loss
    k = P.shape[0]
    G, buf = _scratch(1, P)
    # views made once: inside the batch loop each would cost atomic reference counting
    G0 = G[0]
    flat = (P.reshape(-1), G0.reshape(-1))
    blocks = _blocks(buf, 0)
    total = 0.0
    pending = np.int64(0)  # not 0: see _rows_body
    for b_lo in range(lo, hi, batch_size):
        b_hi = min(hi, b_lo + batch_size)
        nb = b_hi - b_lo
        batch_loss, pending = _accumulate(data, order, b_lo, b_hi, P, loss, G0, blocks, pending)
        total += batch_loss
        step += step_stride
        lr = _descend(model, update_, rate, G0, flat, nb, step)
        _penalise(model, step, lr, nb >= PROX_L1_MIN_ROWS or nb == Y.shape[0], X, order, b_lo,
                  b_hi)
    return total + _flush_losses(loss, blocks, pending, k), step


@jit
def _ordered_part(data, order, lo, hi, P, loss, G, blocks):
    """Set ``G`` to the weighted gradient sum of rows ``order[lo:hi]``; return their loss sum."""
    total, pending = _accumulate_call(data, order, lo, hi, P, loss, G, blocks, np.int64(0))
    return total + _flush_losses(loss, blocks, pending, P.shape[0])


@jit
def _storage_order_part(data, order, lo, hi, P, loss, G, blocks):
    """:func:`_ordered_part` for a batch of every row of dense ``data``: the rows ``lo:hi`` in
    storage order (the order only changes rounding), through the full-batch kernel."""
    X, Y, sw = data
    return _storage_order(Data(X[lo:hi], Y[lo:hi], sw[lo:hi]), P, loss, G, blocks.Z, blocks.D,
                          blocks.L)


@jit
def _loss_gradient(data, order, lo, hi, P, loss, G, buf):
    """Set ``G[0]`` to the weighted gradient sum of rows ``order[lo:hi]``; return their loss sum
    (the compiled twin of :func:`loss_gradient`; ``G``, ``buf`` from :func:`scratch`)."""
    return _ordered_part(data, order, lo, hi, P, loss, G[0], _blocks(buf, 0))


def _whole_batch_body(data, order, lo, hi, model, update_, rate, batch_size, step, step_stride):
    """One full batch of every row of ``data`` on one thread, in storage order (dense rows, see
    ``data.storage_order_rows``): the epoch of full-batch gradient descent."""
    P = model.P
    G, buf = _scratch(1, P)
    blocks = _blocks(buf, 0)
    total = _storage_order(data, P, model.loss, G[0], blocks.Z, blocks.D, blocks.L)
    step += step_stride
    lr = _descend(model, update_, rate, G[0], (P.reshape(-1), G[0].reshape(-1)), order.size,
                  step)
    _penalise(model, step, lr, True, data.X, order, 0, order.size)
    return total, step


def _split_body(data, order, model, loss, update_, rate, batch_size, step, n_threads):
    """The batches of ``order`` in turn, each split into contiguous parts, one a thread, of at
    least ``MIN_ROWS_PER_THREAD`` rows: each part's gradient in its own buffer, added up in part
    order afterwards (so the result depends on the thread count, not on timing). A part's rows go
    through ``_part``, which each build binds (:func:`_ordered_part`, or
    :func:`_storage_order_part` for a full batch of dense rows). Returns ``(loss sum, step)``.

    ``loss`` is ``model.loss``, passed apart: numba's parfor lowering takes a tuple into a
    ``prange`` loop only as an argument of the function (one unpacked from another tuple, such as
    the model, fails to lower)."""
    X, Y, sw = data
    P = model.P
    k, d1 = P.shape
    n = order.size
    n_parts = max(1, min(n_threads, min(batch_size, n) // MIN_ROWS_PER_THREAD))
    G, buf = _scratch(n_parts, P)
    G0 = G[0]
    flat = (P.reshape(-1), G0.reshape(-1))
    X_parts = input_parts(X)
    total = 0.0
    for b_lo in range(0, n, batch_size):
        b_hi = min(n, b_lo + batch_size)
        nb = b_hi - b_lo
        parts = max(1, min(n_parts, nb // MIN_ROWS_PER_THREAD))
        partial = np.empty(parts)
        for t in prange(parts):
            thread_data = Data(input_from_parts(X_parts), Y, sw)
            # accumulated in the thread's own allocation, copied out once: neighbouring parts
            # of G share a cache line, which would bounce between the cores at every row
            G_part = np.empty((k, d1), dtype=G.dtype)
            part_lo, part_hi = b_lo + t * nb // parts, b_lo + (t + 1) * nb // parts
            partial[t] = _part(thread_data, order, part_lo, part_hi, P, loss, G_part,
                               _blocks(buf, t))
            for c in range(k):
                for j in range(d1):
                    G[t, c, j] = G_part[c, j]
        # explicit loops: in a parallel function an array expression is a parallel region
        for t in range(parts):
            total += partial[t]
            if t > 0:
                for c in range(k):
                    for j in range(d1):
                        G0[c, j] += G[t, c, j]
        step += 1
        lr = _descend(model, update_, rate, G0, flat, nb, step)
        _penalise(model, step, lr, nb >= PROX_L1_MIN_ROWS or nb == Y.shape[0], X, order, b_lo,
                  b_hi)
    return total, step


def scratch(n_parts, P):
    """Return the scratch of the compiled kernels for ``n_parts`` threads: gradients ``G``
    (n_parts, k, d + 1) and block buffers (n_parts, 7, BLOCK_ROWS * k), see :class:`Blocks`."""
    return (np.empty((n_parts,) + P.shape, dtype=P.dtype),
            np.empty((n_parts, 7, BLOCK_ROWS * P.shape[0]), dtype=P.dtype))


_scratch = jit_inline(scratch)
_run_scaled_sgd, _run_scaled_sgd_averaged = (
    jit(specialised(_scaled_sgd_body, name, _averaged=averaged))
    for name, averaged in (("_run_scaled_sgd", False), ("_run_scaled_sgd_averaged", True)))


def epoch_kernel(data, model, update_, batch_size, n, threaded):
    """The one compiled kernel that runs an epoch of ``n`` rows of ``data`` (``X`` as the kernels
    take it) in batches of ``batch_size``, chosen here so that a fit compiles its own path only:
    ``(kernel, split)``, with ``split`` whether it is a parallel kernel of the epoch's signature
    (else it takes the step kernels' ``(data, order, lo, hi, model, update_, rate, batch_size,
    step, step_stride)``)."""
    batch = min(batch_size, n)
    whole = batch == data.Y.shape[0] and storage_order_rows(data.X)
    if scaled_sgd_applies(data.X, update_, batch_size, model):
        return (_run_scaled_sgd_averaged if model.average > 0 else _run_scaled_sgd), False
    # a model with an L1 penalty or averaging runs the build that applies them
    build = int(model.l1 > 0 or model.average > 0)
    if batch == 1:
        return _ROWS[build], False
    if threaded and batch >= 2 * MIN_ROWS_PER_THREAD:
        return (_WHOLE_BATCH_PARALLEL if whole else _BATCHES_PARALLEL)[build], True
    return (_WHOLE_BATCH if whole else _BATCHES)[build], False


def _compiled_epoch(threaded):
    """The compiled twin of :func:`run_epoch` with the same signature: the whole epoch runs in one
    call of the kernel that :func:`epoch_kernel` picks; with ``threaded``, large batches are split
    across ``n_threads``."""

    def run_epoch(data, order, model, update_, rate, batch_size, step, n_threads):
        data = kernel_data(data)
        n = len(order)
        kernel, split = epoch_kernel(data, model, update_, batch_size, n,
                                     threaded and n_threads > 1)
        if split:
            return kernel(data, order, model, model.loss, update_, rate, batch_size, step,
                          n_threads)
        return kernel(data, order, 0, n, model, update_, rate, batch_size, step, 1)

    return run_epoch


_run_epoch = _compiled_epoch(threaded=False)
_run_epoch_parallel = _compiled_epoch(threaded=True)


@jit
def _part_gradient(part, P, loss, G):
    """Set ``G`` (k, d + 1) to the weighted gradient sum of all rows of ``part`` (a ``Data``), in
    storage order as the parallel epoch sums a thread's part; return their weighted loss sum."""
    n = part.Y.shape[0]
    buf = np.empty((1, 7, BLOCK_ROWS * P.shape[0]), dtype=P.dtype)
    blocks = _blocks(buf, 0)
    if storage_order_rows(part.X) and n > 0:
        return _whole_rows(part, 0, n, P, loss, G, blocks)
    total, pending = _accumulate_call(part, np.arange(n), 0, n, P, loss, G, blocks, np.int64(0))
    return total + _flush_losses(loss, blocks, pending, P.shape[0])


@jit
def _full_batch_step(G, partial, model, update_, rate, step, n_rows):
    """The step of a full batch from its parts' sums (:func:`_parts_gradient`): the losses and
    gradients added in part order, then the mean, the L2 term, the decay and the optimizer's
    update, as in :func:`_batches_body`. Returns ``(loss sum, step)``."""
    k, d1 = model.P.shape
    total = 0.0
    for t in range(partial.size):
        total += partial[t]
    G0 = G[0]
    for t in range(1, G.shape[0]):
        for c in range(k):
            for j in range(d1):
                G0[c, j] += G[t, c, j]
    step += 1
    lr = _descend(model, update_, rate, G0, (model.P.reshape(-1), G0.reshape(-1)), n_rows, step)
    if model.average > 0 and step >= model.average:
        _average_update(model, step)
    if model.l1 > 0:
        _l1_prox(model, lr)
    return total, step


def parts_gradient(parts, model, n_threads=1):
    """Return ``(partial, G)``: the weighted loss sum (n_parts,) and gradient sum
    (n_parts, k, d + 1) of each part's rows at ``model.P``, one compiled call per part on up to
    ``n_threads`` threads. ``parts`` is a list of ``Data``: row ranges of one array
    (``data.data_parts``) or the chunks a dask worker holds, which give the same sums bit for
    bit."""
    P, loss = model.P, model.loss
    G = np.empty((len(parts),) + P.shape, dtype=P.dtype)
    partial = np.empty(len(parts))

    def one(t):
        partial[t] = _part_gradient(kernel_data(parts[t]), P, loss, G[t])

    for_each_part(one, len(parts), n_threads)
    return partial, G


def full_batch_step(partial, G, model, update_, rate, step, n_rows):
    """:func:`_full_batch_step` with the arguments in the order of the parts' sums."""
    return _full_batch_step(G, partial, model, update_, rate, step, n_rows)


def _local_sgd_body(data, order, model, loss, update_, rate, batch_size, step, n_threads):
    """Local SGD (parameter averaging): each thread trains its own copy of ``P`` and ``S`` on its
    contiguous part of ``order``, and every ``LOCAL_SGD_SYNC_ROWS`` rows per thread the copies are
    averaged.

    Threads never write to the same place, so the result is deterministic for a given thread count,
    but it is not the serial result. Averaging halves the noise of constant-step SGD, so near the
    optimum an epoch gets as low a loss as a serial one, in about half the time on two cores; far
    from it, an epoch makes the progress of ``n / n_threads`` serial steps (summing the threads'
    changes instead overshoots once a round is long enough to converge). One thread is exactly the
    serial epoch. A thread's rows go through ``_local_step``, the step kernel that each build binds
    (:func:`_local_sgd_epoch` picks one). ``loss`` is ``model.loss``, apart as
    :func:`_split_body` says.
    """
    P, S = model.P, update_.S
    n = order.shape[0]
    n_threads = max(1, min(n_threads, n // LOCAL_SGD_SYNC_ROWS))
    # whole batches per round, so that no batch straddles an averaging
    sync = max(1, LOCAL_SGD_SYNC_ROWS // batch_size) * batch_size
    P_flat, S_flat = P.reshape(-1), S.reshape(-1)
    # each thread's model, state and scratch are its own allocations, made once a round: in shared
    # arrays, neighbouring threads' rows share cache lines that every update would bounce between
    # the cores; the rows below are written once a round, for the average
    P_local = np.empty((n_threads, P.size), dtype=P.dtype)
    S_local = np.empty((n_threads, S.size), dtype=S.dtype)
    totals = np.empty(n_threads)
    for t in range(n_threads):
        totals[t] = 0.0
    most_rows = -(-n // n_threads)  # the rows of the largest part
    n_rounds = -(-most_rows // sync)
    X_parts, Y, sw = input_parts(data.X), data.Y, data.sw
    # prange cannot take the model, a tuple of mixed types: rebuilt in the loop
    intercept_rate, alpha, decay, u, Q, A = (model.intercept_rate, model.alpha, model.decay,
                                             model.u, model.Q, model.A)
    for r in range(n_rounds):
        for t in prange(n_threads):
            thread_data = Data(input_from_parts(X_parts), Y, sw)
            lo = t * n // n_threads + r * sync
            hi = min((t + 1) * n // n_threads, lo + sync)
            P_t = P.copy()
            S_t = S.copy()
            if lo < hi:
                part_loss, _ = _local_step(
                    thread_data, order, lo, hi,
                    # the estimators refuse L1 and averaging with this backend
                    Linear(P_t, loss, intercept_rate, alpha, decay, 0.0, u, Q, A, 0),
                    with_state(update_, S_t), rate, batch_size,
                    step + r * (sync // batch_size) * n_threads + t, n_threads)
                totals[t] += part_loss
            P_t_flat, S_t_flat = P_t.reshape(-1), S_t.reshape(-1)
            for j in range(P_flat.size):
                P_local[t, j] = P_t_flat[j]
            for j in range(S_flat.size):
                S_local[t, j] = S_t_flat[j]
        active = 0
        for t in range(n_threads):
            if t * n // n_threads + r * sync < (t + 1) * n // n_threads:
                active += 1
        _average_rows(P_local, active, P_flat)
        _average_rows(S_local, active, S_flat)
    n_batches = 0
    for t in range(n_threads):
        n_batches += -(-((t + 1) * n // n_threads - t * n // n_threads) // batch_size)
    loss_sum = 0.0
    for t in range(n_threads):
        loss_sum += totals[t]
    return loss_sum, step + n_batches


@jit
def _average_rows(local, active, out):
    """``out`` = the mean of the first ``active`` rows of ``local``, added in row order."""
    for j in range(out.size):
        total = local[0, j]
        for t in range(1, active):
            total += local[t, j]
        out[j] = total / active


def _local_sgd_epoch(data, order, model, update_, rate, batch_size, step, n_threads):
    data = kernel_data(data)
    if scaled_sgd_applies(data.X, update_, batch_size, model):
        kernel = _local_sgd_scaled
    else:
        kernel = _local_sgd_rows if batch_size == 1 else _local_sgd_batches
    return kernel(data, order, model, model.loss, update_, rate, batch_size, step, n_threads)


_local_sgd_epoch.__doc__ = _local_sgd_body.__doc__


def _forward_body(X, P, link, out, n_threads):
    """Write ``link(X @ W.T + b)`` into ``out`` (n, k), one contiguous part of rows per thread."""
    n = out.shape[0]
    k, d1 = P.shape
    d = d1 - 1
    n_parts = max(1, min(n_threads, n // MIN_ROWS_PER_THREAD))
    X_parts = input_parts(X)
    for t in prange(n_parts):
        X = input_from_parts(X_parts)
        Zb = np.empty(BLOCK_ROWS * k, dtype=out.dtype)
        hi_t = (t + 1) * n // n_parts
        for r0 in range(t * n // n_parts, hi_t, BLOCK_ROWS):
            m = min(BLOCK_ROWS, hi_t - r0)
            for i in range(m):
                for c in range(k):
                    Zb[i * k + c] = row_dot(X, r0 + i, P, c) + P[c, d]
            _apply_link(link, Zb, m * k, k)
            for i in range(m):
                for c in range(k):
                    out[r0 + i, c] = Zb[i * k + c]


_forward = jit(_forward_body)
_forward_parallel = jit_parallel(_forward_body, "_forward_parallel")


def reference_forward(X, model, link, n_threads):
    """:func:`forward` with the backends' signature (``model`` a :class:`Linear`)."""
    return forward(X, model.P, link)


def compiled_forward(kernel):
    """The backends' forward function around the compiled ``kernel``."""
    def run_forward(X, model, link, n_threads):
        check_link(link)
        out = np.empty((X.shape[0], model.P.shape[0]), dtype=model.P.dtype)
        kernel(kernel_input(X), model.P, link, out, n_threads)
        return out
    return run_forward


# --- the builds of the bodies that call a function chosen per build (see config.specialised) ----

def _builds(body, name, parallel=False, **bindings):
    """``(plain, penalised)``: ``body`` compiled with ``_penalise`` a no-op and with the L1
    penalty and averaging (:func:`_after_update`), named ``name`` and ``name + "_penalised"``."""
    compile_ = (lambda fn, name: jit_parallel(fn, name)) if parallel else (lambda fn, name: jit(fn))
    return tuple(compile_(specialised(body, build_name, _penalise=penalise, **bindings),
                          build_name)
                 for build_name, penalise in ((name, _unpenalised),
                                              (name + "_penalised", _after_update)))


_ROWS = _builds(_rows_body, "_run_rows")
_BATCHES = _builds(_batches_body, "_run_batches")
_WHOLE_BATCH = _builds(_whole_batch_body, "_run_whole_batch")
_BATCHES_PARALLEL = _builds(_split_body, "_run_batches_parallel", True, _part=_ordered_part)
_WHOLE_BATCH_PARALLEL = _builds(_split_body, "_run_whole_batch_parallel", True,
                                _part=_storage_order_part)
_run_rows, _run_batches, _run_batches_parallel = _ROWS[0], _BATCHES[0], _BATCHES_PARALLEL[0]
# the estimators refuse L1 and averaging with local SGD: its steps are the plain builds
_local_sgd_rows, _local_sgd_scaled, _local_sgd_batches = (
    jit_parallel(specialised(_local_sgd_body, name, _local_step=step), name)
    for name, step in (("_local_sgd_rows", _run_rows), ("_local_sgd_scaled", _run_scaled_sgd),
                       ("_local_sgd_batches", _run_batches)))
