"""The peak resident memory that a fit adds to its data's: on 1,000,000 x 32 dense, as a share of
X, and on the text-like CSR (issue 13), with the CSR's bytes and the O(d) allowance, for each
compiled backend (measured in a fresh process by fastgd.bench.memory)."""

import pytest

from fastgd.bench.memory import (FEATURES, FITS, GROUP, ROWS, TEXT_FEATURES, TEXT_FITS, TEXT_GROUP,
                                 fit_peak, text_fit_peak)

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


@pytest.mark.parametrize("backend,batch_size,dtype,rows", [
    pytest.param(*fit, marks=[pytest.mark.quick] if fit == TEXT_FITS[0] else [])
    for fit in TEXT_FITS])
def test_memory_a_text_fit_adds(benchmark, backend, batch_size, dtype, rows):
    """As above, on the text-like CSR; ``extra_bytes`` is None where the system cannot set the
    peak back (the report then has no measurement)."""
    measured = []
    benchmark.group = TEXT_GROUP
    benchmark.pedantic(
        lambda: measured.append(text_fit_peak(backend, batch_size, dtype, rows)), rounds=1)
    m = measured[0]
    benchmark.extra_info.update(
        variant=backend, batch=batch_size, dtype=dtype, rows=rows, features=TEXT_FEATURES,
        extra_bytes=m["extra"], csr_bytes=m["csr"], allowance_bytes=m["allowance"],
        traced_bytes=m["traced"], threads=m["threads"])
