"""scikit-learn's SGD in fastgd (issue 15): every loss, penalty, averaging and schedule of
``SGDClassifier``/``SGDRegressor`` against scikit-learn itself and against exact solvers; the
L1 and averaging kernels against their NumPy references; ``from_sklearn``; the full-batch "auto"
step; the shapes scikit-learn accepts."""

import warnings

import numpy as np
import pytest
import scipy.optimize
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import (ElasticNet, Lasso, LogisticRegression, SGDClassifier,
                                  SGDRegressor)
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastgd import GDClassifier, GDRegressor, _sklearn
from fastgd._kernels import linear, losses, optim
from fastgd._kernels.data import Data
from fastgd._kernels.linear import Linear, penalty_state
from fastgd._kernels.optim import Rate, Update

from .conftest import HYPER, assert_close
from .test_estimators import expected_failures

CLASSIFIER_LOSSES = ("hinge", "log_loss", "modified_huber", "squared_hinge", "perceptron",
                     "squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive")
REGRESSOR_LOSSES = ("squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive")
PENALTIES = ("l2", "l1", "elasticnet")


def sparse_problem(seed=0, n=300, d=8):
    """Standardised X, a weight vector with zeros, labels of a logistic model and noisy targets."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = np.zeros(d)
    w[:d // 2] = rng.uniform(0.5, 2.0, d // 2) * rng.choice([-1, 1], d // 2)
    y = (X @ w + 0.3 + rng.standard_normal(n) > 0).astype(int)
    y_reg = X @ w + 0.3 + 0.5 * rng.standard_normal(n)
    return X, y, y_reg


def fit_quietly(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


# --- the same updates as scikit-learn's SGD ------------------------------------------------------

#: every loss of each estimator with one penalty, the penalties in turn (each three times or more):
#: a loss's rule and a penalty's step are separate code, and each pair compiles kernels of its own
SKLEARN_CASES = (
    [(SGDClassifier, dict(loss=loss, penalty=PENALTIES[i % len(PENALTIES)],
                          learning_rate="constant"))
     for i, loss in enumerate(CLASSIFIER_LOSSES)]
    + [(SGDRegressor, dict(loss=loss, penalty=PENALTIES[i % len(PENALTIES)],
                           learning_rate="invscaling"))
       for i, loss in enumerate(REGRESSOR_LOSSES)]
    + [(SGDClassifier, dict(loss="hinge", learning_rate=schedule))
       for schedule in ("optimal", "invscaling", "adaptive")]
    + [(SGDClassifier, dict(loss="log_loss", penalty=None, learning_rate="constant")),
       (SGDClassifier, dict(loss="log_loss", average=True, learning_rate="constant")),
       (SGDClassifier, dict(loss="modified_huber", average=40, learning_rate="optimal")),
       (SGDRegressor, dict(loss="squared_error", average=True, learning_rate="constant")),
       (SGDRegressor, dict(loss="huber", epsilon=0.3, learning_rate="invscaling")),
       (SGDClassifier, dict(loss="hinge", class_weight="balanced", learning_rate="constant"))])


@pytest.mark.parametrize("sgd_class, params", SKLEARN_CASES,
                         ids=[f"{c.__name__}-{'-'.join(map(str, p.values()))}"
                              for c, p in SKLEARN_CASES])
def test_from_sklearn_takes_scikit_learns_steps(sgd_class, params):
    """``from_sklearn`` of an ``SGDClassifier``/``SGDRegressor`` makes the same updates: the same
    weights after three epochs, to rounding (without shuffling, whose random streams differ).
    Each loss and its subgradients at the kinks, the L2 shrink, the cumulative L1 penalty, the
    schedules, averaging, ``epsilon``, class weights, and ``squared_error``'s factor of 2."""
    X, y, y_reg = sparse_problem()
    target = y if sgd_class is SGDClassifier else y_reg
    sgd = fit_quietly(sgd_class(max_iter=3, tol=None, shuffle=False, alpha=0.01, eta0=0.01,
                                **params), X, target)
    ours = (GDClassifier if sgd_class is SGDClassifier else GDRegressor).from_sklearn(sgd)
    ours.fit(X, target)
    assert_close(ours.coef_.ravel(), sgd.coef_.ravel(), 1e-9)
    assert_close(ours.intercept_, sgd.intercept_, 1e-9)
    assert np.array_equal(ours.coef_ == 0, sgd.coef_ == 0)


