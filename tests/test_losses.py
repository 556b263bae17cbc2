"""fastgd/_kernels/losses.py: the table of losses, each compiled rule and block kernel against its
NumPy reference, the links, and codes outside the table."""

import pickle
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastgd import backends
from fastgd._kernels import losses
from fastgd._kernels.linear import Linear
from fastgd.config import jit

from .conftest import (DTYPES, LOSS_CODES, LOSS_EPSILON, RTOL, assert_close, make_problem,
                       make_targets, rule)

LINKS = [losses.IDENTITY, losses.SIGMOID, losses.SOFTMAX]


# the compiled kernels, which take ``loss`` as a losses.Rule, on (m, k) scores and targets
def compiled_loss_terms(loss, Z, Y):
    k = Z.shape[1]
    L, D = np.empty(Z.size, Z.dtype), np.empty(Z.size, Z.dtype)
    losses._loss_terms(loss, Z.ravel().copy(), Y.ravel().copy(), L, D, Z.size, k)
    return L.reshape(Z.shape), D.reshape(Z.shape)


def compiled_loss_values(loss, Z, Y):
    L = np.empty(Z.size, Z.dtype)
    losses._loss_values(loss, Z.ravel().copy(), Y.ravel().copy(), L, 0, Z.size, Z.shape[1])
    return L.reshape(Z.shape)


def compiled_derivatives(loss, Z, Y):
    D = np.empty(Z.size, Z.dtype)
    losses._loss_derivative(loss, Z.ravel().copy(), Y.ravel().copy(), D, 0, Z.size, Z.shape[1])
    return D.reshape(Z.shape)


def scores_and_targets(loss, dtype, m, k, scale, seed):
    rng = np.random.default_rng(seed)
    Z = (rng.standard_normal((m, k)) * scale).astype(dtype)
    _, Y, _, _ = make_problem(seed, m, 1, k, loss, dtype)
    return Z, Y


# --- the table ---------------------------------------------------------------------------------

@pytest.mark.parametrize("entry", losses.LOSSES, ids=[entry.name for entry in losses.LOSSES])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("epsilon", [LOSS_EPSILON, 2.5])
def test_every_entry_reference_and_compiled_kernels_agree(entry, dtype, epsilon):
    """The table: each loss's NumPy ``reference`` against its compiled kernels: the losses
    (``_loss_values``), the derivatives (``_loss_derivative``), both at once (``_loss_terms``) and,
    for a loss of each element, the scalar rule one element at a time (``_derivative``); a loss of
    whole rows (softmax) has no scalar rule. At two epsilons: the kernels take the rule's."""
    code = losses.CODES[entry.name]
    assert losses.LOSSES[code] is entry
    assert entry.elementwise == (code != losses.SOFTMAX_LOG_LOSS)
    k = 3 if code == losses.SOFTMAX_LOG_LOSS else 2
    rng = np.random.default_rng(code)
    Z = (rng.standard_normal((40, k)) * 4).astype(dtype)
    Y = make_targets(rng, 40, k, code).astype(dtype)
    loss = losses.Rule(code, epsilon)
    L_ref, D_ref = entry.reference(Z, Y, dtype(epsilon))
    rtol = RTOL["numba", dtype]
    L, D = compiled_loss_terms(loss, Z, Y)
    L_only, D_only = compiled_loss_values(loss, Z, Y), compiled_derivatives(loss, Z, Y)
    for L_block, D_block in ((L, D), (L_only, D_only)):
        assert L_block.dtype == D_block.dtype == dtype
        assert_close(L_block.sum(axis=1), L_ref.sum(axis=1), rtol)
        assert_close(D_block, D_ref, rtol)
    assert type(loss).code == code and type(loss) is losses.RULE_TYPES[code]
    if entry.elementwise:
        assert_close(L_only, L_ref, rtol)  # each element's own loss, not only the row sums
        by_element = np.array([losses._derivative(loss, z, y)
                               for z, y in zip(Z.ravel(), Y.ravel())]).reshape(Z.shape)
        assert_close(by_element, D_ref, rtol)
    else:
        assert entry.loss is entry.derivative is None


#: the table's codes: new losses are appended, so that the codes of the others stay the same
NAMES = ["squared_error", "log_loss", "softmax_log_loss", "hinge", "sigmoid_squared", "perceptron",
         "squared_hinge", "modified_huber", "huber", "epsilon_insensitive",
         "squared_epsilon_insensitive"]
REGRESSION = ("squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive")


