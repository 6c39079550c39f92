"""PyTorch models under mpcore's simulated accumulation (torch is an optional dependency).

``convert(model, policy, layers=None)`` returns a copy of ``model`` in which every selected
``nn.Linear``, ``nn.Conv1d`` and ``nn.Conv2d`` computes its dot products with mpcore's
accumulation under a ``Uniform``, ``Selective`` or ``Ladder`` policy; everything else runs
in torch as usual. Inference only (under ``torch.no_grad``). CPU tensors cross to NumPy without
a copy; CUDA tensors (a CUDA build of mpcore) are read on their device through DLPack by
mpcore's CUDA backend, with the same bits (a ladder policy with a score, budget or plan runs
on the CPU only).

The accumulation order of a convolution is defined by ``torch.nn.functional.unfold``:
output (n, o, p) is the dot product of ``W[o]`` flattened as ``W.reshape(out, -1)`` (c_in-major,
then kh, then kw) with column p of ``unfold(x)[n]``, the bias last — exactly row n * L + p of
``mpcore.matmul(cols, W.reshape(out, -1), b)`` with ``cols = unfold(x).transpose(1, 2)
.reshape(N * L, -1)`` (L positions per sample), one such call per group for ``groups > 1``
(stochastic rounding's streams are that call's);
stride, padding and dilation as torch defines them (``padding_mode="zeros"`` only). A Linear
layer accumulates in_features terms in order, as :func:`mpcore.matmul`.

A selective or ladder layer decides per output position with the activation that follows the
layer in the graph traced by torch.fx — an activation module (ReLU, Tanh, GELU, …), function
(``torch.relu``, ``F.gelu``, …) or tensor method (``.relu()``) that is the layer's only user —
and the identity otherwise (or when the model cannot be traced); ``report`` says which.

Attention (``nn.MultiheadAttention`` and the functional
``scaled_dot_product_attention``): :mod:`mpcore.networks.torch_attention` defines its order.
``report(converted)`` gives per-layer statistics.
"""

from __future__ import annotations

import copy
import time
from typing import Dict, List, Optional, Sequence, Union

from .. import _core
from ..layer import PreparedLinear
from .policy import Ladder, Policy, Uniform
from .simulated import (KAPPA_EDGES, _as_numpy, _mpcore_threads, _on_cuda, _products, _record, _resident_operands,
                        _resident_products, _Stats, _torch)
from .torch_attention import _AttentionMode, _make_attention