#: every loss of ``SGDClassifier`` on CSR rows, two and three classes in turn (log_loss with three,
#: one-vs-rest as scikit-learn's), with an intercept and the "optimal" schedule; every third
#: averaged, from the first update or the 50th
CSR_OPTIMAL_CASES = [(loss, 3 if loss == "log_loss" else 2 + i % 2, (False, True, 50)[i % 3])
                     for i, loss in enumerate(CLASSIFIER_LOSSES)]


@pytest.mark.parametrize("loss, classes, average", CSR_OPTIMAL_CASES,
                         ids=[f"{loss}-{k}-{a}" for loss, k, a in CSR_OPTIMAL_CASES])
def test_from_sklearn_is_exact_on_csr_with_an_intercept_and_the_optimal_schedule(loss, classes,
                                                                                 average):
    """On sparse rows scikit-learn damps the intercept's steps (by 0.01), starts "optimal" at
    ``alpha**-0.25`` for every loss, trains one model per class, log_loss included, and keeps its
    average lazily: ``from_sklearn`` takes the same steps, to scikit-learn's weights after three
    epochs."""
    rng = np.random.default_rng(1)
    X = sp.random(300, 40, density=0.2, format="csr", random_state=2,
                  data_rvs=rng.standard_normal)
    y = (X @ rng.standard_normal((40, classes))).argmax(axis=1) if classes > 2 else (
        np.asarray(X @ rng.standard_normal(40)) > 0).astype(int)
    # alpha 0.1, a first step of 1.8: from 0.01 on (3.2) squared_hinge diverges in scikit-learn
    sgd = fit_quietly(SGDClassifier(loss=loss, learning_rate="optimal", alpha=0.1, max_iter=3,
                                    tol=None, shuffle=False, average=average), X, y)
    ours = GDClassifier.from_sklearn(sgd).fit(X, y)
    assert ours.coef_.shape == sgd.coef_.shape
    assert_close(ours.coef_, sgd.coef_, 1e-9)
    assert_close(ours.intercept_, sgd.intercept_, 1e-9)
    if loss == "log_loss":
        assert_close(ours.predict_proba(X), sgd.predict_proba(X), 1e-9)


def test_one_vs_rest_classes_train_apart_each_over_its_own_order():
    """At batch size 1 a one-vs-rest model trains each class as scikit-learn does: the binary
    problem of that class alone, over an order of the rows of its own, the same on one thread and
    with the classes spread over two."""
    rng = np.random.default_rng(3)
    X = sp.random(200, 30, density=0.3, format="csr", random_state=4,
                  data_rvs=rng.standard_normal)
    y = (X @ rng.standard_normal((30, 3))).argmax(axis=1)
    sgd = SGDClassifier(loss="hinge", alpha=0.01, learning_rate="constant", eta0=0.05)
    orders = np.array([rng.permutation(len(y)) for _ in range(3)])
    hyper = np.array([0.25, 1.0, 0.01])
    trained = {}
    for backend in ("numba", "parallel"):
        epochs = GDClassifier.from_sklearn(sgd).set_params(backend=backend)._epochs_for(X, y)
        assert epochs.new_order(len(y)).shape == orders.shape
        epochs.run(orders.copy(), 1, 0.05, optim.CONSTANT, hyper)
        trained[backend] = epochs.params
    np.testing.assert_array_equal(trained["parallel"], trained["numba"])
    for c in range(3):
        binary = GDClassifier.from_sklearn(sgd)._epochs_for(X, (y == c).astype(int))
        binary.run(orders[c].copy(), 1, 0.05, optim.CONSTANT, hyper)
        assert_close(trained["numba"][c], binary.params[0], 1e-12)


