"""The multi-layer perceptron: dense-layer kernels against their NumPy references, every gradient
against a numerical one, backends agreeing, the digits, scikit-learn's conventions and clear
errors."""

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_blobs, make_regression
from sklearn.model_selection import train_test_split
from sklearn.utils.estimator_checks import parametrize_with_checks

import fastgd
from fastgd import DivergenceError, MLPClassifier, MLPRegressor
from fastgd._kernels import losses, mlp, optim

from .conftest import BACKENDS, RTOL, assert_close, bad_inputs

ACTIVATIONS = [mlp.IDENTITY, mlp.RELU, mlp.TANH, mlp.LOGISTIC]
DTYPES = [np.float64, np.float32]
OUTPUTS = {  # loss -> number of outputs
    losses.LOG_LOSS: 1,
    losses.SOFTMAX_LOG_LOSS: 3,
    losses.SQUARED_ERROR: 2,
}


def targets(rng, n, loss, dtype):
    k = OUTPUTS[loss]
    if loss == losses.SOFTMAX_LOG_LOSS:
        Y = np.eye(k)[rng.integers(0, k, n)]
    elif loss == losses.LOG_LOSS:
        Y = rng.integers(0, 2, (n, k))
    else:
        Y = rng.standard_normal((n, k))
    return Y.astype(dtype)


def make_network(seed, n, sizes, loss, dtype, zeros=0.3):
    """Random rows (a fraction ``zeros`` of the inputs exactly 0, as blank pixels), targets for
    ``loss``, positive sample weights and parameters with scores of order 1."""
    rng = np.random.default_rng(seed)
    sizes = np.array(sizes, dtype=np.int64)
    X = rng.standard_normal((n, sizes[0])) * (rng.random((n, sizes[0])) >= zeros)
    sw = rng.uniform(0.5, 2.0, n)
    P = np.empty(mlp.n_params(sizes))
    for W, b in mlp.unpack(P, sizes):
        W[:] = rng.standard_normal(W.shape) / np.sqrt(W.shape[0])
        b[:] = rng.standard_normal(b.shape) * 0.1
    return X.astype(dtype), targets(rng, n, loss, dtype), sw.astype(dtype), sizes, P.astype(dtype)


# --- dense layers ----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("m,n_in,n_out", [(1, 1, 1), (3, 7, 5), (4, 8, 16), (9, 33, 10),
                                          (32, 64, 64)])
def test_dense_layer_matches_reference(m, n_in, n_out, activation, dtype):
    rng = np.random.default_rng(m * n_in + n_out)
    # scores up to |z| ~ 60: tanh and the sigmoid saturate without overflow; some inputs are 0
    A_in = (rng.standard_normal((m, n_in)) * 3 * (rng.random((m, n_in)) > 0.3)).astype(dtype)
    if activation in (mlp.RELU, mlp.TANH, mlp.LOGISTIC):
        A_in = mlp.activate(activation, A_in)  # the input of a hidden layer is an activation
    W = (rng.standard_normal((n_in, n_out)) * 2).astype(dtype)
    b = rng.standard_normal(n_out).astype(dtype)
    D_out = rng.standard_normal((m, n_out)).astype(dtype)
    rtol = RTOL["numba", dtype]

    expected = mlp.dense_forward(A_in, W, b, activation)
    A_out = np.full(m * n_out + 3, np.nan, dtype)  # flat buffers may be longer than the block
    mlp._dense_forward(A_in.ravel(), A_out, W.ravel(), b, m, n_in, n_out, activation,
                       np.empty(n_in, np.int64))
    assert A_out.dtype == dtype and np.isfinite(A_out[:-3]).all()
    assert_close(A_out[:-3].reshape(m, n_out), expected, rtol)

    G_W_ref, G_b_ref, D_in_ref = mlp.dense_backward(A_in, D_out, W, activation)
    G_W = np.full(n_in * n_out, 0.5, dtype)  # the kernel adds to what is there
    G_b = np.full(n_out, 0.5, dtype)
    D_in = np.empty(m * n_in, dtype)
    mlp._dense_backward(A_in.ravel(), D_out.ravel(), D_in, W.ravel(), G_W, G_b, m, n_in, n_out,
                        activation, True, np.empty(n_in, np.int64))
    assert_close(G_W.reshape(n_in, n_out) - 0.5, G_W_ref, rtol)
    assert_close(G_b - 0.5, G_b_ref, rtol)
    assert_close(D_in.reshape(m, n_in), D_in_ref, rtol)


def test_activation_derivatives_are_the_derivatives():
    z = np.linspace(-4, 4, 81) + 0.013  # away from relu's kink at 0
    h = 1e-6
    for activation in ACTIVATIONS:
        numerical = (mlp.activate(activation, z + h) - mlp.activate(activation, z - h)) / (2 * h)
        analytic = mlp.activation_derivative(activation, mlp.activate(activation, z))
        np.testing.assert_allclose(analytic, numerical, rtol=1e-6, atol=1e-9)


