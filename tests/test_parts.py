"""The full-batch parts kernels (``parts_gradient``, ``full_batch_step``), which a dask cluster and
``fit(..., row_parts=...)`` run, against their NumPy references: each part's sums against
``loss_gradient`` on its rows, and a step from the parts against the reference's full-batch epoch,
for dense and CSR rows, on one thread and two."""

import numpy as np
import pytest
import scipy.sparse as sp

from fastgd._kernels import linear, losses, mlp, optim
from fastgd._kernels.data import Data, data_parts
from fastgd._kernels.optim import Rate, Update

from .conftest import HYPER, LOSS_CODES, RTOL, assert_close, make_problem, rule, schedule_hyper

PARTS = [37, 0, 200, 63]  # with an empty part
N = sum(PARTS)


def as_input(X, sparse):
    return sp.csr_array(np.where(np.abs(X) > 1, X, 0)) if sparse else X


#: (loss, dtype, sparse): every loss on dense float64 rows, float32 and CSR with three of them
#: (each combination compiles the parts kernel and the step for it)
MULTI_CASE_LOSSES = (losses.LOG_LOSS, losses.SOFTMAX_LOG_LOSS, losses.HUBER)
PARTS_CASES = [(loss, np.float64, False) for loss in LOSS_CODES] + [
    (loss, dtype, sparse) for loss in MULTI_CASE_LOSSES
    for dtype, sparse in ((np.float32, False), (np.float64, True), (np.float32, True))]


@pytest.mark.parametrize("loss,dtype,sparse", PARTS_CASES, ids=[
    f"{losses.LOSSES[loss].name}-{np.dtype(dtype).name}-{'csr' if sparse else 'dense'}"
    for loss, dtype, sparse in PARTS_CASES])
def test_linear_parts_match_reference(loss, dtype, sparse):
    k = 3 if loss == losses.SOFTMAX_LOG_LOSS else 1
    X, Y, sw, P = make_problem(0, N, 5, k, loss, dtype)
    loss = rule(loss)
    X = as_input(X, sparse)
    model = linear.Linear(P, loss, True, 0.1, 0.0)
    parts = data_parts(Data(X, Y, sw), PARTS)
    bounds = np.cumsum([0] + PARTS)
    for threads in (1, 2):
        partial, G = linear.parts_gradient(parts, model, threads)
        assert G.dtype == dtype
        for t, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
            loss_t, G_t = linear.loss_gradient(Data(X[lo:hi], Y[lo:hi], sw[lo:hi]), P, loss)
            assert_close(partial[t], loss_t, RTOL["numba", dtype])
            assert_close(G[t], G_t, RTOL["numba", dtype])
    # a step from the parts is the reference's full-batch epoch
    rate = Rate(optim.CONSTANT, 0.05, schedule_hyper(0.25, 1.0))
    # the step compiles for each loss and optimizer: Adam on the losses of several cases only
    for opt in (optim.SGD, optim.ADAM) if loss.code in MULTI_CASE_LOSSES else (optim.SGD,):
        S = optim.allocate_state(opt, P.size, dtype)
        P_ref, S_ref = P.copy(), S.copy()
        total_ref, step_ref = linear.run_epoch(
            Data(X, Y, sw), np.arange(N), linear.Linear(P_ref, loss, True, 0.1, 0.0),
            Update(opt, S_ref, HYPER), rate, N, 4, 1)
        P_parts, S_parts = P.copy(), S.copy()
        model = linear.Linear(P_parts, loss, True, 0.1, 0.0)
        total, step = linear.full_batch_step(*linear.parts_gradient(parts, model), model,
                                             Update(opt, S_parts, HYPER), rate, 4, N)
        assert step == step_ref == 5
        assert_close(total, total_ref, RTOL["numba", dtype])
        assert_close(P_parts, P_ref, RTOL["numba", dtype])
        assert_close(S_parts, S_ref, RTOL["numba", dtype])


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_mlp_parts_match_reference(sparse):
    rng = np.random.default_rng(1)
    sizes = np.array([5, 4, 3], dtype=np.int64)
    X = as_input(rng.standard_normal((N, 5)), sparse)
    Y = np.eye(3)[rng.integers(0, 3, N)]
    sw = rng.uniform(0.5, 2, N)
    P = rng.standard_normal(mlp.n_params(sizes)) * 0.5
    loss = rule(losses.SOFTMAX_LOG_LOSS)
    net = mlp.Network(P, sizes, mlp.TANH, loss, 0.01, 0.0)
    parts = data_parts(Data(X, Y, sw), PARTS)
    bounds = np.cumsum([0] + PARTS)
    partial, G = mlp.parts_gradient(parts, net, 2)
    for t, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        loss_t, G_t = mlp.loss_gradient(Data(X[lo:hi], Y[lo:hi], sw[lo:hi]), P, sizes, mlp.TANH,
                                        loss)
        assert_close(partial[t], loss_t, RTOL["numba", np.float64])
        assert_close(G[t], G_t, RTOL["numba", np.float64])
    rate = Rate(optim.CONSTANT, 0.05, schedule_hyper(0.25, 1.0))
    S = optim.allocate_state(optim.MOMENTUM, P.size, np.float64)
    P_ref, S_ref = P.copy(), S.copy()
    mlp.run_epoch(Data(X, Y, sw), np.arange(N), net._replace(P=P_ref),
                  Update(optim.MOMENTUM, S_ref, HYPER), rate, N, 0, 1)
    mlp.full_batch_step(partial, G, net, Update(optim.MOMENTUM, S, HYPER), rate, 0, N)
    assert_close(P, P_ref, RTOL["numba", np.float64])
    assert_close(S, S_ref, RTOL["numba", np.float64])


def test_row_parts_must_cover_the_rows():
    X, Y, sw, _ = make_problem(0, 10, 2, 1, losses.LOG_LOSS, np.float64)
    with pytest.raises(ValueError, match="add up to the 10 rows"):
        data_parts(Data(X, Y, sw), [4, 5])
