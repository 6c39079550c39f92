"""Condition estimators and the low-then-selective-high layer (the paper's Algorithm 1).

For y = phi(W x + b), component i computed with unit roundoff u has relative error
about kappa_phi(z_i) * kappa_v,i * u, where kappa_v,i = (|W_i||x| + |b_i|) / |z_i|.
:func:`selective_linear` computes every component with the ``low`` accumulator,
estimates kappa from that result and recomputes in ``high`` only the components with
``kappa * u_low * c(n) > tau`` (or a non-finite low result). :func:`ladder_linear`
generalises this to a ladder of formats; the selective layer is its two-rung case.

``guard_sign=True`` also recomputes ReLU negatives whose sign the estimate cannot
vouch for (kappa_v * u * c(n) >= 1), which the paper's rule keeps.

The estimate is computed in the combined form |phi'(z)| (|W_i||x| + |b_i|) / |phi(z)|, so
z = 0 is no special case (for sigmoid or softplus it is an ordinary finite estimate).

Always recomputed, whatever tau: a non-finite low result; a low sum that was clamped at
+-max_finite and stayed finite (saturating formats in any mode, rtz/rto/rup/rdn in any
format: found by the same sum with no top, an extra low pass in those cases only); a NaN
estimate (NaN inputs). tau = 0 recomputes every component (the uniform-high layer), even
those whose estimate is exactly 0; tau = inf keeps every other low result, except, with
``guard_sign``, ReLU negatives whose sign is unsure.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from . import _core
from ._arrays import as_real_array, check_linear, prepare_linear, stored_operands
from ._options import check_device
from .formats import Format, FormatLike, get as get_format
from .scores import SCORES, budget_mask, check_budget, component_scores

ACTIVATIONS = tuple(a.name for a in _core.Activation)
ESTIMATORS = tuple(e.name for e in _core.Estimator)  # canonical names (not the alias "exact")
FACTORS = tuple(_core.FACTOR_NAMES)  # "1", "sqrt", "n" (the enum members: one, sqrt, n)
LadderOptions = _core.LadderOptions
MatmulOptions = _core.MatmulOptions


@dataclass
class LayerResult:
    """What a selective or ladder layer computed, per component (arrays are (batch, out) or (out,))."""

    z: np.ndarray  #: pre-activation; each component in the format of its rung
    y: np.ndarray  #: activation(z)
    rung: np.ndarray  #: index into ``formats`` of the format each component ended in
    kappa: np.ndarray  #: kappa_phi(z_low) * kappa_v: the estimate the decision used
    err_est: np.ndarray  #: kappa(final z) * u(rung) * c(n): estimated relative error of z
    bound: Optional[np.ndarray]  #: worst-case absolute error bound of z (None if bounds=False)
    bound_prob: Optional[np.ndarray]  #: probabilistic bound (failure probability <= 1e-3)
    formats: Tuple[Format, ...]
    seconds: Dict[str, float] = field(default_factory=dict)  #: low pass, estimate, recompute

    @property
    def high(self) -> np.ndarray:
        """True where the component was recomputed (rung > 0)."""
        return self.rung > 0

    @property
    def fraction_high(self) -> float:
        """Fraction of components recomputed in a higher format."""
        return float(np.mean(self.rung > 0)) if self.rung.size else 0.0

    @property
    def fractions(self) -> np.ndarray:
        """Fraction of components per format (sums to 1)."""
        counts = np.bincount(self.rung.reshape(-1), minlength=len(self.formats))
        return counts / max(self.rung.size, 1)

    @property
    def fmt_index(self) -> np.ndarray:
        """Alias of ``rung``."""
        return self.rung


@dataclass
class FirstPass:
    """A rung-0 pass (z in the cheapest format and the estimator's numerator) for reuse by
    :func:`ladder_linear` on the same x, w and b - a tau sweep needs it only once."""

    z: np.ndarray
    numerator: np.ndarray
    key: tuple  #: the options it was computed with; ladder_linear checks them


def _check_choice(value, name: str, valid: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in valid:
        raise ValueError(f"{name}: unknown {name} {value!r}; valid: {', '.join(repr(v) for v in valid)}")
    return value


def ladder_linear(
    x,
    w,
    b=None,
    *,
    formats: Optional[Sequence[FormatLike]] = None,
    tau: Optional[float] = None,
    activation: str = "identity",
    alpha: Optional[float] = None,
    estimator: str = "fp32",
    rounding: str = "rne",
    order: str = "sequential",
    block: Optional[int] = None,
    outer: FormatLike = "fp32",
    factor: str = "1",
    seed: Optional[int] = 0,
    sr_bits: Optional[int] = None,
    threads: Optional[int] = None,
    bounds: Optional[bool] = None,
    guard_sign: bool = False,
    device: str = "cpu",
    first_pass: Optional[FirstPass] = None,
    score: str = "kappa",
    budget: Optional[float] = None,
    score_seed: int = 0,
    neurons=None,
    options: Optional[LadderOptions] = None,
) -> LayerResult:
    """phi(x @ w.T + b) on a precision ladder.

    Every component is computed in ``formats[0]``; each is then recomputed once in the
    cheapest ``formats[k]`` with ``kappa * u_k * c(n) <= tau`` (the last format if none,
    or if its first result is not finite). A recomputed component equals, bit for bit,
    ``mpcore.matmul(..., acc=formats[k])`` for it, with the same rounding, order and seed.
    Only the chosen components are recomputed.

    estimator: "fp32" (|W||x| + |b| accumulated in fp32; "exact" is its former name), "low"
        (the same sum in formats[0]) or "norm"
        (||W_i|| ||x|| + |b_i|). factor: c(n) = 1, sqrt(n) or n ("1", "sqrt", "n").
    alpha: slope of leaky_relu (default 0.01) or scale of elu (default 1).
    bounds: also compute the worst-case and probabilistic error bounds of every z
        (default: on the CPU yes, on CUDA no - bounds are CPU-only).
    device: "cpu" or "cuda" (a CUDA build of mpcore; the same bits and decisions).
    first_pass: the result of :func:`first_pass` for the same x, w, b and options (CPU only):
        skips the rung-0 pass and the estimator; the result is identical.
    guard_sign: the paper trusts kappa_phi = 0 (ReLU negatives) unconditionally, but a
        badly conditioned z_low < 0 may really be positive. With guard_sign, such a
        component is kept in rung k only if kappa_v * u_k * c(n) < 1 (its sign is safe).
    score, budget: which components two formats (low, high) recompute - a score per
        component (``"kappa"``, ``"authors"``, ``"margin"``, ``"magnitude"``, ``"random"``
        seeded by ``score_seed``, ``"oracle"``; formulas in :mod:`mpcore.scores`) and either
        ``tau`` (recompute where the score exceeds it; for "kappa" the rule above) or
        ``budget`` (a fraction: each row recomputes exactly round(budget * out) components,
        the largest scores first, ties to the lower index). Give exactly one of tau and
        budget; any score but "kappa" with tau, and any budget, take the caller's decision
        as is (non-finite or clamped low results are not forced up then).
    neurons: a static plan instead (two formats, no tau or budget): the output indices
        recomputed for every input, chosen offline (:func:`mpcore.networks.plan.static_plan`); no
        score is computed at run time.
    options: a :class:`LadderOptions` holding formats, tau and the layer's options (the
        keywords formats ... guard_sign are then ignored; score, budget and neurons still apply).
    Every option is checked by LadderOptions / MatmulOptions (C++), with an error naming it.
    """
    device = check_device(device)
    decided = score != "kappa" or budget is not None or neurons is not None
    if neurons is not None:
        if tau is not None or budget is not None or score != "kappa":
            raise ValueError("neurons= is a static plan: give no tau=, budget= or score= with it")
    elif options is None and (tau is None) == (budget is None):
        raise ValueError("give exactly one of tau= (a threshold on the score) and budget= (a fraction per row)")
    score = _check_choice(score, "score", SCORES)
    budget = check_budget(budget) if budget is not None else None
    if options is None:
        accumulation = MatmulOptions(rounding=rounding, order=order, block=block, outer=outer, seed=seed,
                                     sr_bits=sr_bits, threads=threads)
        options = LadderOptions(formats, tau=tau if tau is not None else 0.0,
                                activation=activation, alpha=alpha, estimator=estimator, factor=factor,
                                accumulation=accumulation, bounds=device == "cpu" if bounds is None else bounds,
                                guard_sign=guard_sign)
    elif not isinstance(options, LadderOptions):
        raise TypeError(f"options must be an mpcore.LadderOptions, not {type(options).__name__}")
    fmts = tuple(options.formats)
    if decided and len(fmts) != 2:
        raise ValueError("score= other than 'kappa', budget= and neurons= take two formats (low, high)")
    if decided and device != "cpu":
        raise ValueError("score= other than 'kappa', and budget=, run on the CPU only (device='cpu')")
    if device == "cuda":
        x2, wa, ba, vector = prepare_linear(x, w, b)
        out = _core.cuda_ladder_linear(x2, wa, ba, options)
    else:
        x2, wa, ba, vector = check_linear(x, w, b, keep_narrow=True)
        out = _cpu_ladder(x2, wa, ba, options, first_pass, score, budget, score_seed, neurons, decided)

    def shaped(a):
        return None if a is None else (a[0] if vector else a)

    seconds = {"low": out["seconds_low"], "estimate": out["seconds_estimate"], "recompute": out["seconds_recompute"]}
    return LayerResult(z=shaped(out["z"]), y=shaped(out["y"]), rung=shaped(out["rung"]),
                       kappa=shaped(out["kappa"]), err_est=shaped(out["err_est"]), bound=shaped(out["bound"]),
                       bound_prob=shaped(out["bound_prob"]), formats=fmts, seconds=seconds)


def _cpu_ladder(x2, wa, ba, options: LadderOptions, first_pass, score, budget, score_seed, neurons,
                decided: bool) -> dict:
    """The C++ ladder's outputs, with the caller's decision (a plan, a score) where there is one."""
    shape = (x2.shape[0], wa.shape[0])
    first = _first_arrays(first_pass, options, shape)
    given = None
    if neurons is not None:
        given = _planned_rungs(neurons, shape)
    elif decided:
        if first is None:
            fp = _compute_first_pass(x2, wa, ba, options)
            first = (fp.z, fp.numerator)
        given = decided_rungs(score, budget, first, options, score_seed, x2.shape[1],
                              lambda high: _rung_pass(x2, wa, ba, options, high))
    (xs, ws, bs), tables = stored_operands(x2, wa, ba)
    first_z, first_numerator = first if first is not None else (None, None)
    return _core.ladder_linear(xs, ws, bs, options, first_z, first_numerator, **tables, given_rung=given)


def _first_arrays(first_pass: Optional[FirstPass], options: LadderOptions, shape) -> Optional[tuple]:
    if first_pass is None:
        return None
    if first_pass.key != first_pass_key(options) + (tuple(shape),):
        raise ValueError("first_pass was computed for other options or shapes (or device is not 'cpu')")
    return first_pass.z, first_pass.numerator


def _planned_rungs(neurons, shape) -> np.ndarray:
    idx = np.asarray(neurons, dtype=np.int64).reshape(-1)
    if idx.size and (idx.min() < 0 or idx.max() >= shape[1]):
        raise ValueError(f"neurons must be output indices in 0..{shape[1] - 1}")
    given = np.zeros(shape, dtype=np.int32)
    given[:, idx] = 1
    return given


def decided_rungs(score, budget, first, options: LadderOptions, score_seed, n: int, rung_pass,
                  rows_per_call: Optional[int] = None) -> np.ndarray:
    """The rung of every component by a score with a threshold or a budget (two formats),
    decided from the first pass ``first`` = (z, numerator) of ``n``-term sums. rung_pass(fmt):
    the same products accumulated in fmt (called for the oracle only). rows_per_call: the
    components are the rows of several calls stacked, this many rows each (their random
    scores drawn as each call draws them)."""
    low, high = options.formats
    z_high = rung_pass(high) if score == "oracle" else None
    n = max(n, 1)
    c = {_core.Factor.one: 1.0, _core.Factor.sqrt: np.sqrt(n), _core.Factor.n: float(n)}[options.factor]
    scores = component_scores(score, first[0], first[1], activation=options.activation.name, alpha=options.alpha,
                              u=low.u, c=c, z_high=z_high, seed=score_seed, rows_per_call=rows_per_call)
    if budget is None:
        return (scores > options.tau).astype(np.int32)  # tau: a threshold on the score
    return budget_mask(scores, budget).astype(np.int32)


def _rung_pass(x2, wa, ba, options: LadderOptions, fmt: Format) -> np.ndarray:
    """x2 @ wa.T + ba accumulated in fmt with the ladder's accumulation options."""
    from .ops import matmul

    return matmul(x2, wa, ba, options=_rung_options(options.accumulation, fmt))


