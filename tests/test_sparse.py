"""Sparse input (issue 13) for the linear models: the CSR kernels of fastgd/_kernels/linear.py against
their SciPy-based references, and every linear estimator fitted on SciPy sparse matrices against the
same data densified (every loss, optimizer, batch mode and backend; 1e-8 in float64).

The full cross product runs in float64 with int32 indices; float32 values and int64 indices, each a
new numba type that compiles every kernel again, run on a few cases."""

import functools

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone

from fastgd import GDClassifier, GDRegressor, backends
from fastgd._kernels import losses, optim
from fastgd._kernels.data import Data, kernel_data
from fastgd._kernels.linear import Linear, _loss_gradient, forward, loss_gradient, scratch
from fastgd._kernels.optim import Rate, Update
from fastgd.config import LOCAL_SGD_SYNC_ROWS, MIN_ROWS_PER_THREAD

from .conftest import (HYPER, LOSS_CODES, RTOL, assert_close, make_sparse, make_targets,
                       pair_id, rule, schedule_hyper, unsorted)
from .test_linear_kernels import penalties

BACKENDS = list(backends.LINEAR)
COMPILED = [name for name in BACKENDS if name != "numpy"]
OPTIMIZERS = list(optim.NAMES)
BATCHES = [1, 32, None]
LINKS = [losses.IDENTITY, losses.SIGMOID, losses.SOFTMAX]


def assert_same_params(actual, desired, rtol=1e-8):
    """Equal within ``rtol`` times the largest magnitude in ``desired``."""
    actual, desired = np.asarray(actual), np.asarray(desired)
    np.testing.assert_allclose(actual, desired, rtol=0,
                               atol=rtol * max(float(np.abs(desired).max()), 1e-300))


def assert_same_model(model, reference, rtol=1e-8):
    """Two fitted linear estimators hold the same model: weights and intercepts within ``rtol`` of
    the largest of them, the same loss history within ``rtol``, the same number of epochs and
    updates."""
    assert_same_params(np.append(model.coef_, model.intercept_),
                       np.append(reference.coef_, reference.intercept_), rtol)
    np.testing.assert_allclose(model.loss_history_, reference.loss_history_, rtol=rtol)
    assert (model.n_iter_, model.t_) == (reference.n_iter_, reference.t_)


# --- the kernels against their references --------------------------------------------------------

def sparse_problem(seed, n, d, k, loss, density=0.1):
    """A random CSR ``X`` (with an empty row and column), targets of the right kind for ``loss``,
    positive sample weights and small parameters (k, d + 1); float64."""
    X, _ = make_sparse(seed, n, d, density)
    rng = np.random.default_rng(seed)
    Y = make_targets(rng, n, k, loss).astype(np.float64)
    return X, Y, rng.uniform(0.5, 2.0, n), 0.1 * rng.standard_normal((k, d + 1))


