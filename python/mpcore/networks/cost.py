"""The cost model: MACs weighted by a per-format cost, estimator work included.

A layer with batch B, n inputs and m outputs does B*n*m multiply-accumulates.
Uniform(f) costs B*n*m*cost(f). A selective / ladder layer costs its low pass
B*n*m*cost(f0), plus its condition estimator, plus n*cost(f_k) for every component
recomputed in f_k. The estimators cost: "fp32" an fp32 matvec (B*n*m*cost(fp32)),
"low" a matvec in f0 (B*n*m*cost(f0)), "norm" B*(n+m)*cost(fp32) (the norm of x and
one multiply-add per component; W's row norms are computed once per network and not
counted). Scores that need no numerator ("authors", "magnitude", "random") are charged no
estimator; "oracle" is charged the full high pass it needs (it is a yardstick, not a method). Relative cost divides by the cost of running every layer uniformly in a
reference format (the high format of a sweep). By default cost(f) = f.bits.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

from ..formats import Format, FormatLike, get as get_format
from .policy import Ladder, Policy, Uniform

CostTable = Optional[Mapping[str, float]]


def format_cost(fmt: FormatLike, table: CostTable = None) -> float:
    """Cost of one MAC accumulated in ``fmt``: ``table[name]`` if given, else the storage bits."""
    f = get_format(fmt)
    if table is not None:
        if f.name not in table:
            raise ValueError(f"cost table has no entry for format {f.name!r}")
        return float(table[f.name])
    return float(f.bits)


def estimator_cost(estimator: str, low: Format, batch: int, n_in: int, n_out: int, table: CostTable = None) -> float:
    if estimator in ("fp32", "exact"):
        return batch * n_in * n_out * format_cost("fp32", table)
    if estimator == "low":
        return batch * n_in * n_out * format_cost(low, table)
    if estimator == "norm":
        return batch * (n_in + n_out) * format_cost("fp32", table)
    raise ValueError(f"unknown estimator {estimator!r}")


def layer_cost(policy: Policy, batch: int, n_in: int, n_out: int, counts: Sequence[int],
               table: CostTable = None) -> float:
    """Cost of one layer run under ``policy``; counts[k] = components that ended in rung k."""
    if isinstance(policy, Uniform):
        return batch * n_in * n_out * format_cost(policy.fmt, table)
    assert isinstance(policy, Ladder)
    fmts = policy.formats()
    low_pass = batch * n_in * n_out * format_cost(fmts[0], table)
    recompute = sum(counts[k] * n_in * format_cost(fmts[k], table) for k in range(1, len(fmts)))
    score = "plan" if getattr(policy, "neurons", None) is not None else getattr(policy, "score", "kappa")
    if score in ("authors", "magnitude", "random", "plan"):
        decide = 0.0
    elif score == "oracle":
        decide = batch * n_in * n_out * format_cost(fmts[-1], table)
    else:
        decide = estimator_cost(policy.estimator, fmts[0], batch, n_in, n_out, table)
    return low_pass + decide + recompute


def uniform_cost(fmt: FormatLike, batch: int, shapes: Sequence[tuple], table: CostTable = None) -> float:
    """Cost of running every layer (shapes: (n_in, n_out) each) uniformly in ``fmt``."""
    return sum(batch * n * m for n, m in shapes) * format_cost(fmt, table)
