"""Every (case, variant) pair of the benchmark matrix (fastgd.bench.cases), and the machine's memory
bandwidth that the epochs are measured against."""

import numpy as np
import pytest

from fastgd.bench.cases import (COMPILED, auto_choice, bytes_touched, design, prepare,
                                rounds_for, time_once, training_loss, variants)
from fastgd.bench.machine import THREADS, cpu_sample, others_cores, pinned_threads

QUICK = set(design(quick=True))
PAIRS = [pytest.param(case, variant, id=f"{case.id}-{variant}",
                      marks=[pytest.mark.quick] if case in QUICK else [])
         for case in design() for variant in variants(case)]


@pytest.mark.parametrize("case,variant", PAIRS)
def test_matrix(benchmark, budget, case, variant, peer):
    with pinned_threads(case.threads):
        with peer(variant):
            run = prepare(case, variant)
            # this timed call is also the warm-up: prepare() already compiled and ran it once
            rounds = rounds_for(time_once(run), budget)
        benchmark.group = case.id
        before = cpu_sample()
        # every round fits afresh from the same start, so the last one's model is every one's
        result = benchmark.pedantic(run, rounds=rounds, warmup_rounds=0)
        # what the machine's other users took meanwhile, so that the report can flag disturbed
        # timings
        others = others_cores(before, cpu_sample())
        if variant in COMPILED and not case.serial:
            benchmark.extra_info["auto_backend"] = auto_choice(case)
    benchmark.extra_info.update(case.info(), variant=variant, bytes=bytes_touched(case),
                                others_cores=others)
    loss = training_loss(case, result)
    if loss is not None:
        benchmark.extra_info["training_loss"] = loss
    if benchmark.enabled:  # --benchmark-disable runs each once, untimed, as a smoke test
        benchmark.extra_info["gbps"] = bytes_touched(case) / benchmark.stats.stats.median / 1e9


#: 2,000,000 x 32 is 512 MB in float64: far out of every cache.
BANDWIDTH_SHAPE = (2_000_000, 32)


@pytest.mark.quick
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_memory_bandwidth(benchmark, dtype):
    """The fastest single read of X on this machine, BLAS's ``X @ w``: the limit of an epoch that
    reads X once."""
    X = np.ones(BANDWIDTH_SHAPE, dtype=dtype)
    w = np.ones(X.shape[1], dtype=dtype)
    benchmark.group = "memory bandwidth"
    benchmark.pedantic(lambda: X @ w, rounds=20, warmup_rounds=2)
    benchmark.extra_info.update(variant="X @ w", rows=X.shape[0], features=X.shape[1], dtype=dtype,
                                threads=THREADS, bytes=X.nbytes)
    if benchmark.enabled:  # the fastest round: this is the machine's limit, not a typical time
        benchmark.extra_info["gbps"] = X.nbytes / benchmark.stats.stats.min / 1e9
