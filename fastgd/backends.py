"""The backends of each model family: a public registry that the estimators, the benchmark suite,
the demos and the tests read.

A backend is how a model's epochs and predictions run: ``"numpy"`` the vectorised reference,
``"numba"`` one compiled serial call per epoch, ``"parallel"`` the same with large batches split
across numba's threads, ``"local_sgd"`` (linear models only) each thread training its own copy of
the model on its part of the rows, averaged every ``config.LOCAL_SGD_SYNC_ROWS`` rows per thread.

Every epoch kernel takes ``(data, order, model, update, rate, batch_size, step, n_threads)`` and
returns ``(summed weighted loss, step)``: ``data`` a :class:`fastgd._kernels.data.Data`, ``model``
the family's tuple (:class:`fastgd._kernels.linear.Linear`, :class:`fastgd._kernels.mlp.Network`),
``update`` and ``rate`` from :mod:`fastgd._kernels.optim`. Every forward function takes
``(X, model, link, n_threads)`` and returns ``link(scores)`` of shape (n, k).

To add a backend: its kernels in the family's module under ``fastgd/_kernels/``, and its entry in
the family's table below; the estimators' ``backend`` parameter, the suite and the demos follow.
"""

from dataclasses import dataclass
from typing import Callable

import numba

from . import config
from ._kernels import linear, mlp


@dataclass(frozen=True)
class Backend:
    """One way to run a model family's epochs and predictions."""

    name: str
    #: ``epoch(data, order, model, update, rate, batch_size, step, n_threads) -> (loss, step)``
    epoch: Callable
    #: ``forward(X, model, link, n_threads) -> (n, k) array``
    forward: Callable
    #: Whether it runs on numba's threads (``numba.set_num_threads``) or on the calling thread.
    threaded: bool
    description: str

    def threads(self):
        """Threads it may use now: numba's current setting when threaded, else 1."""
        return numba.get_num_threads() if self.threaded else 1


_NUMPY = "the vectorised NumPy reference, one Python call per batch"
_NUMBA = "each epoch one compiled serial call"
_PARALLEL = ("large batches split across numba's threads; the serial result up to rounding, "
             "deterministic for a given thread count")

LINEAR = {
    "numba": Backend("numba", linear._run_epoch, linear.compiled_forward(linear._forward), False,
                     _NUMBA),
    "parallel": Backend("parallel", linear._run_epoch_parallel,
                        linear.compiled_forward(linear._forward_parallel), True, _PARALLEL),
    "local_sgd": Backend(
        "local_sgd", linear._local_sgd_epoch, linear.compiled_forward(linear._forward_parallel),
        True, "for small batches: each thread trains its own copy of the model on its part of the "
              "rows, averaged every 8,192 rows per thread; deterministic for a given thread count, "
              "not the serial result"),
    "numpy": Backend("numpy", linear.run_epoch, linear.reference_forward, False, _NUMPY),
}

MLP = {
    "numba": Backend("numba", mlp._run_epoch, mlp.compiled_forward(mlp._forward), False, _NUMBA),
    "parallel": Backend("parallel", mlp._run_epoch_parallel,
                        mlp.compiled_forward(mlp._forward_parallel), True, _PARALLEL),
    "numpy": Backend("numpy", mlp.run_epoch, mlp.reference_forward, False, _NUMPY),
}

#: family name -> its backends
FAMILIES = {"linear": LINEAR, "mlp": MLP}


def get(family, name):
    """The backend ``name`` of ``family`` ("linear" or "mlp"), or a ValueError naming the ones it
    has."""
    table = FAMILIES[family]
    if name not in table:
        raise ValueError(f"the {family} models have no backend {name!r}; choose one of "
                         f"{', '.join(map(repr, table))}.")
    return table[name]


#: The ``backend`` parameter's default: :func:`choose` picks one of the family's backends at fit.
AUTO = "auto"


def choose(family, n, batch_size, threads, local_sgd=True, per_class=False):
    """The backend that ``backend="auto"`` trains ``n`` rows with, ``batch_size`` rows per update
    (None: full batch) on ``threads`` of numba's threads; ``local_sgd=False`` where the model
    needs what local SGD lacks (an L1 penalty, averaging); ``per_class`` where each output trains
    apart (one-vs-rest SGD, ``linear.LinearEpochs``).

    - One thread: ``numba``.
    - Outputs that train apart: ``parallel``, which trains one per thread (the serial SGD's
      result, as ``numba``'s, in a fraction of its time).
    - Batches that ``parallel`` splits across the threads (``config.MIN_ROWS_PER_THREAD`` rows
      each, so full batches from 4,096 rows on two threads): ``parallel``.
    - Linear models with batches of at most ``config.AUTO_LOCAL_SGD_MAX_BATCH`` rows on at least
      ``config.AUTO_LOCAL_SGD_MIN_ROWS`` rows: ``local_sgd`` (a different algorithm, which
      reaches the serial SGD's loss there; its model depends on the thread count).
    - Otherwise ``numba``: ``parallel`` would run the same serial code.
    """
    batch = n if batch_size is None else min(batch_size, n)
    if threads <= 1:
        return "numba"
    if per_class:
        return "parallel"
    if batch >= 2 * config.MIN_ROWS_PER_THREAD:
        return "parallel"
    if (local_sgd and "local_sgd" in FAMILIES[family] and batch <= config.AUTO_LOCAL_SGD_MAX_BATCH
            and n >= config.AUTO_LOCAL_SGD_MIN_ROWS):
        return "local_sgd"
    return "numba"


def is_threaded(name):
    """Whether the backend ``name`` runs on numba's threads, in whichever family has it."""
    return any(table[name].threaded for table in FAMILIES.values() if name in table)


def parameter_doc(family):
    """The numpydoc entry of the ``backend`` parameter of ``family``'s estimators."""
    table = FAMILIES[family]
    names = ", ".join(f'"{name}"' for name in (AUTO, *table))
    lines = [f"    backend : {{{names}}}"]
    lines += [f'        "{AUTO}" (default): chosen at fit from the rows, the batch size and the '
              "thread count (``backend_`` says which; the rule is ``fastgd.backends.choose``)."]
    lines += [f'        "{b.name}": {b.description}.' for b in table.values()]
    return "\n".join(lines) + "\n"
