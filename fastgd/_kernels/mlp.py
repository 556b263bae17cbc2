"""Multi-layer perceptron kernels: dense-layer forward and backward passes and a whole epoch.

A network of ``n_layers`` dense layers is described by ``sizes`` (int64, ``n_layers + 1``):
``[n_features, hidden_1, ..., hidden_{n_layers - 1}, n_outputs]``. Its parameters are ONE flat array
``P``, layer after layer: the weights ``W_l`` of shape ``(sizes[l], sizes[l + 1])`` row-major (as
scikit-learn's ``coefs_``), then the biases ``b_l`` of shape ``(sizes[l + 1],)``, so that the optimizer
updates a single vector. Gradients ``G`` have ``P``'s layout.

Layer ``l`` computes ``A_{l+1} = f(A_l @ W_l + b_l)`` with ``f`` the hidden ``activation`` for every
layer but the last, whose output is the raw score ``Z`` that the loss (``losses.LOG_LOSS`` for a
sigmoid output, ``SOFTMAX_LOG_LOSS`` for softmax, ``SQUARED_ERROR`` for regression) turns into
``dl/dZ``. Backpropagation: ``D_L = sw * dl/dZ``; for each layer, from the last,
``G[W_l] += A_l.T @ D_{l+1}``, ``G[b_l] += sum_rows D_{l+1}``, and
``D_l = (D_{l+1} @ W_l.T) * f'(A_l)``, with ``f'`` written in terms of the activation's output
(relu ``A > 0``, tanh ``1 - A**2``, logistic ``A (1 - A)``).

The compiled kernels work on blocks of at most ``BLOCK_ROWS`` rows held in a workspace ``work`` of
shape ``(n_layers + 5, BLOCK_ROWS * max(sizes))`` (see ``workspace``): rows ``0..n_layers`` hold each
layer's activations (row 0 the gathered input rows, row ``n_layers`` the scores), two rows hold the
deltas (ping-pong), one the targets and one the loss terms of the block. Every buffer is flat and
row-major, ``m * width`` entries for ``m`` rows, so each inner loop is unit-stride over a layer's
width.

Three variants share each signature, as for the linear kernels: a NumPy reference (no underscore),
a serial ``@njit`` kernel and, for the gradient and the forward pass, a ``parallel=True`` kernel
that splits rows into one contiguous part per thread, each with its own gradient buffer and
workspace, reduced serially in a fixed order (deterministic for a given thread count).
"""

import numpy as np
from numba import prange

from ..config import jit, jit_parallel
from .losses import _apply_link, _loss_terms, _sigmoid, apply_link, loss_terms, sigmoid
from .optim import _step_rate, _update, step_rate, update

IDENTITY, RELU, TANH, LOGISTIC = range(4)
ACTIVATIONS = {"identity": IDENTITY, "relu": RELU, "tanh": TANH, "logistic": LOGISTIC}

#: Rows of a block: their activations in every layer (32 x 64 float64 is 16 KB) stay in L1 between
#: the forward and the backward pass.
BLOCK_ROWS = 32

#: A batch is split across threads only when each thread gets at least this much work, counted in
#: parameters times rows (about the multiply-adds of a forward and backward pass): starting a
#: parallel region costs about as much as this many multiply-adds.
MIN_WORK_PER_THREAD = 1 << 18


def n_params(sizes):
    """Length of the flat parameter array of a network with these ``sizes``."""
    total = 0
    for l in range(len(sizes) - 1):
        total += sizes[l] * sizes[l + 1] + sizes[l + 1]
    return total


