"""The MLP estimators (fastgd/mlp.py): backends agreeing, the digits, scikit-learn's conventions
and clear errors."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits, make_blobs, make_regression
from sklearn.model_selection import train_test_split
from sklearn.utils.estimator_checks import parametrize_with_checks

import fastgd
from fastgd import DivergenceError, MLPClassifier, MLPRegressor
from fastgd._kernels import losses, mlp
from fastgd._kernels.data import Data, kernel_input

from .conftest import BACKENDS, DTYPES, RTOL, assert_close, bad_inputs

# --- the estimators ----------------------------------------------------------------------------

def blobs(n=300, centers=3, d=5, dtype=np.float64, seed=0):
    X, y = make_blobs(n, d, centers=centers, random_state=seed)
    return ((X - X.mean(axis=0)) / X.std(axis=0)).astype(dtype), y


@pytest.mark.parametrize("batch_size", [None, 16, 1])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("make,centers", [(MLPClassifier, 2), (MLPClassifier, 3),
                                          (MLPRegressor, 0)])
def test_backends_give_the_same_model(make, centers, dtype, batch_size):
    if make is MLPRegressor:
        X, y = make_regression(1200, 5, n_targets=2, random_state=0)
        X, y = X.astype(dtype), y / y.std()
    else:
        X, y = blobs(1200, centers, dtype=dtype)
    n = 300 if batch_size == 1 else len(X)  # the per-row NumPy reference is slow
    fits = {b: make((24, 12), activation="tanh", optimizer="momentum", alpha=1e-3, epochs=3,
                    batch_size=batch_size, backend=b, random_state=3).fit(X[:n], y[:n])
            for b in BACKENDS}
    reference = fits["numpy"]
    if batch_size is None:  # the parallel backend splits each epoch's batch in two (or more)
        n_params = sum(W.size + b.size for W, b in zip(reference.coefs_, reference.intercepts_))
        assert len(X) >= 2 * mlp.min_rows_per_thread(n_params)
    for variant in ("numba", "parallel"):
        model = fits[variant]
        for W, W_ref in zip(model.coefs_ + model.intercepts_,
                            reference.coefs_ + reference.intercepts_):
            assert W.dtype == dtype
            assert_close(W, W_ref, RTOL[variant, dtype])
        assert_close(model.loss_history_, reference.loss_history_, RTOL[variant, dtype])


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16, y, test_size=0.25, stratify=y, random_state=0)


def test_digits_zero_against_one(digits):
    X_train, X_test, y_train, y_test = digits
    train, test = y_train < 2, y_test < 2
    model = MLPClassifier((32,), epochs=10, random_state=0).fit(X_train[train], y_train[train])
    assert model.out_activation_ == "logistic" and model.coefs_[-1].shape == (32, 1)
    assert model.score(X_test[test], y_test[test]) >= 0.99


def test_digits_all_ten(digits):
    X_train, X_test, y_train, y_test = digits
    model = MLPClassifier((64,), epochs=30, random_state=0).fit(X_train, y_train)
    assert model.out_activation_ == "softmax"
    assert model.score(X_test, y_test) >= 0.95
    proba = model.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    np.testing.assert_array_equal(model.classes_[proba.argmax(axis=1)], model.predict(X_test))


# Unlike the linear estimators (see test_estimators), no check is expected to fail: in 200 epochs
# the networks converge closely enough that a weight of 2 and a repeated row give the same model.
@parametrize_with_checks([MLPClassifier(), MLPRegressor(), MLPClassifier(backend="parallel")])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_full_batch_history_starts_at_the_initial_loss():
    X, y = blobs(200, centers=2)
    model = MLPClassifier((8,), batch_size=None, epochs=3, random_state=5).fit(X, y)
    start = MLPClassifier((8,), batch_size=None, epochs=1, learning_rate=1e-300,
                          random_state=5).fit(X, y)
    Y = (y == 1).astype(float)[:, None]
    P = start._packed_params(np.float64)
    expected, _ = mlp.loss_gradient(Data(X, Y, np.ones(len(y))), P, start._layer_sizes, mlp.RELU,
                                    losses.Rule(losses.LOG_LOSS))
    assert model.loss_history_[0] == pytest.approx(expected / len(y), rel=1e-12)
    assert model.loss_history_[-1] < model.loss_history_[0]


@pytest.mark.parametrize("init", ["glorot", "he", "unit_norm"])
def test_initialisations(init):
    X, y = blobs(50, centers=2, d=300)
    model = MLPClassifier((400, 2), init=init, epochs=1, learning_rate=1e-300,
                          random_state=0).fit(X, y)
    W = model.coefs_[0]
    if init == "glorot":
        bound = np.sqrt(6 / 700)
        assert np.abs(W).max() <= bound and np.abs(W).max() > 0.99 * bound
    elif init == "he":
        assert W.std() == pytest.approx(np.sqrt(2 / 300), rel=0.02)
    else:
        np.testing.assert_allclose(np.linalg.norm(W, axis=0), 1)
    assert all(np.abs(b).max() < 1e-290 for b in model.intercepts_)  # 0 plus one step of 1e-300


def test_same_seed_same_model_and_float32_kept(backend):
    X, y = blobs(dtype=np.float32)
    a = MLPClassifier((8,), epochs=2, backend=backend, random_state=1).fit(X, y)
    b = MLPClassifier((8,), epochs=2, backend=backend, random_state=1).fit(X, y)
    c = MLPClassifier((8,), epochs=2, backend=backend, random_state=2).fit(X, y)
    for W_a, W_b, W_c in zip(a.coefs_, b.coefs_, c.coefs_):
        assert W_a.dtype == np.float32
        np.testing.assert_array_equal(W_a, W_b)
        assert not np.array_equal(W_a, W_c)
    assert a.predict_proba(X).dtype == np.float32


@pytest.mark.parametrize("kind", ["dense", "csr float32", "csr int64"])
def test_X_is_not_copied(monkeypatch, kind):
    X, y = blobs(dtype=np.float64 if kind == "csr int64" else np.float32)
    if kind != "dense":
        X = csr(X * (np.abs(X) > 1), np.int64 if kind == "csr int64" else np.int32)
    seen = []
    original = fastgd._base.train

    def spy(model, *args, **kwargs):
        seen.append(model.data.X)
        return original(model, *args, **kwargs)

    monkeypatch.setattr(fastgd._base, "train", spy)
    MLPClassifier((4,), epochs=1).fit(X, y)
    assert seen[0] is X
    assert MLPClassifier((4,), epochs=1)._epochs_for(X, y).data.X is X


# optimizers with 0, 1 and 2 slots of state: each compiles the network's epoch for itself
@pytest.mark.parametrize("optimizer", ["sgd", "nesterov", "adam"])
def test_partial_fit_over_chunks_matches_fit(optimizer):
    X, y = blobs(300)
    params = dict(hidden_layer_sizes=(8,), optimizer=optimizer, batch_size=50, shuffle=False,
                  alpha=0.01, random_state=0)
    full = MLPClassifier(**params, epochs=2).fit(X, y)
    online = MLPClassifier(**params)
    for _ in range(2):
        for start in range(0, len(X), 50):
            online.partial_fit(X[start:start + 50], y[start:start + 50], classes=[0, 1, 2])
    for W, W_full in zip(online.coefs_ + online.intercepts_, full.coefs_ + full.intercepts_):
        np.testing.assert_allclose(W, W_full, rtol=1e-12)
    assert online.t_ == full.t_ == 12


def test_warm_start_continues_like_one_longer_fit():
    X, y = make_regression(200, 4, random_state=0)
    params = dict(hidden_layer_sizes=(6,), optimizer="adam", schedule="invscaling", batch_size=32,
                  shuffle=False, epochs=4, random_state=0)
    once = MLPRegressor(**params).set_params(epochs=8).fit(X, y / y.std())
    twice = MLPRegressor(**params, warm_start=True).fit(X, y / y.std()).fit(X, y / y.std())
    for W, W_once in zip(twice.coefs_, once.coefs_):
        np.testing.assert_allclose(W, W_once, rtol=1e-12)
    np.testing.assert_allclose(twice.loss_history_, once.loss_history_, rtol=1e-12)
    assert twice.n_iter_ == 8 and twice.t_ == once.t_


def test_callback_early_stopping_and_class_weight():
    X, y = make_blobs(400, 20, centers=2, cluster_std=8.0, random_state=3)  # overlapping: overfits
    seen = []
    model = MLPClassifier((32,), epochs=300, early_stopping=True, n_iter_no_change=5,
                          validation_fraction=0.25, random_state=0,
                          callback=lambda e, loss, est: seen.append([W.copy() for W in est.coefs_]))
    model.fit(X, y)
    assert model.stop_reason_ == "early_stopping" and model.n_iter_ < 300
    best = int(np.argmin(model.validation_loss_history_))
    assert best < len(model.validation_loss_history_) - 1
    for W, W_best in zip(model.coefs_, seen[best]):
        np.testing.assert_array_equal(W, W_best)

    keep = (y == 0) | (np.arange(len(y)) % 4 == 0)
    X, y = X[keep], y[keep]
    balanced = MLPClassifier((4,), class_weight="balanced", batch_size=None, epochs=5,
                             random_state=0).fit(X, y)
    by_hand = MLPClassifier((4,), batch_size=None, epochs=5, random_state=0).fit(
        X, y, sample_weight=len(y) / (2 * np.bincount(y)[y]))
    assert_close(balanced.coefs_[0], by_hand.coefs_[0], 1e-12)


def test_regressor_single_and_multi_output():
    X, y = make_regression(300, 4, n_targets=3, random_state=0)
    y = y / y.std()
    multi = MLPRegressor((16,), random_state=0).fit(X, y)
    assert multi.predict(X).shape == (300, 3) and multi.n_outputs_ == 3
    assert multi.score(X, y) > 0.9
    single = MLPRegressor((16,), random_state=0).fit(X, y[:, 0])
    assert single.predict(X).shape == (300,) and single.out_activation_ == "identity"


# --- sparse input -----------------------------------------------------------------------------

def csr(X, index_dtype=np.int32):
    """``X`` as a SciPy CSR matrix with ``index_dtype`` indices (SciPy picks int32 when they
    fit)."""
    Xs = sp.csr_matrix(X)
    Xs.indices, Xs.indptr = Xs.indices.astype(index_dtype), Xs.indptr.astype(index_dtype)
    return Xs


def sparse_problem(make, centers, n=120, d=30, dtype=np.float64, seed=0):
    """A CSR matrix of rows with about 15% stored values, every tenth row blank, and targets for
    ``make`` from a planted linear model."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * (rng.random((n, d)) < 0.15)
    X[::10] = 0
    scores = X @ rng.standard_normal((d, max(centers, 2)))
    if make is MLPRegressor:
        return sp.csr_matrix(X.astype(dtype)), scores + 0.1 * rng.standard_normal(scores.shape)
    return sp.csr_matrix(X.astype(dtype)), scores.argmax(axis=1)


