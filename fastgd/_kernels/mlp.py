"""Multi-layer perceptron kernels: dense-layer forward and backward passes and a whole epoch.

A network of ``n_layers`` dense layers is described by ``sizes`` (int64, ``n_layers + 1``):
``[n_features, hidden_1, ..., hidden_{n_layers - 1}, n_outputs]``. Its parameters are ONE flat
array ``P``, layer after layer: the weights ``W_l`` of shape ``(sizes[l], sizes[l + 1])`` row-major
(as scikit-learn's ``coefs_``), then the biases ``b_l`` of shape ``(sizes[l + 1],)``, so that the
optimizer updates a single vector. Gradients ``G`` have ``P``'s layout.

Layer ``l`` computes ``A_{l+1} = f(A_l @ W_l + b_l)`` with ``f`` the hidden ``activation`` for every
layer but the last, whose output is the raw score ``Z`` that the loss (``losses.LOG_LOSS`` for a
sigmoid output, ``SOFTMAX_LOG_LOSS`` for softmax, ``SQUARED_ERROR`` for regression) turns into
``dl/dZ``. Backpropagation: ``D_L = sw * dl/dZ``; for each layer, from the last,
``G[W_l] += A_l.T @ D_{l+1}``, ``G[b_l] += sum_rows D_{l+1}``, and
``D_l = (D_{l+1} @ W_l.T) * f'(A_l)``, with ``f'`` written in terms of the activation's output
(relu ``A > 0``, tanh ``1 - A**2``, logistic ``A (1 - A)``).

The compiled kernels work on blocks of at most ``config.MLP_BLOCK_ROWS`` rows held in a workspace
``work`` of shape ``(n_layers + 5, MLP_BLOCK_ROWS * width)``: rows ``0..n_layers`` hold each
layer's activations (row 0 the gathered input rows, row ``n_layers`` the scores), two rows hold the
deltas (ping-pong), one the targets and one the loss terms of the block. Every buffer is flat and
row-major, ``m * width`` entries for ``m`` rows, so each inner loop is unit-stride over a layer's
width.

The first layer is the only one that reads ``X``, through a small family of functions with an
implementation per input type (``input_width``, ``row_work``, ``_input_forward``,
``_input_backward``; see ``data.py``). Dense rows are gathered into ``work[0]`` and go through the
same dense-layer kernels as every other layer (``width = max(sizes)``). A CSR row is read where it
lies, in O(its stored values x ``sizes[1]``) each way: forward
``z = b + sum over stored (j, v) of v W[j, :]``, backward ``G_W[j, :] += v delta``; no delta goes
into the input, and ``work[0]`` is not used, so the workspace is only as wide as the other layers
(``width = max(sizes[1:])``: a block of 2**18 inputs would be 64 MB). The NumPy references take a
dense array or a SciPy sparse matrix (``X @ W``, ``X.T @ D``).

Every batch starts its gradient from ``alpha * W`` and the optimizer updates every parameter, one
pass each over the parameters whatever the input: for a CSR ``X`` of many columns, a step costs
O(parameters) beside the O(stored values x ``sizes[1]``) of its rows.

Each NumPy reference (no underscore) has a compiled twin; the epoch and the forward pass are
compiled twice from one body, serially and with ``parallel=True``, where the parallel build splits
rows into one contiguous part per thread, each with its own gradient buffer and workspace, added
in a fixed order (deterministic for a given thread count).
"""

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from numba import prange
from numba.extending import overload

from ..config import MLP_BLOCK_ROWS as BLOCK_ROWS
from ..config import jit, jit_inline, jit_parallel
from .data import (Data, csr_type, dense_type, for_each_part, input_from_parts, input_parts,
                   kernel_data, kernel_input, row_copy)
from .losses import (_apply_link, _sigmoid, apply_link, check_link, loss_terms,
                     loss_values_and_derivatives, sigmoid)
from .optim import _step_rate, apply_update, step_rate, update

IDENTITY, RELU, TANH, LOGISTIC = range(4)
ACTIVATIONS = {"identity": IDENTITY, "relu": RELU, "tanh": TANH, "logistic": LOGISTIC}


class Network(NamedTuple):
    """A network as the kernels train it: the flat parameters ``P``, the layer ``sizes`` (int64),
    the hidden layers' activation code, the loss (a ``losses.Rule``), the L2 penalty ``alpha`` in the gradient and
    the decoupled weight decay ``decay`` (AdamW's)."""

    P: np.ndarray
    sizes: np.ndarray
    activation: int
    loss: tuple
    alpha: float
    decay: float

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


