"""``fastgd bench --check`` fails on a real slowdown, naming it, and is quiet on unchanged code."""

from unittest import mock

import pytest

from fastgd._driver import BACKENDS
from fastgd.bench.cases import design
from fastgd.cli import main

#: A mini-batch case: a check of it takes well under a second and its speedup over NumPy is large,
#: so that halving it stands far outside the noise.
CASE = next(case for case in design(quick=True) if case.kind == "epoch" and case.batch == 32
            and case.optimizer == "sgd" and case.dtype == "float64")


def bench_check(baseline, *options):
    return main(["bench", "--check", str(baseline), "--select", CASE.id, "--budget", "0.3",
                 *options])


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "baseline.json"
    assert bench_check(path, "--update-baseline") == 0
    return path


def test_unchanged_code_checked_five_times_raises_no_alarm(baseline):
    assert [bench_check(baseline) for _ in range(5)] == [0] * 5


def doing_its_work_twice(run):
    def slowed(*args):
        run(*args)
        return run(*args)

    return slowed


def test_a_slowed_kernel_fails_the_check_naming_it(baseline, capsys):
    run, splits = BACKENDS["numba"]
    with mock.patch.dict(BACKENDS, {"numba": (doing_its_work_twice(run), splits)}):
        assert bench_check(baseline) == 1
    out = capsys.readouterr().out
    assert f"REGRESSION {CASE.id} numba:" in out
    assert f"REGRESSION {CASE.id} parallel" not in out