def _rung_options(acc: MatmulOptions, fmt: Format) -> MatmulOptions:
    """acc with another accumulator format."""
    rung = copy.copy(acc)
    rung.acc = fmt
    return rung


def first_pass_key(options: LadderOptions) -> tuple:
    """What a rung-0 pass depends on besides x, w and b (not the thread count)."""
    low, a = options.formats[0], options.accumulation
    return (low, options.estimator, a.rounding, a.order, a.block, a.outer, a.seed, a.sr_bits)


def _compute_first_pass(x2, wa, ba, options: LadderOptions) -> FirstPass:
    from .ops import matmul

    low = options.formats[0]
    acc = options.accumulation
    z = matmul(x2, wa, ba, options=_rung_options(acc, low))
    (xs, ws, bs), tables = stored_operands(x2, wa, ba)
    num = _core.inner_numerator(xs, ws, bs, options.estimator, low, acc.threads, **tables)
    return FirstPass(z, num, first_pass_key(options) + (tuple(z.shape),))


def first_pass(x, w, b=None, *, low: Optional[FormatLike] = None, estimator: str = "fp32", rounding: str = "rne",
               order: str = "sequential", block: Optional[int] = None, outer: FormatLike = "fp32",
               seed: Optional[int] = 0, sr_bits: Optional[int] = None, threads: Optional[int] = None,
               options: Optional[LadderOptions] = None) -> FirstPass:
    """The rung-0 pass of a ladder (z in ``low`` and the estimator's numerator), to pass as
    ``first_pass=`` to several :func:`ladder_linear` / :func:`selective_linear` calls that
    differ only in tau (or the later rungs). options: the ladder's :class:`LadderOptions`
    instead of the keywords (its first format is low)."""
    if options is None:
        if low is None:
            raise ValueError("first_pass needs low= (or options=)")
        accumulation = MatmulOptions(rounding=rounding, order=order, block=block, outer=outer, seed=seed,
                                     sr_bits=sr_bits, threads=threads)
        options = LadderOptions([low], estimator=estimator, accumulation=accumulation, bounds=False)
    x2, wa, ba, vector = check_linear(x, w, b, keep_narrow=True)
    if vector:
        raise ValueError("first_pass takes a 2-D x (batch, in_features)")
    return _compute_first_pass(x2, wa, ba, options)