def assert_same_model(model, reference, rtol):
    for W, W_ref in zip(model.coefs_ + model.intercepts_, reference.coefs_ + reference.intercepts_):
        assert W.dtype == W_ref.dtype
        assert_close(W, W_ref, rtol)
    assert_close(model.loss_history_, reference.loss_history_, rtol)


#: (estimator, classes, optimizer): each output loss with momentum, and two more optimizers with
#: softmax (each combination compiles the network's epoch, dense and CSR, for itself)
SPARSE_CASES = [(MLPClassifier, 2, "momentum"), (MLPClassifier, 3, "momentum"),
                (MLPRegressor, 0, "momentum"), (MLPClassifier, 3, "sgd"), (MLPClassifier, 3, "adam")]


@pytest.mark.parametrize("batch_size", [1, 32, None])
@pytest.mark.parametrize("make,centers,optimizer", SPARSE_CASES)
def test_sparse_fit_equals_dense_fit(make, centers, batch_size, optimizer, backend):
    """A fit on a CSR matrix gives the model that the same rows, dense, give; and so do its
    predictions."""
    Xs, y = sparse_problem(make, centers)
    params = dict(hidden_layer_sizes=(10, 6), activation="tanh", optimizer=optimizer, alpha=1e-3,
                  epochs=2, batch_size=batch_size, backend=backend, random_state=0)
    sparse = make(**params).fit(Xs, y)
    dense = make(**params).fit(Xs.toarray(), y)
    assert_same_model(sparse, dense, 1e-8)
    if make is MLPClassifier:
        assert_close(sparse.predict_proba(Xs), dense.predict_proba(Xs.toarray()), 1e-8)
    else:
        assert_close(sparse.predict(Xs), dense.predict(Xs.toarray()), 1e-8)


