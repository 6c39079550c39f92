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

import argparse
import json
import pathlib
import time

import numpy as np
import torch

import mpcore
from mpcore import datasets
from mpcore.networks import torch as mt

HERE = pathlib.Path(__file__).parent


def make_cnn() -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(8, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(256, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))


def trained(dataset: str) -> torch.nn.Module:
    path = HERE / "models" / f"cnn_{dataset}.pt"
    model = make_cnn()
    if path.exists():
        model.load_state_dict(torch.load(path))
        return model.eval()
    torch.manual_seed(0)
    x, y = datasets.load(dataset, "train")
    x = torch.from_numpy(np.asarray(x, dtype=np.float32).reshape(-1, 1, 28, 28))
    y = torch.from_numpy(np.asarray(y, dtype=np.int64))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    order = torch.randperm(len(x))
    for start in range(0, len(x), 64):
        idx = order[start:start + 64]
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
    torch.save(model.state_dict(), path)
    return model.eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=1000)
    ap.add_argument("--out", default=str(HERE / "results"))
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    policies = [("uniform fp8_e4m3", mpcore.Uniform("fp8_e4m3")), ("uniform bf16", mpcore.Uniform("bf16")),
                ("uniform fp16", mpcore.Uniform("fp16")), ("uniform fp32", mpcore.Uniform("fp32")),
                ("kappa tau=1", mpcore.Selective("fp8_e4m3", "fp16", tau=1.0, estimator="norm")),
                ("kappa tau=0.1", mpcore.Selective("fp8_e4m3", "fp16", tau=0.1, estimator="norm")),
                ("kappa budget 20%", mpcore.Selective("fp8_e4m3", "fp16", budget=0.2, estimator="norm")),
                ("margin budget 20%", mpcore.Selective("fp8_e4m3", "fp16", budget=0.2, score="margin",
                                                       estimator="norm")),
                ("random budget 20%", mpcore.Selective("fp8_e4m3", "fp16", budget=0.2, score="random"))]
    rows = []
    for dataset in ("mnist", "fashion-mnist"):
        t0 = time.perf_counter()
        model = trained(dataset)
        trained_s = time.perf_counter() - t0
        x, y = datasets.load(dataset, "test")
        x = torch.from_numpy(np.asarray(x[: args.limit], dtype=np.float32).reshape(-1, 1, 28, 28))
        y = np.asarray(y[: args.limit])
        with torch.no_grad():
            ref = mt.convert(model.double(), mpcore.Uniform("fp64"))(x.double()).numpy()
            torch_f32 = model.float()(x).numpy()
        model = model.float()
        base = {"dataset": dataset, "images": len(y), "train_or_load_seconds": trained_s,
                "torch_float32_accuracy": float(np.mean(np.argmax(torch_f32, 1) == y))}
        for label, policy in policies:
            sim = mt.convert(model, policy)
            t = time.perf_counter()
            logits = sim(x).double().numpy()
            seconds = time.perf_counter() - t
            layers = mt.report(sim)
            total = sum(r["components"] for r in layers)
            rows.append({**base, "policy": label, "accuracy": float(np.mean(np.argmax(logits, 1) == y)),
                         "agreement": float(np.mean(np.argmax(logits, 1) == np.argmax(ref, 1))),
                         "logit_err": float(np.mean(np.linalg.norm(logits - ref, axis=1) / np.linalg.norm(ref, axis=1))),
                         "fraction_recomputed": sum(r["fraction_recomputed"] * r["components"] for r in layers) / total,
                         "per_layer_recomputed": [round(r["fraction_recomputed"], 4) for r in layers],
                         "activations": [r["activation"] for r in layers], "seconds": seconds})
            print(f"{dataset:<14} {label:<20} acc {rows[-1]['accuracy']:.4f} agree {rows[-1]['agreement']:.4f} "
                  f"logit err {rows[-1]['logit_err']:.4f} recomputed {rows[-1]['fraction_recomputed']:.3f} "
                  f"{seconds:.1f} s", flush=True)
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
