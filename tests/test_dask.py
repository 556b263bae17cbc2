"""The estimators on dask arrays, on real LocalClusters that the tests start: full batch bit for bit
against the in-process fit with the chunks as its parts, local SGD deterministic, lazy predictions,
no gather of X, a lost worker, partial_fit, early stopping and bad input."""

import os
import signal
import threading

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from fastgd import GDClassifier, GDRegressor, MLPClassifier, MLPRegressor  # noqa: E402

#: uneven chunks over three workers
CHUNKS = (700, 1300, 400, 1100, 500)
N, D = sum(CHUNKS), 6


@pytest.fixture(scope="module", autouse=True)
def compiled_here():
    """Compile in this process, before any worker starts, the kernels the workers run: they then
    load them from numba's cache instead of each compiling them at once on the same cores (on a
    cold cache that took minutes)."""
    for dtype in (np.float64, np.float32):
        X, y = data(dtype, classes=3)
        GDClassifier(batch_size=None, epochs=1)._fit(X, y, None, row_parts=CHUNKS)
        GDClassifier(batch_size=16, epochs=1).fit(X, y)
    X, y = data(classes=3)
    MLPClassifier((3,), batch_size=None, epochs=1)._fit(X, y, None, row_parts=CHUNKS)
    MLPClassifier((3,), epochs=1).fit(X, y)
    GDClassifier(epochs=1).fit(X, y)


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=3, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        yield client


def data(dtype=np.float64, classes=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D)).astype(dtype)
    score = X @ rng.standard_normal(D) + 0.5 * rng.standard_normal(N)
    if classes is None:
        y = score
    else:
        y = np.digitize(score, np.quantile(score, np.linspace(0, 1, classes + 1)[1:-1]))
    return X, y


def on_cluster(*arrays):
    return [da.from_array(a, chunks=(CHUNKS,) + a.shape[1:]) for a in arrays]


def params(est):
    if hasattr(est, "coef_"):
        return [est.coef_, est.intercept_]
    return est.coefs_ + est.intercepts_


def assert_same_model(a, b):
    for p, q in zip(params(a), params(b), strict=True):
        assert p.dtype == q.dtype
        np.testing.assert_array_equal(p, q)
    np.testing.assert_array_equal(a.loss_history_, b.loss_history_)
    assert a.learning_rate_ == b.learning_rate_ and a.t_ == b.t_


FULL_BATCH = [
    (GDClassifier, dict(loss="log_loss"), 2),
    (GDClassifier, dict(loss="log_loss"), 3),
    (GDClassifier, dict(loss="hinge", optimizer="momentum"), 2),
    (GDClassifier, dict(loss="sigmoid_squared", optimizer="adam", alpha=0.01), 4),
    (GDRegressor, dict(optimizer="nesterov", alpha=0.1), None),
    (GDRegressor, dict(optimizer="adamw", alpha=0.1, fit_intercept=False), None),
    (GDClassifier, dict(loss="modified_huber", penalty="l1", alpha=0.01, average=2), 2),
    (GDRegressor, dict(loss="huber", penalty="elasticnet", alpha=0.1, schedule="optimal"), None),
    (MLPClassifier, dict(hidden_layer_sizes=(5,), alpha=1e-3), 3),
    (MLPRegressor, dict(hidden_layer_sizes=(4, 3), activation="tanh", optimizer="sgd"), None),
]


# every case in float64, and float32 on two linear ones: float32 is one more compile of each case's
# kernels, for the code that keeps the shards' dtype, which every loss and optimizer share
FLOAT32_CASES = (FULL_BATCH[0], FULL_BATCH[5])


@pytest.mark.parametrize("Estimator, options, classes, dtype", [
    (*case, dtype) for case in FULL_BATCH for dtype in (np.float64, np.float32)
    if dtype == np.float64 or case in FLOAT32_CASES])
def test_full_batch_is_the_in_process_fit_with_the_chunks_as_parts(client, Estimator, options,
                                                                  classes, dtype):
    X, y = data(dtype, classes)
    make = lambda: Estimator(batch_size=None, epochs=4, random_state=0, **options)  # noqa: E731
    # in process first: the kernels of this loss and optimizer compile here, once, and the
    # workers load them from numba's cache instead of each compiling them at once
    in_process = make()._fit(X, y, None, row_parts=CHUNKS)
    on_dask = make().fit(*on_cluster(X, y))
    assert_same_model(on_dask, in_process)
    assert on_dask.loss_history_[-1] < on_dask.loss_history_[0]


def test_the_parts_are_those_of_the_parallel_backend():
    """The in-process twin is the parallel backend's own full batch when the parts are its
    threads' (each at least MIN_ROWS_PER_THREAD rows); other parts change the rounding only."""
    import numba

    from fastgd.config import MIN_ROWS_PER_THREAD

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs two numba threads")
    rng = np.random.default_rng(0)
    n = 2 * MIN_ROWS_PER_THREAD + 1
    X = rng.standard_normal((n, D))
    y = rng.integers(0, 3, n)
    # a given step: the "auto" one sums each part's sample of rows, which changes its rounding
    make = lambda: GDClassifier(batch_size=None, epochs=3, backend="parallel",  # noqa: E731
                                learning_rate=0.5)
    threads = numba.get_num_threads()
    numba.set_num_threads(2)
    try:
        halves = [n // 2, n - n // 2]
        assert_same_model(make()._fit(X, y, None, row_parts=halves), make().fit(X, y))
        a, b = make()._fit(X, y, None, row_parts=[1000, 3000, n - 4000]), make().fit(X, y)
        np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-12)
    finally:
        numba.set_num_threads(threads)


