"""PyTorch models under mpcore's simulated accumulation (torch is an optional dependency).

``convert(model, policy, layers=None)`` returns a copy of ``model`` in which every selected
``nn.Linear``, ``nn.Conv1d`` and ``nn.Conv2d`` computes its dot products with mpcore's
accumulation under a ``Uniform``, ``Selective`` or ``Ladder`` policy; everything else runs
in torch as usual. Inference only (under ``torch.no_grad``), CPU tensors.

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

Attention (``nn.MultiheadAttention``, and calls of
``torch.nn.functional.scaled_dot_product_attention`` while the converted model runs): for
each batch entry and head, each score is the E-term dot product of a query row with a key
row (one ``mpcore.matmul`` per batch entry and head, the queries as its rows and the keys
as its W), then the mask and the softmax in torch in the tensors' dtype, then each output
the S-term dot product of a row of the probabilities with a column of V (one call per batch
entry and head, V transposed as its W; under a uniform policy all of them in one batched
call, the same bits). The scaling by 1/sqrt(E) (or ``scale``) is where
torch puts it: nn.MultiheadAttention scales q before the scores, the functional attention
scales the scores. A selective policy decides these products with the identity (the softmax
is not an activation of the list). nn.MultiheadAttention's in- and out-projections are
simulated like Linear layers; the functional attention's callers project with their own
(converted) layers.
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
from .cost import format_cost, layer_cost
from .policy import Ladder, Policy, Uniform
from ..selective import ladder_linear

__all__ = ["convert", "report"]


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - exercised only without torch
        raise ImportError("mpcore.networks.torch needs PyTorch (pip install torch)") from exc
    return torch


# log10 kappa bins of report()'s histogram: (-inf, -2), [-2, -1), ..., [4, inf).
KAPPA_EDGES = (-np.inf, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0, np.inf)


class _Stats:
    def __init__(self):
        self.calls = 0
        self.components = 0
        self.recomputed = 0
        self.seconds = 0.0
        self.cost = 0.0          # mpcore.networks.cost's model: bit-weighted MACs, estimator included
        self.cost_high = 0.0     # the same products uniformly in the policy's highest format
        self.kappa_counts = np.zeros(len(KAPPA_EDGES) - 1, dtype=np.int64)


def _products(x2: np.ndarray, layer, policy: Policy, stats: _Stats, activation: str = "identity",
              alpha=None) -> np.ndarray:
    """(rows, out) outputs of x2 (rows, in) against layer (a PreparedLinear, or an (out, in)
    array) under the policy, in float64."""
    t0 = time.perf_counter()
    if isinstance(policy, Uniform):
        z = matmul(x2, layer, options=policy.layer_options())
        recomputed, counts = 0, [z.size]
    else:
        r = ladder_linear(x2, layer, options=policy.layer_options(activation, alpha), **policy.decision())
        z, recomputed = r.z, int(np.count_nonzero(r.rung))
        counts = np.bincount(r.rung.reshape(-1), minlength=len(r.formats)).tolist()
        with np.errstate(divide="ignore"):
            stats.kappa_counts += np.histogram(np.log10(r.kappa[np.isfinite(r.kappa)]), KAPPA_EDGES)[0]
    rows, n_in, n_out = x2.shape[0], x2.shape[1], z.shape[1]
    stats.cost += layer_cost(policy, rows, n_in, n_out, counts)
    stats.cost_high += rows * n_in * n_out * format_cost(policy.formats()[-1])
    stats.calls += 1
    stats.components += z.size
    stats.recomputed += recomputed
    stats.seconds += time.perf_counter() - t0
    return z


def _as_numpy(t) -> np.ndarray:
    if t.device.type != "cpu":
        raise ValueError(f"mpcore.networks.torch runs CPU tensors; got one on {t.device}")
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
                # One matmul per group over every sample's positions, as documented: row
                # n * L + p of mpcore.matmul(stacked unfold(x).T, W_g.reshape(out_g, -1), b_g)
                # (stochastic rounding's streams are that call's).
                y = torch.empty(n, m.out_channels, count, dtype=torch.float64)
                per_out = m.out_channels // m.groups
                for k, layer in enumerate(self._groups):
                    xs = _as_numpy(cols[:, k * per_in:(k + 1) * per_in, :].transpose(1, 2).reshape(n * count, per_in))
                    z = _products(xs, layer, self.policy, self.stats, self.activation, self.alpha)
                    y[:, k * per_out:(k + 1) * per_out] = torch.from_numpy(z).reshape(n, count, per_out).transpose(1, 2)
                y = y.reshape(n, -1, h_out, w_out).to(dtype)
                return y.squeeze(-2) if conv1d else y

    return SimulatedLayer()


def _attention_products(q, k, v, mask, scale: float, scale_first: bool, policy: Policy, stats: _Stats):
    """softmax(q kᵀ scale + mask) v for q (B, L, E), k (B, S, E), v (B, S, Ev) in their dtype:
    each score the E-term dot product (one mpcore call per b: its rows are q[b]'s), each
    output the S-term dot product of a row of P with a column of v (one call per b); the
    scaling (of q before, or of the scores after, as torch does), the mask and the softmax
    in torch, in the tensors' dtype. A uniform policy runs all b in one batched call (the
    same bits as the calls one by one)."""
    torch = _torch()
    dtype = q.dtype
    qs = q * scale if scale_first else q
    vt = v.transpose(1, 2).contiguous()
    if isinstance(policy, Uniform):
        scores = torch.from_numpy(_batched(_as_numpy(qs.contiguous()), _as_numpy(k.contiguous()), policy, stats))
        scores = scores.to(dtype) if scale_first else scores.to(dtype) * scale
        if mask is not None:
            scores = scores + mask
        p = torch.softmax(scores, dim=-1)
        out = torch.from_numpy(_batched(_as_numpy(p.contiguous()), _as_numpy(vt), policy, stats)).to(dtype)
        return out, p
    out, probabilities = [], []
    for b in range(q.shape[0]):
        scores = torch.from_numpy(_products(_as_numpy(qs[b]), _as_numpy(k[b]), policy, stats)).to(dtype)
        if not scale_first:
            scores = scores * scale
        if mask is not None:
            scores = scores + mask[b if mask.shape[0] > 1 else 0]
        p = torch.softmax(scores, dim=-1)
        probabilities.append(p)
        out.append(torch.from_numpy(_products(_as_numpy(p), _as_numpy(vt[b]), policy, stats)).to(dtype))
    return torch.stack(out), torch.stack(probabilities)


def _batched(x3: np.ndarray, w3: np.ndarray, policy: Uniform, stats: _Stats) -> np.ndarray:
    """matmul(x3[b], w3[b]) for every b in one call (the same bits as one call each)."""
    from .. import _core

    t0 = time.perf_counter()
    z = _core.matmul_batched(x3, w3, policy.layer_options())
    batch, rows, n_in = x3.shape
    n_out = w3.shape[1]
    stats.calls += batch
    stats.components += z.size
    stats.cost += layer_cost(policy, batch * rows, n_in, n_out, [z.size])
    stats.cost_high += batch * rows * n_in * n_out * format_cost(policy.formats()[-1])
    stats.seconds += time.perf_counter() - t0
    return z


def _additive_mask(mask, dtype):
    """A boolean mask (True: not allowed, as nn.MultiheadAttention) as an additive -inf mask."""
    torch = _torch()
    if mask is None or mask.dtype != torch.bool:
        return None if mask is None else mask.to(dtype)
    return torch.zeros(mask.shape, dtype=dtype).masked_fill(mask, float("-inf"))


def _make_attention(original, policy: Policy, name: str):
    """nn.MultiheadAttention with its projections and both attention products under policy."""
    torch = _torch()
    nn = torch.nn
    if not original._qkv_same_embed_dim or original.bias_k is not None or original.add_zero_attn:
        raise ValueError(f"{name}: MultiheadAttention with kdim/vdim, add_bias_kv or add_zero_attn is not "
                         "supported")

    class SimulatedAttention(nn.Module):
        """nn.MultiheadAttention computed with mpcore's simulated accumulation (eval, no dropout)."""

        # Read by nn.TransformerEncoderLayer: no bias here sends it to its module path (the
        # fused fast path would bypass this module); the projections keep their biases.
        in_proj_bias = None

        def __init__(self):
            super().__init__()
            self.original = original
            self.policy = policy
            self.layer_name = name
            self.activation = "identity"
            self.stats = _Stats()
            self.batch_first = original.batch_first
            self._qkv_same_embed_dim = True
            self.num_heads, e = original.num_heads, original.embed_dim
            w = _as_numpy(original.in_proj_weight)
            b = None if original.in_proj_bias is None else _as_numpy(original.in_proj_bias)
            self._in = [PreparedLinear(w[i * e:(i + 1) * e], None if b is None else b[i * e:(i + 1) * e])
                        for i in range(3)]
            ob = original.out_proj.bias
            self._out = PreparedLinear(_as_numpy(original.out_proj.weight), None if ob is None else _as_numpy(ob))

        def extra_repr(self) -> str:
            return f"MultiheadAttention under {self.policy.label()}"

        def _project(self, layer, x):
            lead = x.shape[:-1]
            z = _products(_as_numpy(x.reshape(-1, x.shape[-1])), layer, self.policy, self.stats)
            return torch.from_numpy(z).to(x.dtype).reshape(*lead, z.shape[1])

        def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                    average_attn_weights=True, is_causal=False):
            with torch.no_grad():
                batched = query.dim() == 3
                if not batched:
                    query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
                    if key_padding_mask is not None:
                        key_padding_mask = key_padding_mask.unsqueeze(0)
                if self.batch_first and batched:
                    query, key, value = (t.transpose(0, 1) for t in (query, key, value))
                (length, batch, e), source, h = query.shape, key.shape[0], self.num_heads
                dtype = query.dtype
                q, k, v = (self._project(layer, t) for layer, t in zip(self._in, (query, key, value)))

                def heads(t, n):  # (n, B, E) -> (B*h, n, E/h), torch's layout
                    return t.reshape(n, batch * h, e // h).transpose(0, 1)

                mask = _additive_mask(attn_mask, dtype)
                if is_causal and mask is None:
                    mask = _additive_mask(torch.ones(length, source, dtype=torch.bool).triu(1), dtype)
                if mask is not None:
                    mask = mask.reshape(-1, length, source)
                pad = _additive_mask(key_padding_mask, dtype)
                if pad is not None:
                    pad = pad.reshape(batch, 1, 1, source).expand(-1, h, -1, -1).reshape(batch * h, 1, source)
                    mask = pad if mask is None else mask + pad
                # As nn.MultiheadAttention: q scaled by 1/sqrt(E/h) before the scores.
                o, p = _attention_products(heads(q, length), heads(k, source), heads(v, source), mask,
                                           float((e // h) ** -0.5), True, self.policy, self.stats)
                o = o.transpose(0, 1).reshape(length, batch, e)
                out = self._project(self._out, o)
                if self.batch_first and batched:
                    out = out.transpose(0, 1)
                if not batched:
                    out = out.squeeze(1)
                weights = None
                if need_weights:  # the softmax of the simulated scores, per head or averaged
                    weights = p.reshape(batch, h, length, source)
                    weights = weights.mean(dim=1) if average_attn_weights else weights
                    if not batched:
                        weights = weights.squeeze(0)
                return out, weights

    return SimulatedAttention()


class _AttentionMode:
    """While active, torch.nn.functional.scaled_dot_product_attention runs its two products
    under a policy (softmax(q kᵀ scale + mask) v, scale applied to the scores as torch does)."""

    def __init__(self, policy: Policy):
        torch = _torch()
        self.policy, self.stats = policy, _Stats()
        self.layer_name, self.activation = "scaled_dot_product_attention", "identity"
        outer = self

        class Mode(torch.overrides.TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                kwargs = kwargs or {}
                if func is torch.nn.functional.scaled_dot_product_attention:
                    return outer.sdpa(*args, **kwargs)
                return func(*args, **kwargs)

        self.mode = Mode

    def sdpa(self, query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
        torch = _torch()
        if dropout_p or enable_gqa:
            raise ValueError("scaled_dot_product_attention under mpcore: dropout_p=0 and enable_gqa=False only")
        lead, (length, e), source = query.shape[:-2], query.shape[-2:], key.shape[-2]
        dtype = query.dtype
        mask = _additive_mask(attn_mask, dtype)
        if mask is not None and attn_mask.dtype == torch.bool:
            mask = torch.zeros_like(mask).masked_fill(~attn_mask, float("-inf"))  # True: take part (SDPA)
        if is_causal:
            causal = _additive_mask(torch.ones(length, source, dtype=torch.bool).triu(1), dtype)
            mask = causal if mask is None else mask + causal
        if mask is not None:
            mask = mask.expand(*lead, length, source).reshape(-1, length, source)
        with torch.no_grad():
            o, _ = _attention_products(query.reshape(-1, length, e), key.reshape(-1, source, e),
                                       value.reshape(-1, source, value.shape[-1]), mask,
                                       float(e ** -0.5 if scale is None else scale), False, self.policy, self.stats)
        return o.reshape(*lead, length, value.shape[-1])


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