@pytest.mark.parametrize("n", [300, 2 * MIN_ROWS_PER_THREAD + 7])  # the second splits over 2 threads
@pytest.mark.parametrize("link", LINKS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_forward_on_csr_matches_reference(backend, link, n):
    X, _, _, P = sparse_problem(1, n, 30, 3, losses.SQUARED_ERROR, density=0.2)
    P *= 10
    expected = forward(X, P, link)
    model = Linear(P, rule(losses.SQUARED_ERROR), True, 0.0, 0.0)
    out = backends.LINEAR[backend].forward(X, model, link, 2)
    assert out.shape == (n, 3) and out.dtype == np.float64
    assert_close(out, expected, 1e-12)


@pytest.mark.parametrize("lo,hi", [(0, 600), (100, 450)])
@pytest.mark.parametrize("loss", LOSS_CODES)
def test_loss_gradient_on_csr_matches_reference(loss, lo, hi):
    k = 3 if loss == losses.SOFTMAX_LOG_LOSS else 2
    X, Y, sw, P = sparse_problem(loss, 600, 40, k, loss)
    loss = rule(loss)
    order = np.random.default_rng(0).permutation(600).astype(np.int64)
    rows = order[lo:hi]
    expected_loss, expected_G = loss_gradient(Data(X[rows], Y[rows], sw[rows]), P, loss)
    G, buf = scratch(1, P)
    total = _loss_gradient(kernel_data(Data(X, Y, sw)), order, lo, hi, P, loss, G, buf)
    assert_close(total, expected_loss, 1e-10)
    assert_close(G[0], expected_G, 1e-10)


def epoch_case(loss, opt, n=200, d=30):
    """The data, model and optimizer state of one epoch test: L2 (or AdamW's decay) 0.01, a step
    that cannot diverge, random optimizer state."""
    k = 3 if loss == losses.SOFTMAX_LOG_LOSS else 2
    X, Y, sw, P0 = sparse_problem(loss * 10 + opt, n, d, k, loss)
    S0 = np.abs(np.random.default_rng(opt).standard_normal(
        optim.allocate_state(opt, P0.size, np.float64).shape)) * 0.01
    largest = float(X.multiply(X).sum(axis=1).max())
    lr = optim.OPTIMIZERS[opt].default_rate or 0.05 / (1 + 2 * largest)
    return X, Y, sw, P0, S0, lr


def run_epoch_on(kernel, X, Y, sw, P0, S0, lr, loss, opt, batch, n_threads):
    """One epoch of ``kernel`` from copies of ``P0``, ``S0``; returns (loss sum, step, P, S)."""
    n = X.shape[0]
    P, S = P0.copy(), S0.copy()
    l2, decay = penalties(opt, 0.01)
    order = np.random.default_rng(n).permutation(n).astype(np.int64)
    batch = n if batch is None else batch
    total, step = kernel(Data(X, Y, sw), order, Linear(P, rule(loss), True, l2, decay),
                         Update(opt, S, HYPER),
                         Rate(optim.INVSCALING, lr, schedule_hyper(0.5, 10.0)), batch, 3,
                         n_threads)
    return total, step, P, S


@functools.cache
def reference_epoch(loss, opt, batch):
    X, Y, sw, P0, S0, lr = epoch_case(loss, opt)
    return run_epoch_on(backends.LINEAR["numpy"].epoch, X, Y, sw, P0, S0, lr, loss, opt, batch, 1)


#: (backend, (loss, optimizer), batch): every loss through rows on CSR with plain SGD (the sparse
#: scaled SGD kernel) and every other optimizer with the log loss (the row kernel), and every batch
#: mode of each backend with three pairs: each combination is a kernel compiled for it. The other
#: pairs reach CSR rows through the same overloads, held pairwise to the references on dense rows
#: (test_linear_kernels).
CSR_PAIRS = [(loss, optim.SGD) for loss in LOSS_CODES] + [
    (losses.LOG_LOSS, opt) for opt in range(optim.N_OPTIMIZERS) if opt != optim.SGD]
CSR_EPOCHS = [("numba", pair, 1) for pair in CSR_PAIRS] + [
    (backend, pair, batch) for backend in COMPILED
    for pair in [(losses.LOG_LOSS, optim.SGD), (losses.SOFTMAX_LOG_LOSS, optim.ADAM),
                 (losses.HUBER, optim.MOMENTUM)]
    for batch in BATCHES if (backend, batch) != ("numba", 1)]


@pytest.mark.parametrize("backend,pair,batch", CSR_EPOCHS, ids=[
    f"{backend}-{pair_id(pair)}-{batch}" for backend, pair, batch in CSR_EPOCHS])
def test_epoch_on_csr_matches_numpy_backend(backend, pair, batch):
    """A whole compiled epoch on CSR (with fewer rows than a thread's share, so every backend runs
    its serial path) against the NumPy backend's epoch on the SciPy matrix."""
    loss, opt = pair
    X, Y, sw, P0, S0, lr = epoch_case(loss, opt)
    total_ref, step_ref, P_ref, S_ref = reference_epoch(loss, opt, batch)
    total, step, P, S = run_epoch_on(backends.LINEAR[backend].epoch, X, Y, sw, P0, S0, lr, loss,
                                     opt, batch, 2)
    assert step == step_ref
    assert_close(total, total_ref, 1e-10)
    assert_close(P, P_ref, 1e-10)
    assert_close(S, S_ref, 1e-10)


@pytest.mark.parametrize("batch", [None, 2 * MIN_ROWS_PER_THREAD + 300])
@pytest.mark.parametrize("opt", [optim.SGD, optim.ADAM], ids=["sgd", "adam"])
@pytest.mark.parametrize("loss", [losses.LOG_LOSS, losses.SOFTMAX_LOG_LOSS])
def test_parallel_split_of_a_csr_batch_matches_numpy_backend(loss, opt, batch):
    """Batches of two threads' worth of rows are split across the threads, each reading the CSR
    rebuilt from its parts; then the short last batch."""
    X, Y, sw, P0, S0, lr = epoch_case(loss, opt, n=2 * MIN_ROWS_PER_THREAD + 500)
    args = (X, Y, sw, P0, S0, lr, loss, opt, batch)
    total_ref, step_ref, P_ref, S_ref = run_epoch_on(backends.LINEAR["numpy"].epoch, *args, 1)
    total, step, P, S = run_epoch_on(backends.LINEAR["parallel"].epoch, *args, 2)
    assert step == step_ref
    assert_close(total, total_ref, RTOL["parallel", np.float64])
    assert_close(P, P_ref, RTOL["parallel", np.float64])
    assert_close(S, S_ref, RTOL["parallel", np.float64])


@pytest.mark.parametrize("batch", [1, 32])
@pytest.mark.parametrize("opt", [optim.SGD, optim.ADAM], ids=["sgd", "adam"])
def test_local_sgd_threads_on_csr_match_dense(opt, batch):
    """Two threads' worth of rows, where local SGD is not the serial result: on CSR it is the
    same as on the same rows dense."""
    loss = losses.LOG_LOSS
    X, Y, sw, P0, S0, lr = epoch_case(loss, opt, n=2 * LOCAL_SGD_SYNC_ROWS + 100)
    epoch = backends.LINEAR["local_sgd"].epoch
    total_ref, step_ref, P_ref, S_ref = run_epoch_on(epoch, X.toarray(), Y, sw, P0, S0, lr, loss,
                                                     opt, batch, 2)
    total, step, P, S = run_epoch_on(epoch, X, Y, sw, P0, S0, lr, loss, opt, batch, 2)
    assert step == step_ref
    assert_close(total, total_ref, 1e-10)
    assert_close(P, P_ref, 1e-10)
    assert_close(S, S_ref, 1e-10)


# --- estimators: sparse fits give the dense model --------------------------------------------------

@functools.cache
def dataset(n_classes, dtype=np.float64, index_dtype=np.int32, container=sp.csr_array):
    """240 x 30 at about 10% density (an empty row and column) as CSR and dense, and targets from a
    planted linear model: values (``n_classes`` None) or labels 0 .. n_classes - 1."""
    X, dense = make_sparse(0, 240, 30, 0.1, dtype, index_dtype, container)
    rng = np.random.default_rng(1)
    scores = dense.astype(np.float64) @ rng.standard_normal((30, n_classes or 1))
    scores += 0.3 * rng.standard_normal(scores.shape)
    if n_classes is None:
        y = scores[:, 0]
    elif n_classes == 2:
        y = (scores[:, 0] > 0).astype(int)
    else:
        y = scores.argmax(axis=1)
    return X, dense, y


#: (id, estimator, its parameters, number of classes or None for regression)
PROBLEMS = [(loss, GDRegressor, {"loss": loss}, None) for loss in losses.PUBLIC["regressor"]] + [
    (f"{loss}-{k}", GDClassifier, {"loss": loss}, k)
    for loss in losses.PUBLIC["classifier"] for k in (2, 3)]


def fit_both(make, params, n_classes, **fit_params):
    """The same estimator fitted on the CSR data and on it densified."""
    X, dense, y = dataset(n_classes)
    estimator = make(**params)
    return (clone(estimator).fit(X, y, **fit_params), clone(estimator).fit(dense, y, **fit_params))


#: (problem, optimizer, batch size, backend): every loss with SGD (the classifiers' on two classes,
#: and on three the log loss, which becomes softmax, and hinge, one score a class), every optimizer
#: with the commonest loss of one task, in the default batch mode and backend; every batch mode and
#: backend with two of them. The kernels compile for each combination, dense and CSR alike, and
#: their tables are crossed pairwise already (``test_epoch_on_csr_matches_numpy_backend``); what
#: a fit adds is the path from the estimator to them, which every loss and optimizer take alike.
FIT_CASES = [(problem, "sgd", 1, "numba") for problem in PROBLEMS
             if problem[3] != 3 or problem[0] in ("log_loss-3", "hinge-3")] + [
    (problem, optimizer, 1, "numba") for problem in PROBLEMS if problem[0] == "log_loss-3"
    for optimizer in OPTIMIZERS if optimizer != "sgd"] + [
    (problem, optimizer, batch_size, backend)
    for problem, optimizer in [(PROBLEMS[0], "adam"), (PROBLEMS[-1], "sgd")]
    for batch_size in BATCHES for backend in BACKENDS if (batch_size, backend) != (1, "numba")]


@pytest.mark.parametrize("problem,optimizer,batch_size,backend", FIT_CASES, ids=[
    f"{problem[0]}-{optimizer}-{batch_size}-{backend}"
    for problem, optimizer, batch_size, backend in FIT_CASES])
def test_sparse_fit_gives_the_dense_model(problem, optimizer, batch_size, backend):
    _, make, params, n_classes = problem
    # The perceptron's subgradient jumps at the score 0. With every row's weight 1 its intercepts
    # are sums of steps of one size, which come back to 0 up to a rounding whose sign depends on
    # the order of the additions (CSR's or the dense rows'), and the empty rows are scored by the
    # intercepts alone; random weights keep those sums off 0.
    weights = (np.random.default_rng(3).uniform(0.5, 2.0, 240) if params["loss"] == "perceptron"
               else None)
    sparse_fit, dense_fit = fit_both(
        make, {**params, "optimizer": optimizer, "batch_size": batch_size, "backend": backend,
               "alpha": 0.01, "epochs": 2, "random_state": 0}, n_classes, sample_weight=weights)
    assert_same_model(sparse_fit, dense_fit)


#: (problem, backend): every problem on the default compiled backend, and every backend on a
#: regression, a binary and a three-class problem (identity, sigmoid and softmax links): each fit
#: compiles its batch kernel for its loss and backend, and the links are what prediction adds
PREDICTION_CASES = [(problem, "numba") for problem in PROBLEMS] + [
    (problem, backend) for problem in PROBLEMS
    if problem[0] in ("squared_error", "log_loss-2", "log_loss-3")
    for backend in BACKENDS if backend != "numba"]


@pytest.mark.parametrize("problem,backend", PREDICTION_CASES,
                         ids=[f"{p[0]}-{backend}" for p, backend in PREDICTION_CASES])
def test_predictions_on_sparse_equal_dense(problem, backend):
    _, make, params, n_classes = problem
    X, dense, y = dataset(n_classes)
    model = make(**params, backend=backend, batch_size=8, epochs=3, random_state=0).fit(dense, y)
    for method in ("decision_function", "predict_proba", "predict_log_proba"):
        if hasattr(model, method):
            # modified_huber's probabilities are exactly 0 beyond its clip: their log is -inf,
            # in both, as scikit-learn's
            with np.errstate(divide="ignore"):
                assert_close(getattr(model, method)(X), getattr(model, method)(dense), 1e-12)
    if n_classes is None:
        assert_close(model.predict(X), model.predict(dense), 1e-12)
    else:
        np.testing.assert_array_equal(model.predict(X), model.predict(dense))
    assert model.score(X, y) == pytest.approx(model.score(dense, y), rel=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_all_zero_csr_fits_like_dense(backend):
    """No stored values at all: only the intercepts learn."""
    _, _, y = dataset(3)
    X = sp.csr_array((240, 30))
    params = dict(backend=backend, batch_size=16, alpha=0.01, epochs=2, random_state=0)
    sparse_fit = GDClassifier(**params).fit(X, y)
    assert_same_model(sparse_fit, GDClassifier(**params).fit(X.toarray(), y))
    assert not sparse_fit.coef_.any() and sparse_fit.intercept_.any()


# --- input formats, dtypes, no copies ---------------------------------------------------------------

FORMATS = [sp.csr_matrix, sp.csr_array, sp.csc_matrix, sp.csc_array, sp.coo_matrix, sp.coo_array,
           sp.lil_matrix, sp.dok_array, sp.bsr_array]


@pytest.mark.parametrize("container", FORMATS, ids=[f.__name__ for f in FORMATS])
def test_every_sparse_format_trains_as_csr(container):
    X_csr, dense, y = dataset(3)
    X = container(dense)
    model = GDClassifier(batch_size=8, epochs=2, random_state=0)
    assert model._epochs_for(X, y).data.X.format == "csr"
    fitted = clone(model).fit(X, y)
    assert_same_model(fitted, clone(model).fit(X_csr, y), rtol=0)
    np.testing.assert_array_equal(fitted.decision_function(X), fitted.decision_function(X_csr))


@pytest.mark.parametrize("container", [sp.csr_array, sp.csr_matrix])
@pytest.mark.parametrize("dtype,index_dtype", [(np.float64, np.int32), (np.float32, np.int32),
                                               (np.float64, np.int64), (np.float32, np.int64)])
def test_a_csr_of_a_kernel_dtype_is_not_copied(dtype, index_dtype, container):
    X, _, y = dataset(2, dtype, index_dtype, container)
    held = GDClassifier()._epochs_for(X, y).data.X
    assert held is X or all(np.shares_memory(getattr(held, name), getattr(X, name))
                            for name in ("data", "indices", "indptr"))
    assert held.dtype == dtype and held.indices.dtype == index_dtype


def test_a_csr_with_unsorted_indices_is_not_copied():
    X, dense, y = dataset(3)
    X = unsorted(X, seed=0)
    assert any((np.diff(X.indices[lo:hi]) < 0).any() for lo, hi in zip(X.indptr, X.indptr[1:]))
    held = GDClassifier()._epochs_for(X, y).data.X
    assert np.shares_memory(held.indices, X.indices)
    params = dict(batch_size=8, alpha=0.01, epochs=2, random_state=0)
    assert_same_model(GDClassifier(**params).fit(X, y), GDClassifier(**params).fit(dense, y))


# plain SGD only: it runs the sparse kernel of its own, and each other kernel would compile again
# for float32 CSR, a minute and a half on a cold cache, for the same code as float64's
@pytest.mark.parametrize("batch_size,optimizer", [(1, "sgd"), (None, "sgd")])
def test_float32_csr_stays_float32(batch_size, optimizer):
    X, dense, y = dataset(3, np.float32)
    params = dict(batch_size=batch_size, optimizer=optimizer, alpha=0.01, epochs=2, random_state=0)
    sparse_fit = GDClassifier(**params).fit(X, y)
    assert sparse_fit.coef_.dtype == sparse_fit.intercept_.dtype == np.float32
    assert sparse_fit.decision_function(X).dtype == np.float32
    assert sparse_fit.predict_proba(X).dtype == np.float32
    assert_same_model(sparse_fit, GDClassifier(**params).fit(dense, y),
                      rtol=RTOL["numba", np.float32])


@pytest.mark.parametrize("batch_size,optimizer", [(1, "sgd"), (None, "adam")])
def test_int64_indices_give_the_dense_model(batch_size, optimizer):
    X, dense, y = dataset(3, index_dtype=np.int64)
    params = dict(batch_size=batch_size, optimizer=optimizer, alpha=0.01, epochs=2, random_state=0)
    sparse_fit = GDClassifier(**params).fit(X, y)
    assert_same_model(sparse_fit, GDClassifier(**params).fit(dense, y))
    np.testing.assert_array_equal(sparse_fit.predict(X), sparse_fit.predict(dense))


# --- partial_fit, warm_start, early stopping, weights --------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_partial_fit_on_sparse_batches_equals_dense_batches(backend):
    X, dense, y = dataset(3)
    sparse_model, dense_model = (GDClassifier(backend=backend, batch_size=8, alpha=0.01,
                                              random_state=0) for _ in range(2))
    for lo in range(0, 240, 80):
        sparse_model.partial_fit(X[lo:lo + 80], y[lo:lo + 80], classes=[0, 1, 2])
        dense_model.partial_fit(dense[lo:lo + 80], y[lo:lo + 80], classes=[0, 1, 2])
        assert_same_model(sparse_model, dense_model)
    assert sparse_model.n_iter_ == 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_warm_start_on_sparse_equals_dense(backend):
    X, dense, y = dataset(None)
    sparse_model, dense_model = (GDRegressor(backend=backend, warm_start=True, optimizer="momentum",
                                             batch_size=16, alpha=0.01, epochs=2, random_state=0)
                                 for _ in range(2))
    for _ in range(2):
        sparse_model.fit(X, y)
        dense_model.fit(dense, y)
    assert sparse_model.n_iter_ == 4
    assert_same_model(sparse_model, dense_model)


@pytest.mark.parametrize("backend", BACKENDS)
def test_early_stopping_on_sparse_equals_dense(backend):
    sparse_fit, dense_fit = fit_both(
        GDClassifier, dict(backend=backend, early_stopping=True, validation_fraction=0.2,
                           n_iter_no_change=2, batch_size=16, epochs=40, random_state=0), 3)
    assert_same_model(sparse_fit, dense_fit)
    np.testing.assert_allclose(sparse_fit.validation_loss_history_,
                               dense_fit.validation_loss_history_, rtol=1e-8)
    assert sparse_fit.stop_reason_ == dense_fit.stop_reason_


WEIGHTS = [  # (id, estimator parameters, with random sample weights)
    ("sample_weight", {}, True),
    ("class_weight=balanced", {"class_weight": "balanced"}, False),
    ("class_weight=dict and sample_weight", {"class_weight": {0: 1.0, 1: 3.0, 2: 0.5}}, True),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("params,with_sample_weight", [w[1:] for w in WEIGHTS],
                         ids=[w[0] for w in WEIGHTS])
def test_weighted_sparse_fit_gives_the_dense_model(params, with_sample_weight, backend):
    sample_weight = np.random.default_rng(2).uniform(0.1, 3.0, 240) if with_sample_weight else None
    sparse_fit, dense_fit = fit_both(
        GDClassifier, {**params, "backend": backend, "batch_size": 16, "alpha": 0.01, "epochs": 2,
                       "random_state": 0}, 3, sample_weight=sample_weight)
    assert_same_model(sparse_fit, dense_fit)


# --- bad input ----------------------------------------------------------------------------------------

def with_value(value):
    def broken(X):
        data = X.data.copy()
        data[3] = value
        return sp.csr_matrix((data, X.indices.copy(), X.indptr.copy()), shape=X.shape)
    return broken


def with_index(value):
    def broken(X):
        indices = X.indices.copy()
        indices[3] = value
        return sp.csr_matrix((X.data.copy(), indices, X.indptr.copy()), shape=X.shape)
    return broken


def with_decreasing_indptr(X):
    indptr = X.indptr.copy()
    indptr[5], indptr[6] = indptr[6] + 1, indptr[5]
    return sp.csr_matrix((X.data.copy(), X.indices.copy(), indptr), shape=X.shape)


BAD_SPARSE = [  # (id, the broken CSR from a valid one, message)
    ("NaN", with_value(np.nan), "Input X contains NaN"),
    ("inf", with_value(np.inf), "Input X contains infinity"),
    ("-inf", with_value(-np.inf), "Input X contains infinity"),
    ("negative index", with_index(-1), r"column index outside \[0, 30\)"),
    ("index = n_features", with_index(30), r"column index outside \[0, 30\)"),
    ("decreasing indptr", with_decreasing_indptr, "indptr decreases"),
    ("no rows", lambda X: sp.csr_array((0, 30)), "0 sample"),
    ("no columns", lambda X: sp.csr_array((240, 0)), "0 feature"),
]


@pytest.mark.parametrize("make", [GDClassifier, GDRegressor])
@pytest.mark.parametrize("broken,message", [b[1:] for b in BAD_SPARSE],
                         ids=[b[0] for b in BAD_SPARSE])
def test_bad_sparse_input_is_refused(broken, message, make):
    X, dense, y = dataset(2)
    X_bad = broken(X)
    with pytest.raises(ValueError, match=message):
        make(epochs=1).fit(X_bad, y[:X_bad.shape[0]])
    model = make(epochs=1).fit(X, y)
    with pytest.raises(ValueError, match=message):
        model.predict(X_bad)


@pytest.mark.parametrize("n_features", [25, 31])
def test_sparse_X_of_another_width_is_refused(n_features):
    X, dense, y = dataset(3)
    model = GDClassifier(epochs=1).fit(X, y)
    other = sp.random(10, n_features, density=0.3, format="csr", random_state=0)
    for method in (model.predict, model.decision_function, model.predict_proba):
        with pytest.raises(ValueError, match=f"X has {n_features} features, but GDClassifier is "
                                             "expecting 30 features"):
            method(other)
    with pytest.raises(ValueError, match=f"X has {n_features} features"):
        model.partial_fit(other, y[:10])
