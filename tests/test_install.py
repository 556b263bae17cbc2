"""fastgd as installed and run by others: from a read-only install, in several processes and at
several thread counts, and through pickle and deepcopy. Each test records what it tried in
results/reliability.md (see ``reliability`` in conftest.py)."""

import copy
import ctypes
import hashlib
import json
import os
import pickle
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from numba.core.event import install_recorder
from sklearn.datasets import make_classification

from fastgd import GDClassifier
from fastgd.bench.coldstart import install_wheel
from fastgd.config import LOCAL_SGD_SYNC_ROWS, OPTIONS

from .conftest import ESTIMATORS, backends_of

REPO = Path(__file__).resolve().parents[1]

def targets(name, y):
    """``y`` as labels for a classifier, as numbers for a regressor."""
    return y if "Classifier" in name else y.astype(float)


def parameters(est):
    """The bytes of the learned parameters: ``coef_`` and ``intercept_``, or the MLP's ``coefs_``
    and ``intercepts_``."""
    arrays = [est.coef_, est.intercept_] if hasattr(est, "coef_") else est.coefs_ + est.intercepts_
    return b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)


def outputs(est, X):
    """The bytes of every prediction ``est`` makes of ``X``."""
    methods = ["predict", "predict_proba", "decision_function"]
    return b"".join(np.ascontiguousarray(getattr(est, m)(X)).tobytes()
                    for m in methods if hasattr(est, m))


def digest(data):
    return hashlib.sha256(data).hexdigest()[:16]


# --- a read-only install --------------------------------------------------------------------------

#: Run by the fresh environment's Python: import fastgd and fit each (estimator, backend) of argv[2]
#: on a tiny problem, recording warnings. Kernels compile from scratch there, so one dtype, one
#: epoch, 40 rows: only what compiles each backend's epoch and forward kernels.
READ_ONLY_CHILD = textwrap.dedent("""
    import json, sys, warnings
    from pathlib import Path

    try:
        (Path(sys.argv[1]) / "write-probe").touch()
    except OSError:
        pass
    else:
        sys.exit(77)  # the install is writable to this process: nothing to test
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import numpy as np
        import fastgd

        X = np.random.default_rng(0).standard_normal((40, 3))
        y = (X[:, 0] > 0).astype(int)
        scores = {}
        for name, backend in json.loads(sys.argv[2]):
            est = getattr(fastgd, name)(backend=backend, epochs=1, random_state=0).fit(X, y)
            assert np.isfinite(est.predict_proba(X)).all()
            scores[f"{name} {backend}"] = est.score(X, y)
    print(json.dumps({"fastgd": fastgd.__file__, "scores": scores,
                      "warnings": [f"{w.category.__name__}: {w.message}" for w in caught]}))
""")

#: What each child fits: the NumPy backend and two compiled ones, serial and parallel. Whether a
#: kernel is cached is one option of all of them (``config.OPTIONS``), so the other backends, each
#: tens of seconds of compiling uncached, would test nothing more.
READ_ONLY_FITS = [
    [("GDClassifier", "numpy"), ("GDClassifier", "numba"), ("GDClassifier", "parallel")],
]

PR_CAPBSET_DROP, CAP_DAC_OVERRIDE = 24, 1


def unprivileged_child():
    """A ``preexec_fn`` that, run by root, leaves the program it starts without CAP_DAC_OVERRIDE,
    the capability by which root writes where file permissions say no: still root, the owner of
    the install, whose write bits are off. (Another user would do, but cannot always run this
    Python: here it lives under /root, mode 700.) Whether the drop took, the child checks."""
    if os.geteuid() != 0:
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork, not in the child
    return lambda: prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0)


def run(*command, cwd=None, env=None):
    """Run ``command``; return its output, or fail with its errors."""
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env)
    assert done.returncode == 0, f"{' '.join(map(str, command))} failed:\n{done.stderr}"
    return done.stdout


def set_writable(path, writable):
    """Add or remove the write bits of ``path`` and everything under it."""
    for entry in [path, *path.rglob("*")]:
        mode = entry.stat().st_mode
        entry.chmod(mode | 0o200 if writable else mode & ~0o222)


