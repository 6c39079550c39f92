"""The offline demo: one dot product accumulated in every format and rounding mode."""

from __future__ import annotations

from fractions import Fraction
from typing import List, Tuple

import numpy as np

from . import formats
from .ops import dot


def demo_vectors(n: int = 784, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """A layer-like dot product: ReLU-like non-negative inputs, zero-mean weights."""
    rng = np.random.default_rng(seed)
    x = np.maximum(rng.standard_normal(n), 0).astype(np.float32)
    w = (rng.standard_normal(n) / np.sqrt(n)).astype(np.float32)
    return w, x


def exact_dot(w: np.ndarray, x: np.ndarray) -> Fraction:
    return sum((Fraction(float(a)) * Fraction(float(b)) for a, b in zip(w, x)), Fraction(0))


def demo_table(n: int = 784, seed: int = 0) -> List[Tuple[str, str, float, float]]:
    """(format, rounding, value, relative error against the exact value) rows."""
    w, x = demo_vectors(n, seed)
    exact = exact_dot(w, x)
    rows = []
    for name in formats.names():
        for rounding in ("rne", "rtz", "sr"):
            v = dot(w, x, acc=name, rounding=rounding, seed=1)
            err = float(abs(Fraction(v) - exact) / abs(exact)) if np.isfinite(v) else float("inf")
            rows.append((name, rounding, v, err))
    return rows


def print_demo(n: int = 784, seed: int = 0) -> None:
    w, x = demo_vectors(n, seed)
    exact = exact_dot(w, x)
    print(f"dot product of length {n} (seed {seed}); exact value {float(exact):.10g}")
    print(f"{'format':<10} {'rounding':<8} {'value':>16} {'rel. error':>11} {'u':>9}")
    for name, rounding, v, err in demo_table(n, seed):
        print(f"{name:<10} {rounding:<8} {v:>16.10g} {err:>11.3e} {formats.get(name).u:>9.2e}")