def test_averaging_with_l1_averages_the_truncated_weights():
    """With an L1 penalty scikit-learn's lazy average misses the truncation of each step
    (``WeightVector.add_average`` follows only the gradient steps and the shrink); fastgd's
    ``coef_`` is the mean of the weights after each whole update, the NumPy reference's."""
    X, y, _ = sparse_problem()
    est = GDClassifier(penalty="l1", alpha=0.01, average=True, epochs=2, shuffle=False,
                       learning_rate=0.01).fit(X, y)
    P, A = asgd_reference(X, y.astype(float), est, l1=0.01)
    assert_close(est.coef_.ravel(), A[0, :-1], 1e-10)
    assert_close(est.intercept_, A[:, -1], 1e-10)


# --- averaged SGD, step by step -------------------------------------------------------------------

def asgd_reference(X, y, est, l1=0.0, l2=0.0):
    """Averaged SGD written out for a binary log_loss or a squared_error model: for each row in
    order, the gradient at the current weights, the step, the running mean of the weights from
    update ``est.average`` on, then the cumulative L1 penalty."""
    n, d = X.shape
    P = np.zeros((1, d + 1))
    A = np.zeros_like(P)
    u, Q = 0.0, np.zeros(d)
    step = 0
    for _ in range(est.epochs):
        for i in range(n):
            z = X[i] @ P[0, :-1] + P[0, -1]
            g = (1 / (1 + np.exp(-z)) - y[i]) if est.loss == "log_loss" else 2 * (z - y[i])
            lr = est.learning_rate
            step += 1
            P[0, :-1] = (1 - lr * l2) * P[0, :-1] - lr * g * X[i]
            P[0, -1] -= lr * g
            if step >= int(est.average):
                A += (P - A) / (step - int(est.average) + 1)
            if l1:
                u += lr * l1
                for j in range(d):
                    w = P[0, j]
                    if w > 0:
                        P[0, j] = max(0.0, w - (u + Q[j]))
                    elif w < 0:
                        P[0, j] = min(0.0, w + (u - Q[j]))
                    Q[j] += P[0, j] - w
    return P, A


@pytest.mark.parametrize("average", [True, 1, 150, 700])
@pytest.mark.parametrize("backend, sparse", [("numba", False), ("numpy", False), ("numba", True)])
def test_averaged_sgd_matches_a_numpy_reference(average, backend, sparse):
    """Dense rows take the running mean at every update; CSR rows scikit-learn's lazy one, which
    touches only the row's columns."""
    X, _, y = sparse_problem(1, n=200, d=5)
    X[np.abs(X) < 0.5] = 0
    est = GDRegressor(average=average, alpha=0.02, epochs=3, shuffle=False, learning_rate=0.005,
                      backend=backend).fit(sp.csr_matrix(X) if sparse else X, y)
    P, A = asgd_reference(X, y, est, l2=0.02)
    averaged = int(average) <= 3 * len(y)
    assert_close(est.coef_, (A if averaged else P)[0, :-1], 1e-10)
    assert_close(est.intercept_, (A if averaged else P)[:, -1], 1e-10)
    assert_close(est._trained_params, P, 1e-10)  # training goes on from the last weights


# --- the L1 and averaging kernels against their NumPy reference ------------------------------------

def kernel_model(P, loss, l1, average):
    u, Q, A = penalty_state(P.shape, l1, average)
    return Linear(P, losses.Rule(loss, 0.5), True, 0.01, 0.0, l1, u, Q, A, average)


