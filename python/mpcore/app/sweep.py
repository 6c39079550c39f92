"""tau sweeps: the uniform baselines and the selective layer at each tau, as a table."""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..networks.cost import CostTable
from ..formats import FormatLike, get as get_format
from ..networks.mlp import MLP
from ..networks.policy import Policy, Selective, Uniform

COLUMNS = ["label", "kind", "tau", "accuracy", "agreement", "fraction_high", "relative_cost", "relative_energy",
           "logits_rel_err_mean", "logits_rel_err_max", "fraction_high_per_layer", "seconds"]


@dataclass
class SweepResult:
    network: str
    low: str
    high: str
    estimator: str
    factor: str
    n: int
    rows: List[Dict] = field(default_factory=list)
    kappa: List[np.ndarray] = field(default_factory=list)  #: per layer, from one selective run
    kappa_tau: Optional[float] = None

    def to_csv(self, path=None) -> str:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=COLUMNS)
        writer.writeheader()
        for row in self.rows:
            writer.writerow({k: (json.dumps(row[k]) if isinstance(row[k], list) else row[k]) for k in COLUMNS})
        text = buf.getvalue()
        if path is not None:
            with open(path, "w", newline="") as fh:
                fh.write(text)
        return text

    def to_json(self, path=None) -> str:
        data = {"network": self.network, "low": self.low, "high": self.high, "estimator": self.estimator,
                "factor": self.factor, "n": self.n, "rows": self.rows}
        text = json.dumps(data, indent=1)
        if path is not None:
            with open(path, "w") as fh:
                fh.write(text)
        return text

    def table(self) -> str:
        lines = [f"{self.network}: {self.n} samples, low {self.low}, high {self.high}, estimator {self.estimator}, "
                 f"factor {self.factor}; cost relative to uniform {self.high}",
                 f"{'policy':<22} {'tau':>8} {'accuracy':>9} {'agree':>7} {'recomputed':>10} {'rel. cost':>9} "
                 f"{'rel. energy':>11} {'logit err':>10}"]
        for r in self.rows:
            tau = "" if r["tau"] is None else f"{r['tau']!r}"  # as given: 0.15 stays 0.15
            lines.append(f"{r['label']:<22} {tau:>8} {r['accuracy']:>9.4f} {r['agreement']:>7.4f} "
                         f"{r['fraction_high']:>10.4f} {r['relative_cost']:>9.3f} {r.get('relative_energy', float('nan')):>11.3f} "
                         f"{r['logits_rel_err_mean']:>10.2e}")
        lines.append("agree: fraction of samples whose predicted class equals the fp64 run's; logit err: mean over "
                     "samples of ||logits - logits_fp64|| / ||logits_fp64||; recomputed: fraction of inner products "
                     f"recomputed in {self.high}; rel. cost: MACs weighted by storage bits (mpcore.networks.cost), rel. "
                     "energy: per-operation energies at 45 nm (mpcore.networks.energy), both against uniform "
                     f"{self.high} and with the estimator included")
        return "\n".join(lines)


class _Progress:
    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled, self.done, self.start = total, enabled, 0, time.perf_counter()

    def step(self, label: str) -> None:
        self.done += 1
        if self.enabled:
            width = 24
            filled = int(width * self.done / self.total)
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {label:<30} "
                             f"{time.perf_counter() - self.start:6.1f}s")
            if self.done == self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()


def evaluate_point(net: MLP, x, y, policy: Policy, reference_logits, cost_reference, cost_table, threads,
                   cache: Optional[dict] = None) -> Dict:
    """One sweep point (a top-level function, so process pools can run it)."""
    t0 = time.perf_counter()
    e = net.evaluate(x, y, policy, reference_logits=reference_logits, cost_reference=cost_reference,
                     cost_table=cost_table, threads=threads, cache=cache)
    return {"label": e.policy if isinstance(policy, Uniform) else f"selective {policy.estimator}",
            "kind": "uniform" if isinstance(policy, Uniform) else "selective",
            "tau": None if isinstance(policy, Uniform) else policy.tau,
            "accuracy": e.accuracy, "agreement": e.agreement, "fraction_high": e.fraction_high,
            "relative_cost": e.relative_cost, "relative_energy": e.relative_energy, "logits_rel_err_mean": e.logits_rel_err_mean,
            "logits_rel_err_max": e.logits_rel_err_max, "fraction_high_per_layer": e.fraction_high_per_layer,
            "seconds": time.perf_counter() - t0}


def sweep(net: MLP, x, y, low: FormatLike, high: FormatLike, taus: Sequence[float], *, estimator: str = "fp32",
          factor: str = "1", guard_sign: bool = False, baselines: Optional[Sequence[FormatLike]] = None,
          executor: Optional[Executor] = None, progress: Optional[bool] = None, cost_table: CostTable = None,
          threads: Optional[int] = None, kappa_tau: Optional[float] = None) -> SweepResult:
    """Evaluate the uniform baselines (low, high, fp32 by default) and Selective(low, high, tau)
    for each tau. Relative cost is against uniform ``high``. With an ``executor``
    (concurrent.futures, e.g. a process pool or a Dask client's), points run there; results
    are identical to a serial run. ``progress`` shows a bar (default: when stderr is a TTY).
    """
    low_f, high_f = get_format(low, "low"), get_format(high, "high")
    taus = [float(t) for t in taus]
    if not taus:
        raise ValueError("taus must not be empty")
    if any(not (t >= 0) for t in taus):
        raise ValueError("every tau must be >= 0")
    if baselines is None:
        baselines = [low_f, high_f, "fp32"]
    base_fmts = []
    for f in baselines:
        g = get_format(f, "baselines")
        if g not in base_fmts:
            base_fmts.append(g)
    policies: List[Policy] = [Uniform(f) for f in base_fmts]
    policies += [Selective(low_f, high_f, t, estimator=estimator, factor=factor, guard_sign=guard_sign) for t in taus]
    x = np.asarray(x)
    reference = net.reference_logits(x, threads)
    show = sys.stderr.isatty() if progress is None else progress
    bar = _Progress(len(policies) + 1, show)
    if executor is None:
        # Serial points share the first layer's low-precision pass (identical results).
        cache: dict = {}
        rows = []
        for p in policies:
            rows.append(evaluate_point(net, x, y, p, reference, high_f, cost_table, threads, cache))
            bar.step(p.label())
    else:
        futures = [executor.submit(evaluate_point, net, x, y, p, reference, high_f, cost_table, threads)
                   for p in policies]
        rows = []
        try:
            for p, fut in zip(policies, futures):
                rows.append(fut.result())
                bar.step(p.label())
        except BaseException:  # Ctrl-C or a failed point: drop the work not started yet
            for fut in futures:
                fut.cancel()
            raise
    result = SweepResult(net.name, low_f.name, high_f.name, estimator, factor, len(x), rows)
    result.kappa_tau = taus[len(taus) // 2] if kappa_tau is None else float(kappa_tau)
    run = net.run(x, Selective(low_f, high_f, result.kappa_tau, estimator=estimator, factor=factor,
                               guard_sign=guard_sign), keep_kappa=True, threads=threads,
                  cache=cache if executor is None else None)
    result.kappa = [s.kappa for s in run.layers]
    bar.step("kappa histogram")
    return result
