"""An energy model of a layer's arithmetic, beside the storage-bits model of :mod:`mpcore.networks.cost`.

Per-operation energies at 45 nm from M. Horowitz, "Computing's energy problem (and what we
can do about it)", ISSCC 2014, Fig. 1.1.9: floating-point add 0.4 pJ (16-bit) and 0.9 pJ
(32-bit), multiply 1.1 pJ (16-bit) and 3.7 pJ (32-bit); an 8 KiB SRAM read of 64 bits
10 pJ. Other formats are interpolated by power laws fitted through those two points:

* an adder in accumulator format f: ``0.4 pJ * (bits(f) / 16) ** 1.17`` (its width);
* a multiplier of significands p_a x p_b (an array multiplier grows with p_a * p_b):
  ``1.1 pJ * (p_a * p_b / 11**2) ** 0.775`` - the fp16 and fp32 points give the exponent;
  e.g. fp8_e4m3 x fp32: 0.92 pJ, fp8_e4m3 x fp8_e4m3: 0.23 pJ (an fp8 add: 0.18 pJ);
* a weight read from SRAM: 10/64 pJ per bit.

A MAC is one multiply (weight format x activation format: hidden activations of an MLP
stay fp32, so an "fp8 MAC" there is fp8 x fp32) and one add in the accumulator format.
A selective layer adds: its estimator ("fp32": one fp32 add per term - the products |w x|
are the low pass's own; "low": one add in the low format per term; "norm": n_in + n_out
fp32 multiply-adds per input), a decision per component (one fp32 multiply and compare),
(none for a static plan), and for each recomputed component n_in MACs in its format plus a re-read of its weight row
(a scattered recompute cannot share the batch's read). The uniform passes read W once per
batch. These are order-of-magnitude figures for comparing policies, not a hardware model.
"""

from __future__ import annotations

from typing import Optional, Sequence

from ..formats import FormatLike, get as get_format
from .policy import Ladder, Policy, Uniform

ADD16_PJ, ADD32_PJ = 0.4, 0.9
MUL16_PJ, MUL32_PJ = 1.1, 3.7
SRAM_PJ_PER_BIT = 10.0 / 64
_ADD_EXP = 1.17  # log(0.9 / 0.4) / log(32 / 16)
_MUL_EXP = 0.775  # log(3.7 / 1.1) / log(24**2 / 11**2)


def add_pj(fmt: FormatLike) -> float:
    """Energy of one addition in ``fmt``."""
    return ADD16_PJ * (get_format(fmt).bits / 16) ** _ADD_EXP


def mul_pj(a: FormatLike, b: FormatLike) -> float:
    """Energy of one multiplication of a value of ``a`` by a value of ``b``."""
    pa, pb = get_format(a).precision, get_format(b).precision
    return MUL16_PJ * (pa * pb / 121) ** _MUL_EXP


def layer_energy_pj(policy: Policy, batch: int, n_in: int, n_out: int, counts: Sequence[int],
                    weights: Optional[FormatLike], activations: Optional[FormatLike]) -> float:
    """Energy (pJ) of one layer under ``policy``; counts[k] = components that ended in rung k.
    weights / activations: the storage formats of W and of the layer's input (None: fp64)."""
    wf = get_format(weights) if weights is not None else get_format("fp64")
    xf = get_format(activations) if activations is not None else get_format("fp64")
    macs = batch * n_in * n_out
    weight_read = n_in * n_out * wf.bits * SRAM_PJ_PER_BIT
    if isinstance(policy, Uniform):
        return macs * (mul_pj(wf, xf) + add_pj(policy.fmt)) + weight_read
    assert isinstance(policy, Ladder)
    fmts = policy.formats()
    low = macs * (mul_pj(wf, xf) + add_pj(fmts[0])) + weight_read
    score = "plan" if getattr(policy, "neurons", None) is not None else getattr(policy, "score", "kappa")
    decide = 0.0 if score == "plan" else batch * n_out * (mul_pj("fp32", "fp32") + add_pj("fp32"))
    if score in ("authors", "magnitude", "random", "plan"):
        estimate = 0.0
    elif score == "oracle":
        estimate = macs * (mul_pj(wf, xf) + add_pj(fmts[-1]))
    elif policy.estimator in ("fp32", "exact"):
        estimate = macs * add_pj("fp32")
    elif policy.estimator == "low":
        estimate = macs * add_pj(fmts[0])
    else:
        estimate = batch * (n_in + n_out) * (mul_pj("fp32", "fp32") + add_pj("fp32"))
    recompute = sum(counts[k] * n_in * (mul_pj(wf, xf) + add_pj(fmts[k]) + wf.bits * SRAM_PJ_PER_BIT)
                    for k in range(1, len(fmts)))
    return low + estimate + decide + recompute


def uniform_energy_pj(fmt: FormatLike, batch: int, shapes: Sequence[tuple], weights: Optional[FormatLike],
                      activations: Sequence[Optional[FormatLike]]) -> float:
    """Energy of running every layer uniformly in ``fmt`` (activations: each layer's input format)."""
    return sum(layer_energy_pj(Uniform(fmt), batch, n, m, [batch * m], weights, a)
               for (n, m), a in zip(shapes, activations))