@pytest.mark.parametrize("backend", ["numpy", "numba"])  # the parallel build: float64 above
def test_sparse_float32_stays_float32(backend):
    Xs, y = sparse_problem(MLPClassifier, 3, dtype=np.float32)
    params = dict(hidden_layer_sizes=(8,), epochs=2, backend=backend, random_state=0)
    sparse = MLPClassifier(**params).fit(Xs, y)
    assert sparse.coefs_[0].dtype == np.float32
    assert sparse.predict_proba(Xs).dtype == np.float32
    dense = MLPClassifier(**params).fit(Xs.toarray(), y)
    assert_same_model(sparse, dense, RTOL["numba", np.float32])


def test_sparse_int64_indices_and_empty_rows():
    """int64 indices are read as they are and train as int32 ones do; blank rows predict as zero
    rows do."""
    Xs, y = sparse_problem(MLPClassifier, 3)
    X64 = csr(Xs, np.int64)
    assert kernel_input(X64).indices.dtype == np.int64
    params = dict(hidden_layer_sizes=(8,), epochs=2, random_state=0)
    model = MLPClassifier(**params).fit(X64, y)
    assert_same_model(model, MLPClassifier(**params).fit(Xs, y), 1e-12)
    blank = sp.csr_matrix((3, Xs.shape[1]))
    np.testing.assert_array_equal(model.predict_proba(blank),
                                  model.predict_proba(np.zeros((3, Xs.shape[1]))))
    assert_close(model.predict_proba(X64), model.predict_proba(Xs.toarray()), 1e-12)