def read_only_env(home):
    """The environment of a child that can write neither its home nor a numba cache."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME", "PYTHONPATH", "FASTGD_PREBUILT")}
    env["HOME"] = str(home)
    return env


def test_a_read_only_install_fits_with_one_warning(tmp_path, reliability):
    """Installed from the wheel where nothing can be written (site-packages read-only, an
    unwritable home, no NUMBA_CACHE_DIR), fastgd imports and fits, its kernels
    compiled uncached, with one warning saying so; before, numba's ``cache=True`` raised at import
    ("cannot cache function ...: no locator available")."""
    start = time.perf_counter()
    python, site = install_wheel(tmp_path, prebuild="0")
    home = tmp_path / "home"
    home.mkdir()
    env = read_only_env(home)
    set_writable(site, False)
    set_writable(home, False)
    try:
        children = [subprocess.Popen([python, "-c", READ_ONLY_CHILD, site, json.dumps(fits)],
                                     cwd=home, env=env, preexec_fn=unprivileged_child(),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                    for fits in READ_ONLY_FITS]
        finished = [child.communicate() + (child.returncode,) for child in children]
    finally:  # so that pytest can delete it
        set_writable(site, True)
        set_writable(home, True)
    if any(code == 77 for _, _, code in finished):
        pytest.skip("the read-only install stayed writable to the child: run as root, it could "
                    "not drop CAP_DAC_OVERRIDE")
    for (out, err, code), fits in zip(finished, READ_ONLY_FITS):
        assert code == 0, f"fitting {fits} from a read-only install failed:\n{err}"
        result = json.loads(out)
        assert Path(result["fastgd"]).is_relative_to(site)
        assert sorted(result["scores"]) == sorted(f"{name} {backend}" for name, backend in fits)
        assert all(score > 0.5 for score in result["scores"].values()), result["scores"]
        assert len(result["warnings"]) == 1, result["warnings"]
        assert result["warnings"][0].startswith("RuntimeWarning: fastgd's compiled kernels are "
                                                "not cached")
        assert "Set NUMBA_CACHE_DIR to a writable directory" in result["warnings"][0]
    tried = ", ".join(f"{name} {backend}" for fits in READ_ONLY_FITS for name, backend in fits)
    child = "root without CAP_DAC_OVERRIDE" if os.geteuid() == 0 else "this user"
    reliability("read-only install", "the wheel installed (not editable) into a fresh environment, "
                "its site-packages read-only, HOME unwritable, NUMBA_CACHE_DIR unset, the child "
                f"unable to write there ({child}): a fit of {tried}",
                sum(map(len, READ_ONLY_FITS)),
                f"every fit works, kernels compiled uncached, one RuntimeWarning per process "
                f"saying so and naming NUMBA_CACHE_DIR; {time.perf_counter() - start:.0f} s")


#: Run by the installed wheel's Python: the smoke set's fits (``fastgd._prebuilt.build``), printing
#: the functions numba compiled for them and the models.
PREBUILT_CHILD = textwrap.dedent("""
    import json, sys, warnings
    warnings.simplefilter("ignore")  # the read-only install's warning: the test above has it
    import numpy as np
    import scipy.sparse as sp
    from numba.core import event
    from fastgd import GDClassifier

    out = {}
    for name, path in json.loads(sys.argv[1]).items():
        data = sp.load_npz(path) if name == "csr" else np.load(path)
        with event.install_recorder("numba:compile") as recorder:
            model = GDClassifier(epochs=2, random_state=0).fit(data, data @ np.linspace(-1, 1, data.shape[1]) > 0)
            scores = model.decision_function(data)
        out[name] = {"compiled": sorted({ev.data["dispatcher"].py_func.__qualname__
                                         for _, ev in recorder.buffer if ev.is_start}),
                     "coef": model.coef_.tolist(), "scores": scores.tolist()}
    print(json.dumps(out))
