"""Numba compilation options, decided in one place.

``FASTMATH`` leaves out ``nnan`` and ``ninf`` so that a diverging run still produces NaN/inf that the
driver can detect, and ``afn`` so that ``exp``/``log`` keep full accuracy (kernels must match their
NumPy references to 1e-10). ``reassoc`` is what lets LLVM vectorise the dot-product reductions.
"""

import ctypes
import sys
import types
import warnings
from pathlib import Path


def _load_tbb():
    """Make numba's TBB threading layer loadable where pip puts TBB.

    numba takes TBB first when it can load it, and of its threading layers only TBB is safe both
    for parallel kernels launched from several Python threads at once (the workqueue layer aborts
    the process) and in a child forked after one ran (GNU OpenMP aborts the child: "fork() called
    from a process already using GNU OpenMP", which breaks a ``ProcessPoolExecutor``). numba's
    ``tbbpool`` links ``libtbb.so.12`` by name, and the dynamic loader does not look in the
    environment's ``lib/``, where the ``tbb`` wheel installs it (numba issue #6108): loaded from
    there first, globally, the name resolves.
    """
    library = Path(sys.prefix) / "lib" / "libtbb.so.12"
    if sys.platform.startswith("linux") and library.is_file():
        try:
            ctypes.CDLL(str(library), mode=ctypes.RTLD_GLOBAL)
        except OSError:  # numba falls back to OpenMP or its workqueue, as without TBB
            pass


_load_tbb()

import numba  # noqa: E402  (after TBB is loaded, before numba starts a threading layer)

try:
    from ._prebuilt import attach
except Exception as error:  # noqa: BLE001  (numba's private cache classes changed: numba's cache)
    warnings.warn(f"fastgd's prebuilt kernels are not used: {error!r}", RuntimeWarning)

    def attach(dispatcher):
        return dispatcher

FASTMATH = {"reassoc", "contract", "arcp", "nsz"}


def _cache_probe():
    """Compiled with ``cache=True`` by :func:`_can_cache`, never called."""


def _can_cache():
    """Whether numba can cache compiled functions of this package on disk.

    numba caches a function in its source's ``__pycache__``, else in ``NUMBA_CACHE_DIR``, else in
    the user cache directory, whichever is writable, and when none is, ``cache=True`` raises at
    decoration: a read-only install with an unwritable home could not even import fastgd. Asked
    once, of a function of this module (the kernels' modules are installed with it, writable or not
    alike), so that the kernels compile uncached instead, with one warning.
    """
    try:
        numba.njit(cache=True)(_cache_probe)
    except RuntimeError as error:  # "cannot cache function ...: no locator available for file ..."
        cache_dir = (f"NUMBA_CACHE_DIR ({numba.config.CACHE_DIR}) is not writable either"
                     if numba.config.CACHE_DIR else "NUMBA_CACHE_DIR is not set")
        warnings.warn(
            f"fastgd's compiled kernels are not cached: numba has no writable directory to cache "
            f"them in (not the package's __pycache__, not the user cache directory, and "
            f"{cache_dir}; numba says: {error}). Each new process compiles them again on first "
            f"use, tens of seconds per backend. Set NUMBA_CACHE_DIR to a writable directory to "
            f"cache them.", RuntimeWarning, stacklevel=2)
        return False
    return True


#: "numpy": a division by zero gives inf or NaN, as in NumPy, instead of raising. Python's check is a
#: branch in every division, which keeps LLVM from vectorising the loops that divide.
OPTIONS = dict(cache=_can_cache(), fastmath=FASTMATH, nogil=True, error_model="numpy",
               no_cfunc_wrapper=True)

#: Rows processed together: scores, then the loss terms, then the gradient, so that each stage is a
#: flat loop over a block that stays in L1 cache.
BLOCK_ROWS = 256

#: The MLP's blocks of rows: their activations in every layer (32 x 64 float64 is 16 KB) stay in
#: L1 between the forward and the backward pass.
MLP_BLOCK_ROWS = 32

#: The full-batch kernel's blocks of rows: each block's gradient is gathered in a buffer of its
#: own and added to the total once, so that fewer rows would cost a pass over the weights for
#: little work (8 rows of 256 features ran at half the speed of 64), and more would leave L1
#: (on 1,000,000 x 32 float32, blocks of 128 rows took 40% longer than blocks of 64).
FULL_BATCH_ROWS = 64

#: The full-batch kernel takes rows of at most this many bytes; wider rows go through the batch
#: kernel, which is faster there. Measured on 100,000 rows, one thread, batch kernel time over
#: full-batch kernel time, by features: float64 8: 1.87, 32: 1.33, 64: 1.07, 128: 0.59, 256: 0.62;
#: float32 8: 3.39, 32: 1.91, 64: 1.24, 128: 1.04, 256: 0.64.
FULL_BATCH_MAX_ROW_BYTES = 512

