"""``fastgd bench``: run the pytest-benchmark suite in ``benchmarks/`` and render its report."""

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from . import report

#: The source checkout: the suite lives in ``benchmarks/`` beside the ``fastgd`` package.
ROOT = Path(__file__).resolve().parents[2]
#: The exit status of a run that wrote its report without every peer (pytest's own codes are 0-5).
INCOMPLETE = 6


def run_suite(quick, out):
    """Run the suite (the quick design when ``quick``) with a progress bar, save its raw JSON as
    ``out/benchmark.json`` and render ``out/report.md``; return pytest's exit code."""
    suite = ROOT / "benchmarks"
    if not suite.is_dir():
        print(f"fastgd bench runs the suite in {suite}, which is missing: run it from a source "
              "checkout installed with `pip install -e .`", file=sys.stderr)
        return 2
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    raw = out / "benchmark.json"
    command = [sys.executable, "-m", "pytest", str(suite), "-q", "-p", "fastgd.bench.progress",
               f"--benchmark-json={raw}", *(["--quick"] if quick else [])]
    started, load_before, start = datetime.now(timezone.utc), os.getloadavg(), time.perf_counter()
    # pytest's own output is held back, and shown if the suite fails: the terminal shows the
    # progress bar, on stderr
    # OpenBLAS's threads spin for about 0.1 s after each product, holding the cores that a
    # multi-threaded numba kernel timed next needs: here a parallel epoch right after `X @ w` took
    # 26 ms instead of 12. A short timeout (2**4 cycles) puts them to sleep at once.
    env = {"OPENBLAS_THREAD_TIMEOUT": "4", **os.environ}
    result = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env)
    failed = [line.split()[1] for line in result.stdout.splitlines()
              if line.startswith(("FAILED ", "ERROR "))]
    if result.returncode != 0:
        (out / "pytest.log").write_text(result.stdout)
        print(result.stdout[-10_000:])
        print(f"the suite failed; pytest's whole output is in {out / 'pytest.log'}",
              file=sys.stderr)
        if not raw.exists():  # nothing was measured: no report to write
            return result.returncode
    data = json.loads(raw.read_text())
    data["fastgd_run"] = {
        "command": "fastgd bench" + (" --quick" if quick else ""),
        "started": started.isoformat(timespec="seconds"),
        "seconds": time.perf_counter() - start,
        "load_before": " ".join(f"{x:.2f}" for x in load_before),
        "load_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "failed": failed,
    }
    raw.write_text(json.dumps(data, indent=1))
    report.render(raw, out)
    print(f"{out / 'report.md'} written ({data['fastgd_run']['seconds']:.0f} s)")
    missing = data.get("missing_peers", [])
    for entry in missing:
        print(f"incomplete: {entry['test']}: {entry['reason']}", file=sys.stderr)
    if result.returncode != 0:
        return result.returncode
    # the report is written, but a run without all its peers is not a complete one
    return INCOMPLETE if missing else 0