def selective_linear(x, w, b=None, *, low: FormatLike, high: FormatLike, tau: Optional[float] = None,
                     **options) -> LayerResult:
    """The paper's layer: ``low`` everywhere, ``high`` where kappa * u_low * c(n) > tau.

    Same options as :func:`ladder_linear` (activation, estimator, rounding, order, block,
    outer, factor, seed, sr_bits, threads, bounds, and score= with tau= or budget=).
    ``result.high`` is the recompute mask.
    """
    low_f, high_f = get_format(low, "low"), get_format(high, "high")
    if low_f.u < high_f.u:
        raise ValueError(f"low ({low_f.name}, u={low_f.u:g}) is more precise than high ({high_f.name}, "
                         f"u={high_f.u:g}): low must be the cheaper format")
    return ladder_linear(x, w, b, formats=[low_f, high_f], tau=tau, **options)


def cond_inner(x, w, b, z, estimator: str = "fp32", low: Optional[FormatLike] = None,
               threads: Optional[int] = None) -> np.ndarray:
    """kappa_v = (|W_i||x| + |b_i|) / |z_i| per component, the numerator by ``estimator``.

    z is the computed pre-activation ((batch, out) or (out,) like matmul's result).
    estimator "low" accumulates the numerator in ``low`` (required then). z_i = 0 gives
    inf, unless the numerator is 0 too (an exact zero), which gives 0.
    """
    if estimator == "low" and low is None:
        raise ValueError("estimator='low' needs the low format: pass low=")
    x2, wa, ba, vector = check_linear(x, w, b, keep_narrow=True)
    za = as_real_array(z, "z").astype(np.float64)
    shape = (x2.shape[0], wa.shape[0])
    expected = (shape[1],) if vector else shape
    if za.shape != expected:
        raise ValueError(f"z must have shape {expected}, got {za.shape}")
    (xs, ws, bs), tables = stored_operands(x2, wa, ba)
    num = _core.inner_numerator(xs, ws, bs, estimator, low if low is not None else "fp32", threads, **tables)
    out = np.empty(num.size)
    _core.inner_condition(num.reshape(-1), np.ascontiguousarray(za).reshape(-1), out)
    out = out.reshape(shape)
    return out[0] if vector else out


def _elementwise(name: str, z, alpha, condition: bool) -> np.ndarray:
    za = as_real_array(z, "z")
    flat = np.ascontiguousarray(za, dtype=np.float64).reshape(-1)
    out = np.empty_like(flat)
    _core.activation(name, flat, out, alpha, condition)
    return out.reshape(za.shape)


def cond_activation(name: str, z, alpha: Optional[float] = None) -> np.ndarray:
    """kappa_phi(z) = |z phi'(z) / phi(z)| elementwise, with the limits at 0 (see activation.hpp)."""
    return _elementwise(name, z, alpha, True)


def activate(name: str, z, alpha: Optional[float] = None) -> np.ndarray:
    """phi(z) elementwise, in float64."""
    return _elementwise(name, z, alpha, False)