def test_table_codes_and_facts():
    assert [entry.name for entry in losses.LOSSES] == list(losses.CODES) == NAMES
    constants = [losses.SQUARED_ERROR, losses.LOG_LOSS, losses.SOFTMAX_LOG_LOSS, losses.HINGE,
                 losses.SIGMOID_SQUARED, losses.PERCEPTRON, losses.SQUARED_HINGE,
                 losses.MODIFIED_HUBER, losses.HUBER, losses.EPSILON_INSENSITIVE,
                 losses.SQUARED_EPSILON_INSENSITIVE]
    assert constants == [losses.CODES[name] for name in NAMES] == list(range(len(NAMES)))
    assert losses.rule("log_loss") == losses.Rule(losses.LOG_LOSS, 0.0)
    assert losses.rule("log_loss", 1) == losses.Rule(losses.LOG_LOSS, 0.0)
    assert losses.rule("log_loss", 3) == losses.Rule(losses.SOFTMAX_LOG_LOSS, 0.0)
    assert losses.rule("hinge", 3) == losses.Rule(losses.HINGE, 0.0)
    assert losses.rule("sigmoid_squared", 4) == losses.Rule(losses.SIGMOID_SQUARED, 0.0)
    assert losses.rule("squared_error", 2) == losses.Rule(losses.SQUARED_ERROR, 0.0)
    # every loss but log_loss trains one output per class as it is, with the epsilon given
    for name in NAMES[3:]:
        assert losses.rule(name, 3, epsilon=0.25) == losses.Rule(losses.CODES[name], 0.25)
    # the epsilon is a float, so that each loss is one numba type; the loss is the rule's type
    assert type(losses.rule("huber", epsilon=1).epsilon) is float
    assert losses.Rule(losses.HINGE) == (0.0,) and losses.Rule(losses.HINGE).code == losses.HINGE
    assert len({type(losses.Rule(code)) for code in range(len(NAMES))}) == len(NAMES)
    assert pickle.loads(pickle.dumps(losses.rule("huber", epsilon=0.5))) == losses.Rule(
        losses.HUBER, 0.5)
    assert losses.PUBLIC["regressor"] == REGRESSION
    assert losses.PUBLIC["classifier"] == tuple(name for name in NAMES
                                                if name != "softmax_log_loss")
    for name in NAMES:
        assert losses.on_signs(name) == (name in REGRESSION)
        assert (losses.LOSSES[losses.CODES[name]].task == "regressor") == (name in REGRESSION)
    assert losses.N_LOSSES == len(losses.LOSSES)
    for entry in losses.LOSSES:
        assert entry.task in ("regressor", "classifier")
        assert entry.multiclass is None or entry.multiclass in losses.CODES
        assert entry.curvature > 0
        assert entry.proba_link in (None, losses.SIGMOID, losses.SOFTMAX)


