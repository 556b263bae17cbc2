"""Parameter update rules: each compiled update beside its NumPy twin.

An optimizer is chosen by an integer code. Its state is ``S``, an array of shape
``(n_slots, n_params)`` (velocities, moments) that the compiled epoch updates in place and that
persists across epochs, ``warm_start`` and ``partial_fit``; ``step`` is the 1-based number of this
update; ``hyper`` is the float64 array ``[momentum, beta_1, beta_2, epsilon, rho]``. Parameters ``P``
and gradients ``G`` arrive flat, ``G`` already holding any L2 term. The equations are torch.optim's
with default options, so that the two give the same numbers:

==========  =====================================================================================
SGD         ``p -= lr g``
MOMENTUM    ``b = momentum b + g``; ``p -= lr b`` (dampening 0; ``b = g`` at the first step)
NESTEROV    ``b = momentum b + g``; ``p -= lr (g + momentum b)``
ADAGRAD     ``s += g**2``; ``p -= lr g / (sqrt(s) + epsilon)``
RMSPROP     ``s = rho s + (1 - rho) g**2``; ``p -= lr g / (sqrt(s) + epsilon)`` (not centred)
ADAM        ``m = beta_1 m + (1 - beta_1) g``; ``v = beta_2 v + (1 - beta_2) g**2``;
            ``p -= lr / (1 - beta_1**t) m / (sqrt(v) / sqrt(1 - beta_2**t) + epsilon)``
ADAMW       ADAM after the decoupled weight decay ``w *= 1 - lr alpha`` (see ``DECOUPLED``)
==========  =====================================================================================
"""

import numpy as np

from ..config import jit, jit_inline

SGD, MOMENTUM, NESTEROV, ADAGRAD, RMSPROP, ADAM, ADAMW = range(7)
NAMES = {"sgd": SGD, "momentum": MOMENTUM, "nesterov": NESTEROV, "adagrad": ADAGRAD,
         "rmsprop": RMSPROP, "adam": ADAM, "adamw": ADAMW}

#: Rows of ``S`` each optimizer needs.
N_SLOTS = {SGD: 0, MOMENTUM: 1, NESTEROV: 1, ADAGRAD: 1, RMSPROP: 1, ADAM: 2, ADAMW: 2}

#: Optimizers whose L2 penalty is a decay of the weights, not a term of the gradient.
DECOUPLED = {ADAMW}

#: Positions in ``hyper``.
MOMENTUM_, BETA_1, BETA_2, EPSILON, RHO = range(5)


def allocate_state(opt, n_params, dtype):
    """Return zeroed optimizer state of shape ``(n_slots, n_params)``."""
    return np.zeros((N_SLOTS[opt], n_params), dtype=dtype)


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
    momentum, beta_1, beta_2, epsilon, rho = hyper[0], hyper[1], hyper[2], hyper[3], hyper[4]
    step_size, root_correction = _adam_corrections(lr, step, beta_1, beta_2)
    S0, S1 = _slots(S, P)
    # each branch passes its code as a constant, so that the loop compiled in it has no branch on
    # the optimizer left and vectorises
    if opt == SGD:
        _update_loop(SGD, P, G, S0, S1, lr, momentum, beta_1, beta_2, epsilon, rho, step_size,
                     root_correction)
    elif opt == MOMENTUM:
        _update_loop(MOMENTUM, P, G, S0, S1, lr, momentum, beta_1, beta_2, epsilon, rho,
                     step_size, root_correction)
    elif opt == NESTEROV:
        _update_loop(NESTEROV, P, G, S0, S1, lr, momentum, beta_1, beta_2, epsilon, rho,
                     step_size, root_correction)
    elif opt == ADAGRAD:
        _update_loop(ADAGRAD, P, G, S0, S1, lr, momentum, beta_1, beta_2, epsilon, rho,
                     step_size, root_correction)
    elif opt == RMSPROP:
        _update_loop(RMSPROP, P, G, S0, S1, lr, momentum, beta_1, beta_2, epsilon, rho,
                     step_size, root_correction)
    else:
        _update_loop(ADAM, P, G, S0, S1, lr, momentum, beta_1, beta_2, epsilon, rho, step_size,
                     root_correction)


@jit_inline
def _update_loop(opt, P, G, S0, S1, lr, momentum, beta_1, beta_2, epsilon, rho, step_size,
                 root_correction):
    for t in range(P.size):
        p, s0, s1 = _update_element(opt, P[t], G[t], S0[t], S1[t], lr, momentum, beta_1, beta_2,
                                    epsilon, rho, step_size, root_correction)
        P[t] = p
        # only the state the optimizer has is written (see _slots); opt is a constant here
        if opt != SGD:
            S0[t] = s0
        if opt == ADAM:
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
def _update_element(opt, p, g, s0, s1, lr, momentum, beta_1, beta_2, epsilon, rho, step_size,
                    root_correction):
    """One parameter's update, as :func:`_update` does it, on scalars: returns ``(p, s0, s1)``, the
    new parameter and its state slots (``s0``, ``s1`` are returned unchanged when unused;
    ``step_size`` and ``root_correction`` come from :func:`_adam_corrections`).

    The one place of the equations: :func:`_update` applies it over arrays with a constant ``opt``,
    which leaves a branch-free loop (the repeated calls there differ only in that constant: numba
    cannot inline a call with ``*args``)."""
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
    s0 = beta_1 * s0 + (1 - beta_1) * g
    s1 = beta_2 * s1 + (1 - beta_2) * g * g
    return p - step_size * s0 / (np.sqrt(s1) / root_correction + epsilon), s0, s1


# --- learning-rate schedules that change at every step ------------------------------------------
# Schedules that change once per epoch (exponential, step, a user's callable) are evaluated by the
# driver between epochs and arrive here as CONSTANT.

CONSTANT, INVSCALING, COSINE = range(3)


def step_rate(schedule, lr, step, schedule_hyper):
    """Learning rate of update ``step`` (1-based); ``schedule_hyper = [power_t, total_steps]``.

    INVSCALING: ``lr / step**power_t``; COSINE: ``lr (1 + cos(pi min(step - 1, T) / T)) / 2``,
    falling from ``lr`` at the first update to 0 after ``T = total_steps``.
    """
    power_t, total_steps = schedule_hyper
    if schedule == INVSCALING:
        return lr / step**power_t
    if schedule == COSINE:
        return lr * 0.5 * (1 + np.cos(np.pi * min(step - 1, total_steps) / total_steps))
    return lr


_step_rate = jit(step_rate)