#: (optimizer, dtype, sparse) pairwise: each two of them in every combination of their values
PENALTY_CASES = [(optim.SGD, np.float64, False), (optim.SGD, np.float32, True),
                 (optim.ADAM, np.float64, True), (optim.ADAM, np.float32, False)]


@pytest.mark.parametrize("batch_size", [1, 7, 40, 120])
@pytest.mark.parametrize("opt,dtype,sparse", PENALTY_CASES)
def test_penalty_and_average_kernels_match_reference(batch_size, opt, dtype, sparse):
    """One epoch with L1 (cumulative under ``PROX_L1_MIN_ROWS`` rows a batch, proximal above and
    for the full batch of 120) and averaging from update 3: the compiled serial and parallel
    epochs against ``linear.run_epoch``, for dense and CSR rows, plain SGD (CSR: the running-scale
    kernel below 32 rows, its lazy average too) and Adam."""
    rng = np.random.default_rng(batch_size)
    X = rng.standard_normal((120, 6)) * (rng.random((120, 6)) < (0.5 if sparse else 1.1))
    X = X.astype(dtype)
    Y = rng.integers(0, 2, (120, 1)).astype(dtype)
    sw = rng.uniform(0.5, 2, 120).astype(dtype)
    order = rng.permutation(120).astype(np.int64)
    data_X = sp.csr_matrix(X) if sparse else X
    rtol = 1e-9 if dtype == np.float64 else 2e-4
    for average in (0, 3):
        results = []
        for epoch in (linear.run_epoch, linear._run_epoch, linear._run_epoch_parallel):
            P = np.full((1, 7), 0.05, dtype=dtype)
            model = kernel_model(P, losses.LOG_LOSS, 0.02, average)
            S = optim.allocate_state(opt, P.size, dtype)
            total, step = epoch(Data(data_X, Y, sw), order, model, Update(opt, S, HYPER),
                                Rate(optim.CONSTANT, 0.05, np.array([0.25, 1.0, 0.0])),
                                batch_size, 0, 2)
            results.append((total, step, P.copy(), model.A.copy(), model.Q.copy()))
        reference = results[0]
        for total, step, P, A, Q in results[1:]:
            assert step == reference[1]
            assert_close(total, reference[0], rtol)
            assert_close(P, reference[2], rtol)
            assert_close(A, reference[3], rtol)
            assert np.array_equal(P[:, :-1] == 0, reference[2][:, :-1] == 0)


# --- full batch against exact solvers ---------------------------------------------------------------

def objective(loss_name, X, Y, l1, l2, epsilon):
    """The mean loss plus ``l1 ||W||_1 + l2 / 2 ||W||^2`` over split weights ``W = Wp - Wn``
    (both >= 0, so that L-BFGS-B solves the L1 problem exactly) and the intercepts: a function of
    the flat vector for ``scipy.optimize.minimize`` with its gradient, and the unpacker."""
    n, d = X.shape
    k = Y.shape[1]
    rule = losses.rule(loss_name, k, epsilon)

    def unpack(v):
        Wp, Wn = v[:k * d].reshape(k, d), v[k * d:2 * k * d].reshape(k, d)
        return Wp, Wn, v[2 * k * d:]

    def f(v):
        Wp, Wn, b = unpack(v)
        W = Wp - Wn
        L, D = losses.loss_terms(rule, X @ W.T + b, Y)
        G_W = D.T @ X / n + l2 * W
        value = L.sum() / n + l1 * (Wp.sum() + Wn.sum()) + 0.5 * l2 * np.sum(W * W)
        return value, np.concatenate([(G_W + l1).ravel(), (-G_W + l1).ravel(), D.sum(0) / n])

    return f, unpack, 2 * k * d


