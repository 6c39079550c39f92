"""PyTorch models under mpcore's simulated accumulation (torch is an optional dependency).

``convert(model, policy, layers=None)`` returns a copy of ``model`` in which every selected
``nn.Linear``, ``nn.Conv1d`` and ``nn.Conv2d`` computes its dot products with mpcore's
accumulation under a ``Uniform``, ``Selective`` or ``Ladder`` policy; everything else runs
in torch as usual. Inference only (under ``torch.no_grad``), CPU tensors.

The accumulation order of a convolution is defined by ``torch.nn.functional.unfold``:
output (n, o, p) is the dot product of ``W[o]`` flattened as ``W.reshape(out, -1)`` (c_in-major,
then kh, then kw) with column p of ``unfold(x)[n]``, the bias last — exactly
``mpcore.matmul(unfold(x)[n].T, W.reshape(out, -1), b)``, one such call per sample (so
stochastic rounding's streams are that call's) and per group for ``groups > 1``;
stride, padding and dilation as torch defines them (``padding_mode="zeros"`` only). A Linear
layer accumulates in_features terms in order, as :func:`mpcore.matmul`.

A selective or ladder layer decides per output position with the activation that follows the
layer in the graph traced by torch.fx — an activation module (ReLU, Tanh, GELU, …), function
(``torch.relu``, ``F.gelu``, …) or tensor method (``.relu()``) that is the layer's only user —
and the identity otherwise (or when the model cannot be traced); ``report`` says which. Not
converted yet: the attention products of ``nn.MultiheadAttention`` /
``scaled_dot_product_attention``.
``report(converted)`` gives per-layer statistics.
"""

from __future__ import annotations

import copy
import time
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from ..formats import get as get_format
from ..layer import PreparedLinear
from ..ops import matmul
from .policy import Ladder, Policy, Uniform
from ..selective import ladder_linear

__all__ = ["convert", "report"]


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - exercised only without torch
        raise ImportError("mpcore.torch needs PyTorch (pip install torch)") from exc
    return torch


class _Stats:
    def __init__(self):
        self.calls = 0
        self.components = 0
        self.recomputed = 0
        self.seconds = 0.0


def _products(x2: np.ndarray, layer: PreparedLinear, policy: Policy, stats: _Stats, activation: str = "identity",
              alpha=None) -> np.ndarray:
    """(rows, out) outputs of x2 (rows, in) under the policy, in float64."""
    t0 = time.perf_counter()
    if isinstance(policy, Uniform):
        z = matmul(x2, layer, options=policy.layer_options())
        recomputed = 0
    else:
        r = ladder_linear(x2, layer, options=policy.layer_options(activation, alpha), **policy.decision())
        z, recomputed = r.z, int(np.count_nonzero(r.rung))
    stats.calls += 1
    stats.components += z.size
    stats.recomputed += recomputed
    stats.seconds += time.perf_counter() - t0
    return z


def _as_numpy(t) -> np.ndarray:
    if t.device.type != "cpu":
        raise ValueError(f"mpcore.torch runs CPU tensors; got one on {t.device}")
    a = t.detach()
    return a.numpy() if a.dtype in (_torch().float32, _torch().float64) else a.double().numpy()


def _following_activations(model) -> Dict[str, tuple]:
    """{layer name: (activation, alpha)} for layers whose only user in the torch.fx graph is
    an activation; {} if the model cannot be traced."""
    torch = _torch()
    from .models import TORCH_ACTIVATIONS, _TORCH_FUNCTIONS, _torch_module_activation

    try:
        graph = torch.fx.symbolic_trace(model).graph
    except Exception:
        return {}
    modules = dict(model.named_modules())
    found = {}
    for node in graph.nodes:
        if node.op != "call_module" or len(node.users) != 1:
            continue
        user = next(iter(node.users))
        if user.op == "call_module" and type(modules.get(user.target)).__name__ in TORCH_ACTIVATIONS:
            found[node.target] = _torch_module_activation(modules[user.target], user.target)
        elif user.op in ("call_function", "call_method"):
            name = getattr(user.target, "__name__", str(user.target)).rstrip("_")
            if name in _TORCH_FUNCTIONS and not user.kwargs and len(user.args) == 1:
                found[node.target] = (_TORCH_FUNCTIONS[name], None)
    return found


