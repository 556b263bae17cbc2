"""fastgd/_kernels/mlp.py: the dense-layer kernels, the network's gradient, forward pass and
epoch against their NumPy references, on dense and CSR input, every gradient against a numerical
one, and codes outside the tables refused."""

import numpy as np
import pytest
import scipy.sparse as sp

from fastgd._kernels import losses, mlp, optim
from fastgd._kernels.data import Data, kernel_data, kernel_input
from fastgd._kernels.optim import Rate, Update
from fastgd.config import MLP_BLOCK_ROWS

from .conftest import HYPER, RTOL, assert_close, rule, schedule_hyper, unsorted

ACTIVATIONS = [mlp.IDENTITY, mlp.RELU, mlp.TANH, mlp.LOGISTIC]
DTYPES = [np.float64, np.float32]
OUTPUTS = {  # loss (its code; the kernels take its rule) -> number of outputs
    losses.LOG_LOSS: 1,
    losses.SOFTMAX_LOG_LOSS: 3,
    losses.SQUARED_ERROR: 2,
}


def targets(rng, n, loss, dtype):
    k = OUTPUTS[loss]
    if loss == losses.SOFTMAX_LOG_LOSS:
        Y = np.eye(k)[rng.integers(0, k, n)]
    elif loss == losses.LOG_LOSS:
        Y = rng.integers(0, 2, (n, k))
    else:
        Y = rng.standard_normal((n, k))
    return Y.astype(dtype)


def make_network(seed, n, sizes, loss, dtype, zeros=0.3):
    """Random rows (a fraction ``zeros`` of the inputs exactly 0, as blank pixels), targets for
    ``loss``, positive sample weights and parameters with scores of order 1."""
    rng = np.random.default_rng(seed)
    sizes = np.array(sizes, dtype=np.int64)
    X = rng.standard_normal((n, sizes[0])) * (rng.random((n, sizes[0])) >= zeros)
    sw = rng.uniform(0.5, 2.0, n)
    P = np.empty(mlp.n_params(sizes))
    for W, b in mlp.unpack(P, sizes):
        W[:] = rng.standard_normal(W.shape) / np.sqrt(W.shape[0])
        b[:] = rng.standard_normal(b.shape) * 0.1
    return X.astype(dtype), targets(rng, n, loss, dtype), sw.astype(dtype), sizes, P.astype(dtype)


#: CSR inputs: ``(dtype, index dtype, values of each row in a random order)``; int64 indices in
#: float64 only, each one more compilation of every kernel.
CSR_INPUTS = [(np.float64, np.int32, False), (np.float32, np.int32, False),
              (np.float64, np.int64, True)]
CSR_IDS = ["float64", "float32", "float64-int64-unsorted"]


def workspace(sizes, dtype, X=None):
    """The compiled gradient's scratch for one thread: ``work`` and ``nz``, as wide as the kernels
    make it for the input ``X`` (for a SciPy sparse ``X``, narrower than the inputs)."""
    width = mlp.input_width(np.empty((0, 0)) if X is None else X, sizes)
    work = np.full((len(sizes) + 4, MLP_BLOCK_ROWS * width), np.nan, dtype)
    return work, np.zeros(width, np.int64)


def csr(X, index_dtype=np.int32, empty_rows=(), shuffled=False):
    """``X`` as a SciPy CSR matrix with ``index_dtype`` indices (SciPy picks int32 when they fit,
    and its ``copy`` goes back to int32), the rows ``empty_rows`` blank, and with ``shuffled`` the
    stored values of each row in a random order."""
    X = X.copy()
    X[list(empty_rows)] = 0
    Xs = sp.csr_matrix(X)
    if shuffled:
        Xs = unsorted(Xs, len(X))
    Xs.indices, Xs.indptr = Xs.indices.astype(index_dtype), Xs.indptr.astype(index_dtype)
    return Xs


# --- dense layers ----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("m,n_in,n_out", [(1, 1, 1), (3, 7, 5), (4, 8, 16), (9, 33, 10),
                                          (32, 64, 64)])