def lbfgs_optimum(loss_name, X, Y, l1, l2, epsilon=0.1):
    f, unpack, n_split = objective(loss_name, X, Y, l1, l2, epsilon)
    v0 = np.zeros(n_split + Y.shape[1])
    bounds = [(0, None)] * n_split + [(None, None)] * Y.shape[1]
    result = scipy.optimize.minimize(f, v0, jac=True, method="L-BFGS-B", bounds=bounds,
                                     options=dict(maxiter=20_000, maxfun=40_000, ftol=1e-15,
                                                  gtol=1e-12))
    Wp, Wn, b = unpack(result.x)
    W = Wp - Wn
    W[np.abs(W) < 1e-7] = 0
    return W, b


def penalty_parts(penalty, alpha, l1_ratio=0.5):
    """fastgd's ``(l1, l2)`` coefficients of ``penalty``."""
    return {"l1": (alpha, 0.0), "elasticnet": (alpha * l1_ratio, alpha * (1 - l1_ratio)),
            "l2": (0.0, alpha)}[penalty]


def assert_same_optimum(coef, intercept, W, b):
    scale = np.abs(W).max()
    assert np.abs(coef.reshape(W.shape) - W).max() <= 1e-3 * scale
    assert np.abs(intercept - b).max() <= 1e-3 * max(scale, np.abs(b).max())
    assert np.array_equal(coef.reshape(W.shape) == 0, W == 0)


SMOOTH = [("classifier", loss) for loss in ("log_loss", "squared_hinge", "modified_huber",
                                              "squared_error", "huber",
                                              "squared_epsilon_insensitive")] + [
    ("regressor", loss) for loss in ("squared_error", "huber", "squared_epsilon_insensitive")]


#: every smooth loss with each penalty in turn (each penalty three times): each pair compiles its
#: own full-batch kernels, and the proximal L1 step is one code for every loss
OPTIMUM_CASES = [(task, loss, PENALTIES[i % len(PENALTIES)]) for i, (task, loss) in enumerate(SMOOTH)]


@pytest.mark.parametrize("task, loss, penalty", OPTIMUM_CASES,
                         ids=[f"{t}-{loss}-{penalty}" for t, loss, penalty in OPTIMUM_CASES])
def test_full_batch_reaches_the_exact_optimum(task, loss, penalty):
    """Full batch with the "auto" step (the proximal step for L1) reaches the optimum of every
    smooth loss with a penalty, found by L-BFGS-B on the same objective, to 1e-3 of the largest
    coefficient, with the same zeros. The losses that are not smooth (hinge, perceptron,
    epsilon_insensitive) have no such optimum for subgradient steps to reach at a fixed step."""
    X, y, y_reg = sparse_problem(2)
    alpha = 0.05 if task == "classifier" else 0.2
    l1, l2 = penalty_parts(penalty, alpha)
    Estimator = GDClassifier if task == "classifier" else GDRegressor
    est = Estimator(loss=loss, penalty=penalty, alpha=alpha, l1_ratio=0.5, batch_size=None,
                    epochs=4000, epsilon=0.1, optimizer="nesterov").fit(
        X, y if task == "classifier" else y_reg)
    if task == "classifier":
        Y = (2.0 * y - 1 if losses.on_signs(loss) else y.astype(float)).reshape(-1, 1)
    else:
        Y = y_reg.reshape(-1, 1)
    W, b = lbfgs_optimum(loss, X, Y, l1, l2)
    assert_same_optimum(est.coef_, est.intercept_, W, b)


