"""fastgd's MLPClassifier against scikit-learn's, per epoch, with the same network and training.

Both train one hidden layer of 64 ReLU units with a softmax output by SGD with Nesterov momentum 0.9
(scikit-learn's ``solver="sgd"`` with its default ``nesterovs_momentum=True``; the two update rules
are the same for a constant step), the same batch size, step and L2 penalty (scikit-learn divides
``alpha`` by the batch size, so fastgd gets ``alpha / batch_size``), on float64 data:

- "digits": scikit-learn's bundled ``load_digits`` scaled to [0, 1], a stratified 75/25 split
  (seed 0); each timed call is a fit of ``EPOCHS`` epochs, so that the fixed cost of a fit counts
  once, as in real use;
- "synthetic": 100,000 training rows of ``make_classification`` (64 features, 10 classes),
  standardised, tested on 20,000 more; each timed call is a fit of one epoch.

Round ``r`` fits with ``random_state=r``: the time is the median over rounds, and ``accuracy`` in
``extra_info`` the mean test accuracy over those seeds (one seed alone moves it by about a point).
``us_per_sample_epoch`` is the median divided by epochs and training rows. Compilation is never
timed: a fit on a few rows compiles, then an untimed full fit (the warm-up) sets the number of
rounds from the time budget. Threads are pinned by ``conftest.py`` (numba's and BLAS's to every
core); the "numba" backend is serial by construction. ``--quick`` runs the digits cases of the
serial backend and scikit-learn.
"""

import math
import time
import warnings
from functools import lru_cache

import numba
import numpy as np
import pytest
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLP

from fastgd import MLPClassifier
from fastgd.bench.machine import THREADS

HIDDEN = (64,)
MOMENTUM = 0.9
ALPHA = 1e-4  # scikit-learn's default, per batch
#: Step of each batch size: both libraries reach their usual accuracy in the timed epochs.
LEARNING_RATE = {32: 0.03, 1: 0.001}
#: Epochs of each timed fit, by data set and batch size.
EPOCHS = {("digits", 32): 20, ("digits", 1): 5, ("synthetic", 32): 1, ("synthetic", 1): 1}
VARIANTS = ("numba", "parallel", "scikit-learn")
#: Rounds are set by the time budget within these bounds; scikit-learn's SGD on 100,000 rows takes
#: about 14 s an epoch.
MIN_ROUNDS, MAX_ROUNDS = 3, 20


@lru_cache(maxsize=2)
def dataset(name):
    """Return ``X_train, X_test, y_train, y_test`` in float64."""
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        return train_test_split(X / 16, y, test_size=0.25, stratify=y, random_state=0)
    X, y = make_classification(120_000, 64, n_informative=48, n_redundant=8, n_classes=10,
                               n_clusters_per_class=1, random_state=0)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X[:100_000], X[100_000:], y[:100_000], y[100_000:]


def make_model(variant, batch, epochs, seed):
    lr = LEARNING_RATE[batch]
    if variant == "scikit-learn":
        # n_iter_no_change: never stop before max_iter, as fastgd (tol=None)
        return SklearnMLP(HIDDEN, solver="sgd", momentum=MOMENTUM, nesterovs_momentum=True,
                          learning_rate_init=lr, batch_size=batch, alpha=ALPHA, max_iter=epochs,
                          n_iter_no_change=10**9, shuffle=True, random_state=seed)
    return MLPClassifier(HIDDEN, optimizer="nesterov", momentum=MOMENTUM, learning_rate=lr,
                         batch_size=batch, alpha=ALPHA / batch, epochs=epochs, shuffle=True,
                         backend=variant, random_state=seed)


CASES = [pytest.param(data, batch, variant, id=f"{data}-b{batch}-{variant}",
                      marks=[pytest.mark.quick] if data == "digits" and variant != "parallel"
                      else [])
         for data in ("digits", "synthetic") for batch in (32, 1) for variant in VARIANTS]


@pytest.mark.parametrize("data,batch,variant", CASES)
def test_mlp_epoch(benchmark, budget, data, batch, variant, peer):
    X_train, X_test, y_train, y_test = dataset(data)
    epochs = EPOCHS[data, batch]
    if variant != "scikit-learn":
        make_model(variant, batch, 1, 0).fit(X_train[:64], y_train[:64])  # compiles
    seeds = iter(range(1000))
    fitted = []

    def setup():
        return (make_model(variant, batch, epochs, next(seeds)),), {}

    def fit(model):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fitted.append(model.fit(X_train, y_train))

    start = time.perf_counter()
    with peer(variant):
        fit(setup()[0][0])  # the warm-up
    rounds = int(np.clip(budget / (time.perf_counter() - start), MIN_ROUNDS, MAX_ROUNDS))
    fitted.clear()
    benchmark.group = f"mlp {data} batch {batch}"
    benchmark.pedantic(fit, setup=setup, rounds=rounds, warmup_rounds=0)
    median = benchmark.stats.stats.median
    accuracies = [model.score(X_test, y_test) for model in fitted]  # not timed
    benchmark.extra_info.update(
        data=data, rows=len(X_train), features=X_train.shape[1], batch=batch, variant=variant,
        dtype="float64", hidden=list(HIDDEN), epochs=epochs,
        threads=numba.get_num_threads() if variant == "parallel" else
        (THREADS if variant == "scikit-learn" else 1),
        accuracy=float(np.mean(accuracies)), accuracy_seeds=len(accuracies),
        us_per_sample_epoch=median / epochs / len(X_train) * 1e6)
    assert math.isfinite(median)
