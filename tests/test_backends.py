"""fastgd/backends.py: the registry of each model family's backends, and that the estimators
follow it."""

import numba
import numpy as np
import pytest
from sklearn.datasets import make_blobs

from fastgd import GDClassifier, MLPClassifier, backends, config
from fastgd._kernels import linear, mlp

from .conftest import BACKENDS


def test_tables():
    assert list(backends.LINEAR) == ["numba", "parallel", "local_sgd", "numpy"]
    assert list(backends.MLP) == ["numba", "parallel", "numpy"]
    assert backends.FAMILIES == {"linear": backends.LINEAR, "mlp": backends.MLP}
    assert set(BACKENDS) <= set(backends.MLP) <= set(backends.LINEAR)
    for table in backends.FAMILIES.values():
        for name, backend in table.items():
            assert backend.name == name
            assert callable(backend.epoch) and callable(backend.forward)
            assert backend.description


def test_epoch_kernels():
    assert backends.LINEAR["numpy"].epoch is linear.run_epoch
    assert backends.LINEAR["numba"].epoch is linear._run_epoch
    assert backends.LINEAR["parallel"].epoch is linear._run_epoch_parallel
    assert backends.LINEAR["local_sgd"].epoch is linear._local_sgd_epoch
    assert backends.LINEAR["numpy"].forward is linear.reference_forward
    assert backends.MLP["numpy"].epoch is mlp.run_epoch
    assert backends.MLP["numba"].epoch is mlp._run_epoch
    assert backends.MLP["parallel"].epoch is mlp._run_epoch_parallel
    assert backends.MLP["numpy"].forward is mlp.reference_forward


def test_threads():
    for table in backends.FAMILIES.values():
        for name, backend in table.items():
            assert backend.threaded == (name in ("parallel", "local_sgd"))
            assert backends.is_threaded(name) == backend.threaded
            assert backend.threads() == (numba.get_num_threads() if backend.threaded else 1)
    assert not backends.is_threaded("no such backend")


def test_get():
    assert backends.get("linear", "local_sgd") is backends.LINEAR["local_sgd"]
    assert backends.get("mlp", "numba") is backends.MLP["numba"]
    with pytest.raises(ValueError, match="no backend 'local_sgd'; choose one of 'numba', "
                                         "'parallel', 'numpy'"):
        backends.get("mlp", "local_sgd")
    with pytest.raises(ValueError, match="choose one of 'numba', 'parallel', 'local_sgd', 'numpy'"):
        backends.get("linear", "cuda")


def test_parameter_doc_lists_every_backend():
    for family, table in backends.FAMILIES.items():
        doc = backends.parameter_doc(family)
        assert doc.startswith("    backend : {")
        for backend in table.values():
            assert f'"{backend.name}": {backend.description}.' in doc
    assert "local_sgd" not in backends.parameter_doc("mlp")
    assert "local_sgd" in GDClassifier.__doc__ and "local_sgd" not in MLPClassifier.__doc__


def test_estimators_take_the_backends_of_their_family():
    X, y = make_blobs(60, 3, centers=2, random_state=0)
    for name in backends.LINEAR:
        model = GDClassifier(backend=name, epochs=1)
        assert model._backend is backends.LINEAR[name]
        assert model._epochs_for(X, y).backend is backends.LINEAR[name]
    for name in backends.MLP:
        assert MLPClassifier(backend=name)._backend is backends.MLP[name]
    with pytest.raises(ValueError, match="'backend' parameter of MLPClassifier must be a str among"):
        MLPClassifier(backend="local_sgd").fit(X, y)


def test_epochs_for_sets_up_what_fit_trains():
    X, y = make_blobs(60, 3, centers=2, random_state=0)
    epochs = GDClassifier(optimizer="adamw", alpha=0.1, epochs=1)._epochs_for(X, y)
    assert epochs.data.X is not None and epochs.data.Y.shape == (60, 1)
    assert epochs.params.shape == (1, 4)
    # AdamW's penalty is a decay of the weights, not a term of the gradient
    assert epochs.model.alpha == 0.0 and epochs.model.decay == 0.1
    before = epochs.params.copy()
    order = np.arange(60, dtype=np.int64)
    total = epochs.run(order, 10, 0.01, 0, np.array([0.25, 1.0, 0.0]))
    assert np.isfinite(total) and not np.array_equal(epochs.params, before)
    assert epochs.state.step == 6


def test_auto_chooses_by_the_documented_rule():
    split = 2 * config.MIN_ROWS_PER_THREAD  # the smallest batch that parallel splits in two
    many, batch = config.AUTO_LOCAL_SGD_MIN_ROWS, config.AUTO_LOCAL_SGD_MAX_BATCH
    assert backends.choose("linear", 10**6, None, 1) == "numba"
    assert backends.choose("linear", 10**6, 1, 1) == "numba"
    assert backends.choose("linear", split, None, 2) == "parallel"
    assert backends.choose("linear", split - 1, None, 2) == "numba"
    assert backends.choose("linear", 10**6, split, 2) == "parallel"
    assert backends.choose("linear", many, batch, 2) == "local_sgd"
    assert backends.choose("linear", many, 1, 2) == "local_sgd"
    assert backends.choose("linear", many - 1, 1, 2) == "numba"
    assert backends.choose("linear", many, batch + 1, 2) == "numba"
    assert backends.choose("linear", many, 1, 2, local_sgd=False) == "numba"
    assert backends.choose("linear", 100, 1, 2, per_class=True) == "parallel"
    assert backends.choose("linear", many, 1, 1, per_class=True) == "numba"
    assert backends.choose("mlp", many, 1, 2) == "numba"
    assert backends.choose("mlp", many, None, 2) == "parallel"


def test_estimators_default_to_auto_and_say_what_it_chose():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((config.AUTO_LOCAL_SGD_MIN_ROWS, 2))
    y = (X[:, 0] > 0).astype(int)
    assert GDClassifier().backend == MLPClassifier().backend == "auto"
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs two of numba's threads")
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(2)
        for params, expected in [({}, "local_sgd"), ({"batch_size": None}, "parallel"),
                                 ({"batch_size": 256}, "numba"),
                                 ({"penalty": "l1", "alpha": 1e-4}, "numba"),
                                 ({"average": True}, "numba"),
                                 ({"backend": "parallel"}, "parallel")]:
            model = GDClassifier(epochs=1, **params).fit(X, y)
            assert model.backend_ == expected, params
            assert model._backend is backends.LINEAR[expected]
            assert model.score(X, y) > 0.9
        # partial_fit chooses at its first call, by that call's rows
        model = GDClassifier().partial_fit(X[:100], y[:100], classes=[0, 1])
        assert model.backend_ == "numba"
        assert model.partial_fit(X, y).backend_ == "numba"
        numba.set_num_threads(1)
        assert GDClassifier(epochs=1, batch_size=None).fit(X, y).backend_ == "numba"
    finally:
        numba.set_num_threads(threads)
