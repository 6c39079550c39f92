"""Does the selective method hold up beyond MLPs? A small CNN under simulated accumulation.

Trains (on the CPU, once; cached in bench/models/cnn_<dataset>.pt) a CNN with two
convolutions and two linear layers — conv 1->8 5x5, ReLU, max-pool 2, conv 8->16 5x5, ReLU,
max-pool 2, linear 256->64, ReLU, linear 64->10 — on MNIST and Fashion-MNIST (one epoch,
SGD 0.05, momentum 0.9, batch 64, inputs in [0, 1]), then runs the first N test images with
every layer converted by mpcore.networks.torch.convert: uniform fp8_e4m3 / bf16 / fp16 / fp32, the
kappa rule at tau 1 and 0.1, and margin / random / kappa at a 20 % budget (fp8_e4m3 low, fp16
high). Reports accuracy, agreement with the fp64 run, the fraction recomputed, and time.

    MPCORE_DATA=../shared/data python bench/cnn.py [--limit 1000]

Writes bench/results/cnn.{json,md}.
"""

from __future__ import annotations

import json
import pathlib

import torch

from torch_models import POLICIES, arguments, cached_training, run_policies  # noqa: E402 (bench/ is the script's folder)

HERE = pathlib.Path(__file__).parent


def make_cnn() -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(8, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(256, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))


def trained(dataset: str) -> torch.nn.Module:
    return cached_training(make_cnn(), HERE / "models" / f"cnn_{dataset}.pt", dataset,
                           lambda params: torch.optim.SGD(params, lr=0.05, momentum=0.9), epochs=1, batch=64)


def summarize(layers) -> dict:
    total = sum(r["components"] for r in layers)
    return {"fraction_recomputed": sum(r["fraction_recomputed"] * r["components"] for r in layers) / total,
            "per_layer_recomputed": [round(r["fraction_recomputed"], 4) for r in layers],
            "activations": [r["activation"] for r in layers]}


def main() -> None:
    args, out = arguments(__doc__, HERE)
    rows = run_policies(trained, args.limit, POLICIES, summarize)
    (out / "cnn.json").write_text(json.dumps(rows, indent=1))
    lines = ["# A CNN under simulated accumulation (bench/cnn.py)", "",
             "conv 1->8 5x5, ReLU, pool, conv 8->16 5x5, ReLU, pool, linear 256->64, ReLU, linear 64->10; "
             "float32 weights; selective: fp8_e4m3 low, fp16 high, norm estimator.", ""]
    for dataset in ("mnist", "fashion-mnist"):
        r0 = next(r for r in rows if r["dataset"] == dataset)
        lines += [f"## {dataset} ({r0['images']} test images; torch float32 accuracy {r0['torch_float32_accuracy']:.4f})",
                  "", "| policy | accuracy | agreement with fp64 | logit err | recomputed | per layer | seconds |",
                  "|---|---|---|---|---|---|---|"]
        for r in rows:
            if r["dataset"] == dataset:
                lines.append(f"| {r['policy']} | {r['accuracy']:.4f} | {r['agreement']:.4f} | {r['logit_err']:.4f} | "
                             f"{r['fraction_recomputed']:.3f} | {r['per_layer_recomputed']} | {r['seconds']:.1f} |")
        lines.append("")
    (out / "cnn.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
