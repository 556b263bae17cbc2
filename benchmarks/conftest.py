"""pytest set-up for the benchmark suite: the ``--quick`` design, pinned thread counts, and the
machine description saved with the results."""

from contextlib import contextmanager

import pytest

from fastgd.bench import machine
from fastgd.bench.report import MISSING_PEER

#: Seconds each benchmark aims to take (see fastgd.bench.cases.rounds_for).
BUDGET = {"quick": 0.25, "full": 1.5}


def pytest_addoption(parser):
    parser.addoption("--quick", action="store_true",
                     help="run only the benchmarks marked quick, with fewer rounds")


def pytest_configure(config):
    _missing_peers.clear()
    config.addinivalue_line("markers", "quick: part of the quick design (fastgd bench --quick)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--quick"):
        config.hook.pytest_deselected(items=[i for i in items if not i.get_closest_marker("quick")])
        items[:] = [item for item in items if item.get_closest_marker("quick")]


@pytest.fixture(autouse=True, scope="session")
def pinned_threads():
    with machine.pinned_threads():
        yield


@pytest.fixture(scope="session")
def budget(request):
    return BUDGET["quick" if request.config.getoption("--quick") else "full"]


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["fastgd"] = machine.describe()


#: The benchmarks skipped for a missing peer, for the JSON: ``{test, reason}`` each.
_missing_peers = []

#: The libraries fastgd races; one that cannot be imported or run is reported, not fatal.
PEERS = ("scikit-learn", "torch", "dask-ml")


@pytest.fixture
def peer():
    """``with peer(variant):`` around a variant's code: if the variant is one of the ``PEERS`` and
    its code raises (an import that fails, a private helper that moved), the benchmark is skipped
    as a missing peer with the error as the reason, and the rest of the suite goes on. fastgd's
    own variants pass through: they must run."""

    @contextmanager
    def guard(variant):
        name = variant.split()[0]  # "dask-ml admm" is dask-ml's
        if name not in PEERS:
            yield
            return
        try:
            yield
        except Exception as error:  # noqa: BLE001 - any failure of a peer's code is reported
            pytest.skip(f"{MISSING_PEER} {variant}: {type(error).__name__}: {error}".splitlines()[0])

    return guard



def pytest_runtest_logreport(report):
    if report.skipped and isinstance(report.longrepr, tuple):
        reason = report.longrepr[2].removeprefix("Skipped: ")
        if reason.startswith(MISSING_PEER):
            _missing_peers.append({"test": report.nodeid, "reason": reason})


def pytest_benchmark_update_json(config, benchmarks, output_json):
    output_json["missing_peers"] = _missing_peers
