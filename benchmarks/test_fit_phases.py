"""Whole fits with their time split into phases (fastgd.bench.phases): issue 16's fit overhead, set
against one ``X @ w`` timed before each fit."""

import time
import warnings

import numpy as np
import pytest

from fastgd import GDClassifier
from fastgd.bench import machine, phases
from fastgd.bench.cases import dataset

ROUNDS = {"quick": 3, "full": 9}


@pytest.mark.parametrize("fit", [
    pytest.param(fit, marks=[pytest.mark.quick] if fit == phases.FITS[0] else [], id=fit.label)
    for fit in phases.FITS])
def test_fit_phases(benchmark, request, fit):
    """The benchmark times the whole one-epoch fit; ``extra_info`` holds the median seconds of each
    phase and of ``X @ w``."""
    X, y = dataset(fit.rows, fit.features, fit.dtype, 2)
    w = np.ones(fit.features, dtype=X.dtype)
    estimator = GDClassifier(batch_size=fit.batch, epochs=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator.fit(X, y)  # compiles
    totals, split, products = [], [], []

    def product():
        start = time.perf_counter()
        X @ w
        products.append(time.perf_counter() - start)

    def whole_fit():
        seconds = {}
        start = time.perf_counter()
        with phases.timed_phases(seconds), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            estimator.fit(X, y)
        totals.append(time.perf_counter() - start)
        split.append(seconds)

    rounds = ROUNDS["quick" if request.config.getoption("--quick") else "full"]
    before = machine.cpu_sample()
    benchmark.group = phases.GROUP
    benchmark.pedantic(whole_fit, setup=product, rounds=rounds, iterations=1)
    medians = phases.split(totals, split)
    benchmark.extra_info.update(
        fit=fit.label, rows=fit.rows, features=fit.features, dtype=fit.dtype, batch=fit.batch,
        backend=estimator.backend_, x_at_w_s=float(np.median(products)), phases_s=medians,
        others_cores=machine.others_cores(before, machine.cpu_sample()))
