"""Each optimizer's compiled update against its NumPy reference, and both against torch.optim's
equations written out by hand, over several steps from a known state."""

import numpy as np
import pytest

from fastgd._kernels import optim

from .conftest import assert_close

MOMENTUM, BETA_1, BETA_2, EPSILON, RHO = 0.85, 0.8, 0.95, 1e-6, 0.7
HYPER = np.array([MOMENTUM, BETA_1, BETA_2, EPSILON, RHO])


def torch_equations(name, p, g, state, t, lr):
    """One step as torch.optim documents it (default options), state a dict of arrays."""
    if name == "sgd":
        return p - lr * g
    if name in ("momentum", "nesterov"):
        b = g.copy() if t == 1 else MOMENTUM * state["b"] + g  # dampening 0
        state["b"] = b
        direction = g + MOMENTUM * b if name == "nesterov" else b
        return p - lr * direction
    if name == "adagrad":  # lr_decay 0, initial_accumulator_value 0
        state["sum"] = state["sum"] + g * g
        return p - lr * g / (np.sqrt(state["sum"]) + EPSILON)
    if name == "rmsprop":  # centered False, momentum 0
        state["v"] = RHO * state["v"] + (1 - RHO) * g * g
        return p - lr * g / (np.sqrt(state["v"]) + EPSILON)
    if name in ("adam", "adamw"):
        if name == "adamw":
            p = p - lr * 0.0 * p  # the decay happens outside the update; see test_adamw_decay
        state["m"] = BETA_1 * state["m"] + (1 - BETA_1) * g
        state["v"] = BETA_2 * state["v"] + (1 - BETA_2) * g * g
        m_hat = state["m"] / (1 - BETA_1**t)
        v_hat = state["v"] / (1 - BETA_2**t)
        return p - lr * m_hat / (np.sqrt(v_hat) + EPSILON)
    raise AssertionError(name)


def state_dict(name, S):
    keys = {"momentum": ["b"], "nesterov": ["b"], "adagrad": ["sum"], "rmsprop": ["v"],
            "adam": ["m", "v"], "adamw": ["m", "v"]}.get(name, [])
    return {key: S[i].copy() for i, key in enumerate(keys)}


@pytest.mark.parametrize("name", list(optim.NAMES))
@pytest.mark.parametrize("start", [0, 6], ids=["from-zero", "mid-run"])
def test_update_matches_reference_and_torch_equations(name, start):
    rng = np.random.default_rng(5)
    opt = optim.NAMES[name]
    n_params, lr = 13, 0.03
    P0 = rng.standard_normal(n_params)
    S0 = optim.allocate_state(opt, n_params, np.float64)
    if start:
        S0[:] = np.abs(rng.standard_normal(S0.shape))  # second moments must be >= 0
    P_jit, S_jit, P_np, S_np = P0.copy(), S0.copy(), P0.copy(), S0.copy()
    P_torch, torch_state = P0.copy(), state_dict(name, S0)
    for t in range(start + 1, start + 6):
        G = rng.standard_normal(n_params)
        optim._update(optim.Update(opt, S_jit, HYPER), P_jit, G, t, lr)
        optim.update(opt, P_np, G, S_np, t, lr, HYPER)
        P_torch = torch_equations(name, P_torch, G, torch_state, t, lr)
        assert_close(P_jit, P_np, 1e-13)
        assert_close(S_jit, S_np, 1e-13)
        assert_close(P_np, P_torch, 1e-12)
    assert not np.allclose(P_np, P0)


@pytest.mark.parametrize("schedule", [optim.CONSTANT, optim.INVSCALING, optim.COSINE,
                                      optim.OPTIMAL])
def test_step_rate_matches_reference(schedule):
    hyper = np.array([0.5, 40.0, 0.5])  # power_t, total_steps, alpha
    for step in (1, 2, 17, 40, 41, 100):
        assert optim._step_rate(schedule, 0.2, step, hyper) == pytest.approx(
            optim.step_rate(schedule, 0.2, step, hyper), rel=1e-14)
    assert optim.step_rate(optim.CONSTANT, 0.2, 17, hyper) == 0.2
    assert optim.step_rate(optim.INVSCALING, 0.2, 4, hyper) == pytest.approx(0.1)
    assert optim.step_rate(optim.COSINE, 0.2, 1, hyper) == pytest.approx(0.2)
    assert optim.step_rate(optim.COSINE, 0.2, 21, hyper) == pytest.approx(0.1)
    assert optim.step_rate(optim.COSINE, 0.2, 41, hyper) == pytest.approx(0.0, abs=1e-15)
    # lr / (1 + alpha lr (t - 1)): scikit-learn's 1 / (alpha (t0 + t - 1)) with t0 = 1 / (alpha lr)
    assert optim.step_rate(optim.OPTIMAL, 0.2, 1, hyper) == pytest.approx(0.2)
    assert optim.step_rate(optim.OPTIMAL, 0.2, 11, hyper) == pytest.approx(0.1)
    assert optim.step_rate(optim.OPTIMAL, 0.2, 100, hyper) == pytest.approx(1 / (0.5 * (10 + 99)))