def test_after_a_rebalance_and_with_weights(client):
    X, y = data(classes=3)
    sw = np.random.default_rng(1).uniform(0.5, 2, N)
    Xd, yd, swd = client.persist(on_cluster(X, y, sw))
    client.rebalance()
    make = lambda: GDClassifier(batch_size=None, epochs=3, class_weight="balanced")  # noqa: E731
    on_dask = make().fit(Xd, yd, sample_weight=swd)
    in_process = make()._fit(X, y, sw, row_parts=CHUNKS)
    # the weights' normalising sum is added per chunk: equal up to its rounding
    np.testing.assert_allclose(on_dask.coef_, in_process.coef_, rtol=1e-12)
    np.testing.assert_allclose(on_dask.loss_history_, in_process.loss_history_, rtol=1e-12)


@pytest.mark.parametrize("Estimator, options", [
    (GDClassifier, dict(batch_size=1)),
    (GDClassifier, dict(batch_size=16, optimizer="adam", learning_rate=0.01)),
    (MLPClassifier, dict(hidden_layer_sizes=(5,), learning_rate=0.01)),
])
def test_local_sgd_is_deterministic_and_trains(client, Estimator, options):
    X, y = data(classes=3)
    Xd, yd = on_cluster(X, y)
    make = lambda: Estimator(epochs=3, sync_rows=500, random_state=0, **options)  # noqa: E731
    in_process = make().fit(X, y)  # first, so that the workers load its kernels: see above
    first, second = make().fit(Xd, yd), make().fit(Xd, yd)
    assert_same_model(first, second)
    assert first.loss_history_[-1] < first.loss_history_[0]
    assert first.score(X, y) > in_process.score(X, y) - 0.05


def test_sync_rows_changes_the_rounds(client):
    X, y = data()
    Xd, yd = on_cluster(X, y)
    a = GDClassifier(epochs=2, sync_rows=300, random_state=0).fit(Xd, yd)
    b = GDClassifier(epochs=2, sync_rows=5000, random_state=0).fit(Xd, yd)
    assert not np.array_equal(a.coef_, b.coef_)
    assert a.t_ == b.t_ == 2 * N


@pytest.mark.parametrize("est", [
    GDClassifier(batch_size=None, epochs=3, loss="log_loss"),
    GDRegressor(epochs=2),
    MLPClassifier((4,), epochs=2, random_state=0),
    MLPRegressor((4,), epochs=2, random_state=0),
], ids=lambda e: type(e).__name__)
def test_predictions_are_lazy_and_equal_the_numpy_ones(client, est):
    X, y = data(classes=None if "Regressor" in type(est).__name__ else 3)
    est.fit(X, y)
    Xd = on_cluster(X)[0]
    methods = ["predict", "predict_proba", "decision_function", "predict_log_proba"]
    for name in [m for m in methods if hasattr(est, m)]:
        lazy = getattr(est, name)(Xd)
        assert isinstance(lazy, da.Array), name
        np.testing.assert_array_equal(lazy.compute(), getattr(est, name)(X))


class BytesRead:
    """The bytes this process reads from its TCP connections (client and scheduler)."""

    def __enter__(self):
        from distributed.comm import tcp

        self.tcp, self.original, self.total = tcp, tcp.read_bytes_rw, 0

        async def counting(stream, n):
            self.total += n
            return await self.original(stream, n)

        tcp.read_bytes_rw = counting
        return self

    def __exit__(self, *exc):
        self.tcp.read_bytes_rw = self.original


@pytest.mark.filterwarnings("ignore:Sending large graph")  # the test data, embedded once
@pytest.mark.parametrize("batch_size", [None, 8])
def test_x_never_comes_to_the_client(client, batch_size):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80_000, 50))
    y = (X[:, 0] > 0).astype(int)
    Xd, yd = client.persist([da.from_array(X, chunks=(20_000, 50)),
                             da.from_array(y, chunks=20_000)])
    distributed.wait([Xd, yd])
    GDClassifier(batch_size=batch_size, epochs=1).fit(Xd, yd)  # warm the workers' kernels
    with BytesRead() as read:
        GDClassifier(batch_size=batch_size, epochs=5, sync_rows=5000).fit(Xd, yd)
    # messages, parameters and sums only: not a quarter of one chunk's 8 MB
    assert 0 < read.total < X.nbytes / 4 / 4, read.total