#: A batch is split across threads only when every thread gets at least this many rows; below it the
#: cost of starting a parallel region outweighs the work.
MIN_ROWS_PER_THREAD = 2048

#: A fit's pass over a dense X (its finiteness and row norms) is split across threads only when each
#: gets at least this many rows: a parallel region costs tens of microseconds to start.
ROW_SCAN_MIN_ROWS = 65_536
#: ``backend="auto"`` (``backends.choose``) trains batches of at most this many rows with
#: ``local_sgd`` when there are at least ``AUTO_LOCAL_SGD_MIN_ROWS`` rows. Measured by the suite
#: (results/benchmark.json, 2 threads): from 100,000 rows on, one epoch of batch 1 or 32 ran
#: 1.2-2.1x faster than the fastest of ``numba`` and ``parallel`` at a training loss within 1%
#: (lower at batch 1); at batch 256 1.2-1.5x faster but 8% higher; on 10,000 rows at most 4%
#: faster, and on 50,000 text rows 5% higher.
AUTO_LOCAL_SGD_MAX_BATCH = 32
AUTO_LOCAL_SGD_MIN_ROWS = 100_000
#: The "local_sgd" backend averages its threads' copies of the model after this many rows per
#: thread: often enough to train like one model, rarely enough that the parallel region's start
#: (tens of microseconds) is small beside the work.
LOCAL_SGD_SYNC_ROWS = 8192


#: Sparse SGD keeps the L2 shrink of the weights as a running scale (see ``data.lazy_shrink``) and
#: folds it back into the weights once it falls below this: the stored weights grow as 1 / scale,
#: far from overflow here even in float32 (scikit-learn's ``WeightVector`` folds at the same point).
FOLD_SCALE = 1e-9

#: Batches of at least this many rows take the L1 penalty as a proximal step (soft-thresholding,
#: exact for full batch); smaller ones, whose gradients are noisy enough that a weight soft-
#: thresholded to zero is pushed off it at the next row, take scikit-learn's cumulative penalty,
#: which remembers the penalty a weight has not yet had.
PROX_L1_MIN_ROWS = 32

#: SGD asks for the row this many rows ahead of the one it updates from: enough to cover a memory
#: access (about 100 ns) at 30-60 ns a row; measured best at 8 on 100,000 x 32 and x 100.
PREFETCH_ROWS = 8
#: The mini-batch kernels ask for the row this many rows ahead: their rows' scores do not wait on
#: each other, so more can be in flight (1,000,000 x 32 float64, batch 32: 8 rows 129 ns a row,
#: 16 rows 119, 24 rows 111; 10,000 rows 65-83 ns a row).
PREFETCH_BATCH_ROWS = 16
#: ... from this many training rows on: below it the rows stay in the cache, where the prefetch
#: only costs instructions.
PREFETCH_MIN_ROWS = 50_000


def jit(fn):
    """Compile ``fn`` serially with fastgd's options (loaded from the package's prebuilt kernels,
    else cached on disk where numba can)."""
    return attach(numba.njit(**OPTIONS)(fn))


def jit_inline(fn):
    """Like :func:`jit`, and inlined into every caller at numba's IR level, where reference counts
    of the arrays passed in cancel out; a call with arrays otherwise costs atomic increments and
    decrements, which dominate a kernel called once per row."""
    return attach(numba.njit(**OPTIONS, inline="always")(fn))


def renamed(fn, name):
    """A copy of ``fn`` named ``name``, to compile one body a second way.

    The copy needs its own name: numba's on-disk cache is keyed by the function's qualified name, so
    a serial and a parallel build of one body would otherwise overwrite each other (umap compiles its
    epoch body twice the same way, without caching).
    """
    clone = types.FunctionType(fn.__code__, fn.__globals__, name, fn.__defaults__, fn.__closure__)
    clone.__qualname__ = name
    clone.__doc__ = fn.__doc__
    return clone


def specialised(fn, name, **bindings):
    """A copy of ``fn`` named ``name`` in which the global names of ``bindings`` stand for their
    values: one body compiled once for each function it calls, so that each build holds the code
    it runs only. Make it after everything ``fn`` names is defined (the copy's globals are a
    snapshot), and give each its own name, as :func:`renamed` says."""
    clone = types.FunctionType(fn.__code__, {**fn.__globals__, **bindings}, name, fn.__defaults__,
                               fn.__closure__)
    clone.__qualname__ = name
    clone.__doc__ = fn.__doc__
    return clone


def jit_parallel(fn, name):
    """Compile a copy of ``fn`` named ``name`` with ``parallel=True``."""
    return attach(numba.njit(**OPTIONS, parallel=True)(renamed(fn, name)))
