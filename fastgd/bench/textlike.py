"""A text-like sparse classification problem: what ``HashingVectorizer`` makes of documents.

:func:`text_like` returns ``X``, an ``n x d`` canonical CSR (sorted, distinct column indices per
row; int32 indices and index pointer) of hashed token counts, and binary labels ``y`` from a
planted sparse linear model:

- tokens are drawn from a Zipf law over the ``d`` features (the ``r``-th most frequent has
  frequency about ``1 / r``, the law of words in text), scattered over the columns by a random
  permutation, as a hash scatters them; each row draws a Poisson number of tokens, its mean set so
  that a row stores ``STORED_PER_ROW`` distinct features on average (repeated tokens add up);
- each feature carries a random sign, as ``HashingVectorizer(alternate_sign=True)`` gives it, and
  each row is scaled to unit L2 norm (its ``norm="l2"``);
- the planted model has ``INFORMATIVE`` nonzero weights (standard normal) on features among the
  ``FREQUENT`` most frequent, so that a few epochs of SGD learn it; ``y`` is drawn from the
  logistic model on ``LABEL_SCALE`` times the standardised score (centred on its median, so that
  the classes are balanced).

Everything is vectorised NumPy and SciPy (about 1 s for 200,000 x 2**18, 10 million stored
values, with a peak of about twice the CSR's size); the results are cached per ``(n, d, dtype,
seed)`` in the process, and the two dtypes of one problem share one draw (and its index arrays). The benchmark suite (``fastgd.bench.cases``), the memory measurement
(``fastgd.bench.memory``) and ``benchmarks/`` all import it from here.
"""

from functools import lru_cache

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

#: Mean distinct features stored per row.
STORED_PER_ROW = 50
#: The planted model: this many nonzero weights, on features among the this-many most frequent.
INFORMATIVE, FREQUENT = 1_000, 10_000
#: Labels are Bernoulli(sigmoid(LABEL_SCALE * standardised score)).
LABEL_SCALE = 3.0


@lru_cache(maxsize=4)
def text_like(n, d, dtype="float64", seed=0):
    """Return ``(X, y)``: ``X`` an ``n x d`` CSR matrix of ``dtype`` (float64 or float32) with
    int32 indices, rows of unit L2 norm; ``y`` (n,) int64 labels in {0, 1}. Cached: do not modify
    them."""
    X, y = _draw(n, d, seed)
    if np.dtype(dtype) != X.dtype:
        X = sp.csr_matrix((X.data.astype(dtype), X.indices, X.indptr), shape=X.shape)
        X.has_sorted_indices = X.has_canonical_format = True
    return X, y


def clear_cache():
    """Forget the cached problems (of both dtypes)."""
    text_like.cache_clear()
    _draw.cache_clear()


def csr_bytes(X):
    """Bytes of a CSR's three arrays: what one pass over it reads."""
    return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes


@lru_cache(maxsize=2)
def _draw(n, d, seed):
    """The problem in float64."""
    rng = np.random.default_rng(seed)
    X, column_of_rank = _hashed_rows(rng, n, d, STORED_PER_ROW)
    score = X @ _planted(rng, d, column_of_rank, 1)[:, 0]
    score = (score - np.median(score)) / max(score.std(), np.finfo(float).tiny)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-LABEL_SCALE * score))).astype(np.int64)
    return X, y


def hashed_classes(n, d, classes, stored, seed=0):
    """Return ``(X, y)``: ``n`` rows of hashed text as :func:`text_like` draws them, ``stored``
    distinct features a row on average, and labels in ``range(classes)``, each row's the class
    of the largest planted score plus Gumbel noise (a softmax's draw, so that the classes
    overlap). Not cached."""
    rng = np.random.default_rng(seed)
    X, column_of_rank = _hashed_rows(rng, n, d, stored)
    scores = np.asarray(X @ _planted(rng, d, column_of_rank, classes)) * LABEL_SCALE
    return X, (scores + rng.gumbel(size=scores.shape)).argmax(axis=1)


def _hashed_rows(rng, n, d, stored):
    """A canonical float64 CSR of ``n`` rows of hashed tokens (see the module's docstring) and the
    column of each frequency rank (the hash)."""
    # rank r (from 1) has probability log(1 + 1/r) / log(d + 1), about 1 / r (Zipf's law of
    # exponent 1): the law of floor((d + 1)**u) for a uniform u, drawn below without a table
    p = np.log1p(1.0 / np.arange(1, d + 1)) / np.log(d + 1.0)
    lengths = rng.poisson(_tokens_per_row(p, min(stored, d)), n)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    if indptr[-1] >= np.iinfo(np.int32).max:
        raise ValueError(f"{n} rows of {d} features would store more values than int32 indices "
                         "can address; draw fewer rows")
    ranks = np.exp(rng.random(indptr[-1]) * np.log(d + 1.0)).astype(np.int64)
    np.clip(ranks, 1, d, out=ranks)  # the rounding at u near 1
    column_of_rank = rng.permutation(d).astype(np.int32)  # the hash
    tokens = column_of_rank[ranks - 1]
    del ranks
    X = sp.csr_matrix((np.ones(len(tokens)), tokens, indptr.astype(np.int32)), shape=(n, d))
    del tokens
    X.sum_duplicates()  # sorts each row's columns and adds up repeated tokens: canonical CSR
    sign = np.where(rng.random(d) < 0.5, -1.0, 1.0)
    X = sp.csr_matrix((X.data * sign[X.indices], X.indices.copy(), X.indptr.copy()), shape=(n, d))
    normalize(X, copy=False)
    X.has_sorted_indices = X.has_canonical_format = True
    return X, column_of_rank


def _planted(rng, d, column_of_rank, outputs):
    """The planted model (d, outputs): ``INFORMATIVE`` standard normal weights per output on
    features among the ``FREQUENT`` most frequent, zeros elsewhere."""
    frequent = min(FREQUENT, d)
    W = np.zeros((d, outputs))
    informative = column_of_rank[rng.choice(frequent, max(1, min(INFORMATIVE, frequent // 10)),
                                            replace=False)]
    W[informative] = rng.standard_normal((len(informative), outputs))
    return W


def _tokens_per_row(p, stored):
    """The Poisson mean ``L`` of a row's tokens for which a row stores ``stored`` distinct features
    on average: feature ``r`` then occurs Poisson(``L p_r``) times, so the mean count of distinct
    ones is ``sum_r 1 - exp(-L p_r)``, solved for by Newton's method (increasing and concave)."""
    L = float(stored)
    for _ in range(50):
        e = np.exp(-L * p)
        step = (np.sum(-np.expm1(-L * p)) - stored) / np.sum(p * e)
        L -= step
        if abs(step) < 1e-6 * L:
            break
    return L