__all__ = ["convert", "report"]


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

    class SimulatedLayer(nn.Module):
        """An nn.Linear / nn.Conv1d / nn.Conv2d computed with mpcore's simulated accumulation."""

        def __init__(self):
            super().__init__()
            self.original = original
            self.policy = policy
            self.layer_name = name
            self.activation, self.alpha = activation, alpha
            self.stats = _Stats()
            if not isinstance(original, nn.Linear):
                if original.padding_mode != "zeros":
                    raise ValueError(f"{name}: padding_mode={original.padding_mode!r} is not supported (zeros only)")
                if isinstance(original.padding, str):
                    raise ValueError(f"{name}: padding={original.padding!r} is not supported; give it in numbers")
            self._host = None  # the weights packed once for CPU inputs (on first use)

        def extra_repr(self) -> str:
            return f"{type(self.original).__name__} under {self.policy.label()}"

        def _host_groups(self):
            """One PreparedLinear per group (Linear: one), W and b packed once."""
            if self._host is None:
                w = _as_numpy(self.original.weight)
                b = None if self.original.bias is None else _as_numpy(self.original.bias)
                g, out = getattr(self.original, "groups", 1), w.shape[0]
                per = out // g
                self._host = [PreparedLinear(w[k * per:(k + 1) * per].reshape(per, -1),
                                             None if b is None else b[k * per:(k + 1) * per]) for k in range(g)]
            return self._host

        def _geometry(self):
            """kernel, stride, padding and dilation as pairs (a Conv1d as a Conv2d of height 1)."""
            m = self.original
            if isinstance(m, nn.Conv1d):
                return (1, m.kernel_size[0]), (1, m.stride[0]), (0, m.padding[0]), (1, m.dilation[0])
            return m.kernel_size, m.stride, m.padding, m.dilation

        def forward(self, x):
            dtype = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
            with torch.no_grad(), _mpcore_threads():
                if _on_cuda(x):
                    return self._forward_resident(x, dtype)
                if isinstance(self.original, nn.Linear):
                    lead = x.shape[:-1]
                    x2 = _as_numpy(x.reshape(-1, x.shape[-1]))
                    z = _products(x2, self._host_groups()[0], self.policy, self.stats, self.activation, self.alpha)
                    return torch.from_numpy(z).to(dtype).reshape(*lead, z.shape[1])
                conv1d = isinstance(self.original, nn.Conv1d)
                m = self.original
                xin = x.unsqueeze(-2) if conv1d else x
                kernel, stride, padding, dilation = self._geometry()
                xa = _as_numpy(xin.to(dtype).contiguous())  # (N, C, H, W)
                n = xa.shape[0]
                h_out, w_out = (_out_size(xa.shape[2 + d], kernel[d], stride[d], padding[d], dilation[d])
                                for d in range(2))
                count = h_out * w_out
                per_c = xa.shape[1] // m.groups
                # One matmul per group over every sample's positions, as documented: row
                # n * L + p of mpcore.matmul(stacked unfold(x).T, W_g.reshape(out_g, -1), b_g)
                # (stochastic rounding's streams are that call's).
                y = torch.empty(n, m.out_channels, count, dtype=dtype)
                per_out = m.out_channels // m.groups
                for k, layer in enumerate(self._host_groups()):
                    if isinstance(self.policy, Uniform):
                        # The same bits without the windows matrix: built a block at a time in
                        # C++, outputs written in place (float64 -> dtype rounded once).
                        t0 = time.perf_counter()
                        _core.conv_matmul(xa, layer._prepared, kernel, stride, padding, dilation, k * per_c, per_c,
                                          self.policy.layer_options(), y.numpy(), k * per_out)
                        _record(self.stats, self.policy, 1, n * count, layer.shape[1], per_out, None, None, t0=t0)
                        continue
                    xs = _core.conv_windows(xa, kernel, stride, padding, dilation, k * per_c, per_c)
                    z = _products(xs, layer, self.policy, self.stats, self.activation, self.alpha)
                    # float64 -> dtype rounds once, to nearest even, as .to(dtype) would
                    y[:, k * per_out:(k + 1) * per_out] = torch.from_numpy(z).reshape(n, count, per_out).transpose(1, 2)
                y = y.reshape(n, m.out_channels, h_out, w_out)
                return y.squeeze(-2) if conv1d else y

        def _forward_resident(self, x, dtype):
            """CUDA tensors: the same products on mpcore's CUDA backend, read in place through
            DLPack; a convolution's windows made by torch's unfold on the device (the order
            that defines it), one call per group."""
            m = self.original
            x, w, b = _resident_operands(x, m.weight, m.bias, self.layer_name)
            if isinstance(m, nn.Linear):
                lead = x.shape[:-1]
                z = _resident_products(x.reshape(-1, x.shape[-1]), w, b, self.policy, self.stats, self.activation,
                                       self.alpha)
                return z.to(dtype).reshape(*lead, z.shape[1])
            conv1d = isinstance(m, nn.Conv1d)
            xin = x.unsqueeze(-2) if conv1d else x
            kernel, stride, padding, dilation = self._geometry()
            n = xin.shape[0]
            h_out, w_out = (_out_size(xin.shape[2 + d], kernel[d], stride[d], padding[d], dilation[d]) for d in range(2))
            count = h_out * w_out
            per_c, per_out = xin.shape[1] // m.groups, m.out_channels // m.groups
            y = torch.empty(n, m.out_channels, count, dtype=dtype, device=x.device)
            for k in range(m.groups):
                cols = torch.nn.functional.unfold(xin[:, k * per_c:(k + 1) * per_c], kernel, dilation=dilation,
                                                  padding=padding, stride=stride)  # (N, C_g * kh * kw, L)
                wk = w[k * per_out:(k + 1) * per_out].reshape(per_out, -1)
                bk = None if b is None else b[k * per_out:(k + 1) * per_out]
                z = _resident_products(cols.transpose(1, 2).reshape(n * count, -1), wk, bk, self.policy, self.stats,
                                       self.activation, self.alpha)
                y[:, k * per_out:(k + 1) * per_out] = z.reshape(n, count, per_out).transpose(1, 2)
            y = y.reshape(n, m.out_channels, h_out, w_out)
            return y.squeeze(-2) if conv1d else y

    return SimulatedLayer()



def _out_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Output positions along one dimension, as torch computes them."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


PolicyChoice = Union[Policy, Dict[Union[str, type], Policy]]


SDPA = "scaled_dot_product_attention"  # the name that selects the functional attention


def _policy_for(name: str, module, policy: PolicyChoice, layers: Optional[Sequence]) -> Optional[Policy]:
    """The policy of a layer by its name or type (or, for the functional attention, by SDPA or
    the function itself), None if it is not selected."""
    keys = (name, module) if name == SDPA else (name, type(module))
    if layers is not None and not any(k in layers for k in keys) and not any(
            isinstance(t, type) and isinstance(module, t) for t in layers):
        return None
    if isinstance(policy, dict):
        for key in keys:
            if key in policy:
                return policy[key]
        return None
    return policy


