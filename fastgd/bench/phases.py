"""Where a whole ``fit`` spends its time: the phases of issue 16's fit-overhead target, timed inside
the fits that users make, with their defaults but for the epochs.

Each phase is the time spent in the functions that do it, over one fit: ``validation`` (scikit-
learn's ``validate_data`` and the pass over X that checks its finiteness and finds its row norms),
``labels and weights`` (the classes, the target rows, the sample and class weights), ``step`` (the
"auto" learning rate), ``epochs`` (the driver's loop, with its checks); ``other`` is the rest of the
fit (parameter checks, the optimizer state). The overhead is everything but the epochs, set against
one ``X @ w`` timed beside each fit.
"""

import contextlib
import time
from dataclasses import dataclass

import numpy as np

from .. import _base

GROUP = "fit phases"

#: phase -> the functions timed as it: ``(owner, attribute)``, the owner a module or a class
PHASES = {
    "validation": ((_base, "validate_input"), (_base.BaseGD, "_row_norms")),
    "labels and weights": ((_base.ClassifierTargets, "_targets"),
                           (_base.BaseGD, "_sample_weight")),
    "step": ((_base.BaseGD, "_set_learning_rate"),),
    "epochs": ((_base, "train"),),
}


@dataclass(frozen=True)
class Fit:
    """One timed fit: ``rows`` x ``features`` in ``dtype``, ``batch`` rows per update (None: full
    batch), one epoch, on the estimator's default backend."""

    rows: int
    features: int
    dtype: str
    batch: int | None

    @property
    def label(self):
        batch = "full batch" if self.batch is None else f"batch {self.batch}"
        return f"{self.rows:,} x {self.features}, {batch}, {self.dtype}"


FITS = [Fit(1_000_000, 32, dtype, batch) for batch in (None, 1) for dtype in ("float64", "float32")]


@contextlib.contextmanager
def timed_phases(seconds):
    """Within the block, add the seconds spent in each phase's functions to ``seconds[phase]``
    (outermost calls only: a phase's function called from within another's counts once)."""
    saved, depth = [], {}

    def wrap(phase, fn):
        def timed(*args, **kwargs):
            depth[phase] = depth.get(phase, 0) + 1
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                depth[phase] -= 1
                if not depth[phase]:
                    seconds[phase] = seconds.get(phase, 0.0) + time.perf_counter() - start
        return timed

    for phase, functions in PHASES.items():
        for owner, name in functions:
            original = owner.__dict__[name]
            saved.append((owner, name, original))
            setattr(owner, name, wrap(phase, original))
    try:
        yield seconds
    finally:
        for owner, name, original in reversed(saved):
            setattr(owner, name, original)


def split(totals, phases):
    """The medians over the runs of each phase's seconds, the whole fit's and ``other``'s (the fit
    less its phases), from the runs' ``totals`` and per-run ``phases`` dicts."""
    medians = {phase: float(np.median([p.get(phase, 0.0) for p in phases])) for phase in PHASES}
    medians["other"] = float(np.median([total - sum(p.values())
                                        for total, p in zip(totals, phases)]))
    medians["fit"] = float(np.median(totals))
    return medians


def overhead(medians):
    """A fit's seconds outside its epochs, from :func:`split`'s medians."""
    return sum(value for phase, value in medians.items() if phase not in ("fit", "epochs"))
