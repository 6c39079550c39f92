"""Attention under simulated accumulation, for :func:`mpcore.networks.torch.convert`.

Attention (``nn.MultiheadAttention``, and calls of
``torch.nn.functional.scaled_dot_product_attention`` while the converted model runs): for
each batch entry and head, each score is the E-term dot product of a query row with a key
row (one ``mpcore.matmul`` per batch entry and head, the queries as its rows and the keys
as its W), then the mask and the softmax in torch in the tensors' dtype, then each output
the S-term dot product of a row of the probabilities with a column of V (one call per batch
entry and head, V transposed as its W; under a uniform policy, or a ladder policy deciding by
its kappa rule, all of them in one batched call, the same bits). The scaling by 1/sqrt(E)
(or ``scale``) is where torch puts it: nn.MultiheadAttention scales q before the scores, the
functional attention scales the scores. A selective policy decides these products with the identity (the softmax
is not an activation of the list). nn.MultiheadAttention's in- and out-projections are
simulated like Linear layers; the functional attention's callers project with their own
(converted) layers. CUDA tensors: the same products on mpcore's CUDA backend, one call per batch
entry and head, read in place (DLPack).
"""

from __future__ import annotations

import time

import numpy as np

from .policy import Policy, Uniform
from ..layer import PreparedLinear
from .simulated import (_as_numpy, _check_resident, _kappa_rule, _mpcore_threads, _on_cuda, _products, _record,
                        _resident_operands, _resident_products, _Stats, _torch)


def _attention_products(q, k, v, mask, scale: float, scale_first: bool, policy: Policy, stats: _Stats):
    """softmax(q kᵀ scale + mask) v (in float64, each value one of the format that computed it) and P
    for q (B, L, E), k (B, S, E), v (B, S, Ev) in their dtype (any strides):
    each score the E-term dot product (one mpcore call per b: its rows are q[b]'s), each
    output the S-term dot product of a row of P with a column of v (one call per b); the
    scaling (of q before, or of the scores after, as torch does), the mask and the softmax
    in torch, in the tensors' dtype. Each product runs all b in one batched call: the same bits
    as the calls one by one, and a ladder's score, budget or plan decides each call's
    components as that call alone would."""
    torch = _torch()
    dtype = q.dtype
    qs = q * scale if scale_first else q

    def products(x3, w3):
        if _on_cuda(x3):
            return _resident_batched(x3, w3, policy, stats)
        # The batched products read strided slices: no copies of the head views or of vᵀ.
        return torch.from_numpy(_batched(_as_numpy(x3), _as_numpy(w3), policy, stats))

    scores = products(qs, k)
    scores = scores.to(dtype) if scale_first else scores.to(dtype) * scale
    if mask is not None:
        scores = scores + mask
    p = torch.softmax(scores, dim=-1)
    return products(p, v.transpose(1, 2)), p


def _batched(x3: np.ndarray, w3: np.ndarray, policy: Policy, stats: _Stats) -> np.ndarray:
    """matmul(x3[b], w3[b]) (a uniform policy) or ladder_linear(x3[b], w3[b]) with the identity
    (a ladder: its kappa rule, or its score, budget or plan deciding each call's components)
    for every b in one call: the same bits and decisions as one call each."""
    from .. import _core

    t0 = time.perf_counter()
    batch, rows, n_in = x3.shape
    n_out = w3.shape[1]
    if isinstance(policy, Uniform):
        z = _core.matmul_batched(x3, w3, policy.layer_options())
        rung = kappa = None
    else:
        options = policy.layer_options("identity", None)
        z_low = numerator = given = None
        if not _kappa_rule(policy):
            z_low, numerator, given = _decided_batched(x3, w3, policy, options)
        r = _core.ladder_batched(x3, w3, options, z_low, numerator, given)
        z, rung, kappa = r["z"].reshape(batch, rows, n_out), r["rung"], r["kappa"]
    _record(stats, policy, batch, batch * rows, n_in, n_out, rung, kappa, t0)
    return z


def _resident_batched(x3, w3, policy: Policy, stats: _Stats):
    """_batched for CUDA tensors (x3, w3 on one device, any strides): one call of mpcore's CUDA
    backend per b, read in place (the bits and decisions of _batched); float64 on the device."""
    torch = _torch()
    _check_resident(policy, x3.device)  # an empty batch too
    if x3.shape[0] == 0:
        return torch.empty(0, x3.shape[1], w3.shape[1], dtype=torch.float64, device=x3.device)
    # Recorded as one call each by _resident_products.
    return torch.stack([_resident_products(*_resident_operands(x3[i], w3[i], None, "attention"), policy, stats)
                        for i in range(x3.shape[0])])


