"""fastgd.gradcheck: every loss's gradient passes, a wrong one is caught, bad input is refused."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from fastgd import GDClassifier, GDRegressor
from fastgd.gradcheck import gradcheck


def regression_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 3))
    return X, X @ [1.0, -2.0, 0.5] + 0.3 + 0.1 * rng.standard_normal(120)


def blobs(centers):
    return make_blobs(n_samples=150, n_features=3, centers=centers, random_state=0)


CASES = [  # (estimator or loss name, data)
    ("squared_error", regression_data()),
    (GDRegressor(alpha=0.5, fit_intercept=False), regression_data()),
    ("log_loss", blobs(2)),
    ("log_loss", blobs(4)),  # softmax
    (GDClassifier(alpha=0.3, class_weight="balanced"), blobs(3)),
    ("hinge", blobs(2)),
    (GDClassifier(loss="hinge", fit_intercept=False), blobs(3)),
    ("sigmoid_squared", blobs(2)),
    (GDClassifier(loss="sigmoid_squared", alpha=0.1), blobs(3)),
    ("perceptron", blobs(2)),
    (GDClassifier(loss="perceptron", fit_intercept=False), blobs(3)),
    ("squared_hinge", blobs(2)),
    (GDClassifier(loss="squared_hinge", alpha=0.1), blobs(3)),
    ("modified_huber", blobs(2)),
    (GDClassifier(loss="modified_huber", class_weight="balanced"), blobs(3)),
    # residuals of order 1 against epsilon 0.1 (the default), 0.5 and 1: both pieces of each loss
    ("huber", regression_data()),
    (GDRegressor(loss="huber", epsilon=1.0, alpha=0.2), regression_data()),
    ("epsilon_insensitive", regression_data()),
    (GDRegressor(loss="epsilon_insensitive", epsilon=0.5, fit_intercept=False), regression_data()),
    ("squared_epsilon_insensitive", regression_data()),
    (GDRegressor(loss="squared_epsilon_insensitive", epsilon=1.0), regression_data()),
    # a regression loss in a classifier: fitted to targets -1 and 1
    (GDClassifier(loss="huber", epsilon=0.5), blobs(2)),
    (GDClassifier(loss="squared_epsilon_insensitive", epsilon=0.5), blobs(3)),
]


@pytest.mark.parametrize("estimator,data", CASES,
                         ids=[f"{i}-{getattr(e, 'loss', e)}" for i, (e, _) in enumerate(CASES)])
def test_every_loss_gradient_matches_numerical_gradient(estimator, data):
    X, y = data
    weights = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    result = gradcheck(estimator, X, y, sample_weight=weights)
    assert result.central < 1e-7
    assert result.forward < 1e-4


def test_checks_at_the_fitted_weights_by_default():
    X, y = regression_data()
    model = GDRegressor(epochs=3).fit(X, y)
    assert gradcheck(model, X, y) == gradcheck("squared_error", X, y, coef=model.coef_,
                                               intercept=model.intercept_)
    assert gradcheck(model, X, y) != gradcheck("squared_error", X, y)


def test_forward_difference_error_shrinks_with_the_step():
    X, y = blobs(2)
    errors = [gradcheck("log_loss", X, y, h=h) for h in (1e-3, 1e-5)]
    assert errors[0].forward > 10 * errors[1].forward
    assert errors[0].central < errors[0].forward


def tutorial_gradient(X, y):
    """The classic tutorial's gradient ``X.T @ (sigmoid(X W) - y) / N``, printed beside a squared
    loss, for W = (coef, intercept) through the bias trick."""
    def gradient(coef, intercept):
        p = 1 / (1 + np.exp(-(X @ coef[0] + intercept[0])))
        error = p - y
        return (X.T @ error / len(X))[None], np.array([error.mean()])
    return gradient


def test_tutorial_gradient_is_the_log_loss_gradient_not_the_squared_loss_one():
    X, y = blobs(2)
    assert gradcheck("log_loss", X, y, gradient=tutorial_gradient(X, y)).central < 1e-7
    assert gradcheck("sigmoid_squared", X, y, gradient=tutorial_gradient(X, y)).central > 0.1


@pytest.mark.parametrize("mistake", [
    lambda g, b: (2 * g, b),                   # a factor off
    lambda g, b: (g, b + 1),                   # wrong intercept gradient
    lambda g, b: (g[:, ::-1], b),              # weights swapped
])
def test_a_wrong_gradient_is_caught(mistake):
    X, y = regression_data()
    coef, intercept = np.array([0.3, -0.1, 0.2]), np.array([0.5])

    def right(c, b):
        residual = X @ c + b[0] - y
        return 2 / len(X) * X.T @ residual, np.array([2 * residual.mean()])

    assert gradcheck("squared_error", X, y, coef=coef, intercept=intercept,
                     gradient=right).central < 1e-7

    def wrong(c, b):
        g, gb = right(c, b)
        g, gb = mistake(g[None], gb)
        return g[0], gb

    result = gradcheck("squared_error", X, y, coef=coef, intercept=intercept, gradient=wrong)
    assert min(result) > 1e-3


@pytest.mark.parametrize("call,match", [
    (lambda X, y: gradcheck("mean_absolute_error", X, y), "unknown loss"),
    (lambda X, y: gradcheck(object(), X, y), "takes a GDClassifier"),
    (lambda X, y: gradcheck("squared_error", X, y, h=0.0), "h must be"),
    (lambda X, y: gradcheck("squared_error", X, y, coef=[1.0, 2.0]), "coef must have shape"),
    (lambda X, y: gradcheck("squared_error", X, y, gradient=lambda c, b: (c[:2], b)),
     "coef gradient must have shape"),
    (lambda X, y: gradcheck(GDRegressor(alpha=-1.0), X, y), "alpha"),
])
def test_bad_input_is_refused(call, match):
    X, y = regression_data()
    with pytest.raises(ValueError, match=match):
        call(X, y)
