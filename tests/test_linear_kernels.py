"""fastgd/_kernels/linear.py: every compiled kernel against its NumPy reference, on random shapes,
dtypes and batch sizes; every loss gradient against a central-difference numerical gradient; codes
outside the tables refused."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from fastgd._kernels import linear, losses, optim
from fastgd._kernels.data import Data, kernel_data
from fastgd._kernels.linear import (
    Linear,
    _forward,
    _forward_parallel,
    _local_sgd_epoch,
    _loss_gradient,
    _run_epoch,
    _run_epoch_parallel,
    finish_gradient,
    forward,
    loss_gradient,
    run_epoch,
    scratch,
)
from fastgd._kernels.optim import Rate, Update
from fastgd.config import BLOCK_ROWS, FULL_BATCH_ROWS

from .conftest import (DTYPES, HYPER, LOSS_CODES, LOSS_EPSILON, PAIRS, RTOL, assert_close,
                       make_problem, pair_id, rule, schedule_hyper)

LOSSES = LOSS_CODES
LINKS = [losses.IDENTITY, losses.SIGMOID, losses.SOFTMAX]
#: every loss in float64, three in float32: each loss and dtype compiles the kernel under test
LOSS_DTYPES = [(loss, np.float64) for loss in LOSSES] + [
    (loss, np.float32) for loss in (losses.LOG_LOSS, losses.SOFTMAX_LOG_LOSS, losses.HUBER)]
EPOCHS = {"run_epoch": run_epoch, "_run_epoch": _run_epoch,
          "_run_epoch_parallel": _run_epoch_parallel, "_local_sgd_epoch": _local_sgd_epoch}


# --- forward pass ------------------------------------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(link=st.sampled_from(LINKS), dtype=st.sampled_from(DTYPES), n=st.integers(1, 5000),
       d=st.integers(1, 12), k=st.integers(1, 4), seed=st.integers(0, 2**31))
def test_forward_matches_reference(link, dtype, n, d, k, seed):
    X, _, _, P = make_problem(seed, n, d, k, losses.SQUARED_ERROR, dtype, scale=3.0)
    expected = forward(X, P, link)
    for kernel, variant in ((_forward, "numba"), (_forward_parallel, "parallel")):
        out = np.empty((n, k), dtype)
        kernel(X, P, link, out, 2)
        assert_close(out, expected, RTOL[variant, dtype])


def test_forward_functions_of_the_backends():
    X, _, _, P = make_problem(2, 3000, 6, 3, losses.SQUARED_ERROR, np.float64)
    model = Linear(P, rule(losses.SOFTMAX_LOG_LOSS), 1.0, 0.0, 0.0)
    expected = linear.reference_forward(X, model, losses.SOFTMAX, 1)
    assert_close(expected, forward(X, P, losses.SOFTMAX), 0)
    for kernel, variant in ((_forward, "numba"), (_forward_parallel, "parallel")):
        out = linear.compiled_forward(kernel)(X, model, losses.SOFTMAX, 2)
        assert out.shape == (3000, 3) and out.dtype == P.dtype
        assert_close(out, expected, RTOL[variant, np.float64])


# --- loss gradient -----------------------------------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(loss_dtype=st.sampled_from(LOSS_DTYPES),
       n=st.sampled_from([1, 7, BLOCK_ROWS, BLOCK_ROWS + 1, 9001]), d=st.integers(1, 40),
       k=st.integers(1, 4), seed=st.integers(0, 2**31))
def test_loss_gradient_matches_reference(loss_dtype, n, d, k, seed):
    loss, dtype = loss_dtype
    if loss == losses.SOFTMAX_LOG_LOSS:
        k = max(k, 2)
    X, Y, sw, P = make_problem(seed, n, d, k, loss, dtype)
    loss = rule(loss)
    expected_loss, expected_G = loss_gradient(Data(X, Y, sw), P, loss)
    order = np.arange(n, dtype=np.int64)
    G, buf = scratch(1, P)
    total = _loss_gradient(Data(X, Y, sw), order, 0, n, P, loss, G, buf)
    assert G.dtype == dtype
    assert_close(total, expected_loss, RTOL["numba", dtype])
    assert_close(G[0], expected_G, RTOL["numba", dtype])


def test_loss_gradient_visits_rows_in_the_given_order():
    X, Y, sw, P = make_problem(3, 600, 5, 1, losses.LOG_LOSS, np.float64)
    order = np.random.default_rng(0).permutation(600).astype(np.int64)
    G, buf = scratch(1, P)
    total = _loss_gradient(Data(X, Y, sw), order, 100, 450, P, rule(losses.LOG_LOSS), G, buf)
    rows = order[100:450]
    expected_loss, expected_G = loss_gradient(Data(X[rows], Y[rows], sw[rows]), P,
                                              rule(losses.LOG_LOSS))
    assert_close(total, expected_loss, 1e-12)
    assert_close(G[0], expected_G, 1e-12)


@settings(max_examples=25, deadline=None)
@given(loss_dtype=st.sampled_from(LOSS_DTYPES),
       n=st.sampled_from([1, 3, 4, 8, FULL_BATCH_ROWS - 1, FULL_BATCH_ROWS + 5, 1003]),
       d=st.integers(1, 70), k=st.integers(1, 4), seed=st.integers(0, 2**31))
def test_storage_order_matches_reference_on_the_full_data(loss_dtype, n, d, k, seed):
    loss, dtype = loss_dtype
    """The full batch's kernel, which reads every row in storage order, against the reference
    gradient of all the data: blocks of four and eight rows and their remainders."""
    if loss == losses.SOFTMAX_LOG_LOSS:
        k = max(k, 2)
    X, Y, sw, P = make_problem(seed, n, d, k, loss, dtype)
    data = Data(X, Y, sw)
    loss = rule(loss)
    expected_loss, expected_G = loss_gradient(data, P, loss)
    G, buf = scratch(1, P)
    blocks = linear.Blocks(*buf[0])
    total = linear._storage_order(data, P, loss, G[0], blocks.Z, blocks.D, blocks.L)
    assert_close(total, expected_loss, RTOL["numba", dtype])
    assert_close(G[0], expected_G, RTOL["numba", dtype])


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pending_rows", [0, 5, BLOCK_ROWS - 1])
def test_accumulate_call_and_flush_losses_match_reference(loss, dtype, pending_rows):
    """``_accumulate_call`` sets the gradient of its rows and leaves their losses pending after
    those already pending, which ``_flush_losses`` sums: together, the reference loss sum."""
    k = 3 if loss == losses.SOFTMAX_LOG_LOSS else 2
    n = 700
    X, Y, sw, P = make_problem(loss, n, 6, k, loss, dtype)
    loss = rule(loss)
    data = Data(X, Y, sw)
    order = np.random.default_rng(1).permutation(n).astype(np.int64)
    lo, hi = 50, 650
    G, buf = scratch(1, P)
    G[0] = np.nan  # set, not added to
    blocks = linear.Blocks(*buf[0])
    # rows already pending: the scores, targets and weights of the first rows of X
    Z0 = X[:pending_rows] @ P[:, :-1].T + P[:, -1]
    blocks.Zp[:pending_rows * k] = Z0.ravel()
    blocks.Yp[:pending_rows * k] = Y[:pending_rows].ravel()
    blocks.Wp[:pending_rows] = sw[:pending_rows]
    total, pending = linear._accumulate_call(data, order, lo, hi, P, loss, G[0], blocks,
                                             pending_rows * k)
    # a block's worth is flushed when full, before the next row is added
    assert pending == ((pending_rows + hi - lo - 1) % BLOCK_ROWS + 1) * k
    total += linear._flush_losses(loss, blocks, pending, k)
    rows = order[lo:hi]
    expected_loss, expected_G = loss_gradient(Data(X[rows], Y[rows], sw[rows]), P, loss)
    pending_loss, _ = loss_gradient(Data(X[:pending_rows], Y[:pending_rows], sw[:pending_rows]),
                                    P, loss)
    assert_close(G[0], expected_G, RTOL["numba", dtype])
    assert_close(total, expected_loss + pending_loss, RTOL["numba", dtype])


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_flush_losses_is_the_reference_loss_sum(loss, dtype):
    k = 4 if loss == losses.SOFTMAX_LOG_LOSS else 2
    rng = np.random.default_rng(loss)
    _, Y, sw, _ = make_problem(loss, 100, 1, k, loss, dtype)
    Z = (rng.standard_normal((100, k)) * 3).astype(dtype)
    _, buf = scratch(1, np.empty((k, 2), dtype))
    blocks = linear.Blocks(*buf[0])
    blocks.Zp[:100 * k] = Z.ravel()
    blocks.Yp[:100 * k] = Y.ravel()
    blocks.Wp[:100] = sw
    loss = rule(loss)
    L_ref, _ = losses.loss_terms(loss, Z, Y)
    for rows in (0, 1, 37, 100):
        expected = float(sw[:rows] @ L_ref[:rows].sum(axis=1))
        assert_close(linear._flush_losses(loss, blocks, rows * k, k), expected,
                     RTOL["numba", dtype])


@pytest.mark.parametrize("intercept_rate", [1.0, 0.01, 0.0])
@pytest.mark.parametrize("dtype", DTYPES)
def test_finish_gradient_matches_reference(intercept_rate, dtype):
    _, _, _, P = make_problem(0, 1, 5, 3, losses.SQUARED_ERROR, dtype)
    G0 = np.random.default_rng(1).standard_normal(P.shape).astype(dtype)
    G_ref, G = G0.copy(), G0.copy()
    finish_gradient(G_ref, P, 17, 0.3, intercept_rate)
    linear._finish_gradient(G, P, 17, 0.3, intercept_rate)
    assert_close(G, G_ref, RTOL["numba", dtype])


def test_average_rows():
    local = np.random.default_rng(0).standard_normal((4, 9))
    for active in (1, 2, 4):
        out = np.full(9, np.nan)
        linear._average_rows(local, active, out)
        assert_close(out, local[:active].mean(axis=0), 1e-15)


def test_scratch_and_blocks():
    P = np.zeros((3, 5), np.float32)
    G, buf = scratch(4, P)
    assert G.shape == (4, 3, 5) and buf.shape == (4, 7, BLOCK_ROWS * 3)
    assert G.dtype == buf.dtype == np.float32
    G2, buf2 = linear._scratch(2, P)
    assert G2.shape == (2, 3, 5) and buf2.shape == (2, 7, BLOCK_ROWS * 3)
    blocks = linear._blocks(buf, 2)
    for view, row in zip(blocks, range(7)):
        assert view.shape == (BLOCK_ROWS * 3,)
        view[:] = row
    np.testing.assert_array_equal(buf[2], np.arange(7)[:, None] * np.ones(BLOCK_ROWS * 3))


# --- gradients against numerical gradients -------------------------------------------------------

def objective(X, Y, sw, P, loss, alpha):
    """``mean_i sw_i l_i + alpha/2 ||W||^2`` written from the loss definitions alone."""
    total, _ = loss_gradient(Data(X, Y, sw), P, loss)
    return total / len(X) + 0.5 * alpha * np.sum(P[:, :-1] ** 2)


def numerical_gradient(f, P, h=1e-6):
    G = np.zeros_like(P)
    for index in np.ndindex(P.shape):
        step = np.zeros_like(P)
        step[index] = h
        G[index] = (f(P + step) - f(P - step)) / (2 * h)
    return G


GRADIENT_CASES = [  # (loss, k)
    (losses.SQUARED_ERROR, 1),
    (losses.LOG_LOSS, 1),
    (losses.LOG_LOSS, 3),
    (losses.SOFTMAX_LOG_LOSS, 4),
    (losses.HINGE, 1),
    (losses.HINGE, 3),
    (losses.SIGMOID_SQUARED, 1),
    (losses.SIGMOID_SQUARED, 2),
    (losses.PERCEPTRON, 1),
    (losses.PERCEPTRON, 3),
    (losses.SQUARED_HINGE, 1),
    (losses.SQUARED_HINGE, 3),
    (losses.MODIFIED_HUBER, 1),
    (losses.MODIFIED_HUBER, 3),
    (losses.HUBER, 1),
    (losses.HUBER, 2),
    (losses.EPSILON_INSENSITIVE, 1),
    (losses.EPSILON_INSENSITIVE, 2),
    (losses.SQUARED_EPSILON_INSENSITIVE, 1),
    (losses.SQUARED_EPSILON_INSENSITIVE, 2),
]
#: the scores where each loss changes from one piece to the next: of the margin ``s z`` (``s`` = 1
#: or -1) for the margin losses, of the residual ``|z - y|`` for the regression ones
MARGIN_KINKS = {losses.HINGE: (1.0,), losses.PERCEPTRON: (0.0,), losses.SQUARED_HINGE: (1.0,),
                losses.MODIFIED_HUBER: (-1.0, 1.0)}
RESIDUAL_KINKS = {losses.HUBER: (LOSS_EPSILON,), losses.EPSILON_INSENSITIVE: (LOSS_EPSILON,),
                  losses.SQUARED_EPSILON_INSENSITIVE: (LOSS_EPSILON,)}


def away_from_kinks(loss, X, Y, sw, P, gap=0.05):
    """The rows whose every score is at least ``gap`` from the loss's kinks, where it has no
    derivative (or no second one), and the scores relative to them, so that a caller can check
    that both sides of each kink are there."""
    Z = X @ P[:, :-1].T + P[:, -1]
    if loss in MARGIN_KINKS:
        position, kinks = (2 * Y - 1) * Z, MARGIN_KINKS[loss]
    elif loss in RESIDUAL_KINKS:
        position, kinks = np.abs(Z - Y), RESIDUAL_KINKS[loss]
    else:
        return X, Y, sw, Z, ()
    keep = np.all([(np.abs(position - kink) > gap).all(axis=1) for kink in kinks], axis=0)
    return X[keep], Y[keep], sw[keep], position[keep], kinks


@pytest.mark.parametrize("loss,k", GRADIENT_CASES)
@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_gradient_matches_numerical_gradient(loss, k, alpha):
    n, d = 300, 4
    X, Y, sw, P = make_problem(7, n, d, k, loss, np.float64)
    X, Y, sw, position, kinks = away_from_kinks(loss, X, Y, sw, P)
    n = len(X)
    for kink in kinks:  # every piece of the loss is in the objective
        assert (position < kink).sum() > 10 and (position > kink).sum() > 10
    loss = rule(loss)
    expected = numerical_gradient(lambda Q: objective(X, Y, sw, Q, loss, alpha), P)

    _, G = loss_gradient(Data(X, Y, sw), P, loss)
    finish_gradient(G, P, n, alpha, True)
    np.testing.assert_allclose(G, expected, rtol=1e-6, atol=1e-8)

    G_jit, buf = scratch(1, P)
    _loss_gradient(Data(X, Y, sw), np.arange(n, dtype=np.int64), 0, n, P, loss, G_jit, buf)
    finish_gradient(G_jit[0], P, n, alpha, True)
    np.testing.assert_allclose(G_jit[0], expected, rtol=1e-6, atol=1e-8)


def test_squared_error_gradient_is_the_documented_formula():
    X, Y, sw, P = make_problem(1, 50, 3, 1, losses.SQUARED_ERROR, np.float64)
    _, G = loss_gradient(Data(X, Y, np.ones(50)), P, rule(losses.SQUARED_ERROR))
    finish_gradient(G, P, 50, 0.0, True)
    residual = X @ P[0, :-1] + P[0, -1] - Y[:, 0]
    np.testing.assert_allclose(G[0, :-1], 2 / 50 * X.T @ residual, rtol=1e-12)
    np.testing.assert_allclose(G[0, -1], 2 / 50 * residual.sum(), rtol=1e-12)


# --- epochs ------------------------------------------------------------------------------------

OPTIMIZERS = list(optim.NAMES.values())
SCHEDULES = [optim.CONSTANT, optim.INVSCALING, optim.COSINE, optim.OPTIMAL]


def penalties(opt, alpha):
    """``(alpha, decay)`` of a :class:`Linear`: AdamW's penalty is a decay of the weights."""
    return (0.0, alpha) if optim.OPTIMIZERS[opt].decoupled else (alpha, 0.0)


