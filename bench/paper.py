"""Reproduce the paper: tau sweeps on MNIST and Fashion-MNIST, ReLU and tanh networks.

fp8_e4m3 low, fp16 high, tau from 1 down to 1e-4 (with the authors' tolerance values),
the full 10,000-image test sets, the networks of bench/models/ (bench/train.py).
Writes bench/results/paper_<network>.{csv,json,png} and _kappa.png, and a summary
bench/results/paper_summary.md.

    MPCORE_DATA=../shared/data python bench/paper.py [--limit N] [--estimator fp32]
"""

from __future__ import annotations

import argparse
import pathlib
import time

import mpcore

from trained import HERE, networks_with_test_sets  # noqa: E402 (bench/ is the script's folder)
# 1 down to 1e-4, including the tolerances 0.5, 0.1, 0.05, 0.01 used by the authors.
TAUS = [1.0, 0.5, 0.1, 0.05, 0.01, 1e-3, 1e-4]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N test images")
    ap.add_argument("--estimator", default="fp32", choices=mpcore.ESTIMATORS)
    ap.add_argument("--out", default=str(HERE / "results"))
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = ["# Paper reproduction: fp8_e4m3 low, fp16 high", "",
               f"Estimator `{args.estimator}`, factor c(n) = 1. Relative cost: MACs weighted by storage bits, "
               "estimator included, relative to uniform fp16 (bench/paper.py).", ""]
    for _, net, x, y in networks_with_test_sets(args.limit):
        t0 = time.perf_counter()
        result = mpcore.sweep(net, x, y, "fp8_e4m3", "fp16", TAUS, estimator=args.estimator, progress=True)
        seconds = time.perf_counter() - t0
        stem = f"paper_{net.name}" + ("" if args.estimator == "fp32" else f"_{args.estimator}")
        result.to_csv(out / f"{stem}.csv")
        result.to_json(out / f"{stem}.json")
        try:
            from mpcore.app import plot

            plot.cost_accuracy(result, out / f"{stem}.png")
            plot.kappa_histogram(result, out / f"{stem}_kappa.png")
        except ImportError as exc:
            print(f"no plots: {exc}")
        print(result.table())
        print(f"{net.name}: {seconds:.1f} s on {len(x)} images")
        summary += [f"## {net.name} ({len(x)} test images, {seconds:.0f} s)", "",
                    "| policy | tau | accuracy | agreement with fp64 | recomputed | relative cost |",
                    "|---|---|---|---|---|---|"]
        for r in result.rows:
            tau = "" if r["tau"] is None else f"{r['tau']:g}"
            summary.append(f"| {r['label']} | {tau} | {r['accuracy']:.4f} | {r['agreement']:.4f} | "
                           f"{r['fraction_high']:.4f} | {r['relative_cost']:.3f} |")
        summary.append("")
    (out / f"paper_summary{'' if args.estimator == 'fp32' else '_' + args.estimator}.md").write_text(
        "\n".join(summary) + "\n")


if __name__ == "__main__":
    main()
