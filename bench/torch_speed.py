"""What a converted layer costs against mpcore.matmul of the same number of terms.

A Conv2d 8->16, 5x5 on 256 images of 12x12 (one matmul of the stacked unfolded inputs), a
Linear 256->256 on 4096 rows, and nn.MultiheadAttention (d 64, 4 heads, 64 tokens, batch 32:
the projections plus one matmul per batch entry and head for each product), each under
Uniform("fp16"), against mpcore.matmul(acc="fp16") of the same terms in one call (with the
layer's bias for Conv2d and Linear, whose outputs each end with one; without for attention,
whose products have none); ratios measured in one run (best of 5). "in mpcore" is the part
of the best converted call spent in mpcore's calls (mpcore.networks.torch.report's seconds);
the rest is torch's own work around them (conversions, reshapes, the softmax).

    python bench/torch_speed.py
"""

from __future__ import annotations

import time

import numpy as np
import torch

import mpcore
from mpcore.networks import torch as mt


def best(fn, repeat=5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def best_converted(sim, fn, repeat=5):
    """(seconds, seconds in mpcore's calls) of the fastest of repeat calls of a converted model."""
    def recorded():
        return sum(r["seconds"] for r in mt.report(sim))
    runs = []
    for _ in range(repeat):
        before = recorded()
        t = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t, recorded() - before))
    return min(runs)


def main() -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    rows = []
    conv = torch.nn.Conv2d(8, 16, 5).eval()
    x = torch.rand(256, 8, 12, 12)
    cols = torch.nn.functional.unfold(x, 5).transpose(1, 2).reshape(-1, 200).numpy()
    w = conv.weight.detach().reshape(16, -1).numpy()
    b = conv.bias.detach().numpy()
    sim = mt.convert(conv, mpcore.Uniform("fp16"))
    rows.append(("Conv2d 8->16 5x5, 256 x 12x12", cols.shape[0] * 200 * 16, *best_converted(sim, lambda: sim(x)),
                 best(lambda: mpcore.matmul(cols, w, b, acc="fp16"))))
    lin = torch.nn.Linear(256, 256).eval()
    h = torch.rand(4096, 256)
    sim = mt.convert(lin, mpcore.Uniform("fp16"))
    wl, bl = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    rows.append(("Linear 256->256, 4096 rows", 4096 * 256 * 256, *best_converted(sim, lambda: sim(h)),
                 best(lambda: mpcore.matmul(h.numpy(), wl, bl, acc="fp16"))))
    mha = torch.nn.MultiheadAttention(64, 4, batch_first=True).eval()
    t = torch.rand(32, 64, 64)
    sim = mt.convert(mha, mpcore.Uniform("fp16"))
    # The same number of terms: 4 projections (32*64 rows, 64x64) and 2 products per head
    # (32*4 heads, 64 x 64 x 16 each), as one matmul.
    terms = 4 * 32 * 64 * 64 * 64 + 2 * 32 * 4 * 64 * 64 * 16
    a = rng.random((terms // (64 * 64), 64), dtype=np.float32)
    wa = rng.random((64, 64), dtype=np.float32)
    rows.append(("MultiheadAttention d64 h4, 32 x 64 tokens", terms, *best_converted(sim, lambda: sim(t, t, t, need_weights=False)),
                 best(lambda: mpcore.matmul(a, wa, acc="fp16"))))
    print(f"{'layer':<44} {'terms':>10} {'converted s':>12} {'in mpcore s':>12} {'matmul s':>10} {'ratio':>6} "
          f"{'mpcore/matmul':>14}")
    for name, terms, converted, inside, plain in rows:
        print(f"{name:<44} {terms:>10.3g} {converted:>12.4f} {inside:>12.4f} {plain:>10.4f} {converted / plain:>6.2f} "
              f"{inside / plain:>14.2f}")


if __name__ == "__main__":
    main()
