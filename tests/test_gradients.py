"""Every loss gradient against a central-difference numerical gradient of the objective."""

import numpy as np
import pytest

from fastgd._kernels import losses
from fastgd._kernels.linear import _loss_gradient, finish_gradient, loss_gradient, scratch

from .test_kernels import make_problem


def objective(X, Y, sw, P, loss, alpha):
    """``mean_i sw_i l_i + alpha/2 ||W||^2`` written from the loss definitions alone."""
    total, _ = loss_gradient(X, Y, sw, P, loss)
    return total / len(X) + 0.5 * alpha * np.sum(P[:, :-1] ** 2)


def numerical_gradient(f, P, h=1e-6):
    G = np.zeros_like(P)
    for index in np.ndindex(P.shape):
        step = np.zeros_like(P)
        step[index] = h
        G[index] = (f(P + step) - f(P - step)) / (2 * h)
    return G


CASES = [  # (loss, k)
    (losses.SQUARED_ERROR, 1),
    (losses.LOG_LOSS, 1),
    (losses.LOG_LOSS, 3),
    (losses.SOFTMAX_LOG_LOSS, 4),
    (losses.HINGE, 1),
    (losses.HINGE, 3),
    (losses.SIGMOID_SQUARED, 1),
    (losses.SIGMOID_SQUARED, 2),
]


@pytest.mark.parametrize("loss,k", CASES)
@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_gradient_matches_numerical_gradient(loss, k, alpha):
    n, d = 300, 4
    X, Y, sw, P = make_problem(7, n, d, k, loss, np.float64)
    if loss == losses.HINGE:
        # keep every margin away from the kink at 1, where the loss has no derivative
        margin = (2 * Y - 1) * (X @ P[:, :-1].T + P[:, -1])
        keep = (np.abs(margin - 1) > 0.05).all(axis=1)
        X, Y, sw = X[keep], Y[keep], sw[keep]
        n = len(X)
    expected = numerical_gradient(lambda Q: objective(X, Y, sw, Q, loss, alpha), P)

    _, G = loss_gradient(X, Y, sw, P, loss)
    finish_gradient(G, P, n, alpha, True)
    np.testing.assert_allclose(G, expected, rtol=1e-6, atol=1e-8)

    G_jit, buf = scratch(1, P)
    _loss_gradient(X, Y, sw, np.arange(n, dtype=np.int64), 0, n, P, loss, G_jit, buf)
    finish_gradient(G_jit[0], P, n, alpha, True)
    np.testing.assert_allclose(G_jit[0], expected, rtol=1e-6, atol=1e-8)


def test_squared_error_gradient_is_the_documented_formula():
    X, Y, sw, P = make_problem(1, 50, 3, 1, losses.SQUARED_ERROR, np.float64)
    _, G = loss_gradient(X, Y, np.ones(50), P, losses.SQUARED_ERROR)
    finish_gradient(G, P, 50, 0.0, True)
    residual = X @ P[0, :-1] + P[0, -1] - Y[:, 0]
    np.testing.assert_allclose(G[0, :-1], 2 / 50 * X.T @ residual, rtol=1e-12)
    np.testing.assert_allclose(G[0, -1], 2 / 50 * residual.sum(), rtol=1e-12)
