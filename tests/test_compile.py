"""A fit compiles its own kernel path only, for its own loss and optimizer, and a second process
loads every kernel from numba's cache: no compile events in a fresh process after a warm one."""

import json
import os
import subprocess
import sys

import pytest

#: Fits in a child process that prints the names of the functions numba compiled for them.
CHILD = """
import json
import numpy as np
import scipy.sparse as sp
from numba.core import event
from fastgd import GDClassifier, MLPClassifier

X = np.random.default_rng(0).standard_normal((300, 5))
y = X[:, 0] > 0
read_only = X.copy()
read_only.flags.writeable = False
read_only_csr = sp.csr_matrix(X)
for array in (read_only_csr.data, read_only_csr.indices, read_only_csr.indptr):
    array.flags.writeable = False
fits = {
    "sgd": lambda: GDClassifier(epochs=2).fit(X, y).predict(X),
    "read-only": lambda: GDClassifier(epochs=2).fit(read_only, y).predict(read_only),
    "read-only csr": lambda: GDClassifier(epochs=2).fit(read_only_csr, y).predict(read_only_csr),
    "full batch": lambda: GDClassifier(batch_size=None, epochs=2, backend="numba").fit(X, y),
    "csr": lambda: GDClassifier(epochs=2).fit(sp.csr_matrix(X), y).predict(sp.csr_matrix(X)),
    "mlp": lambda: MLPClassifier((4,), epochs=2).fit(X, y),
}
compiled = {}
for name in %r:
    with event.install_recorder("numba:compile") as recorder:
        fits[name]()
    compiled[name] = sorted({ev.data["dispatcher"].py_func.__qualname__
                             for _, ev in recorder.buffer if ev.is_start
                             and "dispatcher" in ev.data})
print(json.dumps(compiled))
"""


def compiled_in_a_child(names, cache_dir):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    result = subprocess.run([sys.executable, "-c", CHILD % (names,)], env=env,
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("numba_cache")


#: kernels of other paths, losses and optimizers, which the fits above must not compile
OTHER_PATHS = {"_run_batches", "_run_whole_batch", "_storage_order_body", "_run_scaled_sgd",
               "_run_scaled_sgd_averaged", "_after_update", "_run_batches_parallel",
               "_local_sgd_rows"}


def test_a_fit_compiles_its_own_path_only(cache_dir):
    compiled = compiled_in_a_child(["sgd", "full batch", "csr", "mlp"], cache_dir)
    assert "_run_rows" in compiled["sgd"]
    assert not OTHER_PATHS & set(compiled["sgd"])
    assert "_storage_order_body" in compiled["full batch"]
    assert not (OTHER_PATHS - {"_run_whole_batch", "_storage_order_body"}) & set(
        compiled["full batch"])
    assert "_run_scaled_sgd" in compiled["csr"]
    assert "_run_scaled_sgd_averaged" not in compiled["csr"]
    assert "_storage_order_body" not in compiled["csr"]
    for name in ("sgd", "full batch", "csr"):  # log_loss and sgd: no other loss's or optimizer's
        assert not {"_hinge_derivative", "_huber_loss", "_adam_element"} & set(compiled[name])
    assert "_adam_element" in compiled["mlp"]  # the networks' default


def test_a_second_process_compiles_nothing(cache_dir):
    compiled_in_a_child(["sgd", "full batch", "csr", "mlp"], cache_dir)  # warm, if not already
    assert compiled_in_a_child(["sgd", "full batch", "csr", "mlp"], cache_dir) == {
        "sgd": [], "full batch": [], "csr": [], "mlp": []}


def test_read_only_arrays_compile_nothing_new(cache_dir):
    """numba types a read-only array apart: without ``data.compiled_types`` every kernel would
    compile again for a read-only memmap."""
    compiled_in_a_child(["sgd", "csr"], cache_dir)  # warm, if not already
    assert compiled_in_a_child(["read-only", "read-only csr"], cache_dir) == {
        "read-only": [], "read-only csr": []}
