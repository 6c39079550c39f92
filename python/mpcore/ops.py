"""Simulated low-precision accumulation: matmul, dot, sum and round.

The accumulation model: for output (r, i), ``s = 0``; for j in order,
``s = round_acc(s + W[i, j] * x[r, j])`` with the product exact and one correct
rounding of the exact sum per addition; then the bias last,
``s = round_acc(s + b[i])``. Products are computed in binary64, which is exact
when both factors have at most 26 significant bits (every format up to fp32,
float16/ml_dtypes inputs, and float64 values produced by :func:`round` to such
a format). A float64 product of two wider values is rounded once to binary64
(round to nearest even) before it is accumulated; nothing else is rounded.
"""

from __future__ import annotations

import secrets
from typing import Optional, Tuple

import numpy as np

from . import _core
from ._arrays import as_real_array, common_dtype
from .formats import FormatLike, get as get_format

ROUNDING_MODES = ("rne", "rna", "rtz", "rup", "rdn", "rto", "sr")
ORDERS = ("sequential", "pairwise", "blocked")
DEFAULT_BLOCK = 32


def _check_rounding(rounding) -> str:
    if not isinstance(rounding, str) or rounding not in ROUNDING_MODES:
        valid = ", ".join(repr(m) for m in ROUNDING_MODES)
        raise ValueError(f"rounding: unknown rounding mode {rounding!r}; valid: {valid}")
    return rounding


def _check_seed(seed, rounding: str) -> int:
    if seed is None:
        return secrets.randbits(64) if rounding == "sr" else 0
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer or None, not {type(seed).__name__}")
    seed = int(seed)
    if not 0 <= seed < 2**64:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    return seed


def _check_sr_bits(sr_bits) -> int:
    if sr_bits is None:
        return _core.MAX_SR_BITS
    if not isinstance(sr_bits, (int, np.integer)) or not 1 <= int(sr_bits) <= _core.MAX_SR_BITS:
        raise ValueError(f"sr_bits must be an integer in 1..{_core.MAX_SR_BITS}, got {sr_bits!r}")
    return int(sr_bits)


def _check_threads(threads) -> int:
    if threads is None:
        return 0
    if not isinstance(threads, (int, np.integer)) or int(threads) < 1:
        raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
    return int(threads)


def _check_order(order, block) -> Tuple[str, int]:
    if not isinstance(order, str) or order not in ORDERS:
        valid = ", ".join(repr(o) for o in ORDERS)
        raise ValueError(f"order: unknown summation order {order!r}; valid: {valid}")
    if order != "blocked":
        if block is not None:
            raise ValueError(f"block is only used with order='blocked' (order is {order!r})")
        return order, DEFAULT_BLOCK
    if block is None:
        return order, DEFAULT_BLOCK
    if not isinstance(block, (int, np.integer)) or int(block) < 1:
        raise ValueError(f"block must be a positive integer, got {block!r}")
    return order, int(block)