def test_dense_layer_matches_reference(m, n_in, n_out, activation, dtype):
    rng = np.random.default_rng(m * n_in + n_out)
    # scores up to |z| ~ 60: tanh and the sigmoid saturate without overflow; some inputs are 0
    A_in = (rng.standard_normal((m, n_in)) * 3 * (rng.random((m, n_in)) > 0.3)).astype(dtype)
    if activation in (mlp.RELU, mlp.TANH, mlp.LOGISTIC):
        A_in = mlp.activate(activation, A_in)  # the input of a hidden layer is an activation
    W = (rng.standard_normal((n_in, n_out)) * 2).astype(dtype)
    b = rng.standard_normal(n_out).astype(dtype)
    D_out = rng.standard_normal((m, n_out)).astype(dtype)
    rtol = RTOL["numba", dtype]

    expected = mlp.dense_forward(A_in, W, b, activation)
    A_out = np.full(m * n_out + 3, np.nan, dtype)  # flat buffers may be longer than the block
    mlp._dense_forward(A_in.ravel(), A_out, W.ravel(), b, m, n_in, n_out, activation,
                       np.empty(n_in, np.int64))
    assert A_out.dtype == dtype and np.isfinite(A_out[:-3]).all()
    assert_close(A_out[:-3].reshape(m, n_out), expected, rtol)

    G_W_ref, G_b_ref, D_in_ref = mlp.dense_backward(A_in, D_out, W, activation)
    G_W = np.full(n_in * n_out, 0.5, dtype)  # the kernel adds to what is there
    G_b = np.full(n_out, 0.5, dtype)
    D_in = np.empty(m * n_in, dtype)
    nz = np.empty(n_in, np.int64)
    mlp._dense_weight_gradient(A_in.ravel(), D_out.ravel(), G_W, G_b, m, n_in, n_out, nz)
    mlp._dense_delta(A_in.ravel(), D_out.ravel(), D_in, W.ravel(), m, n_in, n_out, activation, nz)
    assert_close(G_W.reshape(n_in, n_out) - 0.5, G_W_ref, rtol)
    assert_close(G_b - 0.5, G_b_ref, rtol)
    assert_close(D_in.reshape(m, n_in), D_in_ref, rtol)


def test_activation_derivatives_are_the_derivatives():
    z = np.linspace(-4, 4, 81) + 0.013  # away from relu's kink at 0
    h = 1e-6
    for activation in ACTIVATIONS:
        numerical = (mlp.activate(activation, z + h) - mlp.activate(activation, z - h)) / (2 * h)
        analytic = mlp.activation_derivative(activation, mlp.activate(activation, z))
        np.testing.assert_allclose(analytic, numerical, rtol=1e-6, atol=1e-9)


# --- a whole network -------------------------------------------------------------------------

LOSS_CASES = list(OUTPUTS)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", LOSS_CASES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("n", [1, MLP_BLOCK_ROWS, MLP_BLOCK_ROWS + 1, 150])
def test_loss_gradient_matches_reference(n, activation, loss, dtype):
    X, Y, sw, sizes, P = make_network(n, n, [6, 9, 5, OUTPUTS[loss]], loss, dtype)
    order = np.random.default_rng(n).permutation(n).astype(np.int64)
    expected_loss, expected_G = mlp.loss_gradient(Data(X[order], Y[order], sw[order]), P, sizes,
                                                  activation, rule(loss))
    G = np.zeros_like(P)
    work, nz = workspace(sizes, dtype)
    total = mlp._accumulate(Data(X, Y, sw), order, 0, n, P, sizes, activation, rule(loss), 1.0, G,
                            work, nz)
    assert G.dtype == dtype
    assert_close(total, expected_loss, RTOL["numba", dtype])
    assert_close(G, expected_G, RTOL["numba", dtype])


