"""A static plan (the paper's future work): which neurons each layer recomputes, chosen once
on training data, with no estimator or decision at run time.

For layer k the planner runs the fp64 reference network on the training inputs (activations
stored as the network stores them), computes the layer's outputs with the low and the high
accumulator from those inputs, and keeps the round(budget * out) neurons with the largest
mean |phi(z_low) - phi(z_high)| — the oracle's score, averaged over the training set. The
plan is then applied to every input: ``Selective(low, high, neurons=plan[k])`` per layer.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np

from ..formats import FormatLike, get as get_format
from .mlp import _storage_array
from ..ops import matmul
from .policy import Ladder, Selective
from ..selective import activate


def static_plan(net, x, low: FormatLike, high: FormatLike, budget: float,
                threads: Optional[int] = None) -> List[Tuple[int, ...]]:
    """Per layer, the neurons to recompute (see the module docstring); x: training inputs."""
    if not 0.0 <= float(budget) <= 1.0:
        raise ValueError(f"budget must be a fraction in [0, 1], got {budget}")
    low_f, high_f = get_format(low, "low"), get_format(high, "high")
    h = np.asarray(x)
    plan = []
    for k, layer in enumerate(net.layers):
        weights = net.prepared(k)
        z_low = matmul(h, weights, acc=low_f, threads=threads)
        z_high = matmul(h, weights, acc=high_f, threads=threads)
        change = np.abs(activate(layer.activation, z_low, layer.alpha) - activate(layer.activation, z_high, layer.alpha))
        mean = np.nan_to_num(change, nan=np.inf).mean(axis=0)
        count = int(np.floor(float(budget) * mean.size + 0.5))
        order = np.argsort(-mean, kind="stable")
        plan.append(tuple(int(i) for i in np.sort(order[:count])))
        # The next layer's inputs: the reference run's (fp64 accumulation), stored as the network stores them.
        z_ref = matmul(h, weights, acc="fp64", threads=threads)
        y = activate(layer.activation, z_ref, layer.alpha)
        h = _storage_array(y, net.activation_format)
    return plan


def plan_policies(plan: List[Tuple[int, ...]], low: FormatLike, high: FormatLike, **options) -> List[Ladder]:
    """One policy per layer applying the plan."""
    return [Selective(low, high, neurons=neurons, **options) for neurons in plan]
