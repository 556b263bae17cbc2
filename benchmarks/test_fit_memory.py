"""The peak resident memory that a fit of 1,000,000 x 32 adds to X's, for each compiled backend
(measured in a fresh process by fastgd.bench.memory)."""

import pytest

from fastgd.bench.memory import FEATURES, FITS, GROUP, ROWS, fit_peak

#: The fit of the quick design: the default backend at full batch, the issue's case.
QUICK = ("numba", None, "float64")


@pytest.mark.parametrize("backend,batch_size,dtype", [
    pytest.param(*fit, marks=[pytest.mark.quick] if fit == QUICK else []) for fit in FITS])
def test_memory_a_fit_adds(benchmark, backend, batch_size, dtype):
    """The benchmark's time is that of the whole measuring process; what counts is in
    ``extra_info``."""
    measured = []
    benchmark.group = GROUP
    benchmark.pedantic(lambda: measured.append(fit_peak(backend, batch_size, dtype)), rounds=1)
    extra, x_bytes = measured[0]
    benchmark.extra_info.update(variant=backend, batch=batch_size, dtype=dtype, rows=ROWS,
                                features=FEATURES, extra_bytes=extra, x_bytes=x_bytes,
                                share_of_x=extra / x_bytes)
