"""Plots of a sweep (matplotlib is an optional extra: pip install "mpcore[plot]")."""

from __future__ import annotations

import math

import numpy as np

from .. import formats
from .sweep import SweepResult


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError('plots need matplotlib: pip install "mpcore[plot]"') from exc
    return plt


def cost_accuracy(result: SweepResult, path) -> None:
    """Accuracy against relative cost (left) and the fraction recomputed against tau (right)."""
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    sel = [r for r in result.rows if r["kind"] == "selective"]
    ax1.plot([r["relative_cost"] for r in sel], [r["accuracy"] for r in sel], "o-", label="selective")
    for r in sel:
        ax1.annotate(f"{r['tau']:g}", (r["relative_cost"], r["accuracy"]), fontsize=7,
                     textcoords="offset points", xytext=(3, 3))
    for r in result.rows:
        if r["kind"] == "uniform":
            ax1.plot(r["relative_cost"], r["accuracy"], "s", label=r["label"])
    ax1.set_xlabel(f"relative cost (uniform {result.high} = 1)")
    ax1.set_ylabel("accuracy")
    ax1.set_title(f"{result.network}: {result.low} low, {result.high} high")
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3)
    taus = [r["tau"] for r in sel]
    ax2.semilogx([max(t, 1e-12) for t in taus], [r["fraction_high"] for r in sel], "o-", label="recomputed")
    ax2.semilogx([max(t, 1e-12) for t in taus], [1 - r["agreement"] for r in sel], "^-",
                 label="predictions differing from fp64")
    ax2.set_xlabel("tau")
    ax2.set_ylabel("fraction")
    ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def kappa_histogram(result: SweepResult, path) -> None:
    """Histogram of log10 kappa per layer, with the recompute threshold tau / u_low."""
    plt = _pyplot()
    layers = len(result.kappa)
    fig, axes = plt.subplots(1, layers, figsize=(4 * layers, 3.4), squeeze=False)
    u = formats.get(result.low).u
    for k, (ax, kappa) in enumerate(zip(axes[0], result.kappa)):
        vals = kappa[np.isfinite(kappa) & (kappa > 0)]
        zero = np.mean(kappa == 0) if kappa.size else 0.0
        if vals.size:
            ax.hist(np.log10(vals), bins=60, color="tab:blue", alpha=0.8)
        if result.kappa_tau:
            ax.axvline(math.log10(result.kappa_tau / u), color="tab:red", ls="--", label=f"tau/u_low (tau={result.kappa_tau:g})")
        ax.set_title(f"layer {k}: {zero:.0%} kappa=0, {np.mean(np.isinf(kappa)):.1%} inf", fontsize=9)
        ax.set_xlabel("log10 kappa_phi * kappa_v")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