""")


def test_the_wheel_carries_its_compiled_kernels(tmp_path):
    """Built with the prebuilt kernels (the smoke set: ``GDClassifier`` on dense and CSR float64)
    and installed where nothing can be written, fastgd fits without compiling anything, the
    models of kernels compiled on this machine (to 1e-10: the generic CPU's code has no fused
    multiply-add); with the kernels' files truncated, it compiles them instead, to the same
    models."""
    python, site = install_wheel(tmp_path, prebuild="smoke")
    kernels = site / "fastgd" / "_prebuilt"
    assert json.loads((kernels / "built.json").read_text())["numba"] == numba.__version__
    data = {"dense": np.random.default_rng(0).standard_normal((300, 5)),
            "csr": sp.random(300, 50, density=0.2, format="csr", random_state=0)}
    paths = {"dense": tmp_path / "dense.npy", "csr": tmp_path / "csr.npz"}
    np.save(paths["dense"], data["dense"])
    sp.save_npz(paths["csr"], data["csr"])
    home = tmp_path / "home"
    home.mkdir()

    def fit_in_child():
        set_writable(site, False)
        set_writable(home, False)
        try:
            out = run(python, "-c", PREBUILT_CHILD, json.dumps({k: str(v) for k, v in paths.items()}),
                      cwd=home, env=read_only_env(home))
        finally:
            set_writable(site, True)
            set_writable(home, True)
        return json.loads(out.strip().splitlines()[-1])

    prebuilt = fit_in_child()
    for name, X in data.items():
        model = GDClassifier(epochs=2, random_state=0).fit(X, X @ np.linspace(-1, 1, X.shape[1]) > 0)
        assert prebuilt[name]["compiled"] == [], prebuilt[name]["compiled"]
        np.testing.assert_allclose(prebuilt[name]["coef"], model.coef_, rtol=1e-10)
        np.testing.assert_allclose(prebuilt[name]["scores"], model.decision_function(X),
                                   rtol=1e-10, atol=1e-12)
    for entry in kernels.rglob("*.nbc"):
        entry.write_bytes(entry.read_bytes()[:100])
    compiled = fit_in_child()
    assert "_run_rows" in compiled["dense"]["compiled"]
    assert "_run_scaled_sgd" in compiled["csr"]["compiled"]
    for name in data:
        np.testing.assert_allclose(compiled[name]["coef"], prebuilt[name]["coef"], rtol=1e-10)


# --- one seed, one model, in every process --------------------------------------------------------

#: The threaded backends split a batch across threads only from 2 x MIN_ROWS_PER_THREAD rows
#: (4,096), local_sgd only from 2 x LOCAL_SGD_SYNC_ROWS (16,384); the NumPy reference, a Python loop
#: per row in SGD, gets fewer rows.
THREADED_ROWS, NUMPY_ROWS = 2 * LOCAL_SGD_SYNC_ROWS, 300
BATCH_SIZES = [1, 32, None]
THREADS = 2


def seeded_fits():
    """Every backend of GDClassifier and MLPClassifier at each of ``BATCH_SIZES``, fitted with one
    seed at numba's current thread count: ``{"<estimator> <backend> batch <size>": digest of the
    parameters}``. Also run in subprocesses (``python -c``, from the repository's root)."""
    X, y = make_classification(THREADED_ROWS, 8, n_informative=5, n_classes=3, random_state=0)
    digests = {}
    for name in ("GDClassifier", "MLPClassifier"):
        for backend in backends_of(name):
            rows = NUMPY_ROWS if backend == "numpy" else THREADED_ROWS
            for batch_size in BATCH_SIZES:
                est = ESTIMATORS[name](backend=backend, batch_size=batch_size, epochs=2,
                                       random_state=0).fit(X[:rows], y[:rows])
                digests[f"{name} {backend} batch {batch_size}"] = digest(parameters(est))
    return digests


@contextmanager
def numba_threads(n):
    before = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(before)


@pytest.fixture(scope="module")
def fits_at_two_threads():
    if numba.config.NUMBA_NUM_THREADS < THREADS:
        pytest.skip(f"numba has {numba.config.NUMBA_NUM_THREADS} thread here, not {THREADS}")
    with numba_threads(THREADS):
        return seeded_fits()


def test_a_seed_gives_the_same_model_in_every_process(fits_at_two_threads, reliability):
    """Two fresh processes at the same thread count fit, for every backend and batch size, the
    model this one fits, bit for bit (and, run after it, load its kernels from the cache)."""
    code = ("import json; from tests.test_install import seeded_fits; "
            "print(json.dumps(seeded_fits()))")
    env = {**os.environ, "NUMBA_NUM_THREADS": str(THREADS)}
    children = [subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    for child in children:
        out, err = child.communicate()
        assert child.returncode == 0, err
        assert json.loads(out) == fits_at_two_threads
    reliability("processes", "GDClassifier and MLPClassifier, every backend, batch sizes 1, 32 and "
                f"full ({THREADED_ROWS:,} rows, the NumPy backend {NUMPY_ROWS:,}), random_state=0, "
                f"fitted here and in two fresh processes at {THREADS} numba threads",
                3 * len(fits_at_two_threads),
                "the parameters (coef_, or the MLP's coefs_) bit-identical in the three processes "
                "for every fit")


def test_the_thread_count_changes_only_the_threaded_backends(fits_at_two_threads, reliability):
    """numba.set_num_threads between fits: the serial backends give the same model at 1 and 2
    threads; the threaded ones may not (each part of a batch is its own sum), but give their own
    2-thread model again once set back to 2."""
    with numba_threads(1):
        at_one = seeded_fits()
    with numba_threads(THREADS):
        again = seeded_fits()
    assert again == fits_at_two_threads
    serial = [key for key in at_one if key.split()[1] in ("numpy", "numba")]
    assert {key: at_one[key] for key in serial} == {key: fits_at_two_threads[key] for key in serial}
    changed = [key for key in at_one if at_one[key] != fits_at_two_threads[key]]
    reliability("thread count", f"the fits of the previous row at {THREADS}, 1, then {THREADS} "
                "numba threads in one process", 2 * len(at_one),
                f"numpy and numba bit-identical at 1 and {THREADS} threads ({len(serial)} fits); "
                f"every fit at {THREADS} threads again identical to the first; at 1 thread "
                f"{len(changed)} threaded fits differ from {THREADS} threads, as they may: "
                f"{', '.join(changed) or 'none'}")


# --- pickle and deepcopy --------------------------------------------------------------------------

ROUND_TRIPS = {"pickle": lambda est: pickle.loads(pickle.dumps(est)), "deepcopy": copy.deepcopy}


def fitted_cases():
    """``(label, fitted estimator, X, y)``: every estimator and backend fitted by SGD on dense X,
    the linear ones on the same X as CSR too."""
    X, y = make_classification(300, 6, n_informative=4, n_classes=3, random_state=0)
    inputs = {"dense": X, "CSR": sp.csr_array(np.where(np.abs(X) > 0.5, X, 0.0))}
    cases = []
    for name in ESTIMATORS:
        for backend in backends_of(name):
            for kind in ["dense"] if name.startswith("MLP") else inputs:
                est = ESTIMATORS[name](backend=backend, epochs=3, random_state=0)
                est.fit(inputs[kind], targets(name, y))
                cases.append((f"{name} {backend} {kind}", est, inputs[kind], targets(name, y)))
    return cases


def test_pickle_and_deepcopy_keep_predictions_and_training(reliability):
    """A pickled or deep-copied fitted estimator predicts as the original, and partial_fit continues
    both to the same model (the optimizer state and the random generator came along)."""
    cases = fitted_cases()
    for label, est, X, y in cases:
        twins = {how: round_trip(est) for how, round_trip in ROUND_TRIPS.items()}
        predictions = outputs(est, X)
        continued = parameters(est.partial_fit(X, y)), outputs(est, X)
        for how, twin in twins.items():
            assert outputs(twin, X) == predictions, f"{label}: predictions changed by {how}"
            assert (parameters(twin.partial_fit(X, y)), outputs(twin, X)) == continued, (
                f"{label}: partial_fit after {how} trains another model")
    reliability("pickle and deepcopy", "every estimator and backend fitted by SGD (the linear ones "
                "on dense X and on CSR), through pickle.loads(pickle.dumps()) and copy.deepcopy, "
                "then partial_fit", 2 * len(cases),
                "each of predict, predict_proba and decision_function it has bit-identical to the "
                "original's; "
                "partial_fit continues to the original's model, bit for bit")


def continue_pickled(path):
    """Load the pickled ``fitted_cases()`` at ``path``; predict and partial_fit each. Returns the
    digests of what came out and the functions numba compiled meanwhile (its "numba:compile"
    event; a load from the cache raises none). Also run in a fresh process."""
    def compiled_here(x):  # compiled in every process: the event the recorder must see
        return x + 1

    with install_recorder("numba:compile") as recorder:
        with open(path, "rb") as file:
            cases = pickle.load(file)
        digests = {label: digest(outputs(est, X) + parameters(est.partial_fit(X, y)))
                   for label, est, X, y in cases}
        numba.njit(compiled_here)(1.0)
    compiled = [event.data["dispatcher"].py_func.__qualname__
                for _, event in recorder.buffer if event.is_start]
    return {"digests": digests, "compiled": compiled}


def test_a_pickled_estimator_loads_its_kernels_from_the_cache_in_a_fresh_process(
        tmp_path, reliability):
    """Estimators pickled here predict and continue training in a fresh process as here, and that
    process compiles none of their kernels: this one's same calls left them in the cache."""
    if not OPTIONS["cache"]:
        pytest.skip("numba cannot cache fastgd's kernels here (see the warning at import)")
    path = tmp_path / "estimators.pkl"
    path.write_bytes(pickle.dumps(fitted_cases()))
    expected = continue_pickled(path)  # the same calls, here: the cache is warm for the child
    code = ("import json; from tests.test_install import continue_pickled; "
            f"print(json.dumps(continue_pickled({str(path)!r})))")
    result = json.loads(run(sys.executable, "-c", code, cwd=REPO))
    assert result["digests"] == expected["digests"]
    assert result["compiled"] == ["continue_pickled.<locals>.compiled_here"]
    reliability("pickle in a fresh process", "the estimators of the previous row pickled to a "
                "file, loaded in a fresh process, predict and partial_fit there, numba's "
                "compilations recorded (its \"numba:compile\" event)", len(expected["digests"]),
                "bit-identical to the same calls here; no kernel compiled in the fresh process "
                "(only the recorder's own control function)")
