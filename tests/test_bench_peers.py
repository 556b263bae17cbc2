"""A peer that cannot be imported or run is reported as missing, and the rest of the suite and its
report still complete; fastgd's own variants are not excused."""

from fastgd.bench import report

SUITE = '''
from benchmarks.conftest import *  # the suite's fixtures and hooks

def test_peer_that_cannot_import(benchmark, peer):
    with peer("dask-ml admm"):
        raise ImportError("cannot import name '_safe_tags'")

def test_fastgd_variant_must_run(benchmark, peer):
    with peer("numba"):
        raise ImportError("a real failure")

def test_peer_that_runs(benchmark, peer):
    with peer("scikit-learn"):
        benchmark.pedantic(lambda: None, rounds=1)
'''


def test_a_missing_peer_is_reported_and_the_report_written(pytester, tmp_path, monkeypatch):
    # as in `fastgd bench`, not as an xdist worker of the test suite: pytest-benchmark writes no
    # JSON under xdist
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
    pytester.makeconftest(SUITE.split("\n\n")[0].strip())
    pytester.makepyfile(test_suite=SUITE)
    raw = tmp_path / "benchmark.json"
    result = pytester.runpytest("-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                                f"--benchmark-json={raw}")
    result.assert_outcomes(passed=1, skipped=1, failed=1)
    data, _ = report.load(raw)
    [missing] = data["missing_peers"]
    assert missing["test"].endswith("test_peer_that_cannot_import")
    assert "dask-ml admm" in missing["reason"] and "_safe_tags" in missing["reason"]

    report.render(raw, tmp_path)
    text = (tmp_path / "report.md").read_text()
    assert "## Incomplete run" in text and "_safe_tags" in text
