"""Accumulation policies: how each layer of a network accumulates its inner products."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence, Tuple, Union

from .formats import Format, FormatLike, get as get_format


@dataclass(frozen=True)
class Uniform:
    """Every inner product accumulated in ``fmt``."""

    fmt: FormatLike
    rounding: str = "rne"
    order: str = "sequential"
    block: Optional[int] = None
    outer: FormatLike = "fp32"
    seed: Optional[int] = 0

    def formats(self) -> Tuple[Format, ...]:
        return (get_format(self.fmt, "fmt"),)

    def label(self) -> str:
        return f"uniform {get_format(self.fmt).name}"


@dataclass(frozen=True)
class Ladder:
    """Cheapest format first; each component recomputed once in the cheapest format meeting tau."""

    fmts: Sequence[FormatLike]
    tau: float
    estimator: str = "exact"
    factor: str = "1"
    guard_sign: bool = False
    rounding: str = "rne"
    order: str = "sequential"
    block: Optional[int] = None
    outer: FormatLike = "fp32"
    seed: Optional[int] = 0

    def __post_init__(self):
        object.__setattr__(self, "fmts", tuple(self.fmts))  # hashable, immutable

    def formats(self) -> Tuple[Format, ...]:
        return tuple(get_format(f, f"formats[{k}]") for k, f in enumerate(self.fmts))

    def label(self) -> str:
        return f"ladder {'/'.join(f.name for f in self.formats())} tau={self.tau:g}"


def Selective(low: FormatLike, high: FormatLike, tau: float, estimator: str = "exact", factor: str = "1",
              guard_sign: bool = False, **options) -> Ladder:
    """The paper's policy: ``low`` everywhere, ``high`` where kappa * u_low * c(n) > tau."""
    low_f, high_f = get_format(low, "low"), get_format(high, "high")
    if low_f.u < high_f.u:
        raise ValueError(f"low ({low_f.name}) is more precise than high ({high_f.name})")
    return Ladder((low_f, high_f), tau, estimator, factor, guard_sign, **options)


Policy = Union[Uniform, Ladder]
PolicyLike = Union[Policy, Sequence[Policy]]


def per_layer(policy: PolicyLike, layers: int) -> Tuple[Policy, ...]:
    """One policy per layer: the same for all, or a list with one per layer."""
    if isinstance(policy, (Uniform, Ladder)):
        return (policy,) * layers
    policies = tuple(policy)
    if len(policies) != layers or not all(isinstance(p, (Uniform, Ladder)) for p in policies):
        raise ValueError(f"policy must be one Uniform/Ladder/Selective policy or a list of {layers} of them")
    return policies
