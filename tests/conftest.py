import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_blobs

from fastgd import GDClassifier, GDRegressor, MLPClassifier, MLPRegressor
from fastgd import backends as fastgd_backends
from fastgd._kernels import losses, optim

pytest_plugins = ["pytester"]  # tests/test_bench_peers.py runs a small suite

BACKENDS = ["numpy", "numba", "parallel"]

#: relative tolerance of each compiled variant against the NumPy reference, per dtype
RTOL = {
    ("numba", np.float64): 1e-10,
    ("parallel", np.float64): 1e-8,
    ("numba", np.float32): 2e-4,
    ("parallel", np.float32): 2e-4,
}


def assert_close(actual, desired, rtol):
    """``actual`` equals ``desired`` within ``rtol`` relative to the largest finite magnitude in
    ``desired`` (elementwise relative error is meaningless for entries that cancel to ~0); infinite
    entries must be equal."""
    actual, desired = np.asarray(actual), np.asarray(desired)
    finite = np.abs(desired[np.isfinite(desired)])
    # (an infinite scale would make the tolerance infinite, and any numbers pass)
    scale = max(1.0, float(finite.max())) if finite.size else 1.0
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=rtol * scale)


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def bad_inputs():
    """``(X, y, message)`` rows: inputs every estimator must refuse with a ValueError saying so."""
    X, y = make_blobs(50, 5, centers=2, random_state=0)
    return [
        (np.where(np.eye(50, 5) == 1, np.nan, X), y, "Input X contains NaN"),
        (np.where(np.eye(50, 5) == 1, np.inf, X), y, "Input X contains infinity"),
        (X, np.where(np.arange(50) == 3, np.nan, y), "Input y contains NaN"),
        (X[:, 0], y, "Expected 2D array, got 1D array"),
        (X, y[:40], "inconsistent numbers of samples"),
        (np.empty((0, 5)), np.empty(0), "0 sample"),
        (np.empty((5, 0)), np.zeros(5), "0 feature"),
        (X, np.zeros(50), "only one class"),
    ]


#: the losses' codes, and the dtypes every kernel is compiled for
LOSS_CODES = list(range(len(losses.LOSSES)))
#: the epsilon of huber and the epsilon-insensitive losses in the kernel tests: against scores and
#: targets of order 1, some residuals fall inside it and some beyond
LOSS_EPSILON = 0.5
DTYPES = [np.float64, np.float32]
#: momentum, beta_1, beta_2, epsilon, rho (``optim.HYPER``)
HYPER = np.array([0.9, 0.8, 0.99, 1e-8, 0.9])


#: The (loss, optimizer) pairs the kernel tests compile: every loss with plain SGD and with Adam,
#: every optimizer with the commonest loss of each task (log_loss, squared_error). The kernels
#: compile for each pair they are called with, so the tests cover the table pairwise rather than
#: its whole product.
PAIRS = sorted({(loss, opt) for loss in LOSS_CODES for opt in (optim.SGD, optim.ADAM)}
               | {(loss, opt) for loss in (losses.LOG_LOSS, losses.SQUARED_ERROR)
                  for opt in range(optim.N_OPTIMIZERS)})


def pair_id(pair):
    return f"{losses.LOSSES[pair[0]].name}-{optim.OPTIMIZERS[pair[1]].name}"


def rule(code):
    """The :class:`losses.Rule` the kernels take for the loss ``code``, with ``LOSS_EPSILON``."""
    return losses.Rule(code, LOSS_EPSILON)


def schedule_hyper(power_t, total_steps, alpha=0.0):
    """The schedules' hyper-parameters of an ``optim.Rate``: ``[power_t, total_steps, alpha]``."""
    return np.array([power_t, total_steps, alpha], dtype=np.float64)


def make_targets(rng, n, k, loss):
    """Targets of the right kind for ``loss``: values for the regression losses, one-hot rows for
    softmax, ``{0, 1}`` per output for the other classification losses."""
    if losses.LOSSES[loss].task == "regressor":
        return rng.standard_normal((n, k))
    if loss == losses.SOFTMAX_LOG_LOSS:
        return np.eye(k)[rng.integers(0, k, n)]
    return rng.integers(0, 2, (n, k))


def make_problem(seed, n, d, k, loss, dtype, scale=1.0):
    """Random X, targets of the right kind for ``loss``, positive sample weights and linear
    parameters (k, d + 1)."""
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((n, d)) * scale).astype(dtype)
    Y = make_targets(rng, n, k, loss)
    sw = rng.uniform(0.5, 2.0, n).astype(dtype)
    P = rng.standard_normal((k, d + 1)).astype(dtype)
    return X, Y.astype(dtype), sw, P


