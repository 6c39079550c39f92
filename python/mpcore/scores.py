"""Which components a selective layer recomputes: a score per component, then a threshold
(recompute where score > tau) or a budget (per row, the round(budget * out) largest scores).

Scores, from the low pass (z = the low result, S = the estimator's |W_i||x| + |b_i|,
u = u_low, c = c(n), phi the activation):

* ``"kappa"``: kappa_phi(z) * kappa_v * u * c = |phi'(z)| S / |phi(z)| * u * c, the paper's
  estimated relative error (the default; with tau it is the ladder's own rule).
* ``"authors"``: kappa_phi(z) / |z| (QLinearMP in the authors' mptorch: the low result is kept
  when it is <= tol; z = 0 is recomputed). Neither S nor u enters.
* ``"margin"``: the estimated absolute change of the layer's output, relative to the row's
  largest output: max(|phi(z + e) - phi(z)|, |phi(z - e) - phi(z)|) / max_j |phi(z_j)| with
  e = u * c * S (the absolute error estimate of z). For ReLU a negative z scores
  max(0, e - |z|) (how far past zero the true z may lie), a positive one e: sign-aware and
  scaled to what the next layer sees.
* ``"magnitude"``: 1 / |z| (smallest |z| first; z = 0 first of all).
* ``"random"``: uniform in [0, 1), from ``score_seed`` (reproducible).
* ``"oracle"``: |phi(z) - phi(z_high)|, the true change of the output (needs the high
  pass of every component: for analysis only).

Non-finite low results and NaN scores always score +inf (recomputed first).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from . import _core

SCORES = ("kappa", "authors", "margin", "magnitude", "random", "oracle")


def _phi(name: str, z: np.ndarray, alpha: float, condition: bool = False) -> np.ndarray:
    flat = np.ascontiguousarray(z, dtype=np.float64).reshape(-1)
    out = np.empty_like(flat)
    _core.activation(name, flat, out, alpha, condition)
    return out.reshape(z.shape)


def component_scores(score: str, z_low: np.ndarray, numerator: np.ndarray, *, activation: str, alpha: float,
                     u: float, c: float, z_high: np.ndarray = None, seed: int = 0,
                     rows_per_call: Optional[int] = None) -> np.ndarray:
    """The score of every component (batch, out); see the module docstring. rows_per_call:
    the rows are several calls' stacked, this many each; "random" then draws each call's
    scores as that call alone would (the same draws, repeated)."""
    z = np.asarray(z_low, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if score == "kappa":
            flat = np.empty(z.size)
            _core.component_condition(activation, np.ascontiguousarray(z).reshape(-1),
                                      np.ascontiguousarray(numerator, dtype=np.float64).reshape(-1), flat, alpha)
            s = flat.reshape(z.shape) * (u * c)
        elif score == "authors":
            s = _phi(activation, z, alpha, condition=True) / np.abs(z)
            s = np.where(z == 0, np.inf, s)
        elif score == "magnitude":
            s = 1.0 / np.abs(z)
        elif score == "random":
            rows = z.shape[0] if rows_per_call is None or z.ndim < 2 else rows_per_call
            s = np.random.default_rng(seed).random((rows,) + z.shape[1:])
            if rows != z.shape[0]:
                s = np.tile(s, (z.shape[0] // rows,) + (1,) * (z.ndim - 1))
        elif score == "oracle":
            if z_high is None:
                raise ValueError("score='oracle' needs the high pass")
            s = np.abs(_phi(activation, z, alpha) - _phi(activation, np.asarray(z_high), alpha))
        elif score == "margin":
            e = u * c * np.asarray(numerator, dtype=np.float64)
            y = _phi(activation, z, alpha)
            change = np.maximum(np.abs(_phi(activation, z + e, alpha) - y), np.abs(_phi(activation, z - e, alpha) - y))
            scale = np.max(np.abs(np.where(np.isfinite(y), y, 0.0)), axis=-1, keepdims=True)
            s = change / np.where(scale > 0, scale, 1.0)
        else:
            raise ValueError(f"score: unknown score {score!r}; valid: {', '.join(repr(v) for v in SCORES)}")
    s = np.where(np.isfinite(z), s, np.inf)
    return np.where(np.isnan(s), np.inf, s)


def budget_mask(scores: np.ndarray, budget: float) -> np.ndarray:
    """Per row, True for the round(budget * out) largest scores (ties: the lower index)."""
    out = scores.shape[-1]
    k = int(np.floor(budget * out + 0.5))
    order = np.argsort(-scores, axis=-1, kind="stable")  # stable: equal scores keep index order
    mask = np.zeros(scores.shape, dtype=bool)
    np.put_along_axis(mask, order[..., :k], True, axis=-1)
    return mask


def check_budget(budget) -> float:
    if isinstance(budget, (bool, np.bool_)) or not isinstance(budget, (int, float, np.integer, np.floating)):
        raise TypeError(f"budget must be a fraction in [0, 1], not {type(budget).__name__}")
    budget = float(budget)
    if not 0.0 <= budget <= 1.0:
        raise ValueError(f"budget must be a fraction in [0, 1], got {budget}")
    return budget
