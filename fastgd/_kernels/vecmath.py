"""``exp`` and ``log1p`` in a form that LLVM vectorises.

Numba calls the C library for ``np.exp`` and ``np.log1p``, one element at a time, and cannot use
SVML (the PyPI llvmlite is not built with it): the log-loss terms of a million rows then cost about
20 ms, more than reading X. These are the classic branch-free forms (Cody-Waite range reduction and
a polynomial for ``exp``; the ``atanh`` series for ``log1p``), built from arithmetic, ``floor`` and a
bit cast only, so that a loop calling them becomes SIMD code. Each has a float64 and a float32
version, chosen by the argument's type, accurate to a few units in the last place; their NumPy
references are ``np.exp`` and ``np.log1p`` themselves.

Only the ranges the losses need are covered: ``exp_nonpositive(x)`` for ``x <= 0`` (results below
the smallest normal number are returned as that number, about 1e-308 or 1e-38, instead of 0), and
``log1p_unit(e)`` for ``0 <= e <= 1``.
"""

import numpy as np
from numba import types
from numba.extending import intrinsic, overload


@intrinsic
def _float_from_bits(typingctx, bits):
    """Reinterpret an int64 as a float64, or an int32 as a float32: builds ``2**k`` from ``k``."""
    result = {types.int64: types.float64, types.int32: types.float32}.get(bits)
    if result is None:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(signature.return_type))

    return result(bits), codegen


def exp_nonpositive(x):
    """``exp(x)`` for ``x <= 0`` (NumPy reference)."""
    return np.exp(x)


def log1p_unit(e):
    """``log(1 + e)`` for ``0 <= e <= 1`` (NumPy reference)."""
    return np.log1p(e)


def _exp_nonpositive_64(x):
    x = max(x, -708.0)  # keeps 2**k a normal number
    k = np.floor(x * 1.4426950408889634 + 0.5)
    # ln 2 split in two (fdlibm's constants) so that k * ln2_hi is exact
    r = (x - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10
    # Taylor series to r**13 / 13!: the next term is below 5e-18 for |r| <= ln(2) / 2. Estrin's
    # scheme (pairs, then pairs of pairs) instead of Horner's: a chain of 5 dependent operations,
    # not 13, for the SGD step, which waits on this one value
    r2 = r * r
    r4 = r2 * r2
    a0 = 1.0 + r
    a1 = 1.0 / 2.0 + r * (1.0 / 6.0)
    a2 = 1.0 / 24.0 + r * (1.0 / 120.0)
    a3 = 1.0 / 720.0 + r * (1.0 / 5040.0)
    a4 = 1.0 / 40320.0 + r * (1.0 / 362880.0)
    a5 = 1.0 / 3628800.0 + r * (1.0 / 39916800.0)
    a6 = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0)
    b0 = a0 + r2 * a1
    b1 = a2 + r2 * a3
    b2 = a4 + r2 * a5
    c0 = b0 + r4 * b1
    c1 = b2 + r4 * a6
    p = c0 + (r4 * r4) * c1
    return p * _float_from_bits((np.int64(k) + 1023) << 52)


def _exp_nonpositive_32(x):
    x = max(x, np.float32(-87.0))
    k = np.floor(x * np.float32(1.44269504) + np.float32(0.5))
    # cephes expf's split of ln 2
    r = (x - k * np.float32(0.693359375)) - k * np.float32(-2.12194440e-4)
    r2 = r * r
    a0 = np.float32(1.0) + r
    a1 = np.float32(1.0 / 2.0) + r * np.float32(1.0 / 6.0)
    a2 = np.float32(1.0 / 24.0) + r * np.float32(1.0 / 120.0)
    a3 = np.float32(1.0 / 720.0) + r * np.float32(1.0 / 5040.0)
    p = (a0 + r2 * a1) + (r2 * r2) * (a2 + r2 * a3)
    # numba widens int32 arithmetic to int64: narrow the exponent bits back to 32
    return p * _float_from_bits(np.int32((np.int64(k) + 127) << 23))


def _log1p_unit_64(e):
    # log(1 + e) = 2 atanh(s) with s = e / (2 + e); above sqrt(2) - 1, halve 1 + e first, so that
    # |s| <= 0.1716 and the series below (to s**23) is exact to double precision
    big = e > 0.41421356237309503
    # one division, its operands selected: a division inside a branch stops vectorisation
    s = (e - 1.0 if big else e) / (e + 3.0 if big else e + 2.0)
    s2 = s * s
    q = 1.0 / 23.0
    q = q * s2 + 1.0 / 21.0
    q = q * s2 + 1.0 / 19.0
    q = q * s2 + 1.0 / 17.0
    q = q * s2 + 1.0 / 15.0
    q = q * s2 + 1.0 / 13.0
    q = q * s2 + 1.0 / 11.0
    q = q * s2 + 1.0 / 9.0
    q = q * s2 + 1.0 / 7.0
    q = q * s2 + 1.0 / 5.0
    q = q * s2 + 1.0 / 3.0
    q = q * s2 + 1.0
    return (0.6931471805599453 if big else 0.0) + 2.0 * s * q


def _log1p_unit_32(e):
    big = e > np.float32(0.41421356)
    s = (e - np.float32(1) if big else e) / (e + np.float32(3) if big else e + np.float32(2))
    s2 = s * s
    q = np.float32(1.0 / 11.0)
    q = q * s2 + np.float32(1.0 / 9.0)
    q = q * s2 + np.float32(1.0 / 7.0)
    q = q * s2 + np.float32(1.0 / 5.0)
    q = q * s2 + np.float32(1.0 / 3.0)
    q = q * s2 + np.float32(1.0)
    return (np.float32(0.6931472) if big else np.float32(0)) + np.float32(2) * s * q


@overload(exp_nonpositive)
def _overload_exp(x):
    return _exp_nonpositive_32 if x == types.float32 else _exp_nonpositive_64


@overload(log1p_unit)
def _overload_log1p(e):
    return _log1p_unit_32 if e == types.float32 else _log1p_unit_64