def make_sparse(seed, n, d, density, dtype=np.float64, index_dtype=np.int32, container=None):
    """A random CSR ``X`` (n, d) with about ``density`` of its entries stored, one row and one
    column left empty (when there is more than one), its indices and indptr in ``index_dtype``;
    and the same matrix dense. ``container`` is ``scipy.sparse.csr_array`` by default."""
    rng = np.random.default_rng(seed)
    dense = rng.standard_normal((n, d)) * (rng.random((n, d)) < density)
    if n > 1:
        dense[rng.integers(n)] = 0
    if d > 1:
        dense[:, rng.integers(d)] = 0
    dense = dense.astype(dtype)
    X = (container or sp.csr_array)(dense)
    X.indices, X.indptr = X.indices.astype(index_dtype), X.indptr.astype(index_dtype)
    return X, dense


def unsorted(X, seed):
    """The CSR ``X`` with the stored values of each row in a random order: the same matrix, its
    indices unsorted."""
    rng = np.random.default_rng(seed)
    perm = np.concatenate([np.empty(0, np.int64)] + [
        lo + rng.permutation(hi - lo) for lo, hi in zip(X.indptr[:-1], X.indptr[1:])])
    shuffled = X.copy()  # (SciPy's copy may narrow int64 indices: they are set from X's below)
    shuffled.data, shuffled.indices, shuffled.indptr = X.data[perm], X.indices[perm], X.indptr.copy()
    shuffled.has_sorted_indices = False
    return shuffled


# --- results/reliability.md: what the reliability tests tried and what came of it ----------------

#: rows of the report, appended by the ``reliability`` fixture during the session
RELIABILITY_ROWS = []

RELIABILITY_HEADER = """\
# Reliability: what was tried

Regenerated by `python -m pytest tests/test_fuzz.py tests/test_reliability.py tests/test_install.py \
--fuzz-examples 1000 --reliability-report results/reliability.md` (the suite itself runs the same \
tests with `--fuzz-examples` at its default, {default}). Each row is one test: the family of cases it \
tried, how many (hypothesis examples, or fits), and what came of them. A row is written only for a \
test that passed.

| Family | What was tried | Cases | Outcomes |
|---|---|---|---|
"""

#: hypothesis examples per estimator in the fuzzing tests unless ``--fuzz-examples`` says otherwise
FUZZ_EXAMPLES = 60


def pytest_addoption(parser):
    parser.addoption("--fuzz-examples", type=int, default=FUZZ_EXAMPLES,
                     help="hypothesis examples per estimator in tests/test_fuzz.py")
    parser.addoption("--reliability-report", metavar="PATH", default=None,
                     help="write the reliability tests' table (results/reliability.md) to PATH")


@pytest.fixture
def fuzz_examples(request):
    return request.config.getoption("--fuzz-examples")


@pytest.fixture
def reliability(request):
    """``record(family, tried, cases, outcomes)``: adds a row to the reliability report, kept only
    if the test passes."""
    rows = []
    yield lambda family, tried, cases, outcomes: rows.append((family, tried, cases, outcomes))
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.passed:
        RELIABILITY_ROWS.extend(rows)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if call.when == "call":
        item.rep_call = report
    return report


def pytest_sessionfinish(session):
    path = session.config.getoption("--reliability-report")
    if path is None or not RELIABILITY_ROWS:
        return
    from pathlib import Path

    lines = [RELIABILITY_HEADER.format(default=FUZZ_EXAMPLES)]
    lines += [f"| {family} | {tried} | {cases} | {outcomes} |\n"
              for family, tried, cases, outcomes in RELIABILITY_ROWS]
    Path(path).write_text("".join(lines))


# --- every estimator and its backends, for the reliability tests -------------------------------

#: every estimator by name, small enough that a fit takes milliseconds
ESTIMATORS = {
    "GDClassifier": lambda **kw: GDClassifier(**kw),
    "GDRegressor": lambda **kw: GDRegressor(**kw),
    "MLPClassifier": lambda **kw: MLPClassifier(hidden_layer_sizes=(5,), **kw),
    "MLPRegressor": lambda **kw: MLPRegressor(hidden_layer_sizes=(5,), **kw),
}


def backends_of(name):
    """The backends of the estimator named ``name``: its family's in ``fastgd.backends``."""
    return list(fastgd_backends.MLP if name.startswith("MLP") else fastgd_backends.LINEAR)
