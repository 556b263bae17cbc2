"""Every compiled kernel against its NumPy reference, on random shapes, dtypes and batch sizes."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastgd._kernels import losses, optim
from fastgd._kernels.linear import (
    _forward,
    _forward_parallel,
    _loss_gradient,
    _run_epoch,
    _run_epoch_parallel,
    forward,
    loss_gradient,
    run_epoch,
    scratch,
)
from fastgd.config import BLOCK_ROWS

from .conftest import RTOL, assert_close

LOSSES = [losses.SQUARED_ERROR, losses.LOG_LOSS, losses.SOFTMAX_LOG_LOSS, losses.HINGE,
          losses.SIGMOID_SQUARED]
LINKS = [losses.IDENTITY, losses.SIGMOID, losses.SOFTMAX]
DTYPES = [np.float64, np.float32]


def make_problem(seed, n, d, k, loss, dtype, scale=1.0):
    """Random X, targets of the right kind for ``loss``, positive sample weights and parameters."""
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((n, d)) * scale).astype(dtype)
    if loss == losses.SQUARED_ERROR:
        Y = rng.standard_normal((n, k))
    elif loss == losses.SOFTMAX_LOG_LOSS:
        Y = np.eye(k)[rng.integers(0, k, n)]
    else:
        Y = rng.integers(0, 2, (n, k))
    sw = rng.uniform(0.5, 2.0, n).astype(dtype)
    P = rng.standard_normal((k, d + 1)).astype(dtype)
    return X, Y.astype(dtype), sw, P


def compiled_loss_terms(loss, Z, Y):
    k = Z.shape[1]
    L, D = np.empty(Z.size, Z.dtype), np.empty(Z.size, Z.dtype)
    losses._loss_terms(loss, Z.ravel().copy(), Y.ravel().copy(), L, D, Z.size, k)
    return L.reshape(Z.shape), D.reshape(Z.shape)


@settings(max_examples=40, deadline=None)
@given(loss=st.sampled_from(LOSSES), dtype=st.sampled_from(DTYPES), m=st.integers(1, 40),
       k=st.integers(1, 5), scale=st.sampled_from([0.1, 1.0, 30.0]), seed=st.integers(0, 2**31))
def test_loss_terms_match_reference(loss, dtype, m, k, scale, seed):
    if loss == losses.SOFTMAX_LOG_LOSS:
        k = max(k, 2)
    rng = np.random.default_rng(seed)
    Z = (rng.standard_normal((m, k)) * scale).astype(dtype)
    _, Y, _, _ = make_problem(seed, m, 1, k, loss, dtype)
    L_ref, D_ref = losses.loss_terms(loss, Z, Y)
    L, D = compiled_loss_terms(loss, Z, Y)
    assert L.dtype == D.dtype == dtype
    rtol = RTOL["numba", dtype]
    # the loss of a softmax row may be stored in any of its elements: compare row sums
    assert_close(L.sum(axis=1), L_ref.sum(axis=1), rtol)
    assert_close(D, D_ref, rtol)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_losses_and_links_stable_for_huge_scores(loss, dtype):
    k = 3 if loss == losses.SOFTMAX_LOG_LOSS else 2
    Z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 17.0], [18.5, -18.5, 1e4]], dtype=dtype)[:, :k]
    _, Y, _, _ = make_problem(0, 3, 1, k, loss, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        L_ref, D_ref = losses.loss_terms(loss, Z, Y)
        probabilities = [losses.apply_link(link, Z) for link in LINKS]
    L, D = compiled_loss_terms(loss, Z, Y)
    for array in (L_ref, D_ref, L, D, *probabilities):
        assert np.isfinite(array).all()
    assert_close(L.sum(axis=1), L_ref.sum(axis=1), RTOL["numba", dtype])
    assert_close(D, D_ref, RTOL["numba", dtype])


def test_log_loss_values_at_huge_scores_are_exact():
    Z = np.array([[1e4], [-1e4]])
    Y = np.array([[0.0], [1.0]])
    L, D = compiled_loss_terms(losses.LOG_LOSS, Z, Y)
    np.testing.assert_array_equal(L, [[1e4], [1e4]])
    np.testing.assert_array_equal(D, [[1.0], [-1.0]])


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


@settings(max_examples=25, deadline=None)
@given(loss=st.sampled_from(LOSSES), dtype=st.sampled_from(DTYPES),
       n=st.sampled_from([1, 7, BLOCK_ROWS, BLOCK_ROWS + 1, 9001]), d=st.integers(1, 40),
       k=st.integers(1, 4), seed=st.integers(0, 2**31))
def test_loss_gradient_matches_reference(loss, dtype, n, d, k, seed):
    if loss == losses.SOFTMAX_LOG_LOSS:
        k = max(k, 2)
    X, Y, sw, P = make_problem(seed, n, d, k, loss, dtype)
    expected_loss, expected_G = loss_gradient(X, Y, sw, P, loss)
    order = np.arange(n, dtype=np.int64)
    G, buf = scratch(1, P)
    total = _loss_gradient(X, Y, sw, order, 0, n, P, loss, G, buf)
    assert G.dtype == dtype
    assert_close(total, expected_loss, RTOL["numba", dtype])
    assert_close(G[0], expected_G, RTOL["numba", dtype])


def test_loss_gradient_visits_rows_in_the_given_order():
    X, Y, sw, P = make_problem(3, 600, 5, 1, losses.LOG_LOSS, np.float64)
    order = np.random.default_rng(0).permutation(600).astype(np.int64)
    G, buf = scratch(1, P)
    total = _loss_gradient(X, Y, sw, order, 100, 450, P, losses.LOG_LOSS, G, buf)
    rows = order[100:450]
    expected_loss, expected_G = loss_gradient(X[rows], Y[rows], sw[rows], P, losses.LOG_LOSS)
    assert_close(total, expected_loss, 1e-12)
    assert_close(G[0], expected_G, 1e-12)


OPTIMIZERS = list(optim.NAMES.values())
SCHEDULES = [optim.CONSTANT, optim.INVSCALING, optim.COSINE]
HYPER = np.array([0.9, 0.8, 0.99, 1e-8, 0.9])  # momentum, beta_1, beta_2, epsilon, rho


@settings(max_examples=60, deadline=None)
@given(loss=st.sampled_from(LOSSES), dtype=st.sampled_from(DTYPES), n=st.integers(1, 9000),
       d=st.integers(1, 20), k=st.integers(1, 3),
       batch=st.sampled_from([1, 2, 31, 256, 4097, None]), fit_intercept=st.booleans(),
       alpha=st.sampled_from([0.0, 0.01]), opt=st.sampled_from(OPTIMIZERS),
       schedule=st.sampled_from(SCHEDULES), seed=st.integers(0, 2**31))
def test_epoch_matches_reference(loss, dtype, n, d, k, batch, fit_intercept, alpha, opt, schedule,
                                 seed):
    if batch == 1:
        n = min(n, 800)  # the per-sample NumPy reference is slow
    if loss == losses.SOFTMAX_LOG_LOSS:
        k = max(k, 2)
    X, Y, sw, P0 = make_problem(seed, n, d, k, loss, dtype)
    P0 *= 0.1
    order = np.random.default_rng(seed).permutation(n).astype(np.int64)
    batch = n if batch is None else min(batch, n)
    l2, decay = (0.0, alpha) if opt in optim.DECOUPLED else (alpha, 0.0)
    # a step that cannot diverge, so the comparison is of finite numbers
    lr = {optim.ADAM: 1e-3, optim.ADAMW: 1e-3, optim.ADAGRAD: 1e-2, optim.RMSPROP: 1e-2}.get(
        opt, 0.05 / (1 + 2 * float(np.max(np.sum(X.astype(float) ** 2, axis=1)))))
    S0 = optim.allocate_state(opt, P0.size, dtype)
    S0[:] = np.abs(np.random.default_rng(seed).standard_normal(S0.shape)) * 0.01
    if not fit_intercept:  # an intercept that is never updated has no optimizer state
        S0.reshape(-1, k, d + 1)[:, :, -1] = 0
    schedule_hyper = np.array([0.5, 10 * -(-n // batch)])

    def epoch(kernel, threads):
        P, S = P0.copy(), S0.copy()
        total, step = kernel(X, Y, sw, order, P, S, HYPER, batch, loss, opt, fit_intercept, l2,
                             decay, lr, schedule, schedule_hyper, 3, threads)
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
        if not fit_intercept:
            np.testing.assert_array_equal(P[:, -1], P0[:, -1])


@pytest.mark.parametrize("opt", OPTIMIZERS)
@pytest.mark.parametrize("loss", LOSSES)
def test_sgd_epoch_matches_reference_for_every_optimizer(loss, opt):
    """Batches of one row take their own fused kernel; every loss and optimizer goes through it,
    with L2 (or decay), a schedule and a fixed intercept."""
    k = 3 if loss == losses.SOFTMAX_LOG_LOSS else 2
    X, Y, sw, P0 = make_problem(7, 300, 9, k, loss, np.float64)
    P0 *= 0.1
    order = np.random.default_rng(7).permutation(300).astype(np.int64)
    l2, decay = (0.0, 0.01) if opt in optim.DECOUPLED else (0.01, 0.0)
    S0 = np.abs(np.random.default_rng(7).standard_normal(
        optim.allocate_state(opt, P0.size, np.float64).shape)) * 0.01
    results = []
    for kernel in (run_epoch, _run_epoch):
        P, S = P0.copy(), S0.copy()
        total, step = kernel(X, Y, sw, order, P, S, HYPER, 1, loss, opt, False, l2, decay, 1e-3,
                             optim.INVSCALING, np.array([0.5, 1.0]), 3, 1)
        results.append((total, step, P, S))
    (total_ref, step_ref, P_ref, S_ref), (total, step, P, S) = results
    assert step == step_ref == 303
    assert_close(total, total_ref, 1e-10)
    assert_close(P, P_ref, 1e-10)
    assert_close(S, S_ref, 1e-10)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dtype", DTYPES)
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
    args = (X, Y, sw, order)
    rest = (S, HYPER, batch, loss, optim.SGD, True, 0.01, 0.0, 0.01, optim.CONSTANT,
            np.array([0.25, 1.0]), 0)
    P_ref, P = P0.copy(), P0.copy()
    total_ref, _ = run_epoch(*args, P_ref, *rest, 1)
    total, _ = _run_epoch_parallel(*args, P, *rest, 2)
    assert_close(total, total_ref, RTOL["parallel", dtype])
    assert_close(P, P_ref, RTOL["parallel", dtype])
