"""Optimizers: one table, :data:`OPTIMIZERS`, and the compiled update beside its NumPy twin.

An optimizer is chosen by its code, its index in :data:`OPTIMIZERS`, and the kernels take it as an
:func:`Update`, an instance of its own type. Its state is ``S``, an array of
shape ``(n_slots, n_params)`` (velocities, moments) that the compiled epoch updates in place and that
persists across epochs, ``warm_start`` and ``partial_fit``; ``step`` is the 1-based number of this
update; ``hyper`` is the float64 array of :data:`HYPER`, in that order. Parameters ``P`` and
gradients ``G`` arrive flat, ``G`` already holding any L2 term. The equations are torch.optim's
with default options, so that the two give the same numbers:

==========  =====================================================================================
sgd         ``p -= lr g``
momentum    ``b = momentum b + g``; ``p -= lr b`` (dampening 0; ``b = g`` at the first step)
nesterov    ``b = momentum b + g``; ``p -= lr (g + momentum b)``
adagrad     ``s += g**2``; ``p -= lr g / (sqrt(s) + epsilon)``
rmsprop     ``s = rho s + (1 - rho) g**2``; ``p -= lr g / (sqrt(s) + epsilon)`` (not centred)
adam        ``m = beta_1 m + (1 - beta_1) g``; ``v = beta_2 v + (1 - beta_2) g**2``;
            ``p -= lr / (1 - beta_1**t) m / (sqrt(v) / sqrt(1 - beta_2**t) + epsilon)``
adamw       adam after the decoupled weight decay ``w *= 1 - lr alpha`` (``decoupled``)
==========  =====================================================================================

To add an optimizer: its update of one element (``_<name>_element``) and its entry in
:data:`OPTIMIZERS`; its branch in the NumPy reference :func:`update`; its row in the tests' table
(``tests/test_optim.py``). The kernels compile the update of the optimizer they are called with
only: each optimizer is a type of its own (:data:`UPDATE_TYPES`).
"""

from typing import NamedTuple

import numpy as np

from numba.extending import overload

from ..config import jit, jit_inline
from . import entry_type

#: The optimizers' hyper-parameters, in the order of ``hyper``; each is an estimator parameter of
#: the same name.
HYPER = ("momentum", "beta_1", "beta_2", "epsilon", "rho")


# --- compiled per-element updates -------------------------------------------------------------
# ``(p, g, s0, s1, h) -> (p, s0, s1)``: one parameter's update on scalars, with its state slots
# (returned unchanged where unused) and ``h = (lr, momentum, beta_1, beta_2, epsilon, rho,
# step_size, root_correction)``, the last two Adam's bias corrections (:func:`_adam_corrections`).

def _sgd_element(p, g, s0, s1, h):
    return p - h[0] * g, s0, s1


def _momentum_element(p, g, s0, s1, h):
    s0 = h[1] * s0 + g
    return p - h[0] * s0, s0, s1


def _nesterov_element(p, g, s0, s1, h):
    s0 = h[1] * s0 + g
    return p - h[0] * (g + h[1] * s0), s0, s1


def _adagrad_element(p, g, s0, s1, h):
    s0 += g * g
    return p - h[0] * g / (np.sqrt(s0) + h[4]), s0, s1


def _rmsprop_element(p, g, s0, s1, h):
    s0 = h[5] * s0 + (1 - h[5]) * g * g
    return p - h[0] * g / (np.sqrt(s0) + h[4]), s0, s1


def _adam_element(p, g, s0, s1, h):
    s0 = h[2] * s0 + (1 - h[2]) * g
    s1 = h[3] * s1 + (1 - h[3]) * g * g
    return p - h[6] * s0 / (np.sqrt(s1) / h[7] + h[4]), s0, s1


class Optimizer(NamedTuple):
    """One optimizer: what the estimators and the kernels know of it."""

    name: str
    #: Rows of state ``S``.
    n_slots: int
    #: The compiled update of one element (see above).
    element: object
    #: Its L2 penalty is a decay of the weights, not a term of the gradient.
    decoupled: bool = False
    #: Its "auto" learning rate when its step does not scale with the gradient (torch's
    #: defaults), else None: the step then comes from the loss's curvature.
    default_rate: object = None
    #: Its "auto" learning rate is ``1 - momentum`` times the plain one (the same effective step).
    damped: bool = False


