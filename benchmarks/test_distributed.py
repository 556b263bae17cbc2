"""Issue 14's distributed sweep (``fastgd/bench/distributed.py`` says what is measured and how): a
full-batch and a local-SGD epoch on a ``LocalCluster`` of 2 workers x 1 thread beside the in-process
backends, the split of a distributed epoch's time, and the time to a training loss against dask-ml.
The sizes follow the design: ``ROWS["quick"]`` with ``--quick``, else ``ROWS["full"]``. Each
benchmark's own time is that of its whole measurement; what counts is in ``extra_info``."""

import pytest

pytest.importorskip("distributed")

from fastgd.bench import distributed as dist  # noqa: E402

pytestmark = pytest.mark.quick  # the sizes follow --quick

EPOCH_GROUP = "distributed epochs"
RACE_GROUP = "distributed time to loss"


def _level(config):
    return "quick" if config.getoption("--quick") else "full"


def pytest_generate_tests(metafunc):
    if "rows" in metafunc.fixturenames:
        metafunc.parametrize("rows", dist.ROWS[_level(metafunc.config)])


@pytest.fixture(scope="module")
def client():
    with dist.local_cluster() as client:
        yield client


_DATA = {}


def cluster_data(client, rows):
    if rows not in _DATA:
        _DATA.clear()  # one size on the cluster at a time
        _DATA[rows] = dist.cluster_data(client, rows)
    return _DATA[rows]


@pytest.mark.parametrize("batch", [None, dist.BATCH], ids=["full-batch", f"batch-{dist.BATCH}"])
def test_distributed_epoch(benchmark, client, rows, batch, request):
    rounds = 3 if _level(request.config) == "quick" else 5
    X, y = cluster_data(client, rows)
    threaded = "parallel" if batch is None else "local_sgd"
    measured = {}

    def measure():
        measured["dask"], measured["split"] = dist.distributed_epoch(client, X, y, batch, rounds)
        for backend in ("numba", threaded):
            measured[backend] = dist.in_process_epoch(rows, backend, batch, rounds)

    benchmark.group = EPOCH_GROUP
    benchmark.pedantic(measure, rounds=1)
    benchmark.extra_info.update(
        rows=rows, features=dist.FEATURES, batch=batch, workers=dist.WORKERS,
        worker_threads=dist.WORKER_THREADS, chunk_rows=min(dist.CHUNK_ROWS, -(-rows // 2)),
        dask_s=measured["dask"], numba_s=measured["numba"], threaded=threaded,
        threaded_s=measured[threaded], **{f"{k}_s": v for k, v in measured["split"].items()})


RACERS = [*dist.FASTGD_RACERS, *(f"dask-ml {solver}" for solver in dist.PEER_SOLVERS)]


@pytest.fixture(scope="module")
def race(client, request):
    """The persisted data of the race and its target loss."""
    _DATA.clear()
    dist.local_data.cache_clear()
    rows = dist.PEER_ROWS[_level(request.config)]
    X, y = dist.cluster_data(client, rows)
    optimum = dist.optimal_loss(X.compute(), y.compute())
    return X, y, optimum


@pytest.mark.parametrize("racer", RACERS)
def test_time_to_loss(benchmark, race, racer, request, peer):
    level = _level(request.config)
    X, y, optimum = race
    target = optimum * (1 + dist.LOSS_TOLERANCE)
    measured = []

    def measure():
        if racer in dist.FASTGD_RACERS:
            measured.append(dist.fastgd_time_to_loss(X, y, dist.FASTGD_RACERS[racer], target,
                                                     dist.MAX_EPOCHS))
        else:
            measured.append(dist.peer_time_to_loss(X, y, racer.split()[1], target,
                                                   dist.PEER_SECONDS[level]))

    benchmark.group = RACE_GROUP
    with peer(racer):
        benchmark.pedantic(measure, rounds=1)
    seconds, iterations, loss = measured[0]
    benchmark.extra_info.update(racer=racer, rows=X.shape[0], seconds=seconds,
                                iterations=iterations, loss=loss, optimum=optimum, target=target,
                                budget_s=dist.PEER_SECONDS[level])
