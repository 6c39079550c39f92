"""Does the kappa rule beat cheap alternatives? Every score at equal budget.

For each network of bench/models/ (fp8_e4m3 low, fp16 high, the same as bench/paper.py),
every score of mpcore.scores picks the same number of components per row of every layer
to recompute (budget = 0 to 50 %), and the authors' own rule (QLinearMP: score="authors")
runs at their tolerances. Reported against the fp64 reference: accuracy, agreement of the
predictions, mean relative logit error, and relative cost (storage-bits model, uniform
fp16 = 1). "random" is the mean over 4 seeds (and its spread).

    MPCORE_DATA=../shared/data python bench/equal_budget.py [--limit N]

Writes bench/results/equal_budget.{csv,json,md} and equal_budget.png.
"""

from __future__ import annotations

import argparse
import csv
import json
import pathlib
import time

import numpy as np

import mpcore
from mpcore import datasets
from mpcore.networks.plan import plan_policies, static_plan

from trained import HERE, networks_with_test_sets, normalize  # noqa: E402 (bench/ is the script's folder)
BUDGETS = [0.0, 0.05, 0.1, 0.2, 0.3, 0.5]
SCORES = ["kappa", "margin", "authors", "magnitude", "random", "oracle", "static plan"]
PLAN_IMAGES = 5000  # training images the static plan is chosen on
RANDOM_SEEDS = [0, 1, 2, 3]
AUTHORS_TOLS = [1.0, 0.5, 0.3, 0.1]


def evaluate(net, x, y, ref, policy):
    ev = net.evaluate(x, y, policy, reference_logits=ref, cost_reference="fp16")
    return {"accuracy": ev.accuracy, "agreement": ev.agreement, "logit_err": ev.logits_rel_err_mean,
            "fraction_high": ev.fraction_high, "relative_cost": ev.relative_cost}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N test images")
    ap.add_argument("--normalized", action="store_true",
                    help="the networks trained on normalised inputs (train.py --normalize); results *_normalized.*")
    ap.add_argument("--out", default=str(HERE / "results"))
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    suffix = "_normalized" if args.normalized else ""
    for dataset, net, x, y in networks_with_test_sets(args.limit, args.normalized):
        t0 = time.perf_counter()
        ref = net.reference_logits(x)
        base = {"network": net.name, "images": len(x)}
        for fmt in ("fp8_e4m3", "fp16"):
            rows.append({**base, "score": f"uniform {fmt}", "budget": None, "tol": None,
                         **evaluate(net, x, y, ref, mpcore.Uniform(fmt))})
        x_train = datasets.load(dataset, "train")[0][:PLAN_IMAGES]
        if args.normalized:
            x_train = normalize(dataset, x_train)
        for budget in BUDGETS:
            plan = plan_policies(static_plan(net, x_train, "fp8_e4m3", "fp16", budget), "fp8_e4m3", "fp16")
            rows.append({**base, "score": "static plan", "budget": budget, "tol": None,
                         **evaluate(net, x, y, ref, plan)})
            for score in SCORES[:-1]:
                seeds = RANDOM_SEEDS if score == "random" else [0]
                runs = [evaluate(net, x, y, ref, mpcore.Selective("fp8_e4m3", "fp16", budget=budget, score=score,
                                                                  score_seed=s)) for s in seeds]
                row = {**base, "score": score, "budget": budget, "tol": None}
                for key in runs[0]:
                    values = [r[key] for r in runs]
                    row[key] = float(np.mean(values))
                    if len(runs) > 1:
                        row[key + "_min"], row[key + "_max"] = float(np.min(values)), float(np.max(values))
                rows.append(row)
        for tol in AUTHORS_TOLS:
            rows.append({**base, "score": "authors (tol)", "budget": None, "tol": tol,
                         **evaluate(net, x, y, ref, mpcore.Selective("fp8_e4m3", "fp16", tau=tol, score="authors"))})
        for tau in (1.0, 0.5, 0.1):
            rows.append({**base, "score": "kappa (tau)", "budget": None, "tol": tau,
                         **evaluate(net, x, y, ref, mpcore.Selective("fp8_e4m3", "fp16", tau=tau))})
        print(f"{net.name}: {time.perf_counter() - t0:.1f} s on {len(x)} images", flush=True)

    keys = sorted({k for r in rows for k in r}, key=lambda k: list(rows[0]).index(k) if k in rows[0] else 99)
    with open(out / f"equal_budget{suffix}.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    (out / f"equal_budget{suffix}.json").write_text(json.dumps(rows, indent=1))
    (out / f"equal_budget{suffix}.md").write_text(summary(rows))
    print(summary(rows))
    try:
        plot(rows, out / f"equal_budget{suffix}.png")
    except ImportError as exc:
        print(f"no plot: {exc}")


def summary(rows) -> str:
    lines = ["# Equal-budget comparison: fp8_e4m3 low, fp16 high (bench/equal_budget.py)", ""]
    for name in dict.fromkeys(r["network"] for r in rows):
        net_rows = [r for r in rows if r["network"] == name]
        lines += [f"## {name} ({net_rows[0]['images']} test images)", "",
                  "Mean relative logit error against fp64 (agreement of predictions in parentheses) "
                  "at each budget; random: mean of 4 seeds.", "",
                  "| budget | " + " | ".join(SCORES) + " |", "|---" * (len(SCORES) + 1) + "|"]
        for budget in BUDGETS:
            cells = []
            for score in SCORES:
                r = next(r for r in net_rows if r["score"] == score and r["budget"] == budget)
                cells.append(f"{r['logit_err']:.4f} ({r['agreement']:.4f})")
            lines.append(f"| {budget:.0%} | " + " | ".join(cells) + " |")
        lines += ["", "| rule | recomputed | accuracy | agreement | logit err | relative cost |", "|---|---|---|---|---|---|"]
        for r in net_rows:
            if r["budget"] is None:
                label = r["score"] if r["tol"] is None else f"{r['score']} {r['tol']:g}"
                lines.append(f"| {label} | {r['fraction_high']:.3f} | {r['accuracy']:.4f} | {r['agreement']:.4f} | "
                             f"{r['logit_err']:.4f} | {r['relative_cost']:.3f} |")
        lines.append("")
    return "\n".join(lines)


def plot(rows, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(r["network"] for r in rows))
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.6), squeeze=False)
    for ax, name in zip(axes[0], names):
        for score in SCORES:
            pts = sorted((r["budget"], r["logit_err"]) for r in rows
                         if r["network"] == name and r["score"] == score and r["budget"] is not None)
            ax.plot([100 * b for b, _ in pts], [e for _, e in pts], marker="o", ms=3, label=score)
        ax.set_yscale("log")
        ax.set_title(name)
        ax.set_xlabel("recomputed per row (%)")
        ax.set_ylabel("mean relative logit error vs fp64")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
