"""The classic tutorials' runs (shared/SEEDS.md) through the public API, on every backend, with the
tutorials' own numbers."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import classification_report
from sklearn.model_selection import train_test_split

from fastgd import GDClassifier, GDRegressor


def test_toy_line(backend):
    """W from 8, b held at -1, MSE, learning rate 0.01, 50 steps: W falls towards 2."""
    xs = np.array([-1.0, 0.0, 1.0, 2.0, 3.0, 4.0])
    ys = 2 * xs - 1
    model = GDRegressor(learning_rate=0.01, epochs=50, batch_size=None, fit_intercept=False,
                        backend=backend)
    model.fit(xs[:, None], ys, coef_init=[8.0], intercept_init=-1.0)
    # with b exact, W - 2 shrinks by 1 - 0.01 * 2 * mean(x^2) per step
    contraction = 1 - 0.01 * 2 * np.mean(xs**2)
    np.testing.assert_allclose(model.coef_[0], 2 + 6 * contraction**50, rtol=1e-12)
    assert model.coef_[0] == pytest.approx(2.0257, abs=1e-4)
    assert model.intercept_[0] == -1.0
    expected_losses = 36 * np.mean(xs**2) * contraction ** (2 * np.arange(50))
    np.testing.assert_allclose(model.loss_history_, expected_losses, rtol=1e-10)
    assert model.loss_history_[0] == pytest.approx(186.0)
    assert model.loss_history_[-1] < 0.01


def test_linear_system(backend):
    """A x = Y by gradient descent on the MSE, from zeros, learning rate 0.01, 10,000 steps."""
    A = np.array([[5.0, 1, -1], [2, -1, 1], [1, 3, -2]])
    Y = np.array([1.0, 4, 0])
    model = GDRegressor(learning_rate=0.01, epochs=10_000, batch_size=None, fit_intercept=False,
                        backend=backend).fit(A, Y)
    x = np.zeros(3)
    for _ in range(10_000):  # the tutorial's loop, written out
        x -= 0.01 * 2 / 3 * A.T @ (A @ x - Y)
    np.testing.assert_allclose(model.coef_, x, rtol=1e-9)
    # the smallest eigen-direction converges slowly: close to, not yet at, the exact solution
    np.testing.assert_allclose(model.coef_, np.linalg.solve(A, Y), atol=1e-2)
    losses = model.loss_history_[::1000]
    assert losses[0] == pytest.approx(np.mean(Y**2))
    assert np.all(np.diff(losses) < 0)
    assert model.loss_history_[-1] < 1e-4


def tutorial_blobs():
    X, y = make_blobs(n_samples=1000, n_features=2, centers=2, cluster_std=1.5, random_state=1)
    return train_test_split(X, y, test_size=0.5, random_state=42)


def test_blob_classifier(backend):
    """Vanilla gradient descent, 100 epochs, learning rate 0.01: the report shows 1.00."""
    X_train, X_test, y_train, y_test = tutorial_blobs()
    model = GDClassifier(learning_rate=0.01, epochs=100, batch_size=None, backend=backend)
    model.fit(X_train, y_train)
    report = classification_report(y_test, model.predict(X_test), output_dict=True)
    assert round(report["accuracy"], 2) == 1.00
    assert round(report["0"]["f1-score"], 2) == round(report["1"]["f1-score"], 2) == 1.00
    assert np.all(np.diff(model.loss_history_) < 0)


def test_bias_trick_is_the_intercept(backend):
    """The first tutorial: 250 points, a column of ones (the bias trick), W uniform at random, the
    sigmoid with squared error. fit_intercept=False on the ones column learns exactly what
    fit_intercept=True learns on X."""
    X_train, y_train = make_blobs(n_samples=250, n_features=2, centers=2, cluster_std=1.05,
                                  random_state=20)
    W0 = np.random.default_rng(0).uniform(size=3)
    with_ones = np.column_stack([X_train, np.ones(len(X_train))])
    trick = GDClassifier(loss="sigmoid_squared", learning_rate=0.01, epochs=100, batch_size=None,
                         fit_intercept=False, backend=backend)
    trick.fit(with_ones, y_train, coef_init=W0[None])
    plain = GDClassifier(loss="sigmoid_squared", learning_rate=0.01, epochs=100, batch_size=None,
                         backend=backend)
    plain.fit(X_train, y_train, coef_init=W0[None, :2], intercept_init=W0[2:])
    np.testing.assert_allclose(trick.coef_[0, :2], plain.coef_[0], rtol=1e-10)
    np.testing.assert_allclose(trick.coef_[0, 2], plain.intercept_[0], rtol=1e-10)
    assert trick.score(with_ones, y_train) == 1.0
    assert trick.loss_history_[-1] < trick.loss_history_[0] / 10
