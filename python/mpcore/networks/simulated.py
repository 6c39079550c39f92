"""What every converted torch layer shares: the simulated products of a layer under a
policy, and their statistics (for :func:`mpcore.networks.torch.report`)."""

from __future__ import annotations

import contextlib
import time

import numpy as np

from ..ops import matmul
from ..selective import ladder_linear
from .cost import format_cost, layer_cost
from .policy import Policy, Uniform


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - exercised only without torch
        raise ImportError("mpcore.networks.torch needs PyTorch (pip install torch)") from exc
    return torch


@contextlib.contextmanager
def _mpcore_threads():
    """Torch's own intra-op threads at one while a converted layer runs (restored after).

    The layer's work is mpcore's, in mpcore's threads; torch's OpenMP threads spin for a while
    after each parallel torch operation and took the same cores from them (measured: a converted
    MultiheadAttention 44.6 ms with torch at 2 threads, 28.6 ms at 1, on 2 cores)."""
    torch = _torch()
    n = torch.get_num_threads()
    if n > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if n > 1:
            torch.set_num_threads(n)


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
              alpha=None, parts: int = 1) -> np.ndarray:
    """(rows, out) outputs of x2 (rows, in) against layer (a PreparedLinear, or an (out, in)
    array) under the policy, in float64. parts: the outputs are that many layers side by side
    (attention's q, k and v projections in one call), recorded as one call each; the caller
    sees to it that the bits are those of one call each (every output is computed alone, but
    stochastic rounding's streams follow the output index, and a score or budget decides per
    call)."""
    t0 = time.perf_counter()
    rung = kappa = None
    if isinstance(policy, Uniform):
        z = matmul(x2, layer, options=policy.layer_options())
    else:
        r = ladder_linear(x2, layer, options=policy.layer_options(activation, alpha), **policy.decision())
        z, rung, kappa = r.z, r.rung, r.kappa
    _record_parts(stats, policy, x2.shape, z.shape, rung, kappa, time.perf_counter() - t0, parts)
    return z


def _on_cuda(t) -> bool:
    """Whether a converted layer runs tensor t on mpcore's CUDA backend."""
    return t.device.type == "cuda"


def _kappa_rule(policy: Policy) -> bool:
    """Whether a ladder policy decides by its own kappa rule (no score, budget or plan given)."""
    d = policy.decision()
    return d["score"] == "kappa" and d["budget"] is None and d["neurons"] is None


def _check_resident(policy: Policy, where) -> None:
    """ValueError unless CUDA tensors can run under the policy: a CUDA build of mpcore, and a
    uniform policy or a ladder deciding by its kappa rule (scores, budgets and plans are CPU-only)."""
    from .. import _core

    if not _core.has_cuda:
        raise ValueError(f"a CUDA tensor reached a converted layer on {where}, but this mpcore was built without "
                         "CUDA: rebuild it with pip install . -Ccmake.define.MPCORE_CUDA=ON, or run the model on "
                         "the CPU")
    if not isinstance(policy, Uniform) and not _kappa_rule(policy):
        raise ValueError("a ladder policy with score=, budget= or neurons= runs on the CPU only; move the model "
                         "and its inputs to the CPU")


def _resident_operands(x, w, b, where: str):
    """x, w and b (a tensor or None) for the CUDA backend: on x's device (else ValueError naming
    `where`), all in float64 if one of them is, else float32 (exact conversions: the values the
    CPU route reads)."""
    torch = _torch()
    if w.device != x.device:
        raise ValueError(f"{where}: the input is on {x.device}, the weights on {w.device}")
    work = torch.float64 if torch.float64 in (x.dtype, w.dtype) else torch.float32
    return x.detach().to(work), w.detach().to(work), None if b is None else b.detach().to(work)


def _resident_products(x2, w, b, policy: Policy, stats: _Stats, activation: str = "identity", alpha=None,
                       parts: int = 1):
    """_products for CUDA tensors: x2 (rows, in), w (out, in) and b (out,) or None on one device,
    all float32 or all float64, any strides; mpcore's CUDA backend reads them where they are
    (DLPack). Returns the float64 (rows, out) outputs on that device: the bits of _products."""
    from .. import _core

    torch = _torch()
    _check_resident(policy, x2.device)
    torch.cuda.synchronize(x2.device)  # mpcore's kernels run on the default stream: torch's work first
    t0 = time.perf_counter()
    rung = kappa = None
    if isinstance(policy, Uniform):
        z = torch.from_dlpack(_core.cuda_resident_matmul(x2, w, b, policy.layer_options()))
    else:
        r = _core.cuda_resident_ladder_linear(x2, w, b, policy.layer_options(activation, alpha))
        z, rung, kappa = torch.from_numpy(r["z"]).to(x2.device), r["rung"], r["kappa"]
    _record_parts(stats, policy, tuple(x2.shape), tuple(z.shape), rung, kappa, time.perf_counter() - t0, parts)
    return z


def _record_parts(stats: _Stats, policy: Policy, x_shape, z_shape, rung, kappa, seconds: float, parts: int) -> None:
    """Records one call of x_shape (rows, in) -> z_shape (rows, out) as `parts` layers side by side."""
    rows, n_out = x_shape[0], z_shape[1] // parts
    for k in range(parts):
        part = (slice(None), slice(k * n_out, (k + 1) * n_out))
        _record(stats, policy, 1, rows, x_shape[1], n_out, None if rung is None else rung.reshape(z_shape)[part],
                None if kappa is None else kappa.reshape(z_shape)[part], seconds=seconds / parts)


def _record(stats: _Stats, policy: Policy, calls: int, rows: int, n_in: int, n_out: int, rung, kappa,
            t0: float = None, seconds: float = None) -> None:
    """Adds `calls` products of rows x n_in x n_out in all (rung, kappa: the ladder's arrays, or
    None under a uniform policy) to the layer's statistics, and their time: `seconds`, or the
    time since t0."""
    if rung is None:
        recomputed, counts = 0, [rows * n_out]
    else:
        recomputed = int(np.count_nonzero(rung))
        counts = np.bincount(rung.reshape(-1), minlength=len(policy.formats())).tolist()
        with np.errstate(divide="ignore"):
            stats.kappa_counts += np.histogram(np.log10(kappa[np.isfinite(kappa)]), KAPPA_EDGES)[0]
    stats.cost += layer_cost(policy, rows, n_in, n_out, counts)
    stats.cost_high += rows * n_in * n_out * format_cost(policy.formats()[-1])
    stats.calls += calls
    stats.components += rows * n_out
    stats.recomputed += recomputed
    stats.seconds += seconds if seconds is not None else time.perf_counter() - t0


def _as_numpy(t) -> np.ndarray:
    if t.device.type != "cpu":
        raise ValueError(f"expected a CPU tensor here, got one on {t.device} (the model's weights and its "
                         "inputs must be on the same device)")
    a = t.detach()
    return a.numpy() if a.dtype in (_torch().float32, _torch().float64) else a.double().numpy()
