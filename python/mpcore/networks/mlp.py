"""A multilayer perceptron run under accumulation policies.

A network is a list of dense layers y = phi(W x + b) (W is (out, in), as nn.Linear).
Weights can be stored in a format (rounded once, when the network is built); hidden
activations are stored in ``activation_format`` (default fp32: the next layer then
multiplies exact float32 values) - the network input is never rounded. The reference
run accumulates in fp64 and stores activations in fp64.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from .cost import CostTable, layer_cost, uniform_cost
from .energy import layer_energy_pj, uniform_energy_pj
from ..formats import Format, FormatLike, get as get_format
from ..layer import PreparedLinear
from ..ops import matmul, round as round_to
from .policy import PolicyLike, Uniform, per_layer
from ..selective import ACTIVATIONS, activate, first_pass, first_pass_key, ladder_linear


@dataclass
class Dense:
    """One layer: y = activation(w @ x + b)."""

    w: np.ndarray
    b: Optional[np.ndarray] = None
    activation: str = "identity"
    alpha: Optional[float] = None

    def __post_init__(self):
        self.w = np.asarray(self.w)
        if self.w.ndim != 2:
            raise ValueError(f"w must be 2-D (out_features, in_features), got shape {self.w.shape}")
        if self.b is not None:
            self.b = np.asarray(self.b)
            if self.b.shape != (self.w.shape[0],):
                raise ValueError(f"b must have shape ({self.w.shape[0]},), got {self.b.shape}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unsupported activation {self.activation!r}; valid: {', '.join(ACTIVATIONS)}")


@dataclass
class LayerStats:
    """What one layer did under its policy."""

    policy: str
    formats: List[str]
    counts: List[int]  #: components per format
    fractions: List[float]  #: fraction of components per format
    fraction_high: float  #: fraction recomputed above the first format
    err_est_max: float
    err_est_mean: float
    seconds: Dict[str, float] = field(default_factory=dict)
    kappa: Optional[np.ndarray] = None  #: the decision's kappa per component (keep_kappa=True)


@dataclass
class RunResult:
    logits: np.ndarray
    layers: List[LayerStats]


@dataclass
class Evaluation:
    """Accuracy, fidelity to the fp64 reference, recompute fractions and cost of one policy."""

    policy: str
    n: int
    accuracy: float
    agreement: float  #: fraction of predictions equal to the fp64 reference's
    logits_rel_err_mean: float  #: mean over samples of ||l - l_ref|| / ||l_ref||
    logits_rel_err_max: float
    fraction_high: float  #: over all layers' inner products (the authors' metric)
    fraction_high_per_layer: List[float]
    fractions_per_layer: List[List[float]]
    cost: float
    relative_cost: float  #: cost / (every layer uniformly in the cost reference format)
    cost_reference: str
    energy_pj: float = float("nan")  #: mpcore.networks.energy's model, all layers, the whole batch
    relative_energy: float = float("nan")  #: energy / (every layer uniformly in the cost reference format)

    def to_dict(self) -> dict:
        return asdict(self)


def _storage_array(values: np.ndarray, fmt: Optional[Format]) -> np.ndarray:
    """Values stored in fmt, as float32 when that is exact (the faster kernels), else float64."""
    if fmt is None:
        return values
    out = round_to(values, fmt)
    if fmt.precision <= 24 and fmt.emax <= 127 and fmt.emin >= -126:
        return out.astype(np.float32)
    return out


def _array_format(a: np.ndarray) -> Format:
    """The narrowest named format an array's dtype is stored in (for the energy model)."""
    return get_format({2: "fp16", 4: "fp32"}.get(a.dtype.itemsize, "fp64")) if a.dtype.kind == "f" else get_format("fp64")


def predictions(logits: np.ndarray) -> np.ndarray:
    """Class predictions: argmax, or logit > 0 for a single output (binary)."""
    if logits.shape[1] == 1:
        return (logits[:, 0] > 0).astype(np.int64)
    return np.argmax(np.where(np.isnan(logits), -np.inf, logits), axis=1)


