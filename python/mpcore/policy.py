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
    tau: Optional[float] = None
    estimator: str = "exact"
    factor: str = "1"
    guard_sign: bool = False
    rounding: str = "rne"
    order: str = "sequential"
    block: Optional[int] = None
    outer: FormatLike = "fp32"
    seed: Optional[int] = 0
    score: str = "kappa"  #: see mpcore.scores; with tau or a budget
    budget: Optional[float] = None  #: fraction of each row recomputed (instead of tau)
    score_seed: int = 0  #: score="random"
    neurons: Optional[Tuple[int, ...]] = None  #: a static plan: the outputs always recomputed

    def __post_init__(self):
        object.__setattr__(self, "fmts", tuple(self.fmts))  # hashable, immutable
        if self.neurons is not None:
            object.__setattr__(self, "neurons", tuple(int(i) for i in self.neurons))
            if self.tau is not None or self.budget is not None:
                raise ValueError("a static plan (neurons=) takes no tau= or budget=")
        elif (self.tau is None) == (self.budget is None):
            raise ValueError("give exactly one of tau= and budget=")

    def formats(self) -> Tuple[Format, ...]:
        return tuple(get_format(f, f"formats[{k}]") for k, f in enumerate(self.fmts))

    def label(self) -> str:
        """What the table and the progress bar call it: 'selective' for two formats, else
        'ladder'; the estimator and any non-default option, so different runs differ."""
        kind = "selective" if len(self.fmts) == 2 else "ladder"
        extra = [self.estimator]
        if self.factor != "1":
            extra.append(f"c={self.factor}")
        if self.guard_sign:
            extra.append("guard-sign")
        if self.rounding != "rne":
            extra.append(self.rounding)
        if self.order != "sequential":
            extra.append(self.order)
        if self.score != "kappa":
            extra.append(f"score={self.score}" + (f"#{self.score_seed}" if self.score == "random" else ""))
        if self.neurons is not None:
            return f"{kind} {'/'.join(f.name for f in self.formats())} static plan ({len(self.neurons)} neurons)"
        when = f"tau={self.tau!r}" if self.budget is None else f"budget={self.budget!r}"
        return f"{kind} {'/'.join(f.name for f in self.formats())} {' '.join(extra)} {when}"


def Selective(low: FormatLike, high: FormatLike, tau: Optional[float] = None, estimator: str = "exact",
              factor: str = "1", guard_sign: bool = False, **options) -> Ladder:
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
