"""fastgd/_kernels/losses.py: the table of losses, each compiled rule and block kernel against its
NumPy reference, the links, and codes outside the table."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastgd._kernels import losses
from fastgd.config import jit

from .conftest import DTYPES, LOSS_CODES, RTOL, assert_close, make_problem, make_targets

LINKS = [losses.IDENTITY, losses.SIGMOID, losses.SOFTMAX]


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
def test_every_entry_reference_and_compiled_kernels_agree(entry, dtype):
    """The table: each loss's NumPy ``reference`` against its compiled branches: the losses
    (``_loss_values``), the derivatives (``_loss_derivative``), both at once (``_loss_terms``) and,
    for a loss of each element, the scalar ``_derivative``; a loss of whole rows (softmax) has no
    scalar rule, and ``_derivative`` gives NaN for it."""
    code = losses.CODES[entry.name]
    assert losses.LOSSES[code] is entry
    assert entry.elementwise == (code != losses.SOFTMAX_LOG_LOSS)
    k = 3 if code == losses.SOFTMAX_LOG_LOSS else 2
    rng = np.random.default_rng(code)
    Z = (rng.standard_normal((40, k)) * 4).astype(dtype)
    Y = make_targets(rng, 40, k, code).astype(dtype)
    L_ref, D_ref = entry.reference(Z, Y)
    rtol = RTOL["numba", dtype]
    L, D = compiled_loss_terms(code, Z, Y)
    L_only, D_only = compiled_loss_values(code, Z, Y), compiled_derivatives(code, Z, Y)
    for L_block, D_block in ((L, D), (L_only, D_only)):
        assert L_block.dtype == D_block.dtype == dtype
        assert_close(L_block.sum(axis=1), L_ref.sum(axis=1), rtol)
        assert_close(D_block, D_ref, rtol)
    one = dtype(1)
    by_element = np.array([losses._derivative(code, z, y, one)
                           for z, y in zip(Z.ravel(), Y.ravel())]).reshape(Z.shape)
    if entry.elementwise:
        assert_close(L_only, L_ref, rtol)  # each element's own loss, not only the row sums
        assert_close(by_element, D_ref, rtol)
    else:
        assert np.isnan(by_element).all()


def test_table_codes_and_facts():
    assert [entry.name for entry in losses.LOSSES] == list(losses.CODES)
    assert losses.CODES["squared_error"] == losses.SQUARED_ERROR
    assert losses.code("log_loss", 1) == losses.LOG_LOSS
    assert losses.code("log_loss", 3) == losses.SOFTMAX_LOG_LOSS
    assert losses.code("hinge", 3) == losses.HINGE
    assert losses.code("sigmoid_squared", 4) == losses.SIGMOID_SQUARED
    assert losses.code("squared_error", 2) == losses.SQUARED_ERROR
    assert losses.PUBLIC["regressor"] == ("squared_error",)
    assert losses.PUBLIC["classifier"] == ("log_loss", "hinge", "sigmoid_squared")
    assert losses.N_LOSSES == len(losses.LOSSES)
    for entry in losses.LOSSES:
        assert entry.task in ("regressor", "classifier")
        assert entry.multiclass in losses.CODES
        assert entry.curvature > 0
        assert entry.proba_link in (None, losses.SIGMOID, losses.SOFTMAX)


@pytest.mark.parametrize("code", [-1, len(losses.LOSSES), 99])
def test_unknown_loss_code(code):
    """Refused by the Python entry points; NaN from every compiled branch."""
    with pytest.raises(ValueError, match="unknown loss code"):
        losses.check_code(code)
    with pytest.raises(ValueError, match="unknown loss code"):
        losses.loss_terms(code, np.zeros((2, 1)), np.zeros((2, 1)))
    for dtype in DTYPES:
        assert np.isnan(losses._derivative(code, dtype(0.5), dtype(1), dtype(1)))
        Z, Y = np.full((4, 2), 0.5, dtype), np.ones((4, 2), dtype)
        for array in (*compiled_loss_terms(code, Z, Y), compiled_loss_values(code, Z, Y),
                      compiled_derivatives(code, Z, Y)):
            assert np.isnan(array).all()
    for known in LOSS_CODES:
        losses.check_code(known)


# --- block kernels -----------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(loss=st.sampled_from(LOSS_CODES), dtype=st.sampled_from(DTYPES), m=st.integers(1, 40),
       k=st.integers(1, 5), scale=st.sampled_from([0.1, 1.0, 30.0]), seed=st.integers(0, 2**31))
def test_loss_terms_match_reference(loss, dtype, m, k, scale, seed):
    if loss == losses.SOFTMAX_LOG_LOSS:
        k = max(k, 2)
    Z, Y = scores_and_targets(loss, dtype, m, k, scale, seed)
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


def test_log_loss_values_at_huge_scores_are_exact():
    Z = np.array([[1e4], [-1e4]])
    Y = np.array([[0.0], [1.0]])
    L, D = compiled_loss_terms(losses.LOG_LOSS, Z, Y)
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
def test_apply_link_with_an_unknown_link_leaves_nan(link):
    Z = np.random.default_rng(0).standard_normal((5, 2))
    assert np.isnan(compiled_link(link, Z)).all()


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
    losses._loss_terms_inline(loss, Z, Y, L, D, Z.size, k)
    D2 = np.empty_like(D)
    losses._loss_derivative_inline(loss, Z, Y, D2, 0, Z.size, k)
    return D2


@pytest.mark.parametrize("loss", LOSS_CODES)
def test_inlined_kernels_match_the_called_ones(loss):
    Z, Y = scores_and_targets(loss, np.float64, 30, 3, 3.0, 5)
    z, y = Z.ravel().copy(), Y.ravel().copy()
    L1, D1, L2, D2 = (np.empty(z.size) for _ in range(4))
    losses._loss_terms(loss, z, y, L1, D1, z.size, 3)
    D3 = _inlined(loss, z, y, L2, D2, 3)
    # the same rules; inlined, LLVM may contract them differently (fastmath)
    assert_close(L2, L1, RTOL["numba", np.float64])
    assert_close(D2, D1, RTOL["numba", np.float64])
    assert_close(D3, D1, RTOL["numba", np.float64])
