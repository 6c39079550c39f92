"""Does the selective method hold up in a transformer? A small ViT-style encoder under
simulated accumulation.

Trains (on the CPU, once; cached in bench/models/vit_<dataset>.pt) an encoder on 7x7 image
patches — patch embedding conv 1->32 (kernel 7, stride 7: 16 tokens), learned position
embedding, two pre-norm nn.TransformerEncoderLayer blocks (d_model 32, 4 heads, GELU MLP 64,
LayerNorm, residual connections), final LayerNorm, mean over tokens, linear 32->10 — on
MNIST and Fashion-MNIST (three epochs, Adam 3e-3, batch 128, inputs in [0, 1]). Then runs
the first N test images with every Linear / Conv2d / MultiheadAttention converted by
mpcore.networks.torch.convert (projections, both attention products, MLP, head):
uniform fp8_e4m3 / bf16 / fp16 / fp32, the kappa rule at tau 1 and 0.1, and margin / random /
kappa at a 20 % budget (fp8_e4m3 low, fp16 high), the kappa rule with attention in fp16 and
the rest by the rule (and the reverse), and bf16 low / fp32 high at tau 0.01. Reports
accuracy, agreement with the fp64 run, logit error, the share of products in the high format
(all, and the attention products alone), and time.

    MPCORE_DATA=../shared/data python bench/transformer.py [--limit 1000]

Writes bench/results/transformer.{json,md}.
"""

from __future__ import annotations

import json
import pathlib

import torch

import mpcore
from torch_models import POLICIES as COMMON_POLICIES, arguments, cached_training, run_policies  # noqa: E402

HERE = pathlib.Path(__file__).parent


class PatchEncoder(torch.nn.Module):
    def __init__(self, d: int = 32, heads: int = 4, layers: int = 2):
        super().__init__()
        self.embed = torch.nn.Conv2d(1, d, 7, stride=7)
        self.position = torch.nn.Parameter(torch.zeros(1, 16, d))
        block = torch.nn.TransformerEncoderLayer(d, heads, 2 * d, dropout=0.0, activation="gelu", batch_first=True,
                                                 norm_first=True)
        self.encoder = torch.nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
        self.norm = torch.nn.LayerNorm(d)
        self.head = torch.nn.Linear(d, 10)

    def forward(self, x):
        tokens = self.embed(x).flatten(2).transpose(1, 2) + self.position  # (N, 16, d)
        return self.head(self.norm(self.encoder(tokens)).mean(dim=1))


def trained(dataset: str) -> torch.nn.Module:
    return cached_training(PatchEncoder(), HERE / "models" / f"vit_{dataset}.pt", dataset,
                           lambda params: torch.optim.Adam(params, lr=3e-3), epochs=3, batch=128)


POLICIES = COMMON_POLICIES + [
    # Where does the kappa rule lose? Attention in fp16, the rest by the rule; and the reverse.
    ("kappa tau=0.1, attention fp16", {torch.nn.MultiheadAttention: mpcore.Uniform("fp16"),
                                       torch.nn.Linear: mpcore.Selective("fp8_e4m3", "fp16", tau=0.1, estimator="norm"),
                                       torch.nn.Conv2d: mpcore.Selective("fp8_e4m3", "fp16", tau=0.1, estimator="norm")}),
    ("kappa bf16->fp32 tau=0.01", mpcore.Selective("bf16", "fp32", tau=0.01, estimator="norm")),
    ("kappa tau=0.1 attention only, rest fp16", {
        torch.nn.MultiheadAttention: mpcore.Selective("fp8_e4m3", "fp16", tau=0.1, estimator="norm"),
        torch.nn.Linear: mpcore.Uniform("fp16"), torch.nn.Conv2d: mpcore.Uniform("fp16")})]


def summarize(layers) -> dict:
    for r in layers:  # a layer run uniformly in fp16 is all in the high format
        r["high"] = 1.0 if r["policy"] == "uniform fp16" else r["fraction_recomputed"]
    total = sum(r["components"] for r in layers)
    attention = [r for r in layers if r["type"] == "MultiheadAttention"]
    attn_total = max(sum(r["components"] for r in attention), 1)
    selective = any(not r["policy"].startswith("uniform") for r in layers)
    return {"fraction_recomputed": sum(r["fraction_recomputed"] * r["components"] for r in layers) / total,
            "fraction_high": sum(r["high"] * r["components"] for r in layers) / total if selective else None,
            "attention_high": sum(r["high"] * r["components"] for r in attention) / attn_total if selective else None,
            "per_layer_recomputed": {r["layer"]: round(r["fraction_recomputed"], 4) for r in layers}}


def write_markdown(rows, out: pathlib.Path) -> None:
    lines = ["# A small transformer under simulated accumulation (bench/transformer.py)", "",
             "7x7 patches (16 tokens), d_model 32, 4 heads, 2 pre-norm encoder layers (GELU MLP 64), float32 "
             "weights; every Linear, the patch conv and both attention products simulated; selective: "
             "fp8_e4m3 low, fp16 high, norm estimator (random: no estimator) unless the row says otherwise; "
             "'high format': fp16 (fp32 for the bf16 row), a layer run uniformly in fp16 counting as all high.", ""]
    for dataset in ("mnist", "fashion-mnist"):
        r0 = next(r for r in rows if r["dataset"] == dataset)
        lines += [f"## {dataset} ({r0['images']} test images; torch float32 accuracy "
                  f"{r0['torch_float32_accuracy']:.4f})", "",
                  "| policy | accuracy | agreement with fp64 | logit err | products in the high format | of the "
                  "attention products | seconds |", "|---|---|---|---|---|---|---|"]
        for r in rows:
            if r["dataset"] == dataset:
                high = "-" if r["fraction_high"] is None else f"{r['fraction_high']:.3f}"
                attn = "-" if r["attention_high"] is None else f"{r['attention_high']:.3f}"
                lines.append(f"| {r['policy']} | {r['accuracy']:.4f} | {r['agreement']:.4f} | {r['logit_err']:.4f} | "
                             f"{high} | {attn} | {r['seconds']:.1f} |")
        lines.append("")
    (out / "transformer.md").write_text("\n".join(lines))
    print("\n".join(lines))


def main() -> None:
    args, out = arguments(__doc__, HERE)
    rows = run_policies(trained, args.limit, POLICIES, summarize)
    (out / "transformer.json").write_text(json.dumps(rows, indent=1))
    write_markdown(rows, out)


if __name__ == "__main__":
    main()
