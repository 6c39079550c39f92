"""Simulated low-precision accumulation: matmul, dot, sum and round.

The accumulation model: for output (r, i), ``s = 0``; for j in order,
``s = round_acc(s + W[i, j] * x[r, j])`` with the product exact and one correct
rounding of the exact sum per addition; then the bias last,
``s = round_acc(s + b[i])``. Products are computed in binary64, which is exact
when both factors have at most 26 significant bits (every format up to fp32,
float16/ml_dtypes inputs, and float64 values produced by :func:`round` to such
a format). A float64 product of two wider values is rounded once to binary64
(round to nearest even) before it is accumulated; nothing else is rounded.
Where every product is exact in binary32 the CPU kernels work in binary32 lanes
(twice as many per vector); the bits are the same (:func:`kernel` tells which ran).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from . import _core
from ._arrays import as_real_array, check_linear, prepare_linear, stored_operands
from ._options import DEFAULT_BLOCK, ORDERS, ROUNDING_MODES, check_device
from .formats import FormatLike

__all__ = ["DEFAULT_BLOCK", "ORDERS", "ROUNDING_MODES", "MatmulOptions", "dot", "kernel", "matmul", "round", "sum"]

MatmulOptions = _core.MatmulOptions


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
    seed: Optional[int] = 0,
    sr_bits: Optional[int] = None,
    threads: Optional[int] = None,
    device: str = "cpu",
    options: Optional[MatmulOptions] = None,
) -> np.ndarray:
    """``x @ w.T + b`` with every addition rounded to the accumulator format ``acc``.

    Shapes follow ``torch.nn.Linear``: ``w`` is (out, in), ``x`` is (in,) or
    (batch, in), ``b`` is (out,) or None. ``w`` may be a :class:`PreparedLinear` (W and b
    packed once; pass b=None): the same bits, without packing W on every call. Returns float64 of shape (out,) or
    (batch, out); every value is exactly representable in ``acc`` (in ``outer``
    for ``order="blocked"``).

    rounding: "rne", "rna", "rtz", "rup", "rdn", "rto" or "sr" (stochastic; ``seed``
        keys its random streams (default 0: reproducible; None draws a fresh seed),
        ``sr_bits`` limits its random bits).
    order: "sequential" (the model), "pairwise" (balanced tree), or "blocked"
        (blocks of ``block`` products summed in ``acc``, each added into an
        ``outer`` accumulator).
    threads: CPU threads (default: ``$MPCORE_NUM_THREADS`` or all cores); the
        result is the same for every thread count.
    device: "cpu" or "cuda" (a CUDA build of mpcore; NumPy in and out, the same bits).
    options: a :class:`MatmulOptions` holding all of the above (the keywords are then ignored).
    """
    if options is None:
        options = MatmulOptions(acc=acc, rounding=rounding, order=order, block=block, outer=outer, seed=seed,
                                sr_bits=sr_bits, threads=threads)
    elif not isinstance(options, MatmulOptions):
        raise TypeError(f"options must be an mpcore.MatmulOptions, not {type(options).__name__}")
    device = check_device(device)
    if device == "cuda":
        x2, wa, ba, vector = prepare_linear(x, w, b)
        out = _core.cuda_matmul(x2, wa, ba, options)
        return out[0] if vector else out
    # Each operand crosses in its own type: no whole copy of w (or of its conversion).
    x2, wa, ba, vector = check_linear(x, w, b, keep_narrow=True)
    (xs, ws, bs), tables = stored_operands(x2, wa, ba)
    out = _core.matmul(xs, ws, bs, options, **tables)
    return out[0] if vector else out


def kernel(x, w, *, acc: FormatLike = "fp32", rounding: str = "rne", order: str = "sequential") -> dict:
    """Which CPU kernel :func:`matmul` runs for these arguments, and on which instruction set.

    Returns ``{"path": ..., "isa": ..., "rates": ...}``. path: "lanes32" (binary32 vector
    lanes: every product of x and w exact in binary32 and the format fits), "lanes" (binary64
    vector lanes), "native32" / "native64" (hardware FMA for fp32 / fp64 nearest-even), or
    "generic" (scalar code). isa: "avx512", "avx2" or "portable". Unless ``MPCORE_SIMD``
    forces one, each lane kernel family (container, order, rounding class) is timed on every
    instruction set at its first use and runs on the fastest; rates gives what was measured
    (terms per second; empty when forced or not a lane path). Every path gives the same bits.
    """
    options = MatmulOptions(acc=acc, rounding=rounding, order=order)
    x2, wa, _, _ = check_linear(x, w, None, keep_narrow=True)
    (xs, ws, _), tables = stored_operands(x2, wa, None)
    path = _core.kernel_path(xs, ws, options, x_table=tables["x_table"], w_table=tables["w_table"])
    rates = {}
    if path in ("lanes", "lanes32"):
        family = _core.family_isa(path, options)
        isa, rates = family["isa"], family["rates"]
    elif path.startswith("native"):
        isa = "portable" if _core.detected_simd_isa() == "portable" or _core.simd_isa() == "portable" else "avx2"
    else:
        isa = "portable"
    return {"path": path, "isa": isa, "rates": rates}


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


def round(x, fmt: FormatLike, rounding: str = "rne", seed: Optional[int] = 0,  # noqa: A001
          sr_bits: Optional[int] = None) -> np.ndarray:
    """Round every element of ``x`` to ``fmt`` (like CPFloat / chop).

    Returns float64 values exactly representable in ``fmt`` (same shape as x).
    Infinities and overflow follow the format's policy; NaN stays NaN.
    Stochastic rounding of element i (in C order) uses random stream (seed, i)
    (seed=None draws a fresh seed).
    """
    xa = as_real_array(x, "x")
    flat = np.ascontiguousarray(xa, dtype=np.float64).reshape(-1)
    return _core.round(flat, fmt, rounding, seed, sr_bits).reshape(xa.shape)
