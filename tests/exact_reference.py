"""Exact rational reference for rounding and accumulation (Python fractions).

Independent of mpcore's implementation: it rounds a Fraction by its definition
(scale by the spacing of the format at that magnitude, floor, decide), and
accumulates with Fractions exactly as the accumulation model says.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Optional, Sequence, Union

Value = Union[Fraction, float]  # float only for inf / nan

INF = float("inf")
NAN = float("nan")


def _floor_log2(a: Fraction) -> int:
    e = a.numerator.bit_length() - a.denominator.bit_length()
    while Fraction(2) ** e > a:
        e -= 1
    while Fraction(2) ** (e + 1) <= a:
        e += 1
    return e


def _overflow(fmt, away: bool, negative: bool) -> Value:
    if away and fmt.overflow == "inf":
        v: Value = INF
    elif away and fmt.overflow == "nan":
        return NAN
    else:
        v = Fraction(fmt.max_finite)
    return -v if negative else v


def round_exact(x: Value, fmt, mode: str) -> Value:
    """x rounded to fmt under a deterministic mode (rne, rna, rtz, rup, rdn, rto)."""
    if isinstance(x, float):
        if math.isnan(x):
            return NAN
        if math.isinf(x):
            return _overflow(fmt, True, x < 0)
        x = Fraction(x)
    if x == 0:
        return Fraction(0)
    negative = x < 0
    a = -x if negative else x
    e = _floor_log2(a)
    p = fmt.precision
    if e >= fmt.emin:
        quantum = e - p + 1
    elif fmt.subnormals:
        quantum = fmt.emin - p + 1
    else:
        quantum = fmt.emin
    q = Fraction(2) ** quantum
    t = a / q
    T = t.numerator // t.denominator
    frac = t - T
    half = Fraction(1, 2)
    if mode == "rne":
        up = frac > half or (frac == half and T % 2 == 1)
    elif mode == "rna":
        up = frac >= half
    elif mode == "rtz":
        up = False
    elif mode == "rup":
        up = frac != 0 and not negative
    elif mode == "rdn":
        up = frac != 0 and negative
    elif mode == "rto":
        up = frac != 0 and T % 2 == 0
    else:
        raise ValueError(mode)
    r = (T + int(up)) * q
    if r > Fraction(fmt.max_finite):
        away = mode in ("rne", "rna") or (mode == "rup" and not negative) or (mode == "rdn" and negative)
        return _overflow(fmt, away, negative)
    return -r if negative else r


def _add(s: Value, t: Value, fmt, mode: str) -> Value:
    if isinstance(s, float) or isinstance(t, float):
        return round_exact(float(s) + float(t), fmt, mode)
    return round_exact(s + t, fmt, mode)


def accumulate(
    w: Sequence[float],
    x: Sequence[float],
    bias: Optional[float],
    acc,
    mode: str,
    order: str = "sequential",
    block: int = 32,
    outer=None,
    product=lambda a, b: Fraction(a) * Fraction(b),
) -> Value:
    """One output of the accumulation model with exact rational arithmetic."""
    terms = [product(float(a), float(b)) for a, b in zip(w, x)]
    n = len(terms)
    if order == "sequential":
        s: Value = Fraction(0)
        for t in terms:
            s = _add(s, t, acc, mode)
        final = acc
    elif order == "pairwise":
        def tree(lo: int, hi: int) -> Value:
            if hi - lo == 1:
                return round_exact(terms[lo], acc, mode)
            left = 1
            while left * 2 < hi - lo:
                left *= 2
            return _add(tree(lo, lo + left), tree(lo + left, hi), acc, mode)

        s = tree(0, n) if n else Fraction(0)
        final = acc
    elif order == "blocked":
        s = Fraction(0)
        for start in range(0, n, block):
            t: Value = Fraction(0)
            for term in terms[start:start + block]:
                t = _add(t, term, acc, mode)
            s = _add(s, t, outer, mode)
        final = outer
    else:
        raise ValueError(order)
    if bias is not None:
        s = _add(s, Fraction(float(bias)), final, mode)
    return s


def same(got: float, want: Value) -> bool:
    """got (a float from mpcore) equals the exact reference value (NaN equals NaN)."""
    if isinstance(want, float):
        if math.isnan(want):
            return math.isnan(got)
        return got == want
    return math.isfinite(got) and Fraction(got) == want