class MLP:
    """A sequence of Dense layers with optional weight and activation storage formats."""

    def __init__(self, layers: Sequence[Dense], weight_format: Optional[FormatLike] = None,
                 activation_format: Optional[FormatLike] = "fp32", name: str = "mlp"):
        if not layers:
            raise ValueError("an MLP needs at least one layer")
        for k in range(1, len(layers)):
            if layers[k].w.shape[1] != layers[k - 1].w.shape[0]:
                raise ValueError(f"layer {k} takes {layers[k].w.shape[1]} inputs but layer {k - 1} gives "
                                 f"{layers[k - 1].w.shape[0]}")
        self.name = name
        self.weight_format = None if weight_format is None else get_format(weight_format, "weight_format")
        self.activation_format = None if activation_format is None else get_format(activation_format,
                                                                                    "activation_format")
        self.layers = [
            Dense(_storage_array(np.asarray(l.w, dtype=np.float64), self.weight_format) if self.weight_format
                  else np.asarray(l.w),
                  None if l.b is None else (_storage_array(np.asarray(l.b, dtype=np.float64), self.weight_format)
                                            if self.weight_format else np.asarray(l.b)),
                  l.activation, l.alpha)
            for l in layers
        ]

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_prepared", None)  # packed panels are remade where the network is unpickled
        return state

    def prepared(self, k: int) -> PreparedLinear:
        """Layer k's W and b packed once (every run, batch and tau reuses it); remade if the
        layer's arrays were replaced."""
        cache = self.__dict__.setdefault("_prepared", {})
        layer = self.layers[k]
        entry = cache.get(k)
        if entry is None or entry[0] is not layer.w or entry[1] is not layer.b:
            entry = (layer.w, layer.b, PreparedLinear(layer.w, layer.b))
            cache[k] = entry
        return entry[2]

    def input_formats(self, x) -> List[Optional[Format]]:
        """The storage format of each layer's input: x's own (fp32 for float32 data, else fp64),
        then the activation format (None: fp64)."""
        first = _array_format(np.asarray(x))
        return [first] + [self.activation_format] * (len(self.layers) - 1)

    @property
    def shapes(self) -> List[tuple]:
        """(in_features, out_features) of every layer."""
        return [(l.w.shape[1], l.w.shape[0]) for l in self.layers]

    def __repr__(self) -> str:
        dims = [self.shapes[0][0]] + [m for _, m in self.shapes]
        acts = ",".join(l.activation for l in self.layers)
        wf = self.weight_format.name if self.weight_format else None
        af = self.activation_format.name if self.activation_format else None
        return f"MLP({self.name!r}, {'-'.join(map(str, dims))}, activations={acts}, weights={wf}, activations_in={af})"

    def run(self, x, policy: PolicyLike, *, keep_kappa: bool = False, threads: Optional[int] = None,
            activation_format: Optional[FormatLike] = "default", cache: Optional[dict] = None) -> RunResult:
        """Logits of x (batch, in) under ``policy`` (one for all layers or one per layer).

        cache: a dict kept across calls on the same ``x`` (a tau sweep): the first layer's
        rung-0 pass is computed once per low format and estimator and reused; the results
        are identical.
        """
        policies = per_layer(policy, len(self.layers))
        act_fmt = self.activation_format if activation_format == "default" else (
            None if activation_format is None else get_format(activation_format))
        h = np.asarray(x)
        if h.ndim != 2 or h.shape[1] != self.shapes[0][0]:
            raise ValueError(f"x must have shape (batch, {self.shapes[0][0]}), got {h.shape}")
        stats: List[LayerStats] = []
        for k, (layer, p) in enumerate(zip(self.layers, policies)):
            weights = self.prepared(k)
            if isinstance(p, Uniform):
                options = p.layer_options(threads)
                z = matmul(h, weights, None, options=options)
                y = activate(layer.activation, z, layer.alpha)
                stats.append(LayerStats(p.label(), [options.acc.name], [z.size], [1.0], 0.0, float("nan"),
                                        float("nan")))
            else:
                options = p.layer_options(layer.activation, layer.alpha, threads)
                fp = None
                if cache is not None and k == 0:
                    key = (id(x), first_pass_key(options))
                    entry = cache.get(key)
                    if entry is None or entry[0] is not x:
                        entry = (x, first_pass(h, weights, None, options=options))
                        cache[key] = entry
                    fp = entry[1]
                r = ladder_linear(h, weights, None, options=options, first_pass=fp, **p.decision())
                y = r.y
                counts = np.bincount(r.rung.reshape(-1), minlength=len(r.formats))
                finite = r.err_est[np.isfinite(r.err_est)]
                stats.append(LayerStats(p.label(), [f.name for f in r.formats], counts.tolist(),
                                        (counts / max(r.rung.size, 1)).tolist(), r.fraction_high,
                                        float(finite.max()) if finite.size else float("nan"),
                                        float(finite.mean()) if finite.size else float("nan"), r.seconds,
                                        r.kappa if keep_kappa else None))
            last = k == len(self.layers) - 1
            h = y if last else _storage_array(y, act_fmt)
        return RunResult(np.asarray(h, dtype=np.float64), stats)

    def reference_logits(self, x, threads: Optional[int] = None) -> np.ndarray:
        """The fp64 reference: fp64 accumulation, activations kept in fp64."""
        return self.run(x, Uniform("fp64"), threads=threads, activation_format=None).logits

    def evaluate(self, x, y, policy: PolicyLike, *, reference_logits: Optional[np.ndarray] = None,
                 cost_reference: Optional[FormatLike] = None, cost_table: CostTable = None,
                 threads: Optional[int] = None, cache: Optional[dict] = None) -> Evaluation:
        """Run ``policy`` on (x, y) and compare with the fp64 reference run.

        cost_reference: the format whose uniform run has relative cost 1 (default: the most
        precise format the policy uses).
        """
        labels = np.asarray(y)
        if labels.shape != (len(x),):
            raise ValueError(f"y must have shape ({len(x)},), got {labels.shape}")
        policies = per_layer(policy, len(self.layers))
        ref = self.reference_logits(x, threads) if reference_logits is None else reference_logits
        result = self.run(x, policies, threads=threads, cache=cache)
        pred, pred_ref = predictions(result.logits), predictions(ref)
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.linalg.norm(result.logits - ref, axis=1) / np.linalg.norm(ref, axis=1)
        rel = np.where(np.isnan(rel), np.inf, rel)
        batch = len(x)
        cost = sum(layer_cost(p, batch, n, m, s.counts, cost_table)
                   for p, (n, m), s in zip(policies, self.shapes, result.layers))
        if cost_reference is None:
            cost_reference = min((f for p in policies for f in p.formats()), key=lambda f: f.u)
        ref_fmt = get_format(cost_reference, "cost_reference")
        total = sum(batch * m for _, m in self.shapes)
        high = sum(sum(s.counts[1:]) for s in result.layers)
        label = policies[0].label() if len(set(policies)) == 1 else " | ".join(p.label() for p in policies)
        inputs = self.input_formats(x)
        weights = self.weight_format if self.weight_format is not None else _array_format(self.layers[0].w)
        energy = sum(layer_energy_pj(p, batch, n, m, s.counts, weights, a)
                     for p, (n, m), s, a in zip(policies, self.shapes, result.layers, inputs))
        energy_ref = uniform_energy_pj(ref_fmt, batch, self.shapes, weights, inputs)
        return Evaluation(
            policy=label, n=batch, accuracy=float(np.mean(pred == labels)), agreement=float(np.mean(pred == pred_ref)),
            logits_rel_err_mean=float(np.mean(rel)), logits_rel_err_max=float(np.max(rel)),
            fraction_high=high / total, fraction_high_per_layer=[s.fraction_high for s in result.layers],
            fractions_per_layer=[s.fractions for s in result.layers], cost=cost,
            relative_cost=cost / uniform_cost(ref_fmt, batch, self.shapes, cost_table), cost_reference=ref_fmt.name,
            energy_pj=energy, relative_energy=energy / energy_ref)