def test_against_torch_when_installed():
    """The same steps through torch.optim itself, when torch is installed (skipped otherwise)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    P0 = rng.standard_normal(7)
    grads = rng.standard_normal((5, 7))
    makers = {
        "sgd": lambda p: torch.optim.SGD([p], lr=0.03),
        "momentum": lambda p: torch.optim.SGD([p], lr=0.03, momentum=MOMENTUM),
        "nesterov": lambda p: torch.optim.SGD([p], lr=0.03, momentum=MOMENTUM, nesterov=True),
        "adagrad": lambda p: torch.optim.Adagrad([p], lr=0.03, eps=EPSILON),
        "rmsprop": lambda p: torch.optim.RMSprop([p], lr=0.03, alpha=RHO, eps=EPSILON),
        "adam": lambda p: torch.optim.Adam([p], lr=0.03, betas=(BETA_1, BETA_2), eps=EPSILON),
    }
    for name, make in makers.items():
        p = torch.tensor(P0.copy(), dtype=torch.float64, requires_grad=True)
        optimizer = make(p)
        P = P0.copy()
        S = optim.allocate_state(optim.NAMES[name], 7, np.float64)
        for t, g in enumerate(grads, start=1):
            p.grad = torch.tensor(g)
            optimizer.step()
            optim._update(optim.Update(optim.NAMES[name], S, HYPER), P, g, t, 0.03)
        assert_close(P, p.detach().numpy(), 1e-12)


# --- the table ---------------------------------------------------------------------------------

@pytest.mark.parametrize("entry", optim.OPTIMIZERS, ids=[entry.name for entry in optim.OPTIMIZERS])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_allocate_state_gives_n_slots_rows(entry, dtype):
    opt = optim.NAMES[entry.name]
    assert optim.OPTIMIZERS[opt] is entry
    S = optim.allocate_state(opt, 11, dtype)
    assert S.shape == (entry.n_slots, 11) and S.dtype == dtype
    assert not S.any()


def test_table_codes_and_facts():
    assert list(optim.NAMES) == ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam",
                                 "adamw"]
    assert [optim.SGD, optim.MOMENTUM, optim.NESTEROV, optim.ADAGRAD, optim.RMSPROP, optim.ADAM,
            optim.ADAMW] == list(range(7))
    assert optim.N_OPTIMIZERS == len(optim.OPTIMIZERS) == 7
    assert optim.HYPER == ("momentum", "beta_1", "beta_2", "epsilon", "rho")
    assert [entry.name for entry in optim.OPTIMIZERS if entry.decoupled] == ["adamw"]
    assert {entry.name: entry.default_rate for entry in optim.OPTIMIZERS
            if entry.default_rate is not None} == {"adagrad": 0.01, "rmsprop": 0.01,
                                                   "adam": 0.001, "adamw": 0.001}
    assert [entry.name for entry in optim.OPTIMIZERS if entry.damped] == ["momentum", "nesterov"]


@pytest.mark.parametrize("code", [-1, optim.N_OPTIMIZERS, 99])
def test_unknown_optimizer_code(code):
    """Refused where an update is made: no kernel ever sees an unknown optimizer."""
    with pytest.raises(ValueError, match="unknown optimizer code"):
        optim.Update(code, np.zeros((0, 3)), HYPER)
    with pytest.raises(ValueError, match="unknown optimizer code"):
        optim.update(code, np.zeros(3), np.ones(3), np.zeros((0, 3)), 1, 0.1, HYPER)


@pytest.mark.parametrize("name", list(optim.NAMES))
def test_update_element_matches_reference(name):
    """The scalar equations of the table (``element``) against the NumPy reference, one element
    at a time, with Adam's corrections from ``_adam_corrections``."""
    rng = np.random.default_rng(9)
    opt = optim.NAMES[name]
    P0 = rng.standard_normal(6)
    S0 = np.abs(rng.standard_normal((2, 6)))
    G = rng.standard_normal(6)
    step, lr = 4, 0.03
    P_ref, S_ref = P0.copy(), S0[:optim.OPTIMIZERS[opt].n_slots].copy()
    optim.update(opt, P_ref, G, S_ref, step, lr, HYPER)
    step_size, root = optim._adam_corrections(lr, step, BETA_1, BETA_2)
    assert step_size == pytest.approx(lr / (1 - BETA_1**step), rel=1e-14)
    assert root == pytest.approx(np.sqrt(1 - BETA_2**step), rel=1e-14)
    h = (lr, MOMENTUM, BETA_1, BETA_2, EPSILON, RHO, step_size, root)
    element = optim.OPTIMIZERS[opt].element  # its Python form: the compiled one is the kernels'
    for t in range(6):
        p, s0, s1 = element(P0[t], G[t], S0[0, t], S0[1, t], h)
        assert p == pytest.approx(P_ref[t], rel=1e-13)
        slots = (s0, s1)[:optim.OPTIMIZERS[opt].n_slots]
        for s, s_ref in zip(slots, S_ref[:, t]):
            assert s == pytest.approx(s_ref, rel=1e-13)


def test_update_and_rate_tuples():
    S = optim.allocate_state(optim.ADAM, 3, np.float64)
    update = optim.Update(optim.ADAM, S, HYPER)
    assert update.opt == optim.ADAM and update.S is S and update.hyper is HYPER
    # each optimizer its own type, so that a kernel compiles the update of its optimizer only
    assert len({type(optim.Update(opt, S, HYPER)) for opt in range(optim.N_OPTIMIZERS)}) == 7
    assert type(update) is optim.UPDATE_TYPES[optim.ADAM]
    rate = optim.Rate(optim.COSINE, 0.1, np.array([0.5, 10.0, 0.0]))
    assert rate.schedule == optim.COSINE and rate.lr == 0.1