def _decided_batched(x3: np.ndarray, w3: np.ndarray, policy: Policy, options):
    """The first pass of every slice (z in the low format and the estimator's numerator, rows
    b * L + r) and the rungs the policy's score, budget or plan gives them: what
    ladder_linear(x3[b], w3[b], ...) decides call by call."""
    from .. import _core
    from ..selective import _planned_rungs, _rung_options, decided_rungs

    batch, rows, n_in = x3.shape
    acc = options.accumulation

    def rung_pass(fmt):
        return _core.matmul_batched(x3, w3, _rung_options(acc, fmt)).reshape(batch * rows, w3.shape[1])

    low = options.formats[0]
    z_low = rung_pass(low)
    numerator = _core.inner_numerator_batched(x3, w3, options.estimator, low, acc.threads)
    d = policy.decision()
    if d["neurons"] is not None:
        given = _planned_rungs(d["neurons"], z_low.shape)
    else:
        given = decided_rungs(d["score"], d["budget"], (z_low, numerator), options, d["score_seed"], n_in, rung_pass,
                              rows_per_call=rows)
    return z_low, numerator, given


def _additive_mask(mask, dtype):
    """A boolean mask (True: not allowed, as nn.MultiheadAttention) as an additive -inf mask."""
    torch = _torch()
    if mask is None or mask.dtype != torch.bool:
        return None if mask is None else mask.to(dtype)
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(mask, float("-inf"))


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
            self._host = None  # the projections packed once for CPU inputs (on first use)

        def extra_repr(self) -> str:
            return f"MultiheadAttention under {self.policy.label()}"

        def _weights(self, which):
            """(W, b) tensors of projection `which`: 0, 1, 2 (q, k, v), "qkv" (all three stacked,
            for self-attention in one call) or "out"."""
            m, e = self.original, self.original.embed_dim
            if which == "out":
                return m.out_proj.weight, m.out_proj.bias
            w, b = m.in_proj_weight, m.in_proj_bias
            if which == "qkv":
                return w, b
            return w[which * e:(which + 1) * e], None if b is None else b[which * e:(which + 1) * e]

        def _project(self, which, x, parts=1):
            lead, x2 = x.shape[:-1], x.reshape(-1, x.shape[-1])
            if _on_cuda(x):
                z = _resident_products(*_resident_operands(x2, *self._weights(which), self.layer_name), self.policy,
                                       self.stats, parts=parts)
            else:
                if self._host is None:
                    self._host = {k: PreparedLinear(*(None if t is None else _as_numpy(t) for t in self._weights(k)))
                                  for k in (0, 1, 2, "qkv", "out")}
                z = torch.from_numpy(_products(_as_numpy(x2), self._host[which], self.policy, self.stats, parts=parts))
            return z.to(x.dtype).reshape(*lead, z.shape[1])

        def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                    average_attn_weights=True, is_causal=False):
            with torch.no_grad(), _mpcore_threads():
                # Self-attention: q, k and v in one call where that gives the bits of three (each
                # output alone; not stochastic rounding, whose streams follow the output index),
                # under a policy that decides each component alone (not a score, budget or plan).
                fused = (query is key and key is value and self.policy.rounding != "sr" and
                         (isinstance(self.policy, Uniform) or _kappa_rule(self.policy)))
                batched = query.dim() == 3
                if not batched:
                    query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
                    if key_padding_mask is not None:
                        key_padding_mask = key_padding_mask.unsqueeze(0)
                if self.batch_first and batched:
                    query, key, value = (t.transpose(0, 1) for t in (query, key, value))
                (length, batch, e), source, h = query.shape, key.shape[0], self.num_heads
                dtype = query.dtype
                if fused:
                    q, k, v = self._project("qkv", query, parts=3).split(e, dim=-1)
                else:
                    q, k, v = (self._project(i, t) for i, t in enumerate((query, key, value)))

                def heads(t, n):  # (n, B, E) -> (B*h, n, E/h), torch's layout
                    return t.reshape(n, batch * h, e // h).transpose(0, 1)

                mask = _additive_mask(attn_mask, dtype)
                if is_causal and mask is None:
                    mask = _additive_mask(torch.ones(length, source, dtype=torch.bool, device=query.device).triu(1),
                                          dtype)
                if mask is not None:
                    mask = mask.reshape(-1, length, source)
                pad = _additive_mask(key_padding_mask, dtype)
                if pad is not None:
                    pad = pad.reshape(batch, 1, 1, source).expand(-1, h, -1, -1).reshape(batch * h, 1, source)
                    mask = pad if mask is None else mask + pad
                # As nn.MultiheadAttention: q scaled by 1/sqrt(E/h) before the scores.
                o, p = _attention_products(heads(q, length), heads(k, source), heads(v, source), mask,
                                           float((e // h) ** -0.5), True, self.policy, self.stats)
                # (B*h, L, E/h) -> (L, B, E) in the tensors' dtype, converted and laid out in one pass.
                o = o.transpose(0, 1).to(dtype, memory_format=torch.contiguous_format).reshape(length, batch, e)
                out = self._project("out", o)
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
            causal = _additive_mask(torch.ones(length, source, dtype=torch.bool, device=query.device).triu(1), dtype)
            mask = causal if mask is None else mask + causal
        if mask is not None:
            mask = mask.expand(*lead, length, source).reshape(-1, length, source)
        with torch.no_grad(), _mpcore_threads():
            o, _ = _attention_products(query.reshape(-1, length, e), key.reshape(-1, source, e),
                                       value.reshape(-1, source, value.shape[-1]), mask,
                                       float(e ** -0.5 if scale is None else scale), False, self.policy, self.stats)
        return o.to(dtype).reshape(*lead, length, value.shape[-1])