@pytest.mark.parametrize("penalty", ["l1", "elasticnet"])
def test_squared_error_matches_lasso_and_elasticnet(penalty):
    """scikit-learn's exact solvers: ``Lasso``/``ElasticNet`` minimise
    ``||r||^2 / (2n) + a (l1_ratio ||w||_1 + (1 - l1_ratio) / 2 ||w||^2)``, which is half of
    fastgd's squared_error objective with ``alpha = 2 a``."""
    X, _, y = sparse_problem(3)
    a = 0.1
    exact = (Lasso(alpha=a, tol=1e-12, max_iter=100_000) if penalty == "l1"
             else ElasticNet(alpha=a, l1_ratio=0.5, tol=1e-12, max_iter=100_000)).fit(X, y)
    est = GDRegressor(penalty=penalty, alpha=2 * a, l1_ratio=0.5, batch_size=None, epochs=3000,
                      optimizer="nesterov").fit(X, y)
    assert (exact.coef_ == 0).any()
    assert_same_optimum(est.coef_, est.intercept_, exact.coef_, np.atleast_1d(exact.intercept_))


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5, 0.0])
@pytest.mark.parametrize("classes", [2, 3])
def test_log_loss_matches_logistic_regression(l1_ratio, classes):
    """``LogisticRegression`` minimises ``C sum_i l_i + r(w)`` (saga for L1 and elastic net,
    lbfgs for L2; multinomial for three classes, as fastgd's softmax): fastgd's objective with
    ``alpha = 1 / (C n)``."""
    X, y, y_reg = sparse_problem(4)
    if classes == 3:
        y = np.digitize(y_reg, np.quantile(y_reg, [1 / 3, 2 / 3]))
    C = 0.05
    solver = "lbfgs" if l1_ratio == 0 else "saga"
    exact = fit_quietly(LogisticRegression(C=C, l1_ratio=l1_ratio, solver=solver, tol=1e-12,
                                           max_iter=200_000), X, y)
    penalty = {1.0: "l1", 0.5: "elasticnet", 0.0: "l2"}[l1_ratio]
    est = GDClassifier(penalty=penalty, alpha=1 / (C * len(y)), l1_ratio=l1_ratio,
                       batch_size=None, epochs=6000, optimizer="nesterov").fit(X, y)
    if l1_ratio == 1.0:
        assert (exact.coef_ == 0).any()
    coef = exact.coef_
    intercept = exact.intercept_
    if classes == 3:  # the softmax is unchanged by adding one vector to every class's weights
        coef, intercept = coef - coef.mean(0), intercept - intercept.mean()
        ours, ours_b = est.coef_ - est.coef_.mean(0), est.intercept_ - est.intercept_.mean()
        assert_close(ours, coef, 2e-3 * np.abs(coef).max())
        assert_close(ours_b, intercept, 2e-3 * np.abs(coef).max())
    else:
        assert_same_optimum(est.coef_, est.intercept_, coef, intercept)


def test_sgd_l1_gives_exact_zeros_on_dense_and_sparse_rows():
    """The cumulative penalty of SGD leaves exact zeros, on dense rows (every weight each step)
    and CSR rows (the columns each row touches), where an L2 fit has none."""
    X, y, _ = sparse_problem(5, n=500, d=20)
    for data in (X, sp.csr_matrix(X)):
        l1 = GDClassifier(penalty="l1", alpha=0.02, epochs=20, random_state=0).fit(data, y)
        l2 = GDClassifier(penalty="l2", alpha=0.02, epochs=20, random_state=0).fit(data, y)
        assert (l1.coef_ == 0).sum() >= 5
        assert (l2.coef_ == 0).sum() == 0


# --- the full-batch "auto" step --------------------------------------------------------------------

@pytest.mark.parametrize("load", [load_breast_cancer, load_digits, load_wine])
def test_full_batch_defaults_match_logistic_regression(load):
    """The "auto" step of a full batch comes from the curvature of the mean loss, so that the
    defaults converge: cross-validated accuracy within 0.01 of ``LogisticRegression``'s."""
    X, y = load(return_X_y=True)
    exact = cross_val_score(make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)),
                            X, y, cv=5).mean()
    ours = cross_val_score(make_pipeline(StandardScaler(), GDClassifier(batch_size=None)), X, y,
                           cv=5).mean()
    assert ours >= exact - 0.01


