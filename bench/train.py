"""Train the reference networks (the authors' setup) with NumPy, reproducibly.

MLP 784-784-128-10, ReLU or tanh hidden layers, identity output; SGD lr 0.05,
momentum 0.9, batch 64, 10 epochs, cross-entropy; weights and biases rounded to
fp8_e4m3 in every forward pass (straight-through: gradients update full-precision
master weights); inputs in [0, 1], not rounded, or with --normalize (the authors' setup)
(x - mean) / std of the training pixels, in float32. PyTorch's default Linear
initialisation, U(-1/sqrt(in), 1/sqrt(in)). Fixed seeds.

    MPCORE_DATA=../shared/data python bench/train.py --dataset mnist --activation relu

writes bench/models/<dataset>_<activation>[_normalized].npz (weights as fp8_e4m3 codes).
"""

from __future__ import annotations

import argparse
import pathlib
import time

import numpy as np

import mpcore
from mpcore import datasets, models
from mpcore.networks.mlp import MLP, Dense

from trained import model_path, normalization, normalize  # noqa: E402 (bench/ is the script's folder)

HIDDEN = (784, 128)


def act(name, z):
    return np.maximum(z, 0) if name == "relu" else np.tanh(z)


def act_grad(name, z, a):
    return (z > 0).astype(z.dtype) if name == "relu" else 1 - a * a


def q(a):
    return mpcore.round(a, "fp8_e4m3").astype(np.float32)


def train(dataset: str, activation: str, epochs: int, seed: int, lr: float = 0.05, momentum: float = 0.9,
          batch: int = 64, normalized: bool = False):
    x, y = datasets.load(dataset, "train")
    xt, yt = datasets.load(dataset, "test")
    if normalized:  # the authors' setup: (x - mean) / std of the training pixels
        x, xt = normalize(dataset, x), normalize(dataset, xt)
        print(f"{dataset}: inputs normalised with mean, std = {normalization(dataset)}", flush=True)
    rng = np.random.default_rng(seed)
    dims = (784,) + HIDDEN + (10,)
    params = []
    for n_in, n_out in zip(dims[:-1], dims[1:]):
        bound = 1 / np.sqrt(n_in)
        params.append([rng.uniform(-bound, bound, (n_out, n_in)).astype(np.float32),
                       rng.uniform(-bound, bound, n_out).astype(np.float32)])
    velocity = [[np.zeros_like(w), np.zeros_like(b)] for w, b in params]
    L = len(params)
    for epoch in range(epochs):
        t0 = time.perf_counter()
        order = rng.permutation(len(x))
        total = 0.0
        for start in range(0, len(x), batch):
            idx = order[start:start + batch]
            xb, yb = x[idx], y[idx]
            qp = [(q(w), q(b)) for w, b in params]
            hs, zs = [xb], []
            for k, (w, b) in enumerate(qp):
                z = hs[-1] @ w.T + b
                zs.append(z)
                hs.append(act(activation, z) if k < L - 1 else z)
            logits = hs[-1]
            logits = logits - logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
            total += -np.log(p[np.arange(len(yb)), yb] + 1e-12).sum()
            g = p
            g[np.arange(len(yb)), yb] -= 1
            g /= len(yb)
            for k in range(L - 1, -1, -1):
                gw = g.T @ hs[k]
                gb = g.sum(axis=0)
                if k > 0:
                    g = (g @ qp[k][0]) * act_grad(activation, zs[k - 1], hs[k])
                for j, grad in enumerate((gw, gb)):
                    velocity[k][j] = momentum * velocity[k][j] + grad
                    params[k][j] -= lr * velocity[k][j]
        qp = [(q(w), q(b)) for w, b in params]
        h = xt
        for k, (w, b) in enumerate(qp):
            h = h @ w.T + b
            h = act(activation, h) if k < L - 1 else h
        acc = np.mean(np.argmax(h, axis=1) == yt)
        print(f"{dataset} {activation} epoch {epoch + 1}: loss {total / len(x):.4f}, "
              f"test accuracy (fp32, fp8 weights) {acc:.4f}, {time.perf_counter() - t0:.1f}s", flush=True)
    layers = [Dense(q(w).astype(np.float64), q(b).astype(np.float64), activation if k < L - 1 else "identity")
              for k, (w, b) in enumerate(params)]
    name = f"{dataset}_{activation}{'_normalized' if normalized else ''}"
    return MLP(layers, weight_format="fp8_e4m3", activation_format="fp32", name=name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", choices=datasets.NAMES, default="mnist")
    ap.add_argument("--activation", choices=("relu", "tanh"), default="relu")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--normalize", action="store_true", help="normalise the inputs as the authors do")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    net = train(args.dataset, args.activation, args.epochs, args.seed, normalized=args.normalize)
    out = pathlib.Path(args.out or model_path(args.dataset, args.activation, args.normalize))
    models.save(net, out, encoding="fp8_e4m3")
    print(f"wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
