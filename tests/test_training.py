"""Optimizers, schedules, stopping rules, online learning, weights and callbacks, through the
public estimators."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs, make_regression

import fastgd
from fastgd import GDClassifier, GDRegressor

from .conftest import BACKENDS, RTOL, assert_close

SCHEDULES = ["constant", "invscaling", "exponential", "cosine", "step", lambda epoch: 0.01 / (1 + epoch)]


def regression(n=300, d=5, seed=0):
    X, y = make_regression(n, d, noise=5.0, random_state=seed)
    return X / X.std(axis=0), y / y.std()


def blobs(n=300, centers=2, seed=0):
    return make_blobs(n, 4, centers=centers, random_state=seed)


@pytest.mark.parametrize("optimizer", fastgd.OPTIMIZERS)
@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: s if isinstance(s, str) else "callable")
def test_backends_agree_for_every_optimizer_and_schedule(optimizer, schedule):
    X, y = blobs(centers=3)
    fits = [GDClassifier(optimizer=optimizer, schedule=schedule, batch_size=16, epochs=4,
                         alpha=0.01, step_size=2, backend=backend, random_state=0).fit(X, y)
            for backend in BACKENDS]
    reference = fits[0]
    for backend, model in zip(BACKENDS[1:], fits[1:]):
        assert_close(model.coef_, reference.coef_, RTOL[backend, np.float64])
        assert_close(model.loss_history_, reference.loss_history_, RTOL[backend, np.float64])
    assert reference.t_ == 4 * -(-len(X) // 16)


def ridge_optimum(X, y, alpha):
    """Minimiser of mean((X w + b - y)^2) + alpha/2 ||w||^2: the intercept is not penalised, so
    centre, then solve (2/n Xc.T Xc + alpha I) w = 2/n Xc.T yc."""
    n = len(X)
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    w = np.linalg.solve(2 / n * Xc.T @ Xc + alpha * np.eye(X.shape[1]), 2 / n * Xc.T @ yc)
    return w, y.mean() - X.mean(axis=0) @ w


@pytest.mark.parametrize("optimizer,learning_rate,epochs", [
    ("sgd", "auto", 400),
    ("momentum", "auto", 300),
    ("nesterov", "auto", 300),
    ("adagrad", 0.5, 2000),
    ("rmsprop", 0.01, 2000),
    ("adam", 0.05, 1500),
])
def test_converges_to_the_known_optimum(optimizer, learning_rate, epochs):
    X, y = regression()
    w, b = ridge_optimum(X, y, alpha=0.1)
    schedule = "invscaling" if optimizer == "rmsprop" else "constant"
    model = GDRegressor(optimizer=optimizer, learning_rate=learning_rate, schedule=schedule,
                        power_t=0.5, alpha=0.1, batch_size=None, epochs=epochs).fit(X, y)
    np.testing.assert_allclose(model.coef_, w, atol=2e-4)
    np.testing.assert_allclose(model.intercept_[0], b, atol=2e-4)


def test_adamw_decays_weights_instead_of_penalising_the_gradient():
    X, y = regression()
    adamw = GDRegressor(optimizer="adamw", alpha=0.5, learning_rate=0.01, batch_size=None,
                        epochs=1).fit(X, y)
    adam = GDRegressor(optimizer="adam", alpha=0.0, learning_rate=0.01, batch_size=None,
                       epochs=1).fit(X, y)
    # from zero weights the decay has nothing to shrink, so the first step is Adam's
    assert_close(adamw.coef_, adam.coef_, 1e-12)
    start = np.full(X.shape[1], 3.0)
    adamw.fit(X, y, coef_init=start)
    adam.fit(X, y, coef_init=start)
    assert_close(adamw.coef_, adam.coef_ - 0.01 * 0.5 * start, 1e-12)


# --- stopping rules ------------------------------------------------------------------------------

def test_tol_stops_once_the_loss_stalls_and_not_before():
    X, y = blobs()
    model = GDClassifier(epochs=500, tol=1e-4, n_iter_no_change=3, random_state=0).fit(X, y)
    history = model.loss_history_
    assert model.stop_reason_ == "tol" and model.n_iter_ < 500
    # an epoch is stale when it fails to beat the best loss before it by at least tol
    stale = [history[e] > history[:e].min() - 1e-4 for e in range(1, len(history))]
    assert stale[-3:] == [True] * 3
    assert not any(all(stale[e:e + 3]) for e in range(len(stale) - 3))
    loose = GDClassifier(epochs=40, tol=None, random_state=0).fit(X, y)
    assert loose.stop_reason_ == "epochs" and loose.n_iter_ == 40


def test_loss_threshold():
    X, y = blobs()
    model = GDClassifier(epochs=500, loss_threshold=0.05, random_state=0).fit(X, y)
    assert model.stop_reason_ == "loss_threshold"
    assert model.loss_history_[-1] <= 0.05 < model.loss_history_[:-1].min()
    never = GDClassifier(epochs=20, loss_threshold=-1.0, random_state=0).fit(X, y)
    assert never.stop_reason_ == "epochs"


def test_early_stopping_restores_the_best_validation_weights():
    X, y = make_blobs(400, 20, centers=2, cluster_std=8.0, random_state=3)  # overlapping: overfits
    seen = []
    model = GDClassifier(epochs=300, early_stopping=True, n_iter_no_change=5, validation_fraction=0.25,
                         random_state=0, callback=lambda e, loss, est: seen.append(est.coef_.copy()))
    model.fit(X, y)
    assert model.stop_reason_ == "early_stopping" and model.n_iter_ < 300
    validation = model.validation_loss_history_
    best = int(np.argmin(validation))
    assert best < len(validation) - 1
    np.testing.assert_array_equal(model.coef_, seen[best])
    no_stop = GDClassifier(epochs=10, random_state=0).fit(X, y)
    assert no_stop.stop_reason_ == "epochs" and not hasattr(no_stop, "validation_loss_history_")


def test_max_time():
    X, y = blobs(3000)
    model = GDClassifier(epochs=100_000, max_time=0.3, random_state=0).fit(X, y)
    assert model.stop_reason_ == "max_time" and model.n_iter_ < 100_000


def test_callback_sees_current_weights_and_can_stop():
    X, y = blobs()
    calls = []

    def callback(epoch, loss, estimator):
        calls.append((epoch, loss, estimator.coef_.copy()))
        return epoch == 4

    model = GDClassifier(epochs=50, callback=callback, random_state=0).fit(X, y)
    assert [c[0] for c in calls] == [0, 1, 2, 3, 4]
    assert model.stop_reason_ == "callback" and model.n_iter_ == 5
    assert [c[1] for c in calls] == list(model.loss_history_)
    assert not np.array_equal(calls[0][2], calls[-1][2])
    np.testing.assert_array_equal(calls[-1][2], model.coef_)


def test_verbose_shows_a_progress_bar(capsys):
    X, y = blobs()
    GDClassifier(epochs=3, verbose=True).fit(X, y)
    err = capsys.readouterr().err
    assert "GDClassifier" in err and "3/3" in err and "loss=" in err


def test_bad_schedule_output_is_refused():
    X, y = blobs()
    with pytest.raises(ValueError, match="schedule returned -1.0 for epoch 0"):
        GDClassifier(schedule=lambda epoch: -1.0).fit(X, y)


# --- online learning ----------------------------------------------------------------------------

@pytest.mark.parametrize("optimizer", fastgd.OPTIMIZERS)
def test_partial_fit_over_chunks_matches_fit(optimizer, backend):
    X, y = blobs(300, centers=3)
    chunk = 50
    full = GDClassifier(optimizer=optimizer, learning_rate=0.01, batch_size=chunk, shuffle=False,
                        epochs=3, backend=backend).fit(X, y)
    online = GDClassifier(optimizer=optimizer, learning_rate=0.01, batch_size=chunk, shuffle=False,
                          backend=backend)
    for _ in range(3):
        for start in range(0, len(X), chunk):
            online.partial_fit(X[start:start + chunk], y[start:start + chunk], classes=[0, 1, 2])
    np.testing.assert_allclose(online.coef_, full.coef_, rtol=1e-12)
    assert online.t_ == full.t_ == 18


@pytest.mark.parametrize("optimizer", fastgd.OPTIMIZERS)
def test_warm_start_continues_like_one_longer_fit(optimizer):
    X, y = regression()
    params = dict(optimizer=optimizer, learning_rate=0.01, schedule="invscaling", batch_size=32,
                  shuffle=False, epochs=5)
    once = GDRegressor(**params).set_params(epochs=10).fit(X, y)
    twice = GDRegressor(**params, warm_start=True).fit(X, y).fit(X, y)
    np.testing.assert_allclose(twice.coef_, once.coef_, rtol=1e-12)
    np.testing.assert_allclose(twice.loss_history_, once.loss_history_, rtol=1e-12)
    assert twice.t_ == once.t_ and twice.n_iter_ == 10


def test_partial_fit_errors():
    X, y = blobs()
    with pytest.raises(ValueError, match="first call to partial_fit needs classes"):
        GDClassifier().partial_fit(X, y)
    model = GDClassifier().partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="labels not in classes"):
        model.partial_fit(X, y + 5)
    with pytest.raises(ValueError, match="X has 3 features"):
        model.partial_fit(X[:, :3], y)
    with pytest.raises(ValueError, match="class_weight='balanced'"):
        GDClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1])


# --- weights ------------------------------------------------------------------------------------

def test_integer_sample_weights_equal_repeated_rows_in_full_batch(backend):
    X, y = blobs(100)
    weights = np.random.default_rng(0).integers(1, 4, len(X))
    repeated = GDClassifier(batch_size=None, epochs=20, learning_rate=0.1, backend=backend).fit(
        np.repeat(X, weights, axis=0), np.repeat(y, weights))
    weighted = GDClassifier(batch_size=None, epochs=20, learning_rate=0.1, backend=backend).fit(
        X, y, sample_weight=weights)
    assert_close(weighted.coef_, repeated.coef_, 1e-10)
    assert_close(weighted.loss_history_, repeated.loss_history_, 1e-10)


def test_class_weight_balanced_is_inverse_frequency_sample_weight():
    X, y = blobs(300)
    keep = (y == 0) | (np.arange(len(y)) % 4 == 0)  # class 1 is rarer
    X, y = X[keep], y[keep]
    counts = np.bincount(y)
    balanced = GDClassifier(class_weight="balanced", batch_size=None, epochs=10).fit(X, y)
    by_hand = GDClassifier(batch_size=None, epochs=10).fit(
        X, y, sample_weight=len(y) / (2 * counts[y]))
    assert_close(balanced.coef_, by_hand.coef_, 1e-12)
    as_dict = GDClassifier(class_weight={0: 1.0, 1: counts[0] / counts[1]}, batch_size=None,
                           epochs=10).fit(X, y)
    assert_close(as_dict.coef_, balanced.coef_, 1e-12)
    with pytest.raises(ValueError, match="class_weight names labels not in classes"):
        GDClassifier(class_weight={7: 2.0}).fit(X, y)


def test_zero_weights_are_refused():
    X, y = blobs()
    with pytest.raises(ValueError, match="at least one non-zero"):
        GDClassifier().fit(X, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="sums to zero"):
        GDClassifier(class_weight={0: 0.0, 1: 0.0}).fit(X, y)


@pytest.mark.parametrize("scale", [1e300, 1e-300])
def test_weights_beyond_float32_keep_their_ratios_in_a_float32_fit(scale):
    # (issue 17's fuzzing: cast to float32 first, 1e300 became inf and 1e-300 zero)
    X, y = blobs()
    X = X.astype(np.float32)
    sw = np.random.default_rng(0).uniform(0.5, 2, len(y))
    make = lambda: GDClassifier(batch_size=None, epochs=5)  # noqa: E731
    assert_close(make().fit(X, y, sample_weight=sw * scale).coef_,
                 make().fit(X, y, sample_weight=sw).coef_, RTOL["numba", np.float32])


@pytest.mark.parametrize("weight", [1e308, 1e-310])
def test_weights_whose_sum_float64_cannot_rescale_are_refused(weight):
    X, y = blobs()
    with pytest.raises(ValueError, match="multiply the weights by a common factor"):
        GDClassifier().fit(X, y, sample_weight=np.full(len(y), weight))


def test_the_auto_step_refuses_rows_whose_squared_norms_overflow():
    # (issue 17's fuzzing: the Gram matrix of X ~ 1e300 is inf, which eigvalsh could not take)
    X, y = make_regression(50, 3, random_state=0)
    for batch_size in (None, 1, 8):
        with pytest.raises(ValueError, match="learning_rate='auto' cannot take a step"):
            GDRegressor(batch_size=batch_size).fit(X * 1e300, y)
    with pytest.raises(fastgd.DivergenceError):  # a given step is taken, and diverges
        GDRegressor(batch_size=None, learning_rate=0.01).fit(X * 1e300, y)


def test_early_stopping_names_its_parameters_when_the_split_cannot_be_made():
    X, y = blobs(n=6, centers=3)
    with pytest.raises(ValueError, match="validation_fraction=0.1 of 6 rows in every class"):
        GDClassifier(early_stopping=True).fit(X, y)


# --- local SGD ----------------------------------------------------------------------------------

def test_local_sgd_on_one_thread_is_the_serial_epoch():
    from fastgd._kernels import losses, optim
    from fastgd._kernels.data import Data
    from fastgd._kernels.linear import Linear, _local_sgd_epoch, _run_epoch
    from fastgd._kernels.optim import Rate, Update
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20_000, 6))
    Y = (rng.random((20_000, 1)) < 0.5).astype(float)
    order = rng.permutation(20_000)
    data = Data(X, Y, np.ones(20_000))
    hyper = np.array([0.9, 0.9, 0.999, 1e-8, 0.9])
    rate = Rate(optim.CONSTANT, 0.05, np.array([0.25, 1.0, 0.0]))
    loss = losses.Rule(losses.LOG_LOSS)
    P1, S1, P2, S2 = np.zeros((1, 7)), np.zeros((1, 7)), np.zeros((1, 7)), np.zeros((1, 7))
    serial = _run_epoch(data, order, Linear(P1, loss, True, 0.01, 0.0),
                        Update(optim.MOMENTUM, S1, hyper), rate, 4, 0, 1)
    local = _local_sgd_epoch(data, order, Linear(P2, loss, True, 0.01, 0.0),
                             Update(optim.MOMENTUM, S2, hyper), rate, 4, 0, 1)
    assert serial[1] == local[1]
    assert serial[0] == pytest.approx(local[0], rel=1e-13)  # the loss is summed per round
    np.testing.assert_array_equal(P1, P2)
    np.testing.assert_array_equal(S1, S2)


def test_local_sgd_is_deterministic_and_trains_like_serial_sgd_near_the_optimum():
    X, y = make_blobs(40_000, 8, centers=2, cluster_std=6.0, random_state=0)
    params = dict(learning_rate=0.01, epochs=3, random_state=0)
    serial = GDClassifier(backend="numba", **params).fit(X, y)
    local = GDClassifier(backend="local_sgd", **params).fit(X, y)
    again = GDClassifier(backend="local_sgd", **params).fit(X, y)
    np.testing.assert_array_equal(local.coef_, again.coef_)
    assert local.t_ == serial.t_ == 3 * 40_000
    assert local.loss_history_[-1] <= 1.01 * serial.loss_history_[-1]