def test_auto_step_from_the_mean_loss_curvature():
    """``1 / L_B`` with ``L_B`` between the mean loss's curvature (full batch) and the steepest
    row's (one row), as Gower et al.'s expected smoothness; the mean loss's by the exact largest
    eigenvalue when every row is sampled."""
    X, y, _ = sparse_problem(6, n=500, d=5)
    Xb = np.hstack([X, np.ones((500, 1))])
    mean = 0.25 * np.linalg.eigvalsh(Xb.T @ Xb / 500)[-1]
    steepest = 0.25 * (Xb * Xb).sum(1).max()
    rates = {b: GDClassifier(batch_size=b, epochs=1).fit(X, y).learning_rate_
             for b in (1, 10, None)}
    assert_close(1 / rates[None], mean, 1e-6)
    assert_close(1 / rates[1], steepest, 1e-12)
    assert_close(1 / rates[10], (500 * 9 * mean + 490 * steepest) / (10 * 499), 1e-6)


# --- from_sklearn, schedules and shapes --------------------------------------------------------------

NON_DEFAULTS = dict(loss="modified_huber", penalty="elasticnet", alpha=0.003, l1_ratio=0.4,
                    fit_intercept=False, max_iter=17, tol=0.01, shuffle=False, verbose=1,
                    epsilon=0.7, random_state=3, learning_rate="invscaling", eta0=0.2,
                    power_t=0.3, early_stopping=True, validation_fraction=0.2,
                    n_iter_no_change=3, class_weight="balanced", warm_start=True, average=7,
                    n_jobs=2)


@pytest.mark.parametrize("name", sorted(NON_DEFAULTS))
def test_from_sklearn_carries_every_parameter(name):
    """Each of ``SGDClassifier``'s parameters, set away from its default, arrives where
    ``fastgd._sklearn.MAPPING`` says (``n_jobs``, which has no counterpart, nowhere)."""
    assert set(NON_DEFAULTS) == set(SGDClassifier().get_params()) == set(_sklearn.MAPPING)
    value = NON_DEFAULTS[name]
    sgd = SGDClassifier(**{name: value})
    ours = GDClassifier.from_sklearn(sgd).get_params()
    target = _sklearn.MAPPING[name][0]
    if target is None:
        assert ours == GDClassifier.from_sklearn(SGDClassifier()).get_params()
    elif name == "learning_rate":
        assert ours["schedule"] == value and ours["learning_rate"] == sgd.eta0
    elif name == "eta0":
        assert ours["learning_rate"] == "auto"  # scikit-learn's default schedule, optimal
        assert GDClassifier.from_sklearn(
            SGDClassifier(eta0=value, learning_rate="constant")).learning_rate == value
    else:
        assert ours[target] == value
    assert ours["optimizer"] == "sgd" and ours["batch_size"] == 1


def test_from_sklearn_refuses_the_other_twin():
    with pytest.raises(TypeError, match="SGDRegressor"):
        GDRegressor.from_sklearn(SGDClassifier())
    assert GDRegressor.from_sklearn(SGDRegressor(loss="squared_error", alpha=0.01,
                                                 eta0=0.1, learning_rate="constant")).get_params(
    )["alpha"] == 0.02


def test_readme_has_the_migration_table():
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert _sklearn.markdown_table() in readme


def test_optimal_schedule_needs_alpha_and_adaptive_divides_by_five():
    X, y, _ = sparse_problem(7)
    with pytest.raises(ValueError, match="alpha > 0"):
        GDClassifier(schedule="optimal").fit(X, y)
    est = GDClassifier(schedule="adaptive", learning_rate=1.0, n_iter_no_change=1, tol=1e9,
                       epochs=30).fit(X, y)
    # every epoch after the first fails to improve by tol: the rate falls by 5 at each of epochs 1
    # to 9, to 5**-9 < 1e-6, and epoch 10 stops
    assert est.stop_reason_ == "tol" and est.n_iter_ == 11