def test_sparse_partial_fit_score_and_early_stopping():
    """partial_fit over chunks in other sparse formats (converted to CSR), score, and early
    stopping's held-out rows, as on the same rows dense."""
    Xs, y = sparse_problem(MLPClassifier, 3, n=300)
    params = dict(hidden_layer_sizes=(8,), batch_size=50, shuffle=False, random_state=0)
    online, dense_online = MLPClassifier(**params), MLPClassifier(**params)
    for start in range(0, 300, 100):
        chunk = Xs[start:start + 100]
        online.partial_fit(chunk.tocoo(), y[start:start + 100], classes=[0, 1, 2])
        dense_online.partial_fit(chunk.toarray(), y[start:start + 100], classes=[0, 1, 2])
    assert_same_model(online, dense_online, 1e-8)
    assert online.score(Xs.tocsc(), y) == dense_online.score(Xs.toarray(), y)

    Xs, y = sparse_problem(MLPRegressor, 0, n=300)
    params = dict(hidden_layer_sizes=(8,), early_stopping=True, epochs=20, random_state=0)
    early = MLPRegressor(**params).fit(Xs, y)
    dense_early = MLPRegressor(**params).fit(Xs.toarray(), y)
    assert_same_model(early, dense_early, 1e-8)
    assert_close(early.validation_loss_history_, dense_early.validation_loss_history_, 1e-8)


# --- bad input ---------------------------------------------------------------------------------

X_OK, Y_OK = blobs(50, centers=2)


@pytest.mark.parametrize("X,y,message", bad_inputs())
def test_bad_input_is_refused_with_a_clear_message(X, y, message):
    with pytest.raises(ValueError, match=message):
        MLPClassifier().fit(X, y)


@pytest.mark.parametrize("params,message", [
    ({"hidden_layer_sizes": (10, 0)}, "hidden_layer_sizes must be an int or a sequence of ints"),
    ({"hidden_layer_sizes": (2.5,)}, "hidden_layer_sizes must be"),
    ({"activation": "softplus"}, "'activation' parameter of MLPClassifier must be a str among"),
    ({"init": "zeros"}, "'init' parameter of MLPClassifier must be a str among"),
    ({"backend": "local_sgd"}, "'backend' parameter of MLPClassifier must be a str among"),
    ({"optimizer": "lbfgs"}, "'optimizer' parameter"),
    ({"learning_rate": 0}, "'learning_rate' parameter"),
    ({"batch_size": 0}, "'batch_size' parameter"),
])
def test_bad_parameters_are_refused(params, message):
    with pytest.raises(ValueError, match=message):
        MLPClassifier(**params).fit(X_OK, Y_OK)


def test_divergence_stops_and_names_the_epoch(backend):
    X, y = make_regression(200, 4, random_state=0)
    message = r"diverged at epoch \d+ .*Lower learning_rate"
    with pytest.raises(DivergenceError, match=message) as info:
        MLPRegressor((8,), optimizer="sgd", learning_rate=1.0, batch_size=None, epochs=500,
                     backend=backend, random_state=0).fit(X, y * 1e3)
    assert len(info.value.loss_history) == info.value.epoch + 1