#: (loss, epsilon, z, y, the loss and dl/dz there): the values at and beside each kink, where the
#: subgradient is scikit-learn's choice (``sklearn/linear_model/_sgd_fast.pyx``)
KINKS = [
    (losses.HINGE, 0.0, 1.0, 1.0, 0.0, -1.0),  # margin 1: -s, as scikit-learn's margin <= 1
    (losses.HINGE, 0.0, -1.0, 0.0, 0.0, 1.0),
    (losses.HINGE, 0.0, 1.5, 1.0, 0.0, 0.0),
    (losses.HINGE, 0.0, 0.5, 0.0, 1.5, 1.0),
    (losses.PERCEPTRON, 0.0, 0.0, 1.0, 0.0, -1.0),  # margin 0: -s
    (losses.PERCEPTRON, 0.0, 0.0, 0.0, 0.0, 1.0),
    (losses.PERCEPTRON, 0.0, 0.5, 1.0, 0.0, 0.0),
    (losses.PERCEPTRON, 0.0, 0.5, 0.0, 0.5, 1.0),
    (losses.SQUARED_HINGE, 0.0, 1.0, 1.0, 0.0, 0.0),
    (losses.SQUARED_HINGE, 0.0, 0.5, 1.0, 0.25, -1.0),
    (losses.SQUARED_HINGE, 0.0, 0.5, 0.0, 2.25, 3.0),
    (losses.MODIFIED_HUBER, 0.0, 1.0, 1.0, 0.0, 0.0),
    (losses.MODIFIED_HUBER, 0.0, -1.0, 1.0, 4.0, -4.0),  # margin -1: both pieces give -4 s
    (losses.MODIFIED_HUBER, 0.0, -3.0, 1.0, 12.0, -4.0),
    (losses.MODIFIED_HUBER, 0.0, 3.0, 0.0, 12.0, 4.0),
    (losses.MODIFIED_HUBER, 0.0, 0.5, 0.0, 2.25, 3.0),
    (losses.HUBER, 0.5, 1.5, 1.0, 0.125, 0.5),  # |r| = epsilon: both pieces
    (losses.HUBER, 0.5, 0.0, 2.0, 0.875, -0.5),
    (losses.HUBER, 0.5, 0.25, 0.0, 0.03125, 0.25),
    (losses.HUBER, 2.0, 0.0, 1.0, 0.5, -1.0),
    (losses.EPSILON_INSENSITIVE, 0.5, 1.5, 1.0, 0.0, 0.0),  # |r| = epsilon: 0
    (losses.EPSILON_INSENSITIVE, 0.5, -0.5, 0.0, 0.0, 0.0),
    (losses.EPSILON_INSENSITIVE, 0.5, 2.0, 1.0, 0.5, 1.0),
    (losses.EPSILON_INSENSITIVE, 0.5, -2.0, 0.0, 1.5, -1.0),
    (losses.EPSILON_INSENSITIVE, 0.0, 0.0, 0.0, 0.0, 0.0),
    (losses.SQUARED_EPSILON_INSENSITIVE, 0.5, 1.5, 1.0, 0.0, 0.0),
    (losses.SQUARED_EPSILON_INSENSITIVE, 0.5, 2.5, 1.0, 1.0, 2.0),
    (losses.SQUARED_EPSILON_INSENSITIVE, 0.5, -1.0, 0.0, 0.25, -1.0),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss,epsilon,z,y,value,derivative", KINKS)
def test_values_and_subgradients_at_the_kinks(loss, epsilon, z, y, value, derivative, dtype):
    """Exact numbers, from the reference, the block kernels and the scalar rule alike."""
    Z, Y = np.full((1, 1), z, dtype), np.full((1, 1), y, dtype)
    at = losses.Rule(loss, epsilon)
    for L, D in (losses.loss_terms(at, Z, Y), compiled_loss_terms(at, Z, Y),
                 (compiled_loss_values(at, Z, Y), compiled_derivatives(at, Z, Y))):
        assert L.dtype == D.dtype == dtype
        assert (L[0, 0], D[0, 0]) == (value, derivative)
    assert losses._derivative(at, dtype(z), dtype(y)) == derivative


@pytest.mark.parametrize("loss", [losses.HUBER, losses.EPSILON_INSENSITIVE,
                                  losses.SQUARED_EPSILON_INSENSITIVE])
def test_epsilon_is_the_width_of_the_losses_zone(loss):
    """Residuals inside ``epsilon``: huber's quadratic ``r**2 / 2``, the epsilon-insensitive
    losses' 0; beyond it, the linear and the shifted pieces. Each grows with ``|r|``."""
    r = np.linspace(-3, 3, 61)[:, None] + 0.01
    Y = np.random.default_rng(0).standard_normal(r.shape)
    for epsilon in (0.1, 1.0, 2.5):
        L, D = compiled_loss_terms(losses.Rule(loss, epsilon), Y + r, Y)
        inside, beyond = np.abs(r) <= epsilon, np.abs(r) > epsilon
        excess = np.abs(r) - epsilon
        if loss == losses.HUBER:
            expected = np.where(inside, r * r / 2, epsilon * excess + epsilon * epsilon / 2)
        elif loss == losses.EPSILON_INSENSITIVE:
            expected = np.where(inside, 0, excess)
        else:
            expected = np.where(inside, 0, excess * excess)
        assert_close(L, expected, 1e-12)
        if loss != losses.HUBER:
            assert not L[inside].any() and not D[inside].any()
        assert (np.sign(D[beyond]) == np.sign(r[beyond])).all()
        assert (np.diff(L[r >= 0]) >= 0).all() and (np.diff(L[r <= 0]) <= 0).all()


@pytest.mark.parametrize("code", [-1, len(losses.LOSSES), 99])
def test_unknown_loss_code(code):
    """Refused where a rule is made: no kernel ever sees an unknown loss."""
    with pytest.raises(ValueError, match="unknown loss code"):
        rule(code)


def test_a_kernel_refuses_what_is_not_a_loss_when_it_compiles():
    Z = np.zeros(4)
    with pytest.raises(Exception, match="loss_derivatives"):
        losses._loss_derivative((0.5,), Z, Z, Z.copy(), 0, 4, 1)


# --- block kernels -----------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(loss=st.sampled_from(LOSS_CODES), dtype=st.sampled_from(DTYPES), m=st.integers(1, 40),
       k=st.integers(1, 5), scale=st.sampled_from([0.1, 1.0, 30.0]),
       epsilon=st.sampled_from([0.0, 0.1, LOSS_EPSILON, 3.0]), seed=st.integers(0, 2**31))