# --- a whole network -------------------------------------------------------------------------

LOSS_CASES = list(OUTPUTS)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", LOSS_CASES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("n", [1, mlp.BLOCK_ROWS, mlp.BLOCK_ROWS + 1, 150])
def test_loss_gradient_matches_reference(n, activation, loss, dtype):
    X, Y, sw, sizes, P = make_network(n, n, [6, 9, 5, OUTPUTS[loss]], loss, dtype)
    order = np.random.default_rng(n).permutation(n).astype(np.int64)
    expected_loss, expected_G = mlp.loss_gradient(X[order], Y[order], sw[order], P, sizes,
                                                  activation, loss)
    G = np.zeros_like(P)
    work, nz = mlp.workspace(sizes, dtype)
    total = mlp._accumulate(X, Y, sw, order, 0, n, P, sizes, activation, loss, G, work[0], nz[0])
    assert G.dtype == dtype
    assert_close(total, expected_loss, RTOL["numba", dtype])
    assert_close(G, expected_G, RTOL["numba", dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("link,loss", [(losses.IDENTITY, losses.SQUARED_ERROR),
                                       (losses.SIGMOID, losses.LOG_LOSS),
                                       (losses.SOFTMAX, losses.SOFTMAX_LOG_LOSS)])
def test_forward_matches_reference(link, loss, activation, dtype):
    X, _, _, sizes, P = make_network(1, 3000, [6, 90, 7, OUTPUTS[loss]], loss, dtype)
    expected = mlp.forward(X, P, sizes, activation, link)
    assert mlp.min_rows_per_thread(P.size) * 2 <= len(X)  # the parallel kernel splits the rows
    for kernel, variant in ((mlp._forward, "numba"), (mlp._forward_parallel, "parallel")):
        out = np.empty_like(expected)
        kernel(X, P, sizes, activation, link, out, 2)
        assert_close(out, expected, RTOL[variant, dtype])


HYPER = np.array([0.9, 0.8, 0.99, 1e-8, 0.9])  # momentum, beta_1, beta_2, epsilon, rho


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opt", list(optim.NAMES.values()))
@pytest.mark.parametrize("batch", [1, 7, 256, None])
def test_epoch_matches_reference(batch, opt, dtype):
    n = 500
    loss = losses.SOFTMAX_LOG_LOSS
    X, Y, sw, sizes, P0 = make_network(opt, n, [10, 48, 32, 3], loss, dtype)
    order = np.random.default_rng(opt).permutation(n).astype(np.int64)
    batch = n if batch is None else batch
    l2, decay = (0.0, 0.01) if opt in optim.DECOUPLED else (0.01, 0.0)
    lr = {optim.ADAGRAD: 0.01, optim.RMSPROP: 0.001, optim.ADAM: 0.001, optim.ADAMW: 0.001}.get(
        opt, 0.01)
    S0 = np.abs(np.random.default_rng(opt).standard_normal(
        optim.allocate_state(opt, P0.size, dtype).shape)).astype(dtype) * 0.01
    schedule_hyper = np.array([0.5, 10.0 * -(-n // batch)])
    # batches of 256 and of all rows are split across the two threads of the parallel kernel
    assert 2 * mlp.min_rows_per_thread(P0.size) <= 256

    def epoch(kernel, threads):
        P, S = P0.copy(), S0.copy()
        total, step = kernel(X, Y, sw, order, P, S, HYPER, batch, sizes, mlp.TANH, loss, opt, l2,
                             decay, lr, optim.INVSCALING, schedule_hyper, 3, threads)
        return total, step, P, S

    total_ref, step_ref, P_ref, S_ref = epoch(mlp.run_epoch, 1)
    assert step_ref == 3 + -(-n // batch)
    assert not np.allclose(P_ref, P0)
    for kernel, variant in ((mlp._run_epoch, "numba"), (mlp._run_epoch_parallel, "parallel")):
        total, step, P, S = epoch(kernel, 2)
        assert step == step_ref and P.dtype == S.dtype == dtype
        assert_close(total, total_ref, RTOL[variant, dtype])
        assert_close(P, P_ref, RTOL[variant, dtype])
        assert_close(S, S_ref, RTOL[variant, dtype])


# --- gradients against numerical gradients -----------------------------------------------------

def objective(X, Y, sw, P, sizes, activation, loss, alpha):
    """``mean_i sw_i l_i + alpha/2 sum_l ||W_l||^2`` written out from the definitions alone."""
    f = {mlp.RELU: lambda z: np.maximum(z, 0), mlp.TANH: np.tanh,
         mlp.LOGISTIC: lambda z: 1 / (1 + np.exp(-z))}[activation]
    layers = mlp.unpack(P, sizes)
    A = X
    for W, b in layers[:-1]:
        A = f(A @ W + b)
    Z = A @ layers[-1][0] + layers[-1][1]
    if loss == losses.LOG_LOSS:  # binary cross-entropy of sigmoid(z)
        per_row = np.logaddexp(0, Z[:, 0]) - Y[:, 0] * Z[:, 0]
    elif loss == losses.SOFTMAX_LOG_LOSS:  # cross-entropy of softmax(z)
        per_row = np.logaddexp.reduce(Z, axis=1) - (Y * Z).sum(axis=1)
    else:
        per_row = ((Z - Y) ** 2).sum(axis=1)
    return np.mean(sw * per_row) + 0.5 * alpha * sum(np.sum(W * W) for W, _ in layers)


def hidden_scores(X, P, sizes, activation):
    """The pre-activations of every hidden unit, to keep the check away from relu's kink."""
    scores, A = [], X
    for W, b in mlp.unpack(P, sizes)[:-1]:
        scores.append(A @ W + b)
        A = mlp.activate(activation, scores[-1])
    return np.concatenate([z.ravel() for z in scores])


@pytest.mark.parametrize("loss", LOSS_CASES, ids=["sigmoid", "softmax", "squared"])
@pytest.mark.parametrize("activation", [mlp.RELU, mlp.TANH, mlp.LOGISTIC],
                         ids=["relu", "tanh", "logistic"])
def test_every_weight_and_bias_against_numerical_gradient(activation, loss):
    """A 2-hidden-layer network: the analytic gradient of every parameter (reference and compiled)
    against central differences of the objective."""
    n, alpha, h = 40, 0.3, 1e-6
    X, Y, sw, sizes, P = make_network(11, n, [4, 6, 5, OUTPUTS[loss]], loss, np.float64, zeros=0)
    if activation == mlp.RELU:  # a difference across the kink would not be a derivative
        assert np.abs(hidden_scores(X, P, sizes, activation)).min() > 100 * h
    numerical = np.empty_like(P)
    for t in range(P.size):
        step = np.zeros_like(P)
        step[t] = h
        numerical[t] = (objective(X, Y, sw, P + step, sizes, activation, loss, alpha)
                        - objective(X, Y, sw, P - step, sizes, activation, loss, alpha)) / (2 * h)

    total, G = mlp.loss_gradient(X, Y, sw, P, sizes, activation, loss)
    mlp.finish_gradient(G, P, sizes, n, alpha)
    np.testing.assert_allclose(G, numerical, rtol=1e-6, atol=1e-8)
    penalty = 0.5 * alpha * sum(np.sum(W * W) for W, _ in mlp.unpack(P, sizes))
    assert total / n + penalty == pytest.approx(objective(X, Y, sw, P, sizes, activation, loss,
                                                          alpha), rel=1e-12)

    G_jit = np.empty_like(P)  # as the compiled epoch: the L2 term first, the rows, then 1 / n
    mlp._start_gradient(G_jit, P, sizes, n * alpha)
    work, nz = mlp.workspace(sizes, np.float64)
    mlp._accumulate(X, Y, sw, np.arange(n), 0, n, P, sizes, activation, loss, G_jit, work[0], nz[0])
    mlp._scale(G_jit, 1 / n)
    np.testing.assert_allclose(G_jit, numerical, rtol=1e-6, atol=1e-8)


def test_penalty_and_decay_leave_biases_alone():
    X, Y, sw, sizes, P = make_network(2, 30, [3, 4, 1], losses.LOG_LOSS, np.float64)
    _, G0 = mlp.loss_gradient(X, Y, sw, P, sizes, mlp.RELU, losses.LOG_LOSS)
    G = np.empty_like(P)
    mlp._start_gradient(G, P, sizes, 30 * 0.5)
    G += G0
    mlp._scale(G, 1 / 30)
    for (G_W, G_b), (W0, b0), (W, _) in zip(mlp.unpack(G, sizes), mlp.unpack(G0, sizes),
                                            mlp.unpack(P, sizes)):
        assert_close(G_W, W0 / 30 + 0.5 * W, 1e-12)
        assert_close(G_b, b0 / 30, 1e-12)
    Q = P.copy()
    mlp._scale_weights(Q, sizes, 0.5)
    for (W, b), (W0, b0) in zip(mlp.unpack(Q, sizes), mlp.unpack(P, sizes)):
        np.testing.assert_array_equal(W, 0.5 * W0)
        np.testing.assert_array_equal(b, b0)


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
    expected, _ = mlp.loss_gradient(X, Y, np.ones(len(y)), P, start._layer_sizes, mlp.RELU,
                                    losses.LOG_LOSS)
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


def test_X_is_not_copied(monkeypatch):
    X, y = blobs(dtype=np.float32)
    seen = []
    original = fastgd.mlp.train

    def spy(model, *args, **kwargs):
        seen.append(model.X)
        return original(model, *args, **kwargs)

    monkeypatch.setattr(fastgd.mlp, "train", spy)
    MLPClassifier((4,), epochs=1).fit(X, y)
    assert seen[0] is X


@pytest.mark.parametrize("optimizer", fastgd.OPTIMIZERS)
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