def _make_module(original, policy: Policy, name: str, activation: str = "identity", alpha=None):
    torch = _torch()
    nn = torch.nn
    F = torch.nn.functional

    class SimulatedLayer(nn.Module):
        """An nn.Linear / nn.Conv1d / nn.Conv2d computed with mpcore's simulated accumulation."""

        def __init__(self):
            super().__init__()
            self.original = original
            self.policy = policy
            self.layer_name = name
            self.activation, self.alpha = activation, alpha
            self.stats = _Stats()
            w = _as_numpy(original.weight)
            b = None if original.bias is None else _as_numpy(original.bias)
            if isinstance(original, nn.Linear):
                self._groups = [PreparedLinear(w, b)]
            else:
                if original.padding_mode != "zeros":
                    raise ValueError(f"{name}: padding_mode={original.padding_mode!r} is not supported (zeros only)")
                g, out = original.groups, w.shape[0]
                per = out // g
                self._groups = [PreparedLinear(w[k * per:(k + 1) * per].reshape(per, -1),
                                               None if b is None else b[k * per:(k + 1) * per]) for k in range(g)]

        def extra_repr(self) -> str:
            return f"{type(self.original).__name__} under {self.policy.label()}"

        def forward(self, x):
            dtype = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
            with torch.no_grad():
                if isinstance(self.original, nn.Linear):
                    lead = x.shape[:-1]
                    x2 = _as_numpy(x.reshape(-1, x.shape[-1]))
                    z = _products(x2, self._groups[0], self.policy, self.stats, self.activation, self.alpha)
                    return torch.from_numpy(z).to(dtype).reshape(*lead, z.shape[1])
                conv1d = isinstance(self.original, nn.Conv1d)
                m = self.original
                xin = x.unsqueeze(-2) if conv1d else x
                kernel = (1, m.kernel_size[0]) if conv1d else m.kernel_size
                stride = (1, m.stride[0]) if conv1d else m.stride
                padding = (0, m.padding[0]) if conv1d else m.padding
                dilation = (1, m.dilation[0]) if conv1d else m.dilation
                if isinstance(padding, str):
                    raise ValueError(f"{self.layer_name}: padding={padding!r} is not supported; give it in numbers")
                cols = F.unfold(xin, kernel, dilation=dilation, padding=padding, stride=stride)  # (N, C*kh*kw, L)
                n, _, count = cols.shape
                h_out = (xin.shape[-2] + 2 * padding[0] - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
                w_out = (xin.shape[-1] + 2 * padding[1] - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
                per_in = cols.shape[1] // m.groups
                # One matmul per sample and group, as documented: stochastic rounding's streams
                # are those of mpcore.matmul(unfold(x)[n].T, W_g.reshape(out_g, -1), b_g).
                y = torch.empty(n, m.out_channels, count, dtype=torch.float64)
                per_out = m.out_channels // m.groups
                for s in range(n):
                    for k, layer in enumerate(self._groups):
                        xs = _as_numpy(cols[s, k * per_in:(k + 1) * per_in, :].T.contiguous())
                        z = _products(xs, layer, self.policy, self.stats, self.activation, self.alpha)
                        y[s, k * per_out:(k + 1) * per_out] = torch.from_numpy(z).T
                y = y.reshape(n, -1, h_out, w_out).to(dtype)
                return y.squeeze(-2) if conv1d else y

    return SimulatedLayer()


PolicyChoice = Union[Policy, Dict[Union[str, type], Policy]]


def _policy_for(name: str, module, policy: PolicyChoice, layers: Optional[Sequence]) -> Optional[Policy]:
    if layers is not None and name not in layers and not any(isinstance(t, type) and isinstance(module, t)
                                                              for t in layers):
        return None
    if isinstance(policy, dict):
        for key in (name, type(module)):
            if key in policy:
                return policy[key]
        return None
    return policy


def convert(model, policy: PolicyChoice, *, layers: Optional[Sequence] = None):
    """A copy of ``model`` whose Linear / Conv1d / Conv2d layers accumulate under ``policy``.

    policy: one Uniform / Selective / Ladder for all, or a dict from a layer's name (as in
        ``model.named_modules()``) or type (``torch.nn.Conv2d``) to its policy.
    layers: only these names or types (default: every supported layer the policy covers).
    """
    torch = _torch()
    nn = torch.nn
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, not {type(model).__name__}")
    if not isinstance(policy, (Uniform, Ladder, dict)):
        raise TypeError("policy must be Uniform, Selective/Ladder, or a dict of them by layer name or type")
    converted = copy.deepcopy(model).eval()
    supported = (nn.Linear, nn.Conv1d, nn.Conv2d)
    following = _following_activations(converted) if not isinstance(converted, supported) else {}
    replaced = 0
    for name, module in list(converted.named_modules()):
        if not isinstance(module, supported) or not name:
            continue
        p = _policy_for(name, module, policy, layers)
        if p is None:
            continue
        if isinstance(p, Ladder):
            for f in p.formats():
                get_format(f)
        parent_name, _, child = name.rpartition(".")
        parent = converted.get_submodule(parent_name) if parent_name else converted
        setattr(parent, child, _make_module(module, p, name, *following.get(name, ("identity", None))))
        replaced += 1
    if isinstance(converted, supported):  # the model is one layer
        p = _policy_for("", converted, policy, layers)
        if p is not None:
            return _make_module(converted, p, type(converted).__name__)
    if replaced == 0:
        raise ValueError("no Linear, Conv1d or Conv2d layer was selected for conversion")
    return converted


def report(converted) -> List[dict]:
    """Per simulated layer: name, type, policy, the activation its decisions used, calls,
    components, fraction recomputed, seconds."""
    rows = []
    for module in converted.modules():
        stats = getattr(module, "stats", None)
        if isinstance(stats, _Stats):
            rows.append({"layer": module.layer_name, "type": type(module.original).__name__,
                         "policy": module.policy.label(), "activation": module.activation, "calls": stats.calls, "components": stats.components,
                         "fraction_recomputed": stats.recomputed / stats.components if stats.components else 0.0,
                         "seconds": stats.seconds})
    return rows
