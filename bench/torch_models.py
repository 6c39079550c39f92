"""What bench/cnn.py and bench/transformer.py share: the policies compared, the test images,
the fp64 reference and the scores of a run."""

from __future__ import annotations

import numpy as np
import torch

import mpcore
from mpcore import datasets
from mpcore.networks import torch as mt

POLICIES = [("uniform fp8_e4m3", mpcore.Uniform("fp8_e4m3")), ("uniform bf16", mpcore.Uniform("bf16")),
            ("uniform fp16", mpcore.Uniform("fp16")), ("uniform fp32", mpcore.Uniform("fp32")),
            ("kappa tau=1", mpcore.Selective("fp8_e4m3", "fp16", tau=1.0, estimator="norm")),
            ("kappa tau=0.1", mpcore.Selective("fp8_e4m3", "fp16", tau=0.1, estimator="norm")),
            ("kappa budget 20%", mpcore.Selective("fp8_e4m3", "fp16", budget=0.2, estimator="norm")),
            ("margin budget 20%", mpcore.Selective("fp8_e4m3", "fp16", budget=0.2, score="margin",
                                                   estimator="norm")),
            ("random budget 20%", mpcore.Selective("fp8_e4m3", "fp16", budget=0.2, score="random"))]


def test_images(dataset: str, limit: int):
    """The first ``limit`` test images as a float32 (N, 1, 28, 28) tensor, and their labels."""
    x, y = datasets.load(dataset, "test")
    return torch.from_numpy(np.asarray(x[:limit], dtype=np.float32).reshape(-1, 1, 28, 28)), np.asarray(y[:limit])


def reference(model, x, y, dataset: str, trained_seconds: float):
    """The float32 model, the fp64-accumulated logits, and the rows' common fields."""
    with torch.no_grad():
        ref = mt.convert(model.double(), mpcore.Uniform("fp64"))(x.double()).numpy()
        torch_f32 = model.float()(x).numpy()
    base = {"dataset": dataset, "images": len(y), "train_or_load_seconds": trained_seconds,
            "torch_float32_accuracy": float(np.mean(np.argmax(torch_f32, 1) == y))}
    return model.float(), ref, base


def scores(logits, y, ref) -> dict:
    """Accuracy, agreement with the fp64 run, and the mean relative logit error."""
    return {"accuracy": float(np.mean(np.argmax(logits, 1) == y)),
            "agreement": float(np.mean(np.argmax(logits, 1) == np.argmax(ref, 1))),
            "logit_err": float(np.mean(np.linalg.norm(logits - ref, axis=1) / np.linalg.norm(ref, axis=1)))}


def cached_training(model, path, dataset: str, optimizer, epochs: int, batch: int):
    """model trained on the dataset's training split (cross-entropy; seed 0 for the order),
    or loaded from path, where the trained state is cached."""
    if path.exists():
        model.load_state_dict(torch.load(path))
        return model.eval()
    torch.manual_seed(0)
    x, y = datasets.load(dataset, "train")
    x = torch.from_numpy(np.asarray(x, dtype=np.float32).reshape(-1, 1, 28, 28))
    y = torch.from_numpy(np.asarray(y, dtype=np.int64))
    opt = optimizer(model.parameters())
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for start in range(0, len(x), batch):
            idx = order[start:start + batch]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    torch.save(model.state_dict(), path)
    return model.eval()


def test_sets(trained, limit: int):
    """For MNIST and Fashion-MNIST: the float32 model trained(dataset), the test images and
    labels, the fp64-accumulated logits and the rows' common fields."""
    import time

    for dataset in ("mnist", "fashion-mnist"):
        t0 = time.perf_counter()
        model = trained(dataset)
        x, y = test_images(dataset, limit)
        model, ref, base = reference(model, x, y, dataset, time.perf_counter() - t0)
        yield model, x, y, ref, base


def arguments(doc: str, here):
    """--limit (test images, default 1000) and --out (default bench/results, created)."""
    import argparse
    import pathlib

    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=1000)
    ap.add_argument("--out", default=str(here / "results"))
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    return args, out


def run_policies(trained, limit: int, policies, summarize) -> list:
    """A row per dataset and policy: the model converted under the policy, run on the test
    images, scored against fp64, timed; summarize(report rows) adds the script's own fields."""
    import time

    from mpcore.networks import torch as mt

    rows = []
    for model, x, y, ref, base in test_sets(trained, limit):
        for label, policy in policies:
            sim = mt.convert(model, policy)
            t = time.perf_counter()
            with torch.no_grad():
                logits = sim(x).double().numpy()
            seconds = time.perf_counter() - t
            rows.append({**base, "policy": label, **scores(logits, y, ref), **summarize(mt.report(sim)),
                         "seconds": seconds})
            r = rows[-1]
            print(f"{r['dataset']:<14} {label:<24} acc {r['accuracy']:.4f} agree {r['agreement']:.4f} "
                  f"logit err {r['logit_err']:.4f} {seconds:.1f} s", flush=True)
    return rows
