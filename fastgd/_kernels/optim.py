"""Parameter update rules: a compiled update beside its NumPy twin.

An optimizer is chosen by an integer code. Its state is ``S``, an array of shape
``(n_slots, n_params)`` (velocities, moments) that the compiled epoch updates in place and that
persists across epochs; ``step`` is the 1-based number of updates taken so far, and ``hyper`` a float64
array of the optimizer's hyper-parameters. Parameters ``P`` and gradients ``G`` arrive flat.

``SGD``: ``p <- p - lr * g``.
"""

import numpy as np

from ..config import jit

SGD = 0

#: Number of state slots (rows of ``S``) each optimizer needs.
N_SLOTS = {SGD: 0}


def update(opt, P, G, S, step, lr, hyper):
    """Apply one update to the flat parameters ``P`` in place (NumPy reference)."""
    if opt == SGD:
        P -= lr * G
    else:
        raise ValueError(f"unknown optimizer code {opt}")


@jit
def _update(opt, P, G, S, step, lr, hyper):
    if opt == SGD:
        for t in range(P.size):
            P[t] -= lr * G[t]


def allocate_state(opt, n_params, dtype):
    """Return zeroed optimizer state of shape ``(n_slots, n_params)``."""
    return np.zeros((N_SLOTS[opt], n_params), dtype=dtype)