def test_a_lost_worker_is_recomputed_and_the_fit_finishes():
    X, y = data(classes=3)
    make = lambda **kw: GDClassifier(batch_size=None, epochs=8, **kw)  # noqa: E731
    expected = make()._fit(X, y, None, row_parts=CHUNKS)
    with distributed.LocalCluster(n_workers=3, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        Xd, yd = client.persist(on_cluster(X, y))
        distributed.wait([Xd, yd])
        pids = client.run(os.getpid)
        victim = sorted(pids)[1]
        killed = []

        def kill_one(epoch, loss, est):
            if epoch == 2:
                os.kill(pids[victim], signal.SIGKILL)
                killed.append(victim)

        on_dask = make(callback=kill_one).fit(Xd, yd)
    assert killed
    assert_same_model(on_dask, expected)


def test_a_lost_worker_with_scattered_chunks_is_a_clear_error():
    X, y = data()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        blocks = client.scatter([X[lo:lo + 1000] for lo in range(0, N, 1000)])
        Xd = da.concatenate([da.from_delayed(b, shape=(1000, D), dtype=X.dtype) for b in blocks])
        pids = client.run(os.getpid)
        victim = sorted(pids)[1]

        def kill_one(epoch, loss, est):
            if epoch == 1:
                os.kill(pids[victim], signal.SIGKILL)

        with pytest.raises(RuntimeError, match=r"worker\(s\) \['" + victim):
            GDClassifier(batch_size=None, epochs=6, callback=kill_one).fit(
                Xd, da.from_array(y, chunks=1000))


def test_partial_fit_is_one_pass_over_the_chunks(client):
    X, y = data(classes=3)
    Xd, yd = on_cluster(X, y)
    est = GDClassifier(batch_size=None)
    with pytest.raises(ValueError, match="classes="):
        est.partial_fit(Xd, yd)
    for _ in range(3):
        est.partial_fit(Xd, yd, classes=[0, 1, 2])
    assert_same_model(est, GDClassifier(batch_size=None, epochs=3).fit(Xd, yd))
    with pytest.raises(ValueError, match="expecting 6 features"):
        est.partial_fit(Xd[:, :3], yd)


def test_early_stopping_holds_out_rows_of_the_dask_array(client):
    X, y = data()
    Xd, yd = on_cluster(X, y)
    est = GDClassifier(epochs=50, early_stopping=True, n_iter_no_change=2, tol=1e-3,
                       random_state=0, sync_rows=500).fit(Xd, yd)
    assert est.stop_reason_ == "early_stopping"
    assert len(est.validation_loss_history_) == est.n_iter_ < 50
    assert est.score(X, y) > 0.8


def test_threads_and_concurrent_fits():
    """A cluster of threads (two per worker): full batch still the in-process fit, and two fits
    at once (numba's parallel kernels must not be entered twice) give the models of one at a
    time."""
    X, y = data(classes=3)
    make = lambda: GDClassifier(batch_size=None, epochs=3)  # noqa: E731
    expected = make()._fit(X, y, None, row_parts=CHUNKS)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        Xd, yd = on_cluster(X, y)
        results = [None, None]

        def fit(i):
            with client.as_current():
                results[i] = (make() if i == 0 else GDClassifier(epochs=2, random_state=0)).fit(
                    Xd, yd)

        threads = [threading.Thread(target=fit, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert_same_model(results[0], expected)
        assert_same_model(results[1], GDClassifier(epochs=2, random_state=0).fit(Xd, yd))


def test_a_dask_dataframe(client):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, y = data(classes=None)
    frame = dd.from_pandas(pd.DataFrame(X), npartitions=3)
    est = GDRegressor(batch_size=None, epochs=3).fit(frame, dd.from_pandas(pd.Series(y),
                                                                           npartitions=3))
    rows = frame.to_dask_array(lengths=True).chunks[0]
    assert_same_model(est, GDRegressor(batch_size=None, epochs=3)._fit(X, y, None,
                                                                      row_parts=rows))


def test_bad_input(client):
    X, y = data()
    X_nan = X.copy()
    X_nan[1500, 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinity.*row chunks \[1\]"):
        GDClassifier().fit(*on_cluster(X_nan, y))
    with pytest.raises(ValueError, match="only one class"):
        GDClassifier().fit(*on_cluster(X, np.zeros(N)))
    with pytest.raises(ValueError, match="has 100 rows"):
        GDClassifier().fit(on_cluster(X)[0], y[:100])
    with pytest.raises(ValueError, match="unknown length"):
        Xd = on_cluster(X)[0]
        GDClassifier().fit(Xd[Xd[:, 0] > 0], y)
    with pytest.raises(ValueError, match="Negative values"):
        GDClassifier().fit(*on_cluster(X, y), sample_weight=on_cluster(-np.ones(N))[0])
    with pytest.raises(ValueError, match="average is not available for mini-batch"):
        GDClassifier(average=True, batch_size=16).fit(*on_cluster(X, y))


def test_no_client_is_a_clear_error(monkeypatch):
    def no_client():
        raise ValueError("No clients found")

    monkeypatch.setattr(distributed, "default_client", no_client)
    X, y = data()
    with pytest.raises(ValueError, match="needs a dask.distributed Client"):
        GDClassifier().fit(*on_cluster(X, y))