#: the pairs of the shape sweep below: the default's, an adaptive optimizer's and softmax's (each
#: pair compiles every path, so the sweep varies the shapes, not the pairs; test_pairs_match_reference
#: covers every pair)
SWEEP_PAIRS = [(losses.LOG_LOSS, optim.SGD), (losses.SQUARED_ERROR, optim.ADAM),
               (losses.SOFTMAX_LOG_LOSS, optim.MOMENTUM)]


@settings(max_examples=40, deadline=None)
@given(pair=st.sampled_from(SWEEP_PAIRS), dtype=st.sampled_from(DTYPES), n=st.integers(1, 9000),
       d=st.integers(1, 20), k=st.integers(1, 3),
       batch=st.sampled_from([1, 2, 31, 256, 4097, None]),
       intercept_rate=st.sampled_from([1.0, 0.01, 0.0]),
       alpha=st.sampled_from([0.0, 0.01]), schedule=st.sampled_from(SCHEDULES),
       seed=st.integers(0, 2**31))
def test_epoch_matches_reference(pair, dtype, n, d, k, batch, intercept_rate, alpha, schedule,
                                 seed):
    loss, opt = pair
    if batch == 1:
        n = min(n, 800)  # the per-sample NumPy reference is slow
    if loss == losses.SOFTMAX_LOG_LOSS:
        k = max(k, 2)
    X, Y, sw, P0 = make_problem(seed, n, d, k, loss, dtype)
    P0 *= 0.1
    order = np.random.default_rng(seed).permutation(n).astype(np.int64)
    batch = n if batch is None else min(batch, n)
    l2, decay = penalties(opt, alpha)
    # a step that cannot diverge, so the comparison is of finite numbers
    lr = {optim.ADAM: 1e-3, optim.ADAMW: 1e-3, optim.ADAGRAD: 1e-2, optim.RMSPROP: 1e-2}.get(
        opt, 0.05 / (1 + 2 * float(np.max(np.sum(X.astype(float) ** 2, axis=1)))))
    S0 = optim.allocate_state(opt, P0.size, dtype)
    S0[:] = np.abs(np.random.default_rng(seed).standard_normal(S0.shape)) * 0.01
    if not intercept_rate:  # an intercept that is never updated has no optimizer state
        S0.reshape(-1, k, d + 1)[:, :, -1] = 0
    rate = Rate(schedule, lr, schedule_hyper(0.5, 10 * -(-n // batch), 0.5))

    def epoch(kernel, threads):
        P, S = P0.copy(), S0.copy()
        total, step = kernel(Data(X, Y, sw), order,
                             Linear(P, rule(loss), intercept_rate, l2, decay),
                             Update(opt, S, HYPER), rate, batch, 3, threads)
        return total, step, P, S

    total_ref, step_ref, P_ref, S_ref = epoch(run_epoch, 1)
    assert step_ref == 3 + -(-n // batch)
    for variant, kernel, threads in (("numba", _run_epoch, 1), ("parallel", _run_epoch_parallel, 2)):
        total, step, P, S = epoch(kernel, threads)
        assert step == step_ref
        assert P.dtype == S.dtype == dtype
        assert_close(total, total_ref, RTOL[variant, dtype])
        assert_close(P, P_ref, RTOL[variant, dtype])
        assert_close(S, S_ref, RTOL[variant, dtype])
        if not intercept_rate:
            np.testing.assert_array_equal(P[:, -1], P0[:, -1])


@pytest.mark.parametrize("pair,batch", [(pair, 1) for pair in PAIRS] + [
    ((losses.MODIFIED_HUBER, optim.ADAM), 40), ((losses.SOFTMAX_LOG_LOSS, optim.SGD), 40),
    ((losses.SQUARED_ERROR, optim.NESTEROV), 40)], ids=lambda value: (
        pair_id(value) if isinstance(value, tuple) else f"batch-{value}"))
def test_pairs_match_reference(pair, batch):
    """Every pair of the table through SGD's row kernel (``_run_rows``), and some through the
    mini-batch kernel (``_run_batches``, which the shape sweep above covers too), with L2 (or
    decay), a schedule and a fixed intercept, against the reference epoch."""
    loss, opt = pair
    k = 3 if loss == losses.SOFTMAX_LOG_LOSS else 2
    X, Y, sw, P0 = make_problem(7, 300, 9, k, loss, np.float64)
    P0 *= 0.1
    data = Data(X, Y, sw)
    order = np.random.default_rng(7).permutation(300).astype(np.int64)
    l2, decay = penalties(opt, 0.01)
    S0 = np.abs(np.random.default_rng(7).standard_normal(
        optim.allocate_state(opt, P0.size, np.float64).shape)) * 0.01
    rate = Rate(optim.INVSCALING, 1e-3, schedule_hyper(0.5, 1.0))

    def run(kernel):
        P, S = P0.copy(), S0.copy()
        total, step = kernel(data, order, Linear(P, rule(loss), 0.0, l2, decay),
                             Update(opt, S, HYPER), rate, batch, 3, 1)
        return total, step, P, S

    total_ref, step_ref, P_ref, S_ref = run(run_epoch)
    assert step_ref == 3 + -(-300 // batch)
    total, step, P, S = run(_run_epoch)
    assert step == step_ref
    assert_close(total, total_ref, 1e-10)
    assert_close(P, P_ref, 1e-10)
    assert_close(S, S_ref, 1e-10)


@pytest.mark.parametrize("kernel", ["_run_rows", "_run_batches"])
def test_step_kernels_on_a_part_match_reference(kernel):
    """The step kernels called directly on a part ``order[lo:hi]`` (as local SGD calls them),
    against the reference epoch on those rows."""
    loss, opt = losses.LOG_LOSS, optim.ADAM
    batch = 1 if kernel == "_run_rows" else 7
    X, Y, sw, P0 = make_problem(5, 600, 8, 2, loss, np.float64)
    loss = rule(loss)
    P0 *= 0.1
    order = np.random.default_rng(5).permutation(600).astype(np.int64)
    lo, hi = 100, 400
    rate = Rate(optim.CONSTANT, 1e-3, schedule_hyper(0.5, 1.0))
    S0 = optim.allocate_state(opt, P0.size, np.float64)
    rows = order[lo:hi]
    P_ref, S_ref = P0.copy(), S0.copy()
    sub = Data(np.ascontiguousarray(X[rows]), Y[rows], sw[rows])
    total_ref, step_ref = run_epoch(sub, np.arange(hi - lo, dtype=np.int64),
                                    Linear(P_ref, loss, 1.0, 0.01, 0.0),
                                    Update(opt, S_ref, HYPER), rate, batch, 3, 1)
    P, S = P0.copy(), S0.copy()
    total, step = getattr(linear, kernel)(Data(X, Y, sw), order, lo, hi,
                                          Linear(P, loss, 1.0, 0.01, 0.0), Update(opt, S, HYPER),
                                          rate, batch, 3, 1)
    assert step == step_ref == 3 + -(-(hi - lo) // batch)
    assert_close(total, total_ref, RTOL["numba", np.float64])
    assert_close(P, P_ref, RTOL["numba", np.float64])
    assert_close(S, S_ref, RTOL["numba", np.float64])


def test_epoch_kernel_compiles_its_own_path_only():
    """The path is chosen in Python (``epoch_kernel``): each batch mode, input and penalty has its
    own build, and the builds without a penalty hold no penalty code."""
    X, Y, sw, P = make_problem(0, 5000, 4, 1, losses.LOG_LOSS, np.float64)
    data, model = Data(X, Y, sw), Linear(P, rule(losses.LOG_LOSS), 1.0, 0.0, 0.0)
    sgd, adam = Update(optim.SGD, np.zeros((0, 5)), HYPER), Update(optim.ADAM, np.zeros((2, 5)),
                                                                  HYPER)
    pick = lambda update_, batch, threaded, model=model, data=data: linear.epoch_kernel(
        data, model, update_, batch, 5000, threaded)[0]
    assert pick(sgd, 1, False) is pick(adam, 1, True) is linear._ROWS[0]
    assert pick(adam, 32, True) is linear._BATCHES[0]
    assert pick(sgd, 5000, False) is linear._WHOLE_BATCH[0]
    assert pick(sgd, 5000, True) is linear._WHOLE_BATCH_PARALLEL[0]
    assert pick(sgd, 4096, True) is linear._BATCHES_PARALLEL[0]
    assert pick(sgd, 1, False, model._replace(l1=0.1)) is linear._ROWS[1]
    assert pick(sgd, 32, False, model._replace(average=1)) is linear._BATCHES[1]
    wide = Data(np.zeros((5000, 100)), Y, sw)  # rows over FULL_BATCH_MAX_ROW_BYTES
    assert pick(sgd, 5000, False, data=wide) is linear._BATCHES[0]
    csr = kernel_data(Data(sp.csr_matrix(X), Y, sw))
    assert pick(sgd, 1, False, data=csr) is linear._run_scaled_sgd
    assert pick(adam, 1, False, data=csr) is linear._ROWS[0]


#: (loss, dtype): three losses in float64, float32 with one (each a parallel build of its own)
SPLIT_CASES = [(loss, np.float64) for loss in (losses.LOG_LOSS, losses.SOFTMAX_LOG_LOSS,
                                               losses.HUBER)] + [(losses.LOG_LOSS, np.float32)]


@pytest.mark.parametrize("loss,dtype", SPLIT_CASES)
@pytest.mark.parametrize("batch", [None, 4500, 700])
def test_parallel_split_of_large_batches_matches_reference(loss, dtype, batch):
    """Batches of at least two parts' worth of rows are split across threads: with ``pending`` losses
    of small batches before them, and the short last batch after."""
    n, d, k = 20_001, 9, (3 if loss == losses.SOFTMAX_LOG_LOSS else 1)
    X, Y, sw, P0 = make_problem(4, n, d, k, loss, dtype)
    P0 *= 0.1
    order = np.random.default_rng(4).permutation(n).astype(np.int64)
    batch = n if batch is None else batch
    S = optim.allocate_state(optim.SGD, P0.size, dtype)
    rate = Rate(optim.CONSTANT, 0.01, schedule_hyper(0.25, 1.0))
    P_ref, P = P0.copy(), P0.copy()
    loss = rule(loss)
    total_ref, _ = run_epoch(Data(X, Y, sw), order, Linear(P_ref, loss, 1.0, 0.01, 0.0),
                             Update(optim.SGD, S, HYPER), rate, batch, 0, 1)
    total, _ = _run_epoch_parallel(Data(X, Y, sw), order, Linear(P, loss, 1.0, 0.01, 0.0),
                                   Update(optim.SGD, S, HYPER), rate, batch, 0, 2)
    assert_close(total, total_ref, RTOL["parallel", dtype])
    assert_close(P, P_ref, RTOL["parallel", dtype])


# --- codes outside the tables ------------------------------------------------------------------

@pytest.mark.parametrize("loss,opt,message", [
    (99, optim.SGD, "unknown loss code"), (-1, optim.SGD, "unknown loss code"),
    (losses.LOG_LOSS, 99, "unknown optimizer code"),
    (losses.LOG_LOSS, -1, "unknown optimizer code")])
def test_unknown_codes_are_refused_before_any_kernel(loss, opt, message):
    """A rule or update of an unknown code cannot be made, so no epoch kernel can be called with
    one."""
    with pytest.raises(ValueError, match=message):
        Linear(np.zeros((1, 4)), rule(loss), 1.0, 0.0, 0.0), Update(opt, np.zeros((2, 4)), HYPER)
