"""The first fit a new user meets: each configuration of :data:`CONFIGS` fitted in a fresh Python
process with an empty numba cache (``NUMBA_CACHE_DIR`` a new directory), the fit alone timed
(imports and data excluded), then once more in another fresh process with the cache the first one
left; and, installed from the wheel with its prebuilt kernels (:func:`install_wheel`), the first
fit with an empty cache. ``python -m fastgd.bench.coldstart [--wheel]`` prints the table; the
benchmark suite records it."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

#: name -> (data, estimator): Python expressions run after ``import numpy as np``, ``import
#: scipy.sparse as sp`` and ``from fastgd import *``; ``X``, ``y`` come from the data expression.
CONFIGS = {
    "README example (blobs, full batch, numba)": (
        "make_blobs(n_samples=1000, centers=2, cluster_std=1.5, random_state=1)",
        'GDClassifier(loss="log_loss", learning_rate=0.01, epochs=100, batch_size=None, '
        'backend="numba")'),
    "GDClassifier() 2,000 x 20": ("dense(2000, 20, True)", "GDClassifier()"),
    "GDRegressor() 2,000 x 20": ("dense(2000, 20, False)", "GDRegressor()"),
    "mini-batch 32, adam, modified_huber": (
        "dense(2000, 20, True)",
        'GDClassifier(batch_size=32, optimizer="adam", loss="modified_huber")'),
    "GDClassifier() on CSR": ("sparse(2000, 1000)", "GDClassifier()"),
    "MLPClassifier()": ("dense(2000, 20, True)", "MLPClassifier(epochs=5)"),
    "local_sgd": ("dense(2000, 20, True)", 'GDClassifier(backend="local_sgd")'),
}

#: The benchmark groups of the cold first fits in ``benchmark.json``: from the source (an editable
#: install, which compiles), and from the wheel (its prebuilt kernels).
GROUP = "cold first fit"
WHEEL_GROUP = "cold first fit from the wheel"
#: The first fits measured before issue 27 (the kernels then chose the loss and optimizer inside
#: their loops), for the report's before-and-after table.
BEFORE = Path(__file__).resolve().parents[2] / "benchmarks" / "coldstart_before.json"

SCRIPT = """
import time
import numpy as np
import scipy.sparse as sp
from sklearn.datasets import make_blobs
from fastgd import *

def dense(n, d, classes):
    X = np.random.default_rng(0).standard_normal((n, d))
    return X, (X[:, 0] > 0) if classes else X @ np.arange(d)

def sparse(n, d):
    X = sp.random(n, d, density=0.02, format="csr", random_state=0)
    return X, np.arange(n) % 2

X, y = {data}
model = {estimator}
start = time.perf_counter()
model.fit(X, y)
print(time.perf_counter() - start)
"""


def first_fit(name, cache_dir, python=sys.executable):
    """Seconds of the first fit of configuration ``name`` in a fresh process of ``python``
    caching in ``cache_dir``."""
    data, estimator = CONFIGS[name]
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    # run from the cache's folder: ``python -c`` puts its working directory first on sys.path,
    # where a clone's fastgd would shadow the installed wheel's
    result = subprocess.run([python, "-c", SCRIPT.format(data=data, estimator=estimator)],
                            env=env, check=True, capture_output=True, text=True, cwd=cache_dir)
    return float(result.stdout.split()[-1])


def _run(*command, env=None):
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} failed:\n{done.stderr}")
    return done.stdout


def _source_only(folder, names):
    """``shutil.copytree``'s ignore: no bytecode, no kernels built into the source tree."""
    if Path(folder).name == "_prebuilt":
        return [name for name in names if not name.endswith(".py")]
    return [name for name in names if name == "__pycache__"]


def install_wheel(folder, prebuild="full"):
    """Build fastgd's wheel from a copy of the source (a build writes ``build/`` beside it) with
    the prebuilt kernels of the set ``prebuild`` (``setup.py``; "0": none), install it, not
    editable, into a fresh environment in ``folder`` that sees this one's dependencies, and
    return that environment's Python and site-packages."""
    folder = Path(folder)
    source = folder / "source"
    shutil.copytree(REPO / "fastgd", source / "fastgd", ignore=_source_only)
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(REPO / name, source)
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", folder / "dist", source, env={**os.environ, "FASTGD_PREBUILD": prebuild})
    env = folder / "env"
    _run(sys.executable, "-m", "venv", "--without-pip", env)
    python = env / "bin" / "python"
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
         *(folder / "dist").glob("fastgd-*.whl"))
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
                .strip())
    # this process's import path, after the fresh site-packages: a directory named in a .pth file
    # joins sys.path, but its own .pth files are not read, so an editable install of fastgd here
    # stays out
    dependencies = [entry for entry in sys.path if entry and Path(entry).is_dir()
                    and Path(entry).resolve() != REPO]
    (site / "dependencies.pth").write_text("\n".join(dependencies) + "\n")
    return python, site


def cold_and_warm(name):
    """``(cold, warm)``: the first fit's seconds with an empty cache, then with the one it left."""
    with tempfile.TemporaryDirectory() as cache_dir:
        return first_fit(name, cache_dir), first_fit(name, cache_dir)


def cold_from_wheel(name, python):
    """The first fit's seconds from the installed wheel of ``python`` with an empty cache."""
    with tempfile.TemporaryDirectory() as cache_dir:
        return first_fit(name, cache_dir, python)


def table(measured, wheel=None):
    """The report's rows: ``measured[config] = (cold, warm)`` from the source install, the cold
    seconds from the wheel (``wheel[config]``) where measured, and those of :data:`BEFORE` where it
    has them."""
    before = json.loads(BEFORE.read_text())["cold_s"] if BEFORE.is_file() else {}
    rows = []
    for config, (cold, warm) in measured.items():
        row = {"first fit": config, "source, empty cache (s)": f"{cold:.1f}",
               "source, cache warm (s)": f"{warm:.2f}"}
        if wheel and config in wheel:
            row["wheel, empty cache (s)"] = f"{wheel[config]:.2f}"
        if config in before:
            row["before issue 27, empty cache (s)"] = f"{before[config]:.1f}"
        rows.append(row)
    return rows


def main():
    wheel = "--wheel" in sys.argv[1:]
    print("| first fit | source, empty cache (s) | source, cache warm (s) |"
          + (" wheel, empty cache (s) |" if wheel else "")
          + "\n|---|---|---|" + ("---|" if wheel else ""))
    with tempfile.TemporaryDirectory() as folder:
        python = install_wheel(folder)[0] if wheel else None
        for name in CONFIGS:
            cold, warm = cold_and_warm(name)
            from_wheel = f" {cold_from_wheel(name, python):.2f} |" if wheel else ""
            print(f"| {name} | {cold:.1f} | {warm:.2f} |{from_wheel}", flush=True)


if __name__ == "__main__":
    main()