def min_rows_per_thread(n_params):
    """Rows a thread needs, for a network of ``n_params`` parameters, to be worth a parallel
    region."""
    return max(1, MIN_WORK_PER_THREAD // n_params)


def workspace(sizes, dtype, n_parts=1):
    """Return the scratch buffers of ``n_parts`` parts: ``work`` (n_parts, n_layers + 5,
    BLOCK_ROWS * max(sizes)) of ``dtype`` and ``nz`` (n_parts, max(sizes)) int64."""
    width = int(max(sizes))
    return (np.zeros((n_parts, len(sizes) + 4, BLOCK_ROWS * width), dtype=dtype),
            np.zeros((n_parts, width), dtype=np.int64))


_min_rows_per_thread = jit(min_rows_per_thread)


# --- NumPy references -------------------------------------------------------------------------

def unpack(P, sizes):
    """Return ``[(W_0, b_0), ...]``, views into the flat ``P``."""
    layers, start = [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        W = P[start:start + n_in * n_out].reshape(n_in, n_out)
        start += n_in * n_out
        layers.append((W, P[start:start + n_out]))
        start += n_out
    return layers


def activate(activation, Z):
    """Return ``f(Z)``."""
    if activation == RELU:
        return np.maximum(Z, 0)
    if activation == TANH:
        return np.tanh(Z)
    if activation == LOGISTIC:
        return sigmoid(Z)
    return Z.copy()


def activation_derivative(activation, A):
    """Return ``f'(z)`` written in terms of the activation's output ``A = f(z)``."""
    if activation == RELU:
        return (A > 0).astype(A.dtype)
    if activation == TANH:
        return 1 - A * A
    if activation == LOGISTIC:
        return A * (1 - A)
    return np.ones_like(A)


def dense_forward(A_in, W, b, activation):
    """Return ``f(A_in @ W + b)``, shape (m, n_out)."""
    return activate(activation, A_in @ W + b)


def dense_backward(A_in, D_out, W, activation_in):
    """Return ``(G_W, G_b, D_in)``: ``A_in.T @ D_out``, ``D_out.sum(0)`` and the delta of the layer
    below, ``(D_out @ W.T) * f'(A_in)`` for ``A_in`` the output of an ``activation_in`` layer."""
    return A_in.T @ D_out, D_out.sum(axis=0), (D_out @ W.T) * activation_derivative(activation_in, A_in)


def forward(X, P, sizes, activation, link):
    """Return the network's output ``link(Z)`` for rows ``X`` (n, d), shape (n, n_outputs)."""
    A = X
    layers = unpack(P, sizes)
    for l, (W, b) in enumerate(layers):
        A = dense_forward(A, W, b, activation if l < len(layers) - 1 else IDENTITY)
    return apply_link(link, A)


def loss_gradient(X, Y, sw, P, sizes, activation, loss):
    """Return ``(sum_i sw_i l_i, G)`` with ``G = sum_i sw_i dl_i/dP``, flat like ``P``."""
    layers = unpack(P, sizes)
    A = [X]
    for l, (W, b) in enumerate(layers):
        A.append(dense_forward(A[-1], W, b, activation if l < len(layers) - 1 else IDENTITY))
    L, D = loss_terms(loss, A[-1], Y)
    D = D * sw[:, None]
    G = np.empty_like(P)
    for l in range(len(layers) - 1, -1, -1):
        G_W, G_b, D_in = dense_backward(A[l], D, layers[l][0], activation)
        G_views = unpack(G, sizes)[l]
        G_views[0][:] = G_W
        G_views[1][:] = G_b
        D = D_in
    return float(sw @ L.sum(axis=1)), G


def finish_gradient(G, P, sizes, n_rows, alpha):
    """Turn a summed gradient into the mean plus the L2 term ``alpha * W`` (biases are not
    penalised)."""
    G /= n_rows
    for (G_W, _), (W, _) in zip(unpack(G, sizes), unpack(P, sizes)):
        G_W += alpha * W


def run_epoch(X, Y, sw, order, P, S, hyper, batch_size, sizes, activation, loss, opt, alpha, decay,
              lr, schedule, schedule_hyper, step, n_threads):
    """One epoch of (mini-)batch gradient descent over ``order``, updating ``P`` and ``S`` in place.

    Each batch: its loss and gradient at the current ``P`` (L2 penalty ``alpha``), the learning rate
    of the step from the schedule, the decoupled weight decay ``W *= 1 - rate * decay`` (weights
    only), then the optimizer's update. Returns ``(sum of weighted losses, step)``.
    """
    n = X.shape[0]
    total = 0.0
    for lo in range(0, n, batch_size):
        rows = order[lo:lo + batch_size]
        batch_loss, G = loss_gradient(X[rows], Y[rows], sw[rows], P, sizes, activation, loss)
        total += batch_loss
        finish_gradient(G, P, sizes, rows.size, alpha)
        step += 1
        rate = step_rate(schedule, lr, step, schedule_hyper)
        for W, _ in unpack(P, sizes):
            W *= 1 - rate * decay
        update(opt, P, G, S, step, rate, hyper)
    return total, step


# --- compiled kernels -------------------------------------------------------------------------
# Inner loops index 2-D views with a bare loop counter (``z[j]``): LLVM then sees unit-stride,
# non-negative indices and emits SIMD code; the same loops over flat offsets (``A[o + j]``) ran 6x
# slower.

@jit
def _activate(activation, Z):
    """Apply ``f`` in place to the flat array ``Z``."""
    zero = Z.dtype.type(0)
    one = Z.dtype.type(1)
    if activation == RELU:
        for t in range(Z.size):
            Z[t] = max(Z[t], zero)
    elif activation == TANH:
        for t in range(Z.size):
            Z[t] = np.tanh(Z[t])
    elif activation == LOGISTIC:
        for t in range(Z.size):
            Z[t] = _sigmoid(Z[t], one)


@jit
def _activation_derivative(activation, A, D):
    """Multiply the flat deltas ``D`` in place by ``f'`` at the flat activations ``A``."""
    zero = A.dtype.type(0)
    one = A.dtype.type(1)
    if activation == RELU:
        for t in range(D.size):
            D[t] = D[t] if A[t] > zero else zero
    elif activation == TANH:
        for t in range(D.size):
            D[t] *= one - A[t] * A[t]
    elif activation == LOGISTIC:
        for t in range(D.size):
            D[t] *= A[t] * (one - A[t])


@jit
def _dense_forward(A_in, A_out, W, b, activation, nz):
    """Write ``f(A_in @ W + b)`` into ``A_out`` (m, n_out); ``nz`` is (n_in,) int64 scratch.

    Per row: the indices of its non-zero inputs first (ReLU outputs and blank pixels are exactly
    0, and skipping their rows of ``W`` halves the work), then four rows of ``W`` per pass over the
    output, so that each load and store of the output serves four multiply-adds.
    """
    zero = A_in.dtype.type(0)
    m, n_in = A_in.shape
    n_out = W.shape[1]
    for r in range(m):
        x = A_in[r]
        z = A_out[r]
        for j in range(n_out):
            z[j] = b[j]
        count = 0
        for i in range(n_in):
            if x[i] != zero:
                nz[count] = i
                count += 1
        t = 0
        while t + 4 <= count:
            i0, i1, i2, i3 = nz[t], nz[t + 1], nz[t + 2], nz[t + 3]
            a0, a1, a2, a3 = x[i0], x[i1], x[i2], x[i3]
            w0, w1, w2, w3 = W[i0], W[i1], W[i2], W[i3]
            for j in range(n_out):
                z[j] += a0 * w0[j] + a1 * w1[j] + a2 * w2[j] + a3 * w3[j]
            t += 4
        for u in range(t, count):
            a = x[nz[u]]
            w = W[nz[u]]
            for j in range(n_out):
                z[j] += a * w[j]
    _activate(activation, A_out.reshape(-1))


@jit
def _dense_backward(A_in, D_out, D_in, W, G_W, G_b, activation_in, propagate):
    """Add ``A_in.T @ D_out`` to ``G_W`` (n_in, n_out) and ``D_out.sum(0)`` to ``G_b``; when
    ``propagate``, write the delta of the layer below, ``(D_out @ W.T) * f'(A_in)``, into ``D_in``
    (m, n_in).

    ``G_W`` is updated from four rows at a time, so that each load and store of a row of ``G_W``
    serves four multiply-adds; a row of ``G_W`` whose four inputs are all zero is skipped.
    """
    zero = A_in.dtype.type(0)
    m, n_in = A_in.shape
    n_out = W.shape[1]
    r = 0
    while r + 4 <= m:
        x0, x1, x2, x3 = A_in[r], A_in[r + 1], A_in[r + 2], A_in[r + 3]
        d0, d1, d2, d3 = D_out[r], D_out[r + 1], D_out[r + 2], D_out[r + 3]
        for i in range(n_in):
            a0, a1, a2, a3 = x0[i], x1[i], x2[i], x3[i]
            if a0 != zero or a1 != zero or a2 != zero or a3 != zero:
                g = G_W[i]
                for j in range(n_out):
                    g[j] += a0 * d0[j] + a1 * d1[j] + a2 * d2[j] + a3 * d3[j]
        r += 4
    for u in range(r, m):
        x = A_in[u]
        d = D_out[u]
        for i in range(n_in):
            a = x[i]
            if a != zero:
                g = G_W[i]
                for j in range(n_out):
                    g[j] += a * d[j]
    for u in range(m):
        d = D_out[u]
        for j in range(n_out):
            G_b[j] += d[j]
    if propagate:
        for u in range(m):
            d = D_out[u]
            e = D_in[u]
            for i in range(n_in):
                w = W[i]
                s = zero
                for j in range(n_out):
                    s += w[j] * d[j]
                e[i] = s
        _activation_derivative(activation_in, A_in.reshape(-1), D_in.reshape(-1))


@jit
def _layer(P, w, n_in, n_out):
    """Views ``(W, b)`` of the layer whose weights start at ``w`` in the flat ``P``."""
    b = w + n_in * n_out
    return P[w:b].reshape((n_in, n_out)), P[b:b + n_out]


@jit
def _network_forward(work, P, sizes, activation, m, nz):
    """Run the ``m`` rows in ``work[0]`` through every layer; the scores end in ``work[n_layers]``."""
    n_layers = sizes.size - 1
    w = 0
    for l in range(n_layers):
        n_in, n_out = sizes[l], sizes[l + 1]
        W, b = _layer(P, w, n_in, n_out)
        _dense_forward(work[l, :m * n_in].reshape((m, n_in)),
                       work[l + 1, :m * n_out].reshape((m, n_out)), W, b,
                       activation if l < n_layers - 1 else IDENTITY, nz)
        w += n_in * n_out + n_out


@jit
def _accumulate(X, Y, sw, order, lo, hi, P, sizes, activation, loss, G, work, nz):
    """Set ``G`` to the weighted gradient sum of rows ``order[lo:hi]``; return their loss sum."""
    n_layers = sizes.size - 1
    d = sizes[0]
    k = sizes[n_layers]
    Yb = work[n_layers + 3]
    Lb = work[n_layers + 4]
    G[:] = 0
    total = 0.0
    for r0 in range(lo, hi, BLOCK_ROWS):
        m = min(BLOCK_ROWS, hi - r0)
        A0 = work[0, :m * d].reshape((m, d))
        for i in range(m):
            row = order[r0 + i]
            x = X[row]
            a = A0[i]
            for j in range(d):
                a[j] = x[j]
            for c in range(k):
                Yb[i * k + c] = Y[row, c]
        _network_forward(work, P, sizes, activation, m, nz)
        cur = n_layers + 1
        D = work[cur]
        _loss_terms(loss, work[n_layers], Yb, Lb, D, m * k, k)
        for i in range(m):
            s = sw[order[r0 + i]]
            for c in range(k):
                total += s * Lb[i * k + c]
                D[i * k + c] *= s
        w = G.size
        for l in range(n_layers - 1, -1, -1):
            n_in, n_out = sizes[l], sizes[l + 1]
            w -= n_in * n_out + n_out
            other = 2 * n_layers + 3 - cur  # the other delta row
            W, _ = _layer(P, w, n_in, n_out)
            G_W, G_b = _layer(G, w, n_in, n_out)
            _dense_backward(work[l, :m * n_in].reshape((m, n_in)),
                            work[cur, :m * n_out].reshape((m, n_out)),
                            work[other, :m * n_in].reshape((m, n_in)), W, G_W, G_b, activation,
                            l > 0)
            cur = other
    return total


@jit
def _finish_gradient(G, P, sizes, n_rows, alpha):
    inv = G.dtype.type(1.0 / n_rows)
    w = 0
    for l in range(sizes.size - 1):
        n_w = sizes[l] * sizes[l + 1]
        for t in range(w, w + n_w):
            G[t] = G[t] * inv + alpha * P[t]
        for t in range(w + n_w, w + n_w + sizes[l + 1]):
            G[t] *= inv
        w += n_w + sizes[l + 1]


@jit
def _scale_weights(P, sizes, factor):
    """``W *= factor`` for every layer's weights, not its biases."""
    w = 0
    for l in range(sizes.size - 1):
        n_w = sizes[l] * sizes[l + 1]
        for t in range(w, w + n_w):
            P[t] *= factor
        w += n_w + sizes[l + 1]


@jit
def _add_into(target, source):
    for t in range(target.size):
        target[t] += source[t]


def _run_epoch_body(X, Y, sw, order, P, S, hyper, batch_size, sizes, activation, loss, opt, alpha,
                    decay, lr, schedule, schedule_hyper, step, n_threads):
    """Compiled twin of :func:`run_epoch`: the whole epoch in one call, no Python per batch.

    A batch of at least ``2 * min_rows_per_thread(n_params)`` rows is split into up to
    ``n_threads`` contiguous parts, each with its own gradient buffer and workspace, whose
    gradients are then added in part order. Compiled twice: ``_run_epoch`` (where ``prange`` is
    ``range``) and ``_run_epoch_parallel``.
    """
    n = X.shape[0]
    min_rows = _min_rows_per_thread(P.size)
    n_parts = max(1, min(n_threads, min(batch_size, n) // min_rows))
    G = np.empty((n_parts, P.size), dtype=P.dtype)
    work = np.empty((n_parts, sizes.size + 4, BLOCK_ROWS * sizes.max()), dtype=P.dtype)
    nz = np.empty((n_parts, sizes.max()), dtype=np.int64)
    partial = np.empty(n_parts)
    G0 = G[0]
    total = 0.0
    for lo in range(0, n, batch_size):
        hi = min(n, lo + batch_size)
        parts = min(n_parts, max(1, (hi - lo) // min_rows))
        if parts == 1:
            total += _accumulate(X, Y, sw, order, lo, hi, P, sizes, activation, loss, G0, work[0],
                                 nz[0])
        else:
            for t in prange(parts):
                partial[t] = _accumulate(X, Y, sw, order, lo + t * (hi - lo) // parts,
                                         lo + (t + 1) * (hi - lo) // parts, P, sizes, activation,
                                         loss, G[t], work[t], nz[t])
            for t in range(parts):
                total += partial[t]
                if t > 0:
                    _add_into(G0, G[t])
        _finish_gradient(G0, P, sizes, hi - lo, alpha)
        step += 1
        rate = _step_rate(schedule, lr, step, schedule_hyper)
        if decay != 0:
            _scale_weights(P, sizes, 1 - rate * decay)
        _update(opt, P, G0, S, step, rate, hyper)
    return total, step


_run_epoch = jit(_run_epoch_body)
_run_epoch_parallel = jit_parallel(_run_epoch_body, "_mlp_run_epoch_parallel")


def _forward_body(X, P, sizes, activation, link, out, n_threads):
    """Write the network's output ``link(Z)`` for rows ``X`` into ``out`` (n, n_outputs), one
    contiguous part of rows per thread."""
    n, d = X.shape
    n_layers = sizes.size - 1
    k = sizes[n_layers]
    n_parts = max(1, min(n_threads, n // _min_rows_per_thread(P.size)))
    for t in prange(n_parts):
        work = np.empty((n_layers + 1, BLOCK_ROWS * sizes.max()), dtype=out.dtype)
        nz = np.empty(sizes.max(), dtype=np.int64)
        hi_t = (t + 1) * n // n_parts
        for r0 in range(t * n // n_parts, hi_t, BLOCK_ROWS):
            m = min(BLOCK_ROWS, hi_t - r0)
            A0 = work[0, :m * d].reshape((m, d))
            for i in range(m):
                x = X[r0 + i]
                a = A0[i]
                for j in range(d):
                    a[j] = x[j]
            _network_forward(work, P, sizes, activation, m, nz)
            Z = work[n_layers]
            _apply_link(link, Z, m * k, k)
            for i in range(m):
                for c in range(k):
                    out[r0 + i, c] = Z[i * k + c]


_forward = jit(_forward_body)
_forward_parallel = jit_parallel(_forward_body, "_mlp_forward_parallel")