OPTIMIZERS = (
    Optimizer("sgd", 0, _sgd_element),
    Optimizer("momentum", 1, _momentum_element, damped=True),
    Optimizer("nesterov", 1, _nesterov_element, damped=True),
    Optimizer("adagrad", 1, _adagrad_element, default_rate=0.01),
    Optimizer("rmsprop", 1, _rmsprop_element, default_rate=0.01),
    Optimizer("adam", 2, _adam_element, default_rate=0.001),
    Optimizer("adamw", 2, _adam_element, decoupled=True, default_rate=0.001),
)
NAMES = {opt.name: code for code, opt in enumerate(OPTIMIZERS)}
SGD, MOMENTUM, NESTEROV, ADAGRAD, RMSPROP, ADAM, ADAMW = (
    NAMES[name] for name in ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"))
N_OPTIMIZERS = len(OPTIMIZERS)


#: The update type of each optimizer, by code: a named tuple of its state ``S`` and ``hyper``
#: whose class is the optimizer.
UPDATE_TYPES = tuple(
    entry_type(globals(), optimizer.name.title().replace("w", "W") + "Update",
               [("S", np.ndarray), ("hyper", np.ndarray)],
               f"A {optimizer.name} step as the kernels take it.", opt=opt)
    for opt, optimizer in enumerate(OPTIMIZERS))


def Update(opt, S, hyper):
    """How the kernels take a step: an instance of the optimizer's update type (its code is
    ``.opt``) holding its state ``S`` (n_slots, n_params) and ``hyper`` (float64, in the order of
    :data:`HYPER`). An unknown code raises here, before any kernel sees it."""
    if not 0 <= opt < N_OPTIMIZERS:
        raise ValueError(f"unknown optimizer code {opt}: the codes are 0 to {N_OPTIMIZERS - 1}, "
                         "the indices of fastgd._kernels.optim.OPTIMIZERS")
    return UPDATE_TYPES[opt](S, hyper)


def with_state(update_, S):
    """The update ``update_`` with the state ``S`` instead of its own (compiled only)."""


def apply_update(update_, P, G, step, lr):
    """Apply update number ``step`` at rate ``lr`` to the flat parameters ``P`` in place, the
    compiled twin of :func:`update` (compiled only: inlined into the kernels)."""


def _optimizer_of(update_type):
    cls = getattr(update_type, "instance_class", None)
    return cls if cls in UPDATE_TYPES else None


@overload(with_state)
def _with_state(update_, S):
    cls = _optimizer_of(update_)
    if cls is not None:
        return lambda update_, S: cls(S, update_.hyper)


def plain_sgd_type(update_type):
    """Whether the numba type ``update_type`` is plain SGD's update."""
    return _optimizer_of(update_type) is UPDATE_TYPES[SGD]


@overload(apply_update)
def _apply_update(update_, P, G, step, lr):
    cls = _optimizer_of(update_)
    if cls is None:
        return None
    optimizer = OPTIMIZERS[cls.opt]
    element, n_slots = jit(optimizer.element), optimizer.n_slots

    def impl(update_, P, G, step, lr):
        hyper = update_.hyper
        beta_1, beta_2 = hyper[1], hyper[2]
        step_size, root_correction = _adam_corrections(lr, step, beta_1, beta_2)
        h = (lr, hyper[0], beta_1, beta_2, hyper[3], hyper[4], step_size, root_correction)
        S0, S1 = _slots(update_.S, P)
        for t in range(P.size):
            p, s0, s1 = element(P[t], G[t], S0[t], S1[t], h)
            P[t] = p
            # only the state the optimizer has is written (see _slots)
            if n_slots > 0:
                S0[t] = s0
            if n_slots > 1:
                S1[t] = s1
    return impl


@jit
def _update(update_, P, G, step, lr):
    """:func:`apply_update` as a called function."""
    apply_update(update_, P, G, step, lr)


def allocate_state(opt, n_params, dtype):
    """Return zeroed optimizer state of shape ``(n_slots, n_params)``."""
    return np.zeros((OPTIMIZERS[opt].n_slots, n_params), dtype=dtype)


def update(opt, P, G, S, step, lr, hyper):
    """Apply update number ``step`` to the flat parameters ``P`` in place (NumPy reference)."""
    momentum, beta_1, beta_2, epsilon, rho = hyper
    if opt == SGD:
        P -= lr * G
    elif opt in (MOMENTUM, NESTEROV):
        S[0] = momentum * S[0] + G
        P -= lr * (G + momentum * S[0] if opt == NESTEROV else S[0])
    elif opt == ADAGRAD:
        S[0] += G * G
        P -= lr * G / (np.sqrt(S[0]) + epsilon)
    elif opt == RMSPROP:
        S[0] = rho * S[0] + (1 - rho) * G * G
        P -= lr * G / (np.sqrt(S[0]) + epsilon)
    elif opt in (ADAM, ADAMW):
        S[0] = beta_1 * S[0] + (1 - beta_1) * G
        S[1] = beta_2 * S[1] + (1 - beta_2) * G * G
        denominator = np.sqrt(S[1]) / np.sqrt(1 - beta_2**step) + epsilon
        P -= lr / (1 - beta_1**step) * S[0] / denominator
    else:
        raise ValueError(f"unknown optimizer code {opt}")


@jit_inline
def _slots(S, P):
    """The two state rows of ``S`` as flat views. The flat ``P`` stands in for a row the optimizer
    lacks: :func:`apply_update` reads it there but never writes it, and nothing is allocated per
    update."""
    n_slots = S.shape[0]
    S0 = S[0] if n_slots > 0 else P
    S1 = S[1] if n_slots > 1 else P
    return S0, S1


@jit
def _adam_corrections(lr, step, beta_1, beta_2):
    """Adam's bias corrections of update ``step``: the step size ``lr / (1 - beta_1**step)`` and
    ``sqrt(1 - beta_2**step)``. The power of a float step, as Python's ``float ** int`` (C's
    ``pow``): numba's integer power compiles a loop of squarings for a second."""
    t = float(step)
    return lr / (1 - beta_1**t), np.sqrt(1 - beta_2**t)


class Rate(NamedTuple):
    """The learning rate of each step inside an epoch: a per-step schedule's code (CONSTANT,
    INVSCALING, COSINE, OPTIMAL), the base rate and ``hyper = [power_t, total_steps, alpha]``."""

    schedule: int
    lr: float
    hyper: np.ndarray


# --- learning-rate schedules that change at every step ------------------------------------------
# Schedules that change once per epoch (exponential, step, a user's callable) are evaluated by the
# driver between epochs and arrive here as CONSTANT.

CONSTANT, INVSCALING, COSINE, OPTIMAL = range(4)


def step_rate(schedule, lr, step, schedule_hyper):
    """Learning rate of update ``step`` (1-based); ``schedule_hyper = [power_t, total_steps,
    alpha]``.

    INVSCALING: ``lr / step**power_t``; COSINE: ``lr (1 + cos(pi min(step - 1, T) / T)) / 2``,
    falling from ``lr`` at the first update to 0 after ``T = total_steps``; OPTIMAL (Bottou's):
    ``lr / (1 + alpha lr (step - 1))``, computed as scikit-learn's ``1 / (alpha (t0 + step - 1))``
    with ``t0 = 1 / (alpha lr)``: ``SGDClassifier``'s rounding.
    """
    power_t, total_steps, alpha = schedule_hyper[0], schedule_hyper[1], schedule_hyper[2]
    if schedule == INVSCALING:
        return lr / step**power_t
    if schedule == COSINE:
        return lr * 0.5 * (1 + np.cos(np.pi * min(step - 1, total_steps) / total_steps))
    if schedule == OPTIMAL:
        return 1.0 / (alpha * (1.0 / (alpha * lr) + step - 1))
    return lr


_step_rate = jit(step_rate)