def min_rows_per_thread(row_work, part_cost=0):
    """Rows a thread needs to be worth a parallel region: rows of ``row_work`` multiply-adds each
    (see :func:`row_work`) adding up to ``MIN_WORK_PER_THREAD``, and to ``part_cost``, what one
    more part costs (in an epoch, a gradient buffer of every parameter to zero and add, which
    outweighs many CSR rows of few stored values)."""
    return max(1, max(MIN_WORK_PER_THREAD, part_cost) // row_work)


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
    below, ``(D_out @ W.T) * f'(A_in)`` for ``A_in`` the output of an ``activation_in`` layer, or
    None for ``activation_in`` None: ``A_in`` is then the data (dense or SciPy sparse), which takes
    no delta."""
    D_in = None
    if activation_in is not None:
        D_in = (D_out @ W.T) * activation_derivative(activation_in, A_in)
    return A_in.T @ D_out, D_out.sum(axis=0), D_in  # A_in first: a sparse X makes the product


def forward(X, P, sizes, activation, link):
    """Return the network's output ``link(Z)`` for rows ``X`` (n, d), shape (n, n_outputs)."""
    A = X
    layers = unpack(P, sizes)
    for l, (W, b) in enumerate(layers):
        A = dense_forward(A, W, b, activation if l < len(layers) - 1 else IDENTITY)
    return apply_link(link, A)


def loss_gradient(data, P, sizes, activation, loss):
    """Return ``(sum_i sw_i l_i, G)`` with ``G = sum_i sw_i dl_i/dP``, flat like ``P``."""
    X, Y, sw = data
    layers = unpack(P, sizes)
    A = [X]
    for l, (W, b) in enumerate(layers):
        A.append(dense_forward(A[-1], W, b, activation if l < len(layers) - 1 else IDENTITY))
    L, D = loss_terms(loss, A[-1], Y)
    D = D * sw[:, None]
    G = np.empty_like(P)
    for l in range(len(layers) - 1, -1, -1):
        G_W, G_b, D_in = dense_backward(A[l], D, layers[l][0], activation if l > 0 else None)
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


def run_epoch(data, order, net, update_, rate, batch_size, step, n_threads):
    """One epoch of (mini-)batch gradient descent over ``order``, updating ``net.P`` and the
    optimizer state ``update_.S`` in place.

    Each batch: its loss and gradient at the current ``P`` (L2 penalty ``alpha``), the learning rate
    of the step from the schedule, the decoupled weight decay ``W *= 1 - rate * decay`` (weights
    only), then the optimizer's update. Returns ``(sum of weighted losses, step)``.
    """
    X, Y, sw = data
    P, sizes, activation, loss, alpha, decay = net
    n = len(order)
    total = 0.0
    for lo in range(0, n, batch_size):
        rows = order[lo:lo + batch_size]
        batch_loss, G = loss_gradient((X[rows], Y[rows], sw[rows]), P, sizes, activation, loss)
        total += batch_loss
        finish_gradient(G, P, sizes, rows.size, alpha)
        step += 1
        lr = step_rate(rate.schedule, rate.lr, step, rate.hyper)
        for W, _ in unpack(P, sizes):
            W *= 1 - lr * decay
        update(update_.opt, P, G, update_.S, step, lr, update_.hyper)
    return total, step


def reference_forward(X, net, link, n_threads):
    """:func:`forward` with the backends' signature (``net`` a :class:`Network`)."""
    return forward(X, net.P, net.sizes, net.activation, link)


# --- compiled kernels -------------------------------------------------------------------------
# Buffers are flat and row-major, and a row is taken as a 1-D slice (``x = A[r * n:(r + 1) * n]``)
# whose inner loops index it with a bare loop counter (``x[j]``): LLVM then sees unit-stride,
# non-negative indices and emits SIMD code, where the same loops over ``A[r * n + j]`` ran 6x
# slower. A slice costs about 1 ns and a ``reshape`` 15, which counts at one row per batch.

@jit
def _activate(activation, Z, size):
    """Apply ``f`` in place to the first ``size`` entries of ``Z``."""
    zero = Z.dtype.type(0)
    one = Z.dtype.type(1)
    if activation == RELU:
        for t in range(size):
            Z[t] = max(Z[t], zero)
    elif activation == TANH:
        for t in range(size):
            Z[t] = np.tanh(Z[t])
    elif activation == LOGISTIC:
        for t in range(size):
            Z[t] = _sigmoid(Z[t], one)


@jit
def _activation_derivative(activation, A, D, size):
    """Multiply the first ``size`` deltas ``D`` in place by ``f'`` at the activations ``A``, for
    tanh and logistic (``_dense_delta`` handles relu, and identity's ``f'`` is 1)."""
    one = A.dtype.type(1)
    if activation == TANH:
        for t in range(size):
            D[t] *= one - A[t] * A[t]
    elif activation == LOGISTIC:
        for t in range(size):
            D[t] *= A[t] * (one - A[t])


@jit
def _nonzero(x, nz):
    """Write the indices of the non-zero entries of ``x`` to the front of ``nz``; return how many.

    Branch-free: which ReLU outputs are 0 is random, and a branch on it was mispredicted about
    half the time (0.6 us a row of a 64-64-10 network).
    """
    zero = x.dtype.type(0)
    count = 0
    for i in range(x.size):
        nz[count] = i
        count += np.int64(x[i] != zero)
    return count


@jit
def _dense_forward(A_in, A_out, W, b, m, n_in, n_out, activation, nz):
    """Write ``f(A_in @ W + b)`` into ``A_out``: ``A_in`` (m, n_in), ``W`` (n_in, n_out) and
    ``A_out`` (m, n_out) flat row-major, ``b`` (n_out,); ``nz`` is (n_in,) int64 scratch.

    Each pass over an output row adds several rows of ``W``, so that each load and store of it
    serves several multiply-adds. A row whose inputs are mostly non-zero takes eight rows of ``W``
    at a time; otherwise (ReLU outputs, blank pixels) only the rows of its non-zero inputs, four
    at a time, which skips about half the work.
    """
    for r in range(m):
        x = A_in[r * n_in:(r + 1) * n_in]
        z = A_out[r * n_out:(r + 1) * n_out]
        for j in range(n_out):
            z[j] = b[j]
        count = _nonzero(x, nz)
        if 4 * count >= 3 * n_in:
            i = 0
            while i + 8 <= n_in:
                a0, a1, a2, a3 = x[i], x[i + 1], x[i + 2], x[i + 3]
                a4, a5, a6, a7 = x[i + 4], x[i + 5], x[i + 6], x[i + 7]
                w0 = W[i * n_out:(i + 1) * n_out]
                w1 = W[(i + 1) * n_out:(i + 2) * n_out]
                w2 = W[(i + 2) * n_out:(i + 3) * n_out]
                w3 = W[(i + 3) * n_out:(i + 4) * n_out]
                w4 = W[(i + 4) * n_out:(i + 5) * n_out]
                w5 = W[(i + 5) * n_out:(i + 6) * n_out]
                w6 = W[(i + 6) * n_out:(i + 7) * n_out]
                w7 = W[(i + 7) * n_out:(i + 8) * n_out]
                for j in range(n_out):
                    z[j] += ((a0 * w0[j] + a1 * w1[j]) + (a2 * w2[j] + a3 * w3[j])
                             + ((a4 * w4[j] + a5 * w5[j]) + (a6 * w6[j] + a7 * w7[j])))
                i += 8
            for u in range(i, n_in):
                a = x[u]
                w = W[u * n_out:(u + 1) * n_out]
                for j in range(n_out):
                    z[j] += a * w[j]
            continue
        t = 0
        while t + 4 <= count:
            i0, i1, i2, i3 = nz[t], nz[t + 1], nz[t + 2], nz[t + 3]
            a0, a1, a2, a3 = x[i0], x[i1], x[i2], x[i3]
            w0 = W[i0 * n_out:(i0 + 1) * n_out]
            w1 = W[i1 * n_out:(i1 + 1) * n_out]
            w2 = W[i2 * n_out:(i2 + 1) * n_out]
            w3 = W[i3 * n_out:(i3 + 1) * n_out]
            for j in range(n_out):
                z[j] += (a0 * w0[j] + a1 * w1[j]) + (a2 * w2[j] + a3 * w3[j])
            t += 4
        for u in range(t, count):
            a = x[nz[u]]
            w = W[nz[u] * n_out:(nz[u] + 1) * n_out]
            for j in range(n_out):
                z[j] += a * w[j]
    _activate(activation, A_out, m * n_out)


@jit
def _dense_weight_gradient(A_in, D_out, G_W, G_b, m, n_in, n_out, nz):
    """Add ``A_in.T @ D_out`` to ``G_W`` (n_in, n_out) and ``D_out.sum(0)`` to ``G_b``, all flat
    row-major, ``nz`` (n_in,) int64 scratch; :func:`_dense_delta` is the other half of a layer's
    backward pass (the input layer has this half only).

    ``G_W`` is updated from eight rows at a time, so that each load and store of a row of ``G_W``
    serves eight multiply-adds, and a row of ``G_W`` whose eight inputs are all zero is skipped;
    the rows left over (all of them at batch size 1) add only their non-zero inputs."""
    zero = A_in.dtype.type(0)
    r = 0
    while r + 8 <= m:
        x0 = A_in[r * n_in:(r + 1) * n_in]
        x1 = A_in[(r + 1) * n_in:(r + 2) * n_in]
        x2 = A_in[(r + 2) * n_in:(r + 3) * n_in]
        x3 = A_in[(r + 3) * n_in:(r + 4) * n_in]
        x4 = A_in[(r + 4) * n_in:(r + 5) * n_in]
        x5 = A_in[(r + 5) * n_in:(r + 6) * n_in]
        x6 = A_in[(r + 6) * n_in:(r + 7) * n_in]
        x7 = A_in[(r + 7) * n_in:(r + 8) * n_in]
        d0 = D_out[r * n_out:(r + 1) * n_out]
        d1 = D_out[(r + 1) * n_out:(r + 2) * n_out]
        d2 = D_out[(r + 2) * n_out:(r + 3) * n_out]
        d3 = D_out[(r + 3) * n_out:(r + 4) * n_out]
        d4 = D_out[(r + 4) * n_out:(r + 5) * n_out]
        d5 = D_out[(r + 5) * n_out:(r + 6) * n_out]
        d6 = D_out[(r + 6) * n_out:(r + 7) * n_out]
        d7 = D_out[(r + 7) * n_out:(r + 8) * n_out]
        for i in range(n_in):
            a0, a1, a2, a3 = x0[i], x1[i], x2[i], x3[i]
            a4, a5, a6, a7 = x4[i], x5[i], x6[i], x7[i]
            if (a0 != zero or a1 != zero or a2 != zero or a3 != zero or a4 != zero or a5 != zero
                    or a6 != zero or a7 != zero):
                g = G_W[i * n_out:(i + 1) * n_out]
                for j in range(n_out):
                    g[j] += (((a0 * d0[j] + a1 * d1[j]) + (a2 * d2[j] + a3 * d3[j]))
                             + ((a4 * d4[j] + a5 * d5[j]) + (a6 * d6[j] + a7 * d7[j])))
        r += 8
    for u in range(r, m):
        x = A_in[u * n_in:(u + 1) * n_in]
        d = D_out[u * n_out:(u + 1) * n_out]
        for t in range(_nonzero(x, nz)):
            a = x[nz[t]]
            g = G_W[nz[t] * n_out:(nz[t] + 1) * n_out]
            for j in range(n_out):
                g[j] += a * d[j]
    for u in range(m):
        d = D_out[u * n_out:(u + 1) * n_out]
        for j in range(n_out):
            G_b[j] += d[j]


@jit
def _dense_delta(A_in, D_out, D_in, W, m, n_in, n_out, activation_in, nz):
    """Write the delta of the layer below, ``(D_out @ W.T) * f'(A_in)``, into ``D_in``. Below a
    ReLU layer only the deltas of its non-zero outputs are computed, since ``f'`` is 0
    elsewhere."""
    zero = A_in.dtype.type(0)
    relu = activation_in == RELU
    for u in range(m):
        x = A_in[u * n_in:(u + 1) * n_in]
        d = D_out[u * n_out:(u + 1) * n_out]
        e = D_in[u * n_in:(u + 1) * n_in]
        if relu:  # f' is 1 where the output is positive and 0 where it is 0
            for i in range(n_in):
                e[i] = zero
            for t in range(_nonzero(x, nz)):
                w = W[nz[t] * n_out:(nz[t] + 1) * n_out]
                s = zero
                for j in range(n_out):
                    s += w[j] * d[j]
                e[nz[t]] = s
        else:
            for i in range(n_in):
                w = W[i * n_out:(i + 1) * n_out]
                s = zero
                for j in range(n_out):
                    s += w[j] * d[j]
                e[i] = s
    if not relu:
        _activation_derivative(activation_in, A_in, D_in, m * n_in)


@jit_inline
def _layer(P, w, n_in, n_out):
    """Flat views ``(W, b)`` of the layer whose weights start at ``w`` in ``P``."""
    b = w + n_in * n_out
    return P[w:b], P[b:b + n_out]


# --- the input layer, per input type ------------------------------------------------------------
# Each function below has an implementation per input type (``data.dense_type``,
# ``data.csr_type``), registered with ``numba.extending.overload`` and compiled into the kernels
# that call it. The references of ``input_width`` and ``row_work`` are their own bodies; those of
# the two passes are ``dense_forward`` and ``dense_backward`` on the input layer. Plain overloads,
# not inlined: they run once per block of rows, and an inlined dense implementation that slices
# ``X`` breaks numba's array analysis in the parallel kernels.

def input_width(X, sizes):
    """The width of the workspace's rows for the input ``X``: ``max(sizes)`` for dense rows, which
    are gathered into ``work[0]``; ``max(sizes[1:])`` for CSR, which is read where it lies."""
    return int(max(sizes[1:]) if sp.issparse(X) else max(sizes))


def row_work(X, sizes, n_params):
    """About the multiply-adds of one row's forward and backward pass: ``n_params`` for a dense
    row; for CSR, the mean stored values of a row (rounded up) times ``sizes[1]`` plus the later
    layers' parameters."""
    if not sp.issparse(X):
        return n_params
    stored = -(-int(X.indptr[-1]) // max(1, X.shape[0]))
    return stored * int(sizes[1]) + n_params - int(sizes[0] * sizes[1])


def _input_forward(X, rows, A_in, A_out, W, b, m, n_in, n_out, activation, nz):
    """The first layer for the ``m`` rows ``X[rows[:m]]``: ``A_out = f(X[rows] @ W + b)``, flat
    as in :func:`_dense_forward`. Dense rows are gathered into ``A_in`` first, which
    :func:`_input_backward` then reads; CSR rows are read where they lie."""


def _input_backward(X, rows, A_in, D_out, G_W, G_b, m, n_in, n_out, nz):
    """Add ``X[rows].T @ D_out`` to ``G_W`` and ``D_out.sum(0)`` to ``G_b``, after
    :func:`_input_forward` on the same rows; no delta goes into the input. For CSR only the rows of
    ``G_W`` at the stored columns change."""


@overload(input_width)
def _input_width(X, sizes):
    # a loop: numba's ndarray.max compiles for a second (through np.take)
    if dense_type(X):
        return lambda X, sizes: _largest(sizes, 0)
    if csr_type(X):
        return lambda X, sizes: _largest(sizes, 1)  # a block of 2**18 inputs would be 64 MB


@jit
def _largest(sizes, first):
    """The largest of ``sizes[first:]``."""
    width = sizes[first]
    for l in range(first + 1, sizes.size):
        width = max(width, sizes[l])
    return width


@overload(row_work)
def _row_work(X, sizes, n_params):
    if dense_type(X):
        return lambda X, sizes, n_params: n_params
    if csr_type(X):
        def impl(X, sizes, n_params):
            n = max(1, X.shape[0])
            stored = -(-X.indptr[X.shape[0]] // n)
            return stored * sizes[1] + n_params - sizes[0] * sizes[1]
        return impl


@overload(_input_forward)
def _input_forward_impl(X, rows, A_in, A_out, W, b, m, n_in, n_out, activation, nz):
    if dense_type(X):
        def impl(X, rows, A_in, A_out, W, b, m, n_in, n_out, activation, nz):
            for i in range(m):
                row_copy(X, rows[i], A_in[i * n_in:(i + 1) * n_in])
            _dense_forward(A_in, A_out, W, b, m, n_in, n_out, activation, nz)
        return impl
    if csr_type(X):
        def impl(X, rows, A_in, A_out, W, b, m, n_in, n_out, activation, nz):
            data, indices, indptr = X.data, X.indices, X.indptr
            for r in range(m):
                z = A_out[r * n_out:(r + 1) * n_out]
                for j in range(n_out):
                    z[j] = b[j]
                p, end = indptr[rows[r]], indptr[rows[r] + 1]
                # four rows of W per pass over z, as _dense_forward adds a row of mostly zeros
                while p + 4 <= end:
                    i0, i1, i2, i3 = indices[p], indices[p + 1], indices[p + 2], indices[p + 3]
                    a0, a1, a2, a3 = data[p], data[p + 1], data[p + 2], data[p + 3]
                    w0 = W[i0 * n_out:(i0 + 1) * n_out]
                    w1 = W[i1 * n_out:(i1 + 1) * n_out]
                    w2 = W[i2 * n_out:(i2 + 1) * n_out]
                    w3 = W[i3 * n_out:(i3 + 1) * n_out]
                    for j in range(n_out):
                        z[j] += (a0 * w0[j] + a1 * w1[j]) + (a2 * w2[j] + a3 * w3[j])
                    p += 4
                for q in range(p, end):
                    a = data[q]
                    w = W[indices[q] * n_out:(indices[q] + 1) * n_out]
                    for j in range(n_out):
                        z[j] += a * w[j]
            _activate(activation, A_out, m * n_out)
        return impl


@overload(_input_backward)
def _input_backward_impl(X, rows, A_in, D_out, G_W, G_b, m, n_in, n_out, nz):
    if dense_type(X):
        def impl(X, rows, A_in, D_out, G_W, G_b, m, n_in, n_out, nz):
            _dense_weight_gradient(A_in, D_out, G_W, G_b, m, n_in, n_out, nz)
        return impl
    if csr_type(X):
        def impl(X, rows, A_in, D_out, G_W, G_b, m, n_in, n_out, nz):
            data, indices, indptr = X.data, X.indices, X.indptr
            for r in range(m):
                d = D_out[r * n_out:(r + 1) * n_out]
                for p in range(indptr[rows[r]], indptr[rows[r] + 1]):
                    a = data[p]
                    g = G_W[indices[p] * n_out:(indices[p] + 1) * n_out]
                    for j in range(n_out):
                        g[j] += a * d[j]
                for j in range(n_out):
                    G_b[j] += d[j]
        return impl


# --- the network --------------------------------------------------------------------------------

@jit
def _network_forward(X, rows, work, P, sizes, activation, m, nz):
    """Run the ``m`` rows ``X[rows[:m]]`` through every layer; the scores end in
    ``work[n_layers]``."""
    n_layers = sizes.size - 1
    W, b = _layer(P, 0, sizes[0], sizes[1])
    _input_forward(X, rows, work[0], work[1], W, b, m, sizes[0], sizes[1],
                   activation if n_layers > 1 else IDENTITY, nz)
    w = sizes[0] * sizes[1] + sizes[1]
    for l in range(1, n_layers):
        n_in, n_out = sizes[l], sizes[l + 1]
        W, b = _layer(P, w, n_in, n_out)
        _dense_forward(work[l], work[l + 1], W, b, m, n_in, n_out,
                       activation if l < n_layers - 1 else IDENTITY, nz)
        w += n_in * n_out + n_out


@jit
def _accumulate(data, order, lo, hi, P, sizes, activation, loss, scale, G, work, nz):
    """Add ``scale`` times the weighted gradient sum of rows ``order[lo:hi]`` to ``G``; return
    their weighted loss sum."""
    X, Y, sw = data
    n_layers = sizes.size - 1
    k = sizes[n_layers]
    Yb = work[n_layers + 3]
    Lb = work[n_layers + 4]
    total = 0.0
    for r0 in range(lo, hi, BLOCK_ROWS):
        m = min(BLOCK_ROWS, hi - r0)
        rows = order[r0:r0 + m]
        for i in range(m):
            for c in range(k):
                Yb[i * k + c] = Y[rows[i], c]
        _network_forward(X, rows, work, P, sizes, activation, m, nz)
        cur = n_layers + 1
        D = work[cur]
        loss_values_and_derivatives(loss, work[n_layers], Yb, Lb, D, m * k, k)
        for i in range(m):
            s = sw[rows[i]]
            s_scaled = s * scale
            for c in range(k):
                total += s * Lb[i * k + c]
                D[i * k + c] *= s_scaled
        w = G.size
        for l in range(n_layers - 1, 0, -1):
            n_in, n_out = sizes[l], sizes[l + 1]
            w -= n_in * n_out + n_out
            other = 2 * n_layers + 3 - cur  # the other delta row
            W, _ = _layer(P, w, n_in, n_out)
            G_W, G_b = _layer(G, w, n_in, n_out)
            _dense_weight_gradient(work[l], work[cur], G_W, G_b, m, n_in, n_out, nz)
            _dense_delta(work[l], work[cur], work[other], W, m, n_in, n_out, activation, nz)
            cur = other
        G_W, G_b = _layer(G, 0, sizes[0], sizes[1])
        _input_backward(X, rows, work[0], work[cur], G_W, G_b, m, sizes[0], sizes[1], nz)
    return total


@jit
def _start_gradient(G, P, sizes, c):
    """Set ``G`` to ``c * W`` for every layer's weights and 0 for its biases.

    With ``c = alpha`` and each row's gradient added times ``1 / rows`` (:func:`_accumulate`),
    ``G`` ends as the mean gradient plus the L2 term ``alpha * W`` in one pass over the
    parameters, which every batch pays: a network on 2**18 sparse inputs has millions of them.
    Without a penalty the pass only writes, and reads nothing.
    """
    w = 0
    for l in range(sizes.size - 1):
        n_w = sizes[l] * sizes[l + 1]
        G_W, G_b = G[w:w + n_w], G[w + n_w:w + n_w + sizes[l + 1]]
        if c == 0:
            _zero(G_W)
        else:
            P_W = P[w:w + n_w]
            for t in range(n_w):
                G_W[t] = c * P_W[t]
        _zero(G_b)
        w += n_w + sizes[l + 1]


@jit
def _scale(G, factor):
    for t in range(G.size):
        G[t] *= factor


@jit
def _scale_weights(P, sizes, factor):
    """``W *= factor`` for every layer's weights, not its biases."""
    w = 0
    for l in range(sizes.size - 1):
        n_w = sizes[l] * sizes[l + 1]
        _scale(P[w:w + n_w], factor)
        w += n_w + sizes[l + 1]


@jit
def _zero(G):
    for t in range(G.size):
        G[t] = 0


@jit
def _add_into(target, source):
    for t in range(target.size):
        target[t] += source[t]


def _run_epoch_body(data, order, net, loss, update_, rate, batch_size, step, n_threads):
    """Compiled twin of :func:`run_epoch`: the whole epoch in one call, no Python per batch.

    A batch of at least ``2 * min_rows_per_thread`` rows is split into up to ``n_threads``
    contiguous parts, each with its own gradient buffer and workspace, whose gradients are then
    added in part order. Compiled twice: ``_run_epoch`` (where ``prange`` is ``range``) and
    ``_run_epoch_parallel``. (The serial build must not call a ``parallel=True`` function instead:
    numba then caches serial code that makes a null call in any process that has not started its
    threads yet.) ``loss`` is ``net.loss``, passed apart: numba's parfor lowering takes a tuple
    into a ``prange`` loop only as an argument of the function.
    """
    X, Y, sw = data
    P, sizes, activation, _, alpha, decay = net
    n = order.shape[0]
    min_rows = _min_rows_per_thread(row_work(X, sizes, P.size), P.size)
    n_parts = max(1, min(n_threads, min(batch_size, n) // min_rows))
    G = np.empty((n_parts, P.size), dtype=P.dtype)
    width = input_width(X, sizes)
    work = np.empty((n_parts, sizes.size + 4, BLOCK_ROWS * width), dtype=P.dtype)
    nz = np.empty((n_parts, width), dtype=np.int64)
    partial = np.empty(n_parts)
    X_parts = input_parts(X)  # prange cannot take a Data holding a CSR: rebuilt in the loop
    G0 = G[0]
    total = 0.0
    for lo in range(0, n, batch_size):
        hi = min(n, lo + batch_size)
        rows = hi - lo
        _start_gradient(G0, P, sizes, alpha)
        parts = min(n_parts, max(1, rows // min_rows))
        if parts == 1:
            total += _accumulate(data, order, lo, hi, P, sizes, activation, loss, 1.0 / rows, G0,
                                 work[0], nz[0])
        else:
            for t in prange(parts):
                if t > 0:
                    _zero(G[t])
                partial[t] = _accumulate(Data(input_from_parts(X_parts), Y, sw), order,
                                         lo + t * rows // parts, lo + (t + 1) * rows // parts, P,
                                         sizes, activation, loss,
                                         1.0 / rows, G[t], work[t], nz[t])
            for t in range(parts):
                total += partial[t]
                if t > 0:
                    _add_into(G0, G[t])
        step += 1
        lr = _step_rate(rate.schedule, rate.lr, step, rate.hyper)
        if decay != 0:
            _scale_weights(P, sizes, 1 - lr * decay)
        apply_update(update_, P, G0, step, lr)
    return total, step


_run_epoch_compiled = jit(_run_epoch_body)
_run_epoch_parallel_compiled = jit_parallel(_run_epoch_body, "_mlp_run_epoch_parallel")


def _compiled_epoch(kernel):
    """The backends' epoch function around the compiled ``kernel``: a SciPy CSR ``X`` goes in as
    a ``data.CSR`` of its own arrays."""
    def run_epoch(data, order, net, update_, rate, batch_size, step, n_threads):
        return kernel(kernel_data(data), order, net, net.loss, update_, rate, batch_size, step,
                      n_threads)
    run_epoch.__doc__ = _run_epoch_body.__doc__
    return run_epoch


_run_epoch = _compiled_epoch(_run_epoch_compiled)
_run_epoch_parallel = _compiled_epoch(_run_epoch_parallel_compiled)


@jit
def _part_gradient(part, net, G):
    """Set ``G`` to the weighted gradient sum of all rows of ``part`` (a ``Data``); return their
    weighted loss sum."""
    P, sizes, activation, loss, alpha, decay = net
    n = part.Y.shape[0]
    width = input_width(part.X, sizes)
    work = np.empty((sizes.size + 4, BLOCK_ROWS * width), dtype=P.dtype)
    nz = np.empty(width, dtype=np.int64)
    _zero(G)
    return _accumulate(part, np.arange(n), 0, n, P, sizes, activation, loss, 1.0, G, work, nz)


@jit
def _full_batch_step(G, partial, net, update_, rate, step, n_rows):
    """The step of a full batch from its parts' sums: added in part order, then the mean, the L2
    term, the decay and the optimizer's update. Returns ``(loss sum, step)``."""
    P, sizes, activation, loss, alpha, decay = net
    total = 0.0
    for t in range(partial.size):
        total += partial[t]
    G0 = G[0]
    for t in range(1, G.shape[0]):
        _add_into(G0, G[t])
    _scale(G0, 1.0 / n_rows)
    w = 0
    for l in range(sizes.size - 1):
        n_w = sizes[l] * sizes[l + 1]
        for j in range(w, w + n_w):
            G0[j] += alpha * P[j]
        w += n_w + sizes[l + 1]
    step += 1
    lr = _step_rate(rate.schedule, rate.lr, step, rate.hyper)
    if decay != 0:
        _scale_weights(P, sizes, 1 - lr * decay)
    apply_update(update_, P, G0, step, lr)
    return total, step


def parts_gradient(parts, net, n_threads=1):
    """Return ``(partial, G)``: each part's weighted loss sum (n_parts,) and gradient sum
    (n_parts, n_params) at ``net.P``, one compiled call per part on up to ``n_threads`` threads
    (``parts`` a list of ``Data``; see ``linear.parts_gradient``)."""
    G = np.empty((len(parts), net.P.size), dtype=net.P.dtype)
    partial = np.empty(len(parts))

    def one(t):
        partial[t] = _part_gradient(kernel_data(parts[t]), net, G[t])

    for_each_part(one, len(parts), n_threads)
    return partial, G


def full_batch_step(partial, G, net, update_, rate, step, n_rows):
    """:func:`_full_batch_step` with the arguments in the order of the parts' sums."""
    return _full_batch_step(G, partial, net, update_, rate, step, n_rows)


def _forward_body(X, P, sizes, activation, link, out, n_threads):
    """Write the network's output ``link(Z)`` for rows ``X`` into ``out`` (n, n_outputs), one
    contiguous part of rows per thread."""
    n = out.shape[0]
    n_layers = sizes.size - 1
    k = sizes[n_layers]
    n_parts = max(1, min(n_threads, n // _min_rows_per_thread(row_work(X, sizes, P.size))))
    width = input_width(X, sizes)
    X_parts = input_parts(X)  # rebuilt in the loop: prange mishandles a CSR's shape tuple
    for t in prange(n_parts):
        X_t = input_from_parts(X_parts)
        work = np.empty((n_layers + 1, BLOCK_ROWS * width), dtype=out.dtype)
        nz = np.empty(width, dtype=np.int64)
        rows = np.empty(BLOCK_ROWS, dtype=np.int64)
        hi_t = (t + 1) * n // n_parts
        for r0 in range(t * n // n_parts, hi_t, BLOCK_ROWS):
            m = min(BLOCK_ROWS, hi_t - r0)
            for i in range(m):
                rows[i] = r0 + i
            _network_forward(X_t, rows, work, P, sizes, activation, m, nz)
            Z = work[n_layers]
            _apply_link(link, Z, m * k, k)
            for i in range(m):
                for c in range(k):
                    out[r0 + i, c] = Z[i * k + c]


_forward = jit(_forward_body)
_forward_parallel = jit_parallel(_forward_body, "_mlp_forward_parallel")


def compiled_forward(kernel):
    """The backends' forward function around the compiled ``kernel``."""
    def run_forward(X, net, link, n_threads):
        check_link(link)
        out = np.empty((X.shape[0], net.sizes[-1]), dtype=net.P.dtype)
        kernel(kernel_input(X), net.P, net.sizes, net.activation, link, out, n_threads)
        return out
    return run_forward
