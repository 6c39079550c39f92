"""Accumulation policies: how each layer of a network accumulates its inner products.

A policy checks its options when it is made: it holds them as a :class:`MatmulOptions`
(:class:`Uniform`) or a :class:`LadderOptions` (:class:`Ladder`, :class:`Selective`), which
the layers run with (the activation and thread count are the network's).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Optional, Sequence, Tuple, Union

from .._core import LadderOptions, MatmulOptions
from ..formats import Format, FormatLike, get as get_format


@dataclass(frozen=True)
class Uniform:
    """Every inner product accumulated in ``fmt``."""

    fmt: FormatLike
    rounding: str = "rne"
    order: str = "sequential"
    block: Optional[int] = None
    outer: FormatLike = "fp32"
    seed: Optional[int] = 0
    options: MatmulOptions = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        options = MatmulOptions(acc=self.fmt, rounding=self.rounding, order=self.order, block=self.block,
                                outer=self.outer, seed=self.seed)
        object.__setattr__(self, "options", options)

    def formats(self) -> Tuple[Format, ...]:
        return (self.options.acc,)

    def layer_options(self, threads: Optional[int] = None) -> MatmulOptions:
        """A copy of the options to run a layer with."""
        options = copy.copy(self.options)
        options.threads = threads
        return options

    def label(self) -> str:
        return f"uniform {get_format(self.fmt).name}"


@dataclass(frozen=True)
class Ladder:
    """Cheapest format first; each component recomputed once in the cheapest format meeting tau."""

    fmts: Sequence[FormatLike]
    tau: Optional[float] = None
    estimator: str = "fp32"
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
    options: LadderOptions = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "fmts", tuple(self.fmts))  # hashable, immutable
        if self.neurons is not None:
            object.__setattr__(self, "neurons", tuple(int(i) for i in self.neurons))
            if self.tau is not None or self.budget is not None:
                raise ValueError("a static plan (neurons=) takes no tau= or budget=")
        elif (self.tau is None) == (self.budget is None):
            raise ValueError("give exactly one of tau= and budget=")
        accumulation = MatmulOptions(rounding=self.rounding, order=self.order, block=self.block, outer=self.outer,
                                     seed=self.seed)
        options = LadderOptions(self.fmts, tau=0.0 if self.tau is None else self.tau, estimator=self.estimator,
                                factor=self.factor, guard_sign=self.guard_sign, accumulation=accumulation,
                                bounds=False)
        object.__setattr__(self, "options", options)
        object.__setattr__(self, "estimator", options.estimator.name)  # the canonical name ("exact" -> "fp32")

    def formats(self) -> Tuple[Format, ...]:
        return tuple(self.options.formats)

    def layer_options(self, activation: str = "identity", alpha: Optional[float] = None,
                      threads: Optional[int] = None) -> LadderOptions:
        """A copy of the options to run a layer followed by ``activation`` with."""
        options = copy.copy(self.options)
        options.activation, options.alpha = activation, alpha
        options.accumulation.threads = threads
        return options

    def decision(self) -> dict:
        """The keywords of ladder_linear that choose the recomputed components."""
        return {"score": self.score, "budget": self.budget, "score_seed": self.score_seed, "neurons": self.neurons}

    def __reduce__(self):
        # Rebuilt from the fields (Selective's constructor takes other arguments than its
        # fields), its options made again.
        state = {f: getattr(self, f) for f in self.__dataclass_fields__ if f != "options"}
        return (_rebuild, (type(self), state))

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


class Selective(Ladder):
    """The paper's policy: ``low`` everywhere, ``high`` where kappa * u_low * c(n) > tau (a
    two-format :class:`Ladder`)."""

    def __init__(self, low: FormatLike, high: FormatLike, tau: Optional[float] = None, estimator: str = "fp32",
                 factor: str = "1", guard_sign: bool = False, **options):
        low_f, high_f = get_format(low, "low"), get_format(high, "high")
        if low_f.u < high_f.u:
            raise ValueError(f"low ({low_f.name}) is more precise than high ({high_f.name})")
        super().__init__((low_f, high_f), tau, estimator, factor, guard_sign, **options)



def _rebuild(cls, state: dict):
    policy = object.__new__(cls)
    for name, value in state.items():
        object.__setattr__(policy, name, value)
    policy.__post_init__()
    return policy


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
