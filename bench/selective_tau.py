"""Fraction recomputed and error versus tau for one random 784 -> 512 layer.

fp8_e4m3 low, fp16 high; ReLU and tanh; every estimator. Writes
bench/results/selective_tau.json and prints a table.

    python bench/selective_tau.py [--batch 64] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import time

import numpy as np

import mpcore

TAUS = [1.0, 0.3, 0.1, 0.03, 0.01, 1e-3, 1e-4]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(pathlib.Path(__file__).parent / "results" / "selective_tau.json"))
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    x = rng.random((args.batch, 784)).astype(np.float32)  # MNIST-like inputs in [0, 1)
    w = (rng.standard_normal((512, 784)) / math.sqrt(784)).astype(np.float32)
    b = (rng.standard_normal(512) * 0.1).astype(np.float32)
    z_exact = x.astype(np.float64) @ w.T.astype(np.float64) + b

    rows = []
    for activation in ("relu", "tanh"):
        y_exact = mpcore.activate(activation, z_exact)
        nz = y_exact != 0
        variants = [(e, False) for e in mpcore.ESTIMATORS]
        if activation == "relu":
            variants.append(("fp32", True))  # the paper's rule plus guard_sign
        for estimator, guard in variants:
            for tau in TAUS:
                t0 = time.perf_counter()
                r = mpcore.selective_linear(x, w, b, low="fp8_e4m3", high="fp16", tau=tau,
                                            activation=activation, estimator=estimator, guard_sign=guard)
                seconds = time.perf_counter() - t0
                rel = np.abs(r.y - y_exact)[nz] / np.abs(y_exact[nz])
                kept = (~r.high)[nz]
                rows.append({
                    "activation": activation, "estimator": estimator + (" +guard" if guard else ""), "tau": tau,
                    "fraction_high": r.fraction_high,
                    "max_rel_err": float(rel.max()),
                    "median_rel_err": float(np.median(rel)),
                    "max_rel_err_kept_low": float(rel[kept].max()) if kept.any() else 0.0,
                    "normwise_rel_err": float(np.linalg.norm(r.y - y_exact) / np.linalg.norm(y_exact)),
                    "bound_tightness_median": float(np.median(np.abs(r.z - z_exact) / r.bound)),
                    "seconds": seconds,
                })
        for fmt in ("fp8_e4m3", "fp16"):
            y = mpcore.activate(activation, mpcore.matmul(x, w, b, acc=fmt))
            rel = np.abs(y - y_exact)[nz] / np.abs(y_exact[nz])
            rows.append({"activation": activation, "estimator": f"uniform {fmt}", "tau": None,
                         "fraction_high": 1.0 if fmt == "fp16" else 0.0, "max_rel_err": float(rel.max()),
                         "median_rel_err": float(np.median(rel)), "max_rel_err_kept_low": None,
                         "normwise_rel_err": float(np.linalg.norm(y - y_exact) / np.linalg.norm(y_exact)),
                         "bound_tightness_median": None, "seconds": None})

    print(f"784 -> 512 layer, batch {args.batch}, fp8_e4m3 low / fp16 high (relative errors of y vs fp64)")
    print(f"{'act':<5} {'estimator':<16} {'tau':>7} {'frac high':>9} {'max rel':>10} {'median rel':>10} "
          f"{'max kept':>10} {'normwise':>10}")
    for r in rows:
        tau = "" if r["tau"] is None else f"{r['tau']:.0e}"
        kept = "" if r["max_rel_err_kept_low"] is None else f"{r['max_rel_err_kept_low']:.2e}"
        print(f"{r['activation']:<5} {r['estimator']:<16} {tau:>7} {r['fraction_high']:>9.3f} "
              f"{r['max_rel_err']:>10.2e} {r['median_rel_err']:>10.2e} {kept:>10} {r['normwise_rel_err']:>10.2e}")
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"batch": args.batch, "seed": args.seed, "rows": rows}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
