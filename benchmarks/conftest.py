"""pytest set-up for the benchmark suite: the ``--quick`` design, pinned thread counts, and the
machine description saved with the results."""

import pytest

from fastgd.bench import machine

#: Seconds each benchmark aims to take (see fastgd.bench.cases.rounds_for).
BUDGET = {"quick": 0.25, "full": 1.5}


def pytest_addoption(parser):
    parser.addoption("--quick", action="store_true",
                     help="run only the benchmarks marked quick, with fewer rounds")


def pytest_configure(config):
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