def test_loss_terms_match_reference(loss, dtype, m, k, scale, epsilon, seed):
    if loss == losses.SOFTMAX_LOG_LOSS:
        k = max(k, 2)
    Z, Y = scores_and_targets(loss, dtype, m, k, scale, seed)
    loss = losses.Rule(loss, epsilon)
    L_ref, D_ref = losses.loss_terms(loss, Z, Y)
    L, D = compiled_loss_terms(loss, Z, Y)
    assert L.dtype == D.dtype == dtype
    rtol = RTOL["numba", dtype]
    # the loss of a softmax row may be stored in any of its elements: compare row sums
    assert_close(L.sum(axis=1), L_ref.sum(axis=1), rtol)
    assert_close(D, D_ref, rtol)
    # the kernels of the losses alone and of the derivatives alone give the same numbers
    L_only, D_only = compiled_loss_values(loss, Z, Y), compiled_derivatives(loss, Z, Y)
    assert L_only.dtype == D_only.dtype == dtype
    assert_close(L_only.sum(axis=1), L_ref.sum(axis=1), rtol)
    assert_close(D_only, D_ref, rtol)


@pytest.mark.parametrize("loss", LOSS_CODES)
def test_block_kernels_fill_only_start_to_stop(loss):
    """``start`` and ``stop`` (multiples of ``k``), or ``size``, bound what the block kernels
    write."""
    k = 3
    Z, Y = scores_and_targets(loss, np.float64, 10, k, 2.0, loss)
    loss = rule(loss)
    L_ref, D_ref = losses.loss_terms(loss, Z, Y)
    z, y = Z.ravel().copy(), Y.ravel().copy()
    start, stop = 2 * k, 7 * k
    L_values, D_only = np.full(z.size, -7.0), np.full(z.size, -7.0)
    losses._loss_values(loss, z, y, L_values, start, stop, k)
    losses._loss_derivative(loss, z, y, D_only, start, stop, k)
    for array in (L_values, D_only):
        assert (array[:start] == -7).all() and (array[stop:] == -7).all()
    rows = slice(2, 7)
    assert_close(L_values.reshape(10, k)[rows].sum(axis=1), L_ref[rows].sum(axis=1), 1e-10)
    assert_close(D_only.reshape(10, k)[rows], D_ref[rows], 1e-10)
    L, D = np.full(z.size, -7.0), np.full(z.size, -7.0)
    losses._loss_terms(loss, z, y, L, D, stop, k)
    assert (L[stop:] == -7).all() and (D[stop:] == -7).all()
    assert_close(L.reshape(10, k)[:7].sum(axis=1), L_ref[:7].sum(axis=1), 1e-10)
    assert_close(D.reshape(10, k)[:7], D_ref[:7], 1e-10)


@pytest.mark.parametrize("loss", LOSS_CODES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_losses_and_links_stable_for_huge_scores(loss, dtype):
    k = 3 if loss == losses.SOFTMAX_LOG_LOSS else 2
    Z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 17.0], [18.5, -18.5, 1e4]], dtype=dtype)[:, :k]
    _, Y, _, _ = make_problem(0, 3, 1, k, loss, dtype)
    loss = rule(loss)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        L_ref, D_ref = losses.loss_terms(loss, Z, Y)
        probabilities = [losses.apply_link(link, Z) for link in LINKS]
    L, D = compiled_loss_terms(loss, Z, Y)
    compiled_links = [compiled_link(link, Z) for link in LINKS]
    for array in (L_ref, D_ref, L, D, *probabilities, *compiled_links):
        assert np.isfinite(array).all()
    assert_close(L.sum(axis=1), L_ref.sum(axis=1), RTOL["numba", dtype])
    assert_close(D, D_ref, RTOL["numba", dtype])