def _with_attention_mode(model, mode: _AttentionMode):
    """model, whose forward runs with the functional attention under mode."""
    inner = model.forward

    def forward(*args, **kwargs):
        with mode.mode():
            return inner(*args, **kwargs)

    model.forward = forward
    model._mpcore_attention = mode
    return model


def convert(model, policy: PolicyChoice, *, layers: Optional[Sequence] = None):
    """A copy of ``model`` whose Linear / Conv1d / Conv2d layers and attention products
    accumulate under ``policy``.

    policy: one Uniform / Selective / Ladder for all, or a dict from a layer's name (as in
        ``model.named_modules()``) or type (``torch.nn.Conv2d``, ``torch.nn.MultiheadAttention``)
        to its policy; the key ``"scaled_dot_product_attention"`` (or the function) selects
        the calls of ``torch.nn.functional.scaled_dot_product_attention``.
    layers: only these names or types (default: every supported layer the policy covers).
    nn.MultiheadAttention: its in- and out-projections and both products (q kᵀ, P v) are
    simulated; the functional attention: both products, its callers' projections being
    layers of their own.
    """
    torch = _torch()
    nn = torch.nn
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, not {type(model).__name__}")
    if not isinstance(policy, (Uniform, Ladder, dict)):
        raise TypeError("policy must be Uniform, Selective/Ladder, or a dict of them by layer name or type")
    converted = copy.deepcopy(model).eval()
    supported = (nn.Linear, nn.Conv1d, nn.Conv2d)
    if isinstance(converted, supported + (nn.MultiheadAttention,)):  # the model is one layer
        p = _policy_for("", converted, policy, layers)
        if p is None:
            raise ValueError("the policy does not select this layer")
        make = _make_attention if isinstance(converted, nn.MultiheadAttention) else _make_module
        return make(converted, p, type(converted).__name__)
    following = _following_activations(converted)
    replaced, inside = 0, []
    for name, module in list(converted.named_modules()):
        if not name or any(name.startswith(prefix + ".") for prefix in inside):
            continue
        attention = isinstance(module, nn.MultiheadAttention)
        if not (attention or isinstance(module, supported)):
            continue
        p = _policy_for(name, module, policy, layers)
        if p is None:
            continue
        parent_name, _, child = name.rpartition(".")
        parent = converted.get_submodule(parent_name) if parent_name else converted
        if attention:
            setattr(parent, child, _make_attention(module, p, name))
            inside.append(name)  # its out_proj is part of it
        else:
            setattr(parent, child, _make_module(module, p, name, *following.get(name, ("identity", None))))
        replaced += 1
    sdpa = torch.nn.functional.scaled_dot_product_attention
    named = any(k in (SDPA, sdpa) for k in (list(policy) if isinstance(policy, dict) else []) + list(layers or []))
    if replaced == 0 and not named:
        raise ValueError("no Linear, Conv1d, Conv2d or attention layer was selected for conversion (the "
                         "functional attention alone: name it, layers=['scaled_dot_product_attention'])")
    sdpa_policy = _policy_for(SDPA, sdpa, policy, layers)
    if sdpa_policy is not None:
        _with_attention_mode(converted, _AttentionMode(sdpa_policy))
    return converted


def report(converted) -> List[dict]:
    """Per simulated layer (and the functional attention, if converted): name, type, policy,
    the activation its decisions used, calls, components, fraction recomputed, seconds, cost
    (mpcore.networks.cost: bit-weighted MACs, estimator included) and relative_cost (over the
    same products uniformly in the policy's highest format), and kappa_histogram (selective
    layers: components per log10(kappa) bin, bins labelled by their lower edge)."""
    rows = []
    attention = getattr(converted, "_mpcore_attention", None)
    used = attention is not None and attention.stats.calls > 0  # listed once the model has called it
    for module in list(converted.modules()) + ([attention] if used else []):
        stats = getattr(module, "stats", None)
        if isinstance(stats, _Stats):
            kind = type(module.original).__name__ if hasattr(module, "original") else SDPA
            rows.append({"layer": module.layer_name, "type": kind,
                         "policy": module.policy.label(), "activation": module.activation, "calls": stats.calls, "components": stats.components,
                         "fraction_recomputed": stats.recomputed / stats.components if stats.components else 0.0,
                         "seconds": stats.seconds, "cost": stats.cost,
                         "relative_cost": stats.cost / stats.cost_high if stats.cost_high else 0.0,
                         "kappa_histogram": {f"{lo:g}": int(c) for lo, c in zip(KAPPA_EDGES[:-1],
                                                                               stats.kappa_counts)}})
    return rows