@pytest.mark.parametrize("dtype,index_dtype,shuffled", CSR_INPUTS, ids=CSR_IDS)
@pytest.mark.parametrize("loss", LOSS_CASES)
@pytest.mark.parametrize("activation", [mlp.IDENTITY, mlp.RELU, mlp.TANH])
@pytest.mark.parametrize("n", [1, MLP_BLOCK_ROWS + 1, 150])
def test_csr_loss_gradient_matches_reference(n, activation, loss, dtype, index_dtype, shuffled):
    """The first layer reading CSR (empty rows and columns among them, indices sorted or not, a
    workspace only as wide as the hidden layers) against the reference on the same SciPy matrix,
    itself the dense one's."""
    X, Y, sw, sizes, P = make_network(n, n, [40, 9, 5, OUTPUTS[loss]], loss, dtype, zeros=0.9)
    loss = rule(loss)
    X[:, 3] = 0
    Xs = csr(X, index_dtype, empty_rows=range(0, n, 7), shuffled=shuffled)
    order = np.random.default_rng(n).permutation(n).astype(np.int64)
    data = Data(Xs[order], Y[order], sw[order])
    expected_loss, expected_G = mlp.loss_gradient(data, P, sizes, activation, loss)
    dense_loss, dense_G = mlp.loss_gradient(Data(Xs.toarray()[order], *data[1:]), P, sizes,
                                            activation, loss)
    assert_close(expected_loss, dense_loss, RTOL["numba", dtype])
    assert_close(expected_G, dense_G, RTOL["numba", dtype])
    G = np.full_like(P, 0.5)  # the kernel adds to what is there
    work, nz = workspace(sizes, dtype, Xs)
    assert work.shape[1] == MLP_BLOCK_ROWS * 9
    kernel_X = kernel_input(Xs)
    assert kernel_X.indices.dtype == index_dtype and kernel_X.data is Xs.data
    total = mlp._accumulate(Data(kernel_X, Y, sw), order, 0, n, P, sizes, activation, loss, 2.0, G,
                            work, nz)
    assert G.dtype == dtype
    assert_close(total, expected_loss, RTOL["numba", dtype])
    assert_close((G - 0.5) / 2, expected_G, RTOL["numba", dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_csr_network_without_hidden_layers(dtype):
    """``hidden_layer_sizes=()``: the layer that reads the CSR rows is the output layer."""
    n, loss = 50, losses.SOFTMAX_LOG_LOSS
    X, Y, sw, sizes, P = make_network(5, n, [40, 3], loss, dtype, zeros=0.9)
    loss = rule(loss)
    Xs = csr(X, empty_rows=[0, 7])
    expected_loss, expected_G = mlp.loss_gradient(Data(Xs, Y, sw), P, sizes, mlp.RELU, loss)
    G = np.zeros_like(P)
    work, nz = workspace(sizes, dtype, Xs)
    total = mlp._accumulate(kernel_data(Data(Xs, Y, sw)), np.arange(n), 0, n, P, sizes, mlp.RELU,
                            loss, 1.0, G, work, nz)
    assert_close(total, expected_loss, RTOL["numba", dtype])
    assert_close(G, expected_G, RTOL["numba", dtype])
    net = mlp.Network(P, sizes, mlp.RELU, loss, 0.0, 0.0)
    assert_close(mlp.compiled_forward(mlp._forward)(Xs, net, losses.SOFTMAX, 1),
                 mlp.forward(Xs, P, sizes, mlp.RELU, losses.SOFTMAX), RTOL["numba", dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("link,loss", [(losses.IDENTITY, losses.SQUARED_ERROR),
                                       (losses.SIGMOID, losses.LOG_LOSS),
                                       (losses.SOFTMAX, losses.SOFTMAX_LOG_LOSS)])
def test_forward_matches_reference(link, loss, activation, dtype):
    X, _, _, sizes, P = make_network(1, 3000, [6, 90, 7, OUTPUTS[loss]], loss, dtype)
    expected = mlp.forward(X, P, sizes, activation, link)
    assert mlp.min_rows_per_thread(P.size) * 2 <= len(X)  # the parallel kernel splits the rows
    for kernel, variant in ((mlp._forward, "numba"), (mlp._forward_parallel, "parallel")):
        out = np.empty_like(expected)
        kernel(X, P, sizes, activation, link, out, 2)
        assert_close(out, expected, RTOL[variant, dtype])


@pytest.mark.parametrize("dtype,index_dtype,shuffled", CSR_INPUTS, ids=CSR_IDS)
def test_csr_forward_matches_reference(dtype, index_dtype, shuffled):
    X, _, _, sizes, P = make_network(1, 3000, [300, 16, 3], losses.SOFTMAX_LOG_LOSS, dtype,
                                     zeros=0.97)
    Xs = csr(X, index_dtype, empty_rows=range(0, 3000, 5), shuffled=shuffled)
    expected = mlp.forward(Xs, P, sizes, mlp.RELU, losses.SOFTMAX)
    assert_close(expected, mlp.forward(Xs.toarray(), P, sizes, mlp.RELU, losses.SOFTMAX),
                 RTOL["numba", dtype])
    assert 2 * mlp.min_rows_per_thread(mlp.row_work(Xs, sizes, P.size)) <= len(X)  # split
    net = mlp.Network(P, sizes, mlp.RELU, rule(losses.SOFTMAX_LOG_LOSS), 0.0, 0.0)
    for kernel, variant in ((mlp._forward, "numba"), (mlp._forward_parallel, "parallel")):
        out = mlp.compiled_forward(kernel)(Xs, net, losses.SOFTMAX, 2)
        assert out.dtype == dtype
        assert_close(out, expected, RTOL[variant, dtype])


def epoch_case(opt, n, sizes, dtype, zeros):
    """A network for a softmax epoch with ``opt``: rows, targets, weights, sizes, parameters, the
    row order, the penalty (``l2``, ``decay``), a rate and some optimizer state."""
    loss = losses.SOFTMAX_LOG_LOSS
    X, Y, sw, sizes, P0 = make_network(opt, n, sizes, loss, dtype, zeros)
    order = np.random.default_rng(opt).permutation(n).astype(np.int64)
    l2, decay = (0.0, 0.01) if optim.OPTIMIZERS[opt].decoupled else (0.01, 0.0)
    lr = {optim.ADAGRAD: 0.01, optim.RMSPROP: 0.001, optim.ADAM: 0.001, optim.ADAMW: 0.001}.get(
        opt, 0.01)
    S0 = np.abs(np.random.default_rng(opt).standard_normal(
        optim.allocate_state(opt, P0.size, dtype).shape)).astype(dtype) * 0.01
    return X, Y, sw, sizes, P0, order, l2, decay, lr, S0


EPOCHS = {"numpy": mlp.run_epoch, "numba": mlp._run_epoch, "parallel": mlp._run_epoch_parallel}


def run_epochs(data, order, P0, S0, sizes, l2, decay, lr, opt, batch, variants=tuple(EPOCHS)):
    """One epoch of each of the ``variants``' kernels from ``P0``, ``S0``:
    ``{variant: (total, step, P, S)}``."""
    n = len(order)
    rate = Rate(optim.INVSCALING, lr, schedule_hyper(0.5, 10.0 * -(-n // batch)))
    results = {}
    for variant in variants:
        kernel = EPOCHS[variant]
        P, S = P0.copy(), S0.copy()
        net = mlp.Network(P, sizes, mlp.TANH, rule(losses.SOFTMAX_LOG_LOSS), l2, decay)
        total, step = kernel(data, order, net, Update(opt, S, HYPER), rate, batch, 3, 2)
        results[variant] = total, step, P, S
    return results


def assert_epochs_agree(results, n, batch, P0, dtype):
    total_ref, step_ref, P_ref, S_ref = results["numpy"]
    assert step_ref == 3 + -(-n // batch)
    assert not np.allclose(P_ref, P0)
    for variant in set(results) - {"numpy"}:
        total, step, P, S = results[variant]
        assert step == step_ref and P.dtype == S.dtype == dtype
        assert_close(total, total_ref, RTOL[variant, dtype])
        assert_close(P, P_ref, RTOL[variant, dtype])
        assert_close(S, S_ref, RTOL[variant, dtype])


#: (batch, optimizer, dtype): every optimizer in float64 with every batch mode, float32 with two
#: (each optimizer and dtype compiles the network's epoch, serial and parallel, for itself)
EPOCH_CASES = [(batch, opt, dtype) for batch in (1, 7, 256, None)
               for opt, dtype in [*((opt, np.float64) for opt in optim.NAMES.values()),
                                  (optim.SGD, np.float32), (optim.ADAM, np.float32)]]


@pytest.mark.parametrize("batch,opt,dtype", EPOCH_CASES)
def test_epoch_matches_reference(batch, opt, dtype):
    n = 500
    X, Y, sw, sizes, P0, order, l2, decay, lr, S0 = epoch_case(opt, n, [10, 48, 32, 3], dtype, 0.3)
    batch = n if batch is None else batch
    # batches of 256 and of all rows are split across the two threads of the parallel kernel
    assert 2 * mlp.min_rows_per_thread(P0.size) <= 256
    # the parallel build with two optimizers: each is one more compilation of it, about 10 s
    variants = tuple(EPOCHS) if opt in (optim.SGD, optim.ADAM) else ("numpy", "numba")
    results = run_epochs(Data(X, Y, sw), order, P0, S0, sizes, l2, decay, lr, opt, batch, variants)
    assert_epochs_agree(results, n, batch, P0, dtype)


@pytest.mark.parametrize("opt", [optim.SGD, optim.ADAM])
@pytest.mark.parametrize("batch", [1, 7, 256, None])
def test_csr_epoch_matches_reference(batch, opt):
    """Every backend's epoch on a SciPy CSR matrix (the reference's sparse products, the kernels'
    CSR first layer) against the reference's, and the reference's against its dense epoch. (In
    float64 only: a float32 CSR epoch is held to the dense one in test_mlp.py, and each dtype is
    one more compilation of the parallel epoch, about 10 s.)"""
    n, dtype = 500, np.float64
    X, Y, sw, sizes, P0, order, l2, decay, lr, S0 = epoch_case(opt, n, [200, 48, 32, 3], dtype,
                                                               0.9)
    Xs = csr(X, empty_rows=range(0, n, 9))
    batch = n if batch is None else batch
    # batches of 256 and of all rows are split across the two threads of the parallel kernel,
    # though a CSR row is less work than a dense one
    assert mlp.row_work(Xs, sizes, P0.size) < P0.size
    assert 2 * mlp.min_rows_per_thread(mlp.row_work(Xs, sizes, P0.size), P0.size) <= 256
    results = run_epochs(Data(Xs, Y, sw), order, P0, S0, sizes, l2, decay, lr, opt, batch)
    assert_epochs_agree(results, n, batch, P0, dtype)
    dense = run_epochs(Data(Xs.toarray(), Y, sw), order, P0, S0, sizes, l2, decay, lr, opt, batch,
                       ["numpy"])
    for actual, desired in zip(results["numpy"], dense["numpy"]):
        assert_close(actual, desired, RTOL["numba", dtype])


# --- gradients against numerical gradients -----------------------------------------------------

def objective(X, Y, sw, P, sizes, activation, loss, alpha):
    """``mean_i sw_i l_i + alpha/2 sum_l ||W_l||^2`` written out from the definitions alone."""
    f = {mlp.RELU: lambda z: np.maximum(z, 0), mlp.TANH: np.tanh,
         mlp.LOGISTIC: lambda z: 1 / (1 + np.exp(-z))}[activation]
    layers = mlp.unpack(P, sizes)
    A = X
    for W, b in layers[:-1]:
        A = f(A @ W + b)
    Z = A @ layers[-1][0] + layers[-1][1]
    if loss == losses.LOG_LOSS:  # binary cross-entropy of sigmoid(z)
        per_row = np.logaddexp(0, Z[:, 0]) - Y[:, 0] * Z[:, 0]
    elif loss == losses.SOFTMAX_LOG_LOSS:  # cross-entropy of softmax(z)
        per_row = np.logaddexp.reduce(Z, axis=1) - (Y * Z).sum(axis=1)
    else:
        per_row = ((Z - Y) ** 2).sum(axis=1)
    return np.mean(sw * per_row) + 0.5 * alpha * sum(np.sum(W * W) for W, _ in layers)


def numerical_gradient(X, Y, sw, P, sizes, activation, loss, alpha, h):
    """Central differences of :func:`objective` in each parameter."""
    numerical = np.empty_like(P)
    for t in range(P.size):
        step = np.zeros_like(P)
        step[t] = h
        numerical[t] = (objective(X, Y, sw, P + step, sizes, activation, loss, alpha)
                        - objective(X, Y, sw, P - step, sizes, activation, loss, alpha)) / (2 * h)
    return numerical


def hidden_scores(X, P, sizes, activation):
    """The pre-activations of every hidden unit, to keep the check away from relu's kink."""
    scores, A = [], X
    for W, b in mlp.unpack(P, sizes)[:-1]:
        scores.append(A @ W + b)
        A = mlp.activate(activation, scores[-1])
    return np.concatenate([z.ravel() for z in scores])


@pytest.mark.parametrize("loss", LOSS_CASES, ids=["sigmoid", "softmax", "squared"])
@pytest.mark.parametrize("activation", [mlp.RELU, mlp.TANH, mlp.LOGISTIC],
                         ids=["relu", "tanh", "logistic"])
def test_every_weight_and_bias_against_numerical_gradient(activation, loss):
    """A 2-hidden-layer network: the analytic gradient of every parameter (reference and compiled,
    on dense rows and on CSR rows) against central differences of the objective."""
    n, alpha, h = 40, 0.3, 1e-6
    X, Y, sw, sizes, P = make_network(11, n, [4, 6, 5, OUTPUTS[loss]], loss, np.float64, zeros=0)
    for X_in in (X, sp.csr_matrix(X * (np.abs(X) > 0.5))):
        X_dense = X_in.toarray() if sp.issparse(X_in) else X_in
        if activation == mlp.RELU:  # a difference across the kink would not be a derivative
            assert np.abs(hidden_scores(X_dense, P, sizes, activation)).min() > 100 * h
        numerical = numerical_gradient(X_dense, Y, sw, P, sizes, activation, loss, alpha, h)
        total, G = mlp.loss_gradient(Data(X_in, Y, sw), P, sizes, activation, rule(loss))
        mlp.finish_gradient(G, P, sizes, n, alpha)
        np.testing.assert_allclose(G, numerical, rtol=1e-6, atol=1e-8)
        penalty = 0.5 * alpha * sum(np.sum(W * W) for W, _ in mlp.unpack(P, sizes))
        assert total / n + penalty == pytest.approx(
            objective(X_dense, Y, sw, P, sizes, activation, loss, alpha), rel=1e-12)

        G_jit = np.empty_like(P)  # as the compiled epoch: the L2 term, then each row's over n
        mlp._start_gradient(G_jit, P, sizes, alpha)
        work, nz = workspace(sizes, np.float64, X_in)
        mlp._accumulate(kernel_data(Data(X_in, Y, sw)), np.arange(n), 0, n, P, sizes, activation,
                        rule(loss), 1 / n, G_jit, work, nz)
        np.testing.assert_allclose(G_jit, numerical, rtol=1e-6, atol=1e-8)


def test_penalty_and_decay_leave_biases_alone():
    X, Y, sw, sizes, P = make_network(2, 30, [3, 4, 1], losses.LOG_LOSS, np.float64)
    _, G0 = mlp.loss_gradient(Data(X, Y, sw), P, sizes, mlp.RELU, rule(losses.LOG_LOSS))
    G = np.empty_like(P)
    mlp._start_gradient(G, P, sizes, 30 * 0.5)
    G += G0
    mlp._scale(G, 1 / 30)
    for (G_W, G_b), (W0, b0), (W, _) in zip(mlp.unpack(G, sizes), mlp.unpack(G0, sizes),
                                            mlp.unpack(P, sizes)):
        assert_close(G_W, W0 / 30 + 0.5 * W, 1e-12)
        assert_close(G_b, b0 / 30, 1e-12)
    Q = P.copy()
    mlp._scale_weights(Q, sizes, 0.5)
    for (W, b), (W0, b0) in zip(mlp.unpack(Q, sizes), mlp.unpack(P, sizes)):
        np.testing.assert_array_equal(W, 0.5 * W0)
        np.testing.assert_array_equal(b, b0)




# --- the smaller kernels -----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_kernels_match_reference(activation, dtype):
    Z = (np.random.default_rng(activation).standard_normal(50) * 5).astype(dtype)
    out = Z.copy()
    out[-5:] = 7  # beyond ``size``: untouched
    mlp._activate(activation, out, 45)
    assert_close(out[:45], mlp.activate(activation, Z[:45]), RTOL["numba", dtype])
    assert (out[45:] == 7).all()
    A = mlp.activate(activation, Z)
    D0 = np.random.default_rng(1).standard_normal(50).astype(dtype)
    D = D0.copy()
    mlp._activation_derivative(activation, A, D, 50)
    if activation in (mlp.TANH, mlp.LOGISTIC):  # relu is _dense_delta's, identity's f' is 1
        expected = D0 * mlp.activation_derivative(activation, A)
    else:
        expected = D0
    assert_close(D, expected, RTOL["numba", dtype])


def test_nonzero_zero_add_into_and_layer_views():
    x = np.array([0.0, 1.5, 0.0, -2.0, 3.0, 0.0])
    nz = np.full(6, -1, np.int64)
    count = mlp._nonzero(x, nz)
    assert count == 3
    np.testing.assert_array_equal(nz[:count], np.flatnonzero(x))
    target, source = np.arange(4.0), np.full(4, 0.5)
    mlp._add_into(target, source)
    np.testing.assert_array_equal(target, np.arange(4.0) + 0.5)
    mlp._zero(target)
    assert not target.any()
    sizes = np.array([3, 4, 2], np.int64)
    P = np.arange(float(mlp.n_params(sizes)))
    (W0, b0), (W1, b1) = mlp.unpack(P, sizes)
    W, b = mlp._layer(P, 3 * 4 + 4, 4, 2)
    np.testing.assert_array_equal(W, W1.ravel())
    np.testing.assert_array_equal(b, b1)
    assert mlp._min_rows_per_thread(P.size) == mlp.min_rows_per_thread(P.size)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_network_forward_matches_reference(activation, dtype):
    X, _, _, sizes, P = make_network(3, 2 * MLP_BLOCK_ROWS, [6, 9, 5, 3], losses.SQUARED_ERROR,
                                     dtype)
    rows = np.arange(1, 2 * MLP_BLOCK_ROWS, 2)  # any rows, in any order
    expected = mlp.forward(X[rows], P, sizes, activation, losses.IDENTITY)
    for X_in in (X, csr(X)):
        work, nz = workspace(sizes, dtype, X_in)
        mlp._network_forward(kernel_input(X_in), rows, work, P, sizes, activation, len(rows), nz)
        assert_close(work[len(sizes) - 1, :expected.size].reshape(expected.shape), expected,
                     RTOL["numba", dtype])


def test_forward_functions_of_the_backends():
    X, _, _, sizes, P = make_network(1, 3000, [6, 90, 7, 3], losses.SOFTMAX_LOG_LOSS, np.float64)
    net = mlp.Network(P, sizes, mlp.TANH, rule(losses.SOFTMAX_LOG_LOSS), 0.0, 0.0)
    expected = mlp.reference_forward(X, net, losses.SOFTMAX, 1)
    np.testing.assert_array_equal(expected, mlp.forward(X, P, sizes, mlp.TANH, losses.SOFTMAX))
    for kernel, variant in ((mlp._forward, "numba"), (mlp._forward_parallel, "parallel")):
        out = mlp.compiled_forward(kernel)(X, net, losses.SOFTMAX, 2)
        assert out.shape == (3000, 3)
        assert_close(out, expected, RTOL[variant, np.float64])


# --- codes outside the tables ------------------------------------------------------------------

@pytest.mark.parametrize("kernel", [mlp._run_epoch, mlp._run_epoch_parallel, mlp.run_epoch],
                         ids=["_run_epoch", "_run_epoch_parallel", "run_epoch"])
@pytest.mark.parametrize("loss,opt,message", [
    (99, optim.SGD, "unknown loss code"), (-1, optim.SGD, "unknown loss code"),
    (losses.LOG_LOSS, 99, "unknown optimizer code"),
    (losses.LOG_LOSS, -1, "unknown optimizer code")])
def test_epoch_refuses_unknown_codes(kernel, loss, opt, message):
    X, Y, sw, sizes, P = make_network(0, 20, [3, 4, 1], losses.LOG_LOSS, np.float64)
    P0 = P.copy()
    with pytest.raises(ValueError, match=message):
        kernel(Data(X, Y, sw), np.arange(20, dtype=np.int64),
               mlp.Network(P, sizes, mlp.RELU, rule(loss), 0.0, 0.0),
               Update(opt, np.zeros((2, P.size)), HYPER),
               Rate(optim.CONSTANT, 0.1, schedule_hyper(0.25, 1.0)), 5, 0, 2)
    if kernel is not mlp.run_epoch:  # refused before any update
        np.testing.assert_array_equal(P, P0)
