"""Optimizers: one table, :data:`OPTIMIZERS`, and the compiled update beside its NumPy twin.

An optimizer is chosen by its code, its index in :data:`OPTIMIZERS`. Its state is ``S``, an array of
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

To add an optimizer: its entry in :data:`OPTIMIZERS`, its branch in :func:`update` and in
:func:`_update_element`, and its row in the tests' table (``tests/test_optim.py``).
"""

from typing import NamedTuple

import numpy as np

from ..config import jit, jit_inline

#: The optimizers' hyper-parameters, in the order of ``hyper``; each is an estimator parameter of
#: the same name.
HYPER = ("momentum", "beta_1", "beta_2", "epsilon", "rho")


class Optimizer(NamedTuple):
    """One optimizer: what the estimators and the kernels know of it."""

    name: str
    #: Rows of state ``S``.
    n_slots: int
    #: Its L2 penalty is a decay of the weights, not a term of the gradient.
    decoupled: bool = False
    #: Its "auto" learning rate when its step does not scale with the gradient (torch's
    #: defaults), else None: the step then comes from the loss's curvature.
    default_rate: object = None
    #: Its "auto" learning rate is ``1 - momentum`` times the plain one (the same effective step).
    damped: bool = False


OPTIMIZERS = (
    Optimizer("sgd", 0),
    Optimizer("momentum", 1, damped=True),
    Optimizer("nesterov", 1, damped=True),
    Optimizer("adagrad", 1, default_rate=0.01),
    Optimizer("rmsprop", 1, default_rate=0.01),
    Optimizer("adam", 2, default_rate=0.001),
    Optimizer("adamw", 2, decoupled=True, default_rate=0.001),
)
NAMES = {opt.name: code for code, opt in enumerate(OPTIMIZERS)}
SGD, MOMENTUM, NESTEROV, ADAGRAD, RMSPROP, ADAM, ADAMW = (
    NAMES[name] for name in ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"))
N_OPTIMIZERS = len(OPTIMIZERS)


def check_code(opt):
    """Raise for a code outside :data:`OPTIMIZERS`, before a compiled kernel could run on it."""
    if not 0 <= opt < N_OPTIMIZERS:
        raise ValueError(f"unknown optimizer code {opt}: the codes are 0 to {N_OPTIMIZERS - 1}, "
                         "the indices of fastgd._kernels.optim.OPTIMIZERS")


def checked(epoch):
    """The epoch kernel ``epoch`` behind a check of the loss and optimizer codes it dispatches on:
    a code outside its table raises before any compiled code runs on it."""
    from .losses import check_code as check_loss

    def run_epoch(data, order, model, update_, rate, batch_size, step, n_threads):
        check_loss(model.loss.code)
        check_code(update_.opt)
        return epoch(data, order, model, update_, rate, batch_size, step, n_threads)

    run_epoch.__doc__ = epoch.__doc__
    return run_epoch


class Update(NamedTuple):
    """How the kernels take a step: the optimizer's code, its state ``S`` (n_slots, n_params) and
    ``hyper`` (float64, in the order of :data:`HYPER`)."""

    opt: int
    S: np.ndarray
    hyper: np.ndarray


class Rate(NamedTuple):
    """The learning rate of each step inside an epoch: a per-step schedule's code (CONSTANT,
    INVSCALING, COSINE, OPTIMAL), the base rate and ``hyper = [power_t, total_steps, alpha]``."""

    schedule: int
    lr: float
    hyper: np.ndarray


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
def _update(opt, P, G, S, step, lr, hyper):
    beta_1, beta_2 = hyper[1], hyper[2]
    step_size, root_correction = _adam_corrections(lr, step, beta_1, beta_2)
    h = (lr, hyper[0], beta_1, beta_2, hyper[3], hyper[4], step_size, root_correction)
    S0, S1 = _slots(S, P)
    # each branch passes its code as a constant, so that the loop compiled in it has no branch on
    # the optimizer left and vectorises (LLVM does not unswitch a loop on a chain of codes)
    if opt == SGD:
        _update_loop(SGD, P, G, S0, S1, h)
    elif opt == MOMENTUM:
        _update_loop(MOMENTUM, P, G, S0, S1, h)
    elif opt == NESTEROV:
        _update_loop(NESTEROV, P, G, S0, S1, h)
    elif opt == ADAGRAD:
        _update_loop(ADAGRAD, P, G, S0, S1, h)
    elif opt == RMSPROP:
        _update_loop(RMSPROP, P, G, S0, S1, h)
    elif opt == ADAM or opt == ADAMW:
        _update_loop(ADAM, P, G, S0, S1, h)
    else:
        _update_loop(opt, P, G, S0, S1, h)  # leaves NaN: see _update_element


@jit_inline
def _update_loop(opt, P, G, S0, S1, h):
    # rows of state written: none for SGD or a code outside the table, whose P stand-in must keep
    # the NaN just written
    n_slots = 2 if opt == ADAM else (1 if MOMENTUM <= opt <= RMSPROP else 0)
    for t in range(P.size):
        p, s0, s1 = _update_element(opt, P[t], G[t], S0[t], S1[t], h)
        P[t] = p
        # only the state the optimizer has is written (see _slots); opt is a constant here
        if n_slots > 0:
            S0[t] = s0
        if n_slots > 1:
            S1[t] = s1


@jit_inline
def _slots(S, P):
    """The two state rows of ``S`` as flat views. The flat ``P`` stands in for a row the optimizer
    lacks: :func:`_update_loop` reads it there but never writes it, and nothing is allocated per
    update."""
    n_slots = S.shape[0]
    S0 = S[0] if n_slots > 0 else P
    S1 = S[1] if n_slots > 1 else P
    return S0, S1


@jit
def _adam_corrections(lr, step, beta_1, beta_2):
    """Adam's bias corrections of update ``step``: the step size ``lr / (1 - beta_1**step)`` and
    ``sqrt(1 - beta_2**step)``."""
    return lr / (1 - beta_1**step), np.sqrt(1 - beta_2**step)


@jit
def _update_element(opt, p, g, s0, s1, h):
    """One parameter's update, as :func:`_update` does it, on scalars: returns ``(p, s0, s1)``, the
    new parameter and its state slots (``s0``, ``s1`` are returned unchanged when unused).
    ``h = (lr, momentum, beta_1, beta_2, epsilon, rho, step_size, root_correction)``, the last two
    from :func:`_adam_corrections`. A code outside the table gives NaN.

    The one place of the compiled equations: :func:`_update` applies it over arrays with a constant
    ``opt``, which leaves a branch-free loop."""
    lr, momentum, beta_1, beta_2, epsilon, rho, step_size, root_correction = h
    if opt == SGD:
        return p - lr * g, s0, s1
    if opt == MOMENTUM or opt == NESTEROV:
        s0 = momentum * s0 + g
        return p - lr * (g + momentum * s0 if opt == NESTEROV else s0), s0, s1
    if opt == ADAGRAD:
        s0 += g * g
        return p - lr * g / (np.sqrt(s0) + epsilon), s0, s1
    if opt == RMSPROP:
        s0 = rho * s0 + (1 - rho) * g * g
        return p - lr * g / (np.sqrt(s0) + epsilon), s0, s1
    if opt == ADAM or opt == ADAMW:
        s0 = beta_1 * s0 + (1 - beta_1) * g
        s1 = beta_2 * s1 + (1 - beta_2) * g * g
        return p - step_size * s0 / (np.sqrt(s1) / root_correction + epsilon), s0, s1
    return p * np.nan, s0, s1


# --- learning-rate schedules that change at every step ------------------------------------------
# Schedules that change once per epoch (exponential, step, a user's callable) are evaluated by the
# driver between epochs and arrive here as CONSTANT.

CONSTANT, INVSCALING, COSINE, OPTIMAL = range(4)


def step_rate(schedule, lr, step, schedule_hyper):
    """Learning rate of update ``step`` (1-based); ``schedule_hyper = [power_t, total_steps,
    alpha]``.

    INVSCALING: ``lr / step**power_t``; COSINE: ``lr (1 + cos(pi min(step - 1, T) / T)) / 2``,
    falling from ``lr`` at the first update to 0 after ``T = total_steps``; OPTIMAL (Bottou's):
    ``lr / (1 + alpha lr (step - 1))``.
    """
    power_t, total_steps, alpha = schedule_hyper[0], schedule_hyper[1], schedule_hyper[2]
    if schedule == INVSCALING:
        return lr / step**power_t
    if schedule == COSINE:
        return lr * 0.5 * (1 + np.cos(np.pi * min(step - 1, total_steps) / total_steps))
    if schedule == OPTIMAL:
        return lr / (1 + alpha * lr * (step - 1))
    return lr


_step_rate = jit(step_rate)
