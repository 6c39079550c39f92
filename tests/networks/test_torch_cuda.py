"""Converted models on CUDA tensors: mpcore's CUDA backend reads them on the device (DLPack)
and gives the CPU's bits. The comparisons run where torch has CUDA and mpcore was built
with it (bench/gpu_check.sh); everywhere, the guards that name what is missing."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import mpcore  # noqa: E402
from mpcore import _core  # noqa: E402
from mpcore.networks import torch as mt  # noqa: E402
from mpcore.networks.simulated import _check_resident  # noqa: E402

HAS_GPU = _core.has_cuda and _core.cuda_device_count() > 0 and torch.cuda.is_available()
gpu = pytest.mark.skipif(not HAS_GPU, reason="needs torch with CUDA, a CUDA build of mpcore and a GPU")


def test_cuda_tensors_without_a_cuda_build_are_a_clear_error():
    if _core.has_cuda:
        pytest.skip("this build has CUDA")
    with pytest.raises(ValueError, match="built without CUDA"):
        _check_resident(mpcore.Uniform("fp16"), "cuda:0")


def test_decided_ladder_policies_on_cuda_tensors_are_a_clear_error(monkeypatch):
    monkeypatch.setattr(_core, "has_cuda", True)
    _check_resident(mpcore.Uniform("fp16"), "cuda:0")
    _check_resident(mpcore.Selective("fp8_e4m3", "fp16", tau=0.1), "cuda:0")
    for policy in (mpcore.Selective("fp8_e4m3", "fp16", budget=0.1), mpcore.Selective("fp8_e4m3", "fp16", neurons=[1]),
                   mpcore.Selective("fp8_e4m3", "fp16", tau=0.1, score="margin")):
        with pytest.raises(ValueError, match="runs on the CPU only"):
            _check_resident(policy, "cuda:0")


def test_string_padding_is_refused_when_converting():
    conv = torch.nn.Conv2d(2, 3, 3, padding="same")
    with pytest.raises(ValueError, match="padding='same' is not supported"):
        mt.convert(conv, mpcore.Uniform("fp16"))


class _Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 8, 3, padding=1, groups=2)
        self.pool = torch.nn.MaxPool2d(2)
        self.attn = torch.nn.MultiheadAttention(8, 2, batch_first=True)
        self.norm = torch.nn.LayerNorm(8)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.GELU(), torch.nn.Linear(16, 8))
        self.seq = torch.nn.Conv1d(16, 4, 3, stride=2)
        self.head = torch.nn.Linear(8 * 4 * 3, 3)

    def forward(self, x):
        t = self.pool(torch.relu(self.conv(x))).flatten(2).transpose(1, 2)  # (N, 16 tokens, 8)
        t = t + self.attn(t, t, t, need_weights=False, is_causal=False)[0]
        t = t + self.mlp(self.norm(t))
        s = self.seq(t)  # tokens as channels: (N, 4, 3)
        q = torch.nn.functional.scaled_dot_product_attention(t, t, t, is_causal=True)
        return self.head(torch.cat([s.flatten(1), q[:, :12].flatten(1)], 1)[:, :96])


# Factories, not policies: a policy holds _core options, and instances kept by pytest's
# parametrization live until the interpreter's exit, where nanobind reports them as leaked.
POLICIES = [pytest.param(lambda: mpcore.Uniform("bf16"), id="uniform-bf16"),
            pytest.param(lambda: mpcore.Uniform("fp16", rounding="sr", seed=4), id="uniform-fp16-sr"),
            pytest.param(lambda: mpcore.Selective("fp8_e4m3", "fp32", tau=0.05), id="selective-fp32"),
            pytest.param(lambda: mpcore.Selective("fp8_e4m3", "fp16", tau=0.01, estimator="norm"),
                         id="selective-fp16-norm")]


def _same_reports(a, b):
    keys = ("layer", "type", "activation", "calls", "components", "fraction_recomputed", "cost", "kappa_histogram")
    assert [[r[k] for k in keys] for r in a] == [[r[k] for k in keys] for r in b] and len(a) >= 7


def _stand_in_backend(monkeypatch):
    """Sends CPU tensors down the CUDA route of converted layers, with the CPU backend standing in
    for the CUDA one (whose bits are the CPU's: test_cuda_equivalence, test_cuda.py): checks the
    route's own work here - windows by unfold, group and projection slices, one call per head,
    the statistics. Returns the stand-in's calls."""
    from mpcore.networks import torch_attention

    calls = []

    def operands(x, w, b):
        assert all(isinstance(t, torch.Tensor) and t.dtype == x.dtype for t in (x, w) + (() if b is None else (b,)))
        return x.numpy(), w.numpy(), None if b is None else b.numpy()

    def matmul(x, w, b, options):
        calls.append("matmul")
        return torch.from_numpy(mpcore.matmul(*operands(x, w, b), options=options))

    def ladder(x, w, b, options):
        calls.append("ladder")
        r = mpcore.ladder_linear(*operands(x, w, b), options=options)
        return {"z": r.z, "rung": r.rung, "kappa": r.kappa}

    monkeypatch.setattr(_core, "has_cuda", True)
    monkeypatch.setattr(_core, "cuda_resident_matmul", matmul, raising=False)
    monkeypatch.setattr(_core, "cuda_resident_ladder_linear", ladder, raising=False)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    for module in (mt, torch_attention):
        monkeypatch.setattr(module, "_on_cuda", lambda t: True)
    return calls


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("make_policy", POLICIES)
def test_the_cuda_route_gives_the_cpu_route_bits(dtype, make_policy, monkeypatch):
    policy = make_policy()
    torch.manual_seed(3)
    model = _Block().to(dtype).eval()
    x = torch.randn(3, 2, 8, 8, dtype=dtype)
    on_cpu = mt.convert(model, policy)
    want = on_cpu(x)
    calls = _stand_in_backend(monkeypatch)
    routed = mt.convert(model, policy)
    got = routed(x)
    # conv (2 groups), qkv (one call; three under SR, whose streams follow the output index), 2
    # products x 3 samples x 2 heads, out, mlp (2), conv1d, 2 products x 3 samples of the
    # functional attention, head
    qkv = 3 if policy.rounding == "sr" else 1
    assert len(calls) == 2 + qkv + 12 + 1 + 2 + 1 + 6 + 1 and got.dtype == dtype
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    _same_reports(mt.report(on_cpu), mt.report(routed))


@pytest.mark.parametrize("weights,inputs", [(torch.float64, torch.float32), (torch.float32, torch.float16)])
def test_the_cuda_route_reads_mixed_dtypes_as_the_cpu_route(weights, inputs, monkeypatch):
    torch.manual_seed(5)
    model = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(4 * 6 * 6, 5)).to(weights).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1 / 3)  # float64 weights with bits beyond float32's
    x = torch.randn(2, 2, 8, 8).to(inputs)
    policy = mpcore.Selective("fp8_e4m3", "fp32", tau=0.05)
    want = mt.convert(model, policy)(x)
    _stand_in_backend(monkeypatch)
    got = mt.convert(model, policy)(x)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_the_cuda_route_on_empty_batches_and_sequences_has_torch_shapes(monkeypatch):
    mha, lin = torch.nn.MultiheadAttention(8, 2, batch_first=True).eval(), torch.nn.Linear(8, 3).eval()
    _stand_in_backend(monkeypatch)
    for policy in (mpcore.Uniform("fp16"), mpcore.Selective("fp8_e4m3", "fp16", tau=0.1)):
        sim_mha, sim_lin = mt.convert(mha, policy), mt.convert(lin, policy)
        for shape in ((0, 4, 8), (2, 0, 8)):
            x = torch.randn(*shape)
            assert sim_mha(x, x, x)[0].shape == mha(x, x, x)[0].shape
            assert sim_lin(x).shape == lin(x).shape


@gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("make_policy", POLICIES)
def test_a_converted_model_on_cuda_gives_the_cpu_bits(dtype, make_policy):
    policy = make_policy()
    torch.manual_seed(3)
    model = _Block().to(dtype).eval()
    x = torch.randn(3, 2, 8, 8, dtype=dtype)
    on_cpu = mt.convert(model, policy)
    on_gpu = mt.convert(model, policy).cuda()
    want, got = on_cpu(x), on_gpu(x.cuda())
    assert got.device.type == "cuda" and got.dtype == dtype
    np.testing.assert_array_equal(got.cpu().numpy(), want.numpy())
    _same_reports(mt.report(on_cpu), mt.report(on_gpu))


@gpu
def test_a_model_converted_on_the_gpu_runs_there():
    torch.manual_seed(4)
    model = torch.nn.Sequential(torch.nn.Linear(20, 30), torch.nn.ReLU(), torch.nn.Linear(30, 5)).cuda().eval()
    sim = mt.convert(model, mpcore.Uniform("fp16"))
    x = torch.randn(7, 20, device="cuda")
    y = sim(x)
    w0, b0 = model[0].weight.detach().cpu().numpy(), model[0].bias.detach().cpu().numpy()
    h = np.maximum(mpcore.matmul(x.cpu().numpy(), w0, b0, acc="fp16"), 0).astype(np.float32)
    w1, b1 = model[2].weight.detach().cpu().numpy(), model[2].bias.detach().cpu().numpy()
    np.testing.assert_array_equal(y.cpu().numpy(), mpcore.matmul(h, w1, b1, acc="fp16").astype(np.float32))
    with pytest.raises(ValueError, match="must be on the same device"):
        sim(x.cpu())