@pytest.mark.parametrize("loss", LOSS_CODES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_a_nan_score_gives_a_nan_loss(loss, dtype):
    # the driver detects divergence by the loss: a NaN score (inf - inf in an overflowing fit)
    # must not vanish in a max(0, .), whichever side of the kink its row sits
    k = 3 if loss == losses.SOFTMAX_LOG_LOSS else 1
    Z = np.full((2, k), np.nan, dtype=dtype)
    Y = np.eye(k, dtype=dtype)[:2] if k > 1 else np.array(
        [[0], [1]] if losses.LOSSES[loss].task == "classifier" else [[-5], [5]], dtype=dtype)
    with np.errstate(invalid="ignore"):
        L_ref, _ = losses.loss_terms(rule(loss), Z, Y)
    assert np.isnan(L_ref.sum(axis=1)).all()
    assert np.isnan(compiled_loss_terms(rule(loss), Z, Y)[0].sum(axis=1)).all()
    assert np.isnan(compiled_loss_values(rule(loss), Z, Y).sum(axis=1)).all()


def test_log_loss_values_at_huge_scores_are_exact():
    Z = np.array([[1e4], [-1e4]])
    Y = np.array([[0.0], [1.0]])
    L, D = compiled_loss_terms(rule(losses.LOG_LOSS), Z, Y)
    np.testing.assert_array_equal(L, [[1e4], [1e4]])
    np.testing.assert_array_equal(D, [[1.0], [-1.0]])


# --- links -------------------------------------------------------------------------------------

def compiled_link(link, Z):
    z = Z.ravel().copy()
    losses._apply_link(link, z, z.size, Z.shape[1])
    return z.reshape(Z.shape)


@pytest.mark.parametrize("link", LINKS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_apply_link_matches_reference(link, dtype):
    Z = (np.random.default_rng(link).standard_normal((50, 4)) * 20).astype(dtype)
    expected = losses.apply_link(link, Z)
    out = compiled_link(link, Z)
    assert out.dtype == dtype
    assert_close(out, expected, RTOL["numba", dtype])


@pytest.mark.parametrize("link", [-1, 3, 99])
def test_an_unknown_link_is_refused_before_any_kernel(link):
    Z = np.random.default_rng(0).standard_normal((5, 2))
    with pytest.raises(ValueError, match="unknown link"):
        losses.apply_link(link, Z)
    model = Linear(np.zeros((2, 3)), rule(losses.LOG_LOSS), 1.0, 0.0, 0.0)
    for backend in backends.LINEAR.values():
        with pytest.raises(ValueError, match="unknown link"):
            backend.forward(Z, model, link, 1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_and_softmax_row_match_reference(dtype):
    z = (np.linspace(-50, 50, 41) + 0.3).astype(dtype)
    one = dtype(1)
    compiled = np.array([losses._sigmoid(v, one) for v in z])
    assert_close(compiled, losses.sigmoid(z), RTOL["numba", dtype])
    assert_close([losses._sigmoid_given(v, np.exp(-abs(v)), one) for v in z], losses.sigmoid(z),
                 RTOL["numba", dtype])

    Z = (np.random.default_rng(1).standard_normal((6, 4)) * 30).astype(dtype)
    flat, E = Z.ravel().copy(), np.empty(Z.size, dtype)
    for r in range(6):
        shift, total = losses._softmax_row(flat, 4 * r, 4, E)
        assert shift == Z[r].max()
        assert_close(E[4 * r:4 * r + 4] / total, losses.softmax(Z[r:r + 1])[0], RTOL["numba", dtype])


@jit
def _inlined(loss, Z, Y, L, D, k):
    losses.loss_values_and_derivatives(loss, Z, Y, L, D, Z.size, k)
    D2 = np.empty_like(D)
    losses.loss_derivatives(loss, Z, Y, D2, 0, Z.size, k)
    return D2


@pytest.mark.parametrize("loss", LOSS_CODES)
def test_inlined_kernels_match_the_called_ones(loss):
    Z, Y = scores_and_targets(loss, np.float64, 30, 3, 3.0, 5)
    loss = rule(loss)
    z, y = Z.ravel().copy(), Y.ravel().copy()
    L1, D1, L2, D2 = (np.empty(z.size) for _ in range(4))
    losses._loss_terms(loss, z, y, L1, D1, z.size, 3)
    D3 = _inlined(loss, z, y, L2, D2, 3)
    # the same rules; inlined, LLVM may contract them differently (fastmath)
    assert_close(L2, L1, RTOL["numba", np.float64])
    assert_close(D2, D1, RTOL["numba", np.float64])
    assert_close(D3, D1, RTOL["numba", np.float64])