def matmul(
    x,
    w,
    b=None,
    *,
    acc: FormatLike = "fp32",
    rounding: str = "rne",
    order: str = "sequential",
    block: Optional[int] = None,
    outer: FormatLike = "fp32",
    seed: Optional[int] = None,
    sr_bits: Optional[int] = None,
    threads: Optional[int] = None,
) -> np.ndarray:
    """``x @ w.T + b`` with every addition rounded to the accumulator format ``acc``.

    Shapes follow ``torch.nn.Linear``: ``w`` is (out, in), ``x`` is (in,) or
    (batch, in), ``b`` is (out,) or None. Returns float64 of shape (out,) or
    (batch, out); every value is exactly representable in ``acc`` (in ``outer``
    for ``order="blocked"``).

    rounding: "rne", "rna", "rtz", "rup", "rdn", "rto" or "sr" (stochastic;
        ``seed`` makes it reproducible, ``sr_bits`` limits its random bits).
    order: "sequential" (the model), "pairwise" (balanced tree), or "blocked"
        (blocks of ``block`` products summed in ``acc``, each added into an
        ``outer`` accumulator).
    threads: CPU threads (default: ``$MPCORE_NUM_THREADS`` or all cores); the
        result is the same for every thread count.
    """
    acc_f = get_format(acc, "acc")
    outer_f = get_format(outer, "outer")
    rounding = _check_rounding(rounding)
    order, block_n = _check_order(order, block)
    seed_n = _check_seed(seed, rounding)
    sr_n = _check_sr_bits(sr_bits)
    threads_n = _check_threads(threads)

    xa = as_real_array(x, "x")
    wa = as_real_array(w, "w")
    if wa.ndim != 2:
        raise ValueError(f"w must be 2-D (out_features, in_features), got shape {wa.shape}")
    if xa.ndim not in (1, 2):
        raise ValueError(f"x must be 1-D (in_features,) or 2-D (batch, in_features), got shape {xa.shape}")
    vector = xa.ndim == 1
    x2 = xa[None, :] if vector else xa
    if x2.shape[1] != wa.shape[1]:
        raise ValueError(
            f"x has {x2.shape[1]} features but w has {wa.shape[1]} columns (w is (out_features, in_features))"
        )
    arrays = [x2, wa]
    ba = None
    if b is not None:
        ba = as_real_array(b, "b")
        if ba.ndim != 1 or ba.shape[0] != wa.shape[0]:
            raise ValueError(f"b must have shape ({wa.shape[0]},) to match w, got {ba.shape}")
        arrays.append(ba)
    dtype = common_dtype(*arrays)
    x2, wa = x2.astype(dtype, copy=False), wa.astype(dtype, copy=False)
    if ba is not None:
        ba = ba.astype(dtype, copy=False)
    out = np.empty((x2.shape[0], wa.shape[0]), dtype=np.float64)
    _core.matmul(x2, wa, ba, out, acc_f, rounding, order, block_n, outer_f, seed_n, sr_n, threads_n)
    return out[0] if vector else out


def dot(x, y, *, bias=None, **options) -> float:
    """``sum_j x[j] * y[j] (+ bias)`` accumulated as :func:`matmul` does (options alike)."""
    xa, ya = as_real_array(x, "x"), as_real_array(y, "y")
    if xa.ndim != 1 or ya.ndim != 1:
        raise ValueError(f"x and y must be 1-D, got shapes {xa.shape} and {ya.shape}")
    if xa.shape != ya.shape:
        raise ValueError(f"x and y must have the same length, got {xa.shape[0]} and {ya.shape[0]}")
    b = None if bias is None else np.asarray([bias])
    return float(matmul(ya, xa[None, :], b, **options)[0])


def sum(x, **options) -> float:  # noqa: A001 - mirrors numpy.sum
    """``x[0] + x[1] + ...`` accumulated as :func:`matmul` does (each term times 1, exact)."""
    xa = as_real_array(x, "x")
    if xa.ndim != 1:
        raise ValueError(f"x must be 1-D, got shape {xa.shape}")
    return dot(xa, np.ones_like(xa), **options)


def round(x, fmt: FormatLike, rounding: str = "rne", seed: Optional[int] = None,  # noqa: A001
          sr_bits: Optional[int] = None) -> np.ndarray:
    """Round every element of ``x`` to ``fmt`` (like CPFloat / chop).

    Returns float64 values exactly representable in ``fmt`` (same shape as x).
    Infinities and overflow follow the format's policy; NaN stays NaN.
    Stochastic rounding of element i (in C order) uses random stream (seed, i).
    """
    f = get_format(fmt, "fmt")
    rounding = _check_rounding(rounding)
    seed_n = _check_seed(seed, rounding)
    sr_n = _check_sr_bits(sr_bits)
    xa = as_real_array(x, "x")
    flat = np.ascontiguousarray(xa, dtype=np.float64).reshape(-1)
    out = np.empty_like(flat)
    _core.round(flat, out, f, rounding, seed_n, sr_n, 0)
    return out.reshape(xa.shape)
