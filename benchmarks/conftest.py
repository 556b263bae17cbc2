"""Shared set-up for the benchmark suite: pinned thread counts and the problems to time."""

import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from fastgd._kernels import losses, optim
from fastgd._driver import BACKENDS, n_threads

THREADS = numba.config.NUMBA_NUM_THREADS


@pytest.fixture(autouse=True, scope="session")
def pinned_threads():
    """BLAS and numba both use every core, so the NumPy reference and the parallel kernel get the
    same hardware; the serial kernel is serial by construction."""
    numba.set_num_threads(THREADS)
    with threadpool_limits(limits=THREADS):
        yield


def logistic_problem(n, d, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d), dtype=np.float64).astype(dtype)
    Y = (rng.random((n, 1)) < 0.5).astype(dtype)
    return X, Y, np.ones(n, dtype), rng.standard_normal((1, d + 1)).astype(dtype) * 0.01


def epoch_runner(backend, X, Y, sw, P, batch_size):
    """Return a function running one epoch of ``backend`` on fixed data, as the driver calls it."""
    run = BACKENDS[backend][0]
    order = np.arange(len(X), dtype=np.int64)
    S = optim.allocate_state(optim.SGD, P.size, P.dtype)
    hyper = np.array([0.9, 0.9, 0.999, 1e-8, 0.9])  # momentum, beta_1, beta_2, epsilon, rho
    schedule_hyper = np.array([0.25, 1.0])  # power_t, total steps
    threads = n_threads(backend)

    def one_epoch():
        # arguments: ..., loss, optimizer, fit_intercept, alpha, decay, lr, schedule,
        # schedule_hyper, step, n_threads
        return run(X, Y, sw, order, P, S, hyper, batch_size, losses.LOG_LOSS, optim.SGD, True, 0.0,
                   0.0, 1e-3, optim.CONSTANT, schedule_hyper, 0, threads)

    return one_epoch