def test_binary_coef_init_may_be_flat_and_intercept_init_a_float():
    X, y, _ = sparse_problem(8)
    flat = GDClassifier(epochs=1, learning_rate=1e-12).fit(X, y, coef_init=np.ones(8),
                                                                intercept_init=0.5)
    assert_close(flat.coef_, np.ones((1, 8)), 1e-9)
    assert_close(flat.intercept_, [0.5], 1e-9)
    with pytest.raises(ValueError, match="coef_init must have shape"):
        GDClassifier().fit(X, y, coef_init=np.ones(7))


def test_regressor_fits_several_targets_as_separate_models():
    """A 2-D y trains one model per column, the same as fitting each column alone."""
    X, _, y = sparse_problem(9)
    Y = np.column_stack([y, -2 * y + 1, X[:, 0]])
    both = GDRegressor(batch_size=None, epochs=50, loss="huber").fit(X, Y)
    assert both.coef_.shape == (3, 8) and both.intercept_.shape == (3,)
    assert both.predict(X).shape == (300, 3)
    for c in range(3):
        one = GDRegressor(batch_size=None, epochs=50, loss="huber",
                          learning_rate=both.learning_rate_).fit(X, Y[:, c])
        assert_close(both.coef_[c], one.coef_, 1e-10)
    assert GDRegressor(epochs=1).fit(X, y).coef_.shape == (8,)
    with pytest.raises(ValueError, match="keep y's shape"):
        GDRegressor().partial_fit(X, Y).partial_fit(X, y)


def test_modified_huber_probabilities_are_scikit_learns():
    X, y, _ = sparse_problem(10)
    sgd = fit_quietly(SGDClassifier(loss="modified_huber", max_iter=5, tol=None, shuffle=False),
                      X, y)
    ours = GDClassifier.from_sklearn(sgd).fit(X, y)
    # the optimal schedule's first steps of 100 (alpha 1e-4) leave weights in the tens: rounding
    assert_close(ours.predict_proba(X), sgd.predict_proba(X), 1e-6)
    three = np.digitize(X[:, 1], [-0.5, 0.5])
    sgd3 = fit_quietly(SGDClassifier(loss="modified_huber", max_iter=5, tol=None, shuffle=False),
                       X, three)
    ours3 = GDClassifier(loss="modified_huber").fit(X, three)
    ours3.coef_, ours3.intercept_ = sgd3.coef_, sgd3.intercept_
    assert_close(ours3.predict_proba(X), sgd3.predict_proba(X), 1e-12)
    assert not hasattr(GDClassifier(loss="hinge").fit(X, y), "predict_proba")


def test_local_sgd_refuses_l1_and_averaging():
    X, y, _ = sparse_problem(11)
    for params in (dict(penalty="l1", alpha=0.01), dict(average=True)):
        with pytest.raises(ValueError, match="local_sgd"):
            GDClassifier(backend="local_sgd", **params).fit(X, y)


def expected_failures_of_new(estimator):
    failures = dict(expected_failures(estimator))
    if estimator.loss == "modified_huber":
        # scikit-learn's SGDClassifier(loss="modified_huber") fails it the same way
        failures["check_classifiers_train"] = (
            "modified_huber's probabilities clip the scores at 1, so two classes scoring above 1 "
            "tie in predict_proba where predict takes the higher score")
    if estimator.get_params().get("average"):
        failures["check_class_weight_classifiers"] = (
            "class weight 1000 makes the auto step (the steepest weighted row's) tiny for the "
            "other rows, and the average of 100 epochs' weights from the first lags: 0.74 of the "
            "predictions in class 0, not 0.87 (0.88 without averaging)")
    return failures


# (modified_huber's checks are test_estimators')
@parametrize_with_checks([GDClassifier(penalty="elasticnet"), GDClassifier(average=True),
                          GDClassifier(loss="squared_hinge"),
                          GDRegressor(loss="huber", penalty="l1", average=True)],
                         expected_failed_checks=expected_failures_of_new)
def test_new_configurations_are_sklearn_compatible(estimator, check):
    check(estimator)
