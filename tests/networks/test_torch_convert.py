"""mpcore.networks.torch.convert: Linear and convolutions under simulated accumulation."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

import mpcore  # noqa: E402
from mpcore.networks import torch as mt  # noqa: E402


def _same(a, b):
    np.testing.assert_array_equal(np.asarray(a, dtype=np.float64).view(np.int64),
                                  np.asarray(b, dtype=np.float64).view(np.int64))


@pytest.mark.parametrize("groups,stride,padding,dilation", [(1, 1, 0, 1), (2, 2, 1, 2), (4, 1, 2, 1)])
def test_conv2d_is_the_documented_unfold_matmul(groups, stride, padding, dilation):
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(8, 12, 3, stride=stride, padding=padding, dilation=dilation, groups=groups).double()
    x = torch.randn(2, 8, 9, 10, dtype=torch.float64)
    sim = mt.convert(conv, mpcore.Uniform("bf16", rounding="sr", seed=3))
    y = sim(x)
    assert y.shape == conv(x).shape
    cols = F.unfold(x, 3, dilation=dilation, padding=padding, stride=stride)  # (N, C*kh*kw, L)
    w, b = conv.weight.detach().numpy(), conv.bias.detach().numpy()
    per_in, per_out, count = cols.shape[1] // groups, 12 // groups, cols.shape[2]
    for g in range(groups):
        # Row n * L + p of one call per group: every sample's positions stacked.
        xs = cols[:, g * per_in:(g + 1) * per_in].transpose(1, 2).reshape(2 * count, per_in).numpy()
        want = mpcore.matmul(xs, w[g * per_out:(g + 1) * per_out].reshape(per_out, -1),
                             b[g * per_out:(g + 1) * per_out], acc="bf16", rounding="sr", seed=3)
        got = y[:, g * per_out:(g + 1) * per_out].reshape(2, per_out, count).transpose(1, 2).reshape(-1, per_out)
        _same(got.numpy(), want)
    # fp64 accumulation matches torch's own convolution to rounding.
    np.testing.assert_allclose(mt.convert(conv, mpcore.Uniform("fp64"))(x).numpy(), conv(x).detach().numpy(),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kernel,stride,padding,dilation", [
    ((3, 3), (1, 1), (0, 0), (1, 1)), ((2, 5), (2, 1), (1, 3), (1, 1)), ((3, 2), (1, 3), (4, 0), (2, 3)),
    ((1, 1), (2, 2), (0, 1), (1, 1)), ((7, 7), (1, 1), (3, 3), (1, 1))])
def test_conv_windows_are_unfold_transposed_and_stacked(dtype, kernel, stride, padding, dilation):
    x = torch.randn(3, 6, 7, 9, dtype=dtype)
    for c0, count in ((0, 6), (2, 3), (5, 1)):
        got = mpcore._core.conv_windows(x.numpy(), kernel, stride, padding, dilation, c0, count, threads=2)
        cols = F.unfold(x[:, c0:c0 + count], kernel, dilation=dilation, padding=padding, stride=stride)
        want = cols.transpose(1, 2).reshape(-1, cols.shape[1]).numpy()
        assert got.dtype == want.dtype
        _same(got, want)


def test_conv_windows_reject_bad_geometry_by_name():
    x = np.zeros((1, 2, 5, 5), dtype=np.float32)
    w = mpcore._core.conv_windows
    with pytest.raises(ValueError, match="kernel sizes must be positive"):
        w(x, (0, 3), (1, 1), (0, 0), (1, 1), 0, 2)
    with pytest.raises(ValueError, match="strides must be positive"):
        w(x, (3, 3), (1, 0), (0, 0), (1, 1), 0, 2)
    with pytest.raises(ValueError, match="larger than the padded input"):
        w(x, (3, 7), (1, 1), (0, 0), (1, 1), 0, 2)
    with pytest.raises(ValueError, match="channels"):
        w(x, (3, 3), (1, 1), (0, 0), (1, 1), 1, 2)
    with pytest.raises(ValueError, match="padding must be a pair"):
        w(x, (3, 3), (1, 1), (0, -1), (1, 1), 0, 2)
    with pytest.raises(TypeError, match="dilation must be a pair"):
        w(x, (3, 3), (1, 1), (0, 0), 1, 0, 2)
    with pytest.raises(TypeError):
        w(x.astype(np.int32), (3, 3), (1, 1), (0, 0), (1, 1), 0, 2)
    with pytest.raises(ValueError, match="padding must be a pair"):
        w(x, (3, 3), (1, 1), (0, 2 ** 70), (1, 1), 0, 2)
    with pytest.raises(ValueError, match="below 2\\^31"):
        w(x, (3, 3), (1, 1), (0, 2 ** 31), (1, 1), 0, 2)


@pytest.mark.parametrize("stored", [False, True])
@pytest.mark.parametrize("kernel", [(2, 3), (1, 9)])  # a width the windows know when compiled, one they do not
def test_conv_matmul_writes_the_windows_matmul_into_its_channels(stored, kernel):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 4, 6, 11)).astype(np.float32)
    w = (rng.standard_normal((3, 2 * kernel[0] * kernel[1])) * 0.3).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    if stored:  # values of the format: the binary32 lanes, digested from the image
        x, w, b = (a.astype(np.float16).astype(np.float32) for a in (x, w, b))
    geometry = (kernel, (1, 2), (1, 4), (2, 1))
    options = mpcore.MatmulOptions(acc="fp16", rounding="sr", seed=5, threads=2)
    windows = mpcore._core.conv_windows(x, *geometry, 2, 2)
    want = mpcore.matmul(windows, w, b, options=options).astype(np.float32)
    y = np.full((2, 7, want.shape[0] // 2), -1.0, dtype=np.float32)
    mpcore._core.conv_matmul(x, mpcore.PreparedLinear(w, b)._prepared, *geometry, 2, 2, options, y, 3)
    _same(y[:, 3:6].transpose(0, 2, 1).reshape(-1, 3), want)
    assert (y[:, :3] == -1).all() and (y[:, 6:] == -1).all()  # the other channels untouched
    y2 = np.full_like(y, -1.0)
    mpcore._core.conv_matmul(x, w, *geometry, 2, 2, options, y2, 3)  # W as an array: no bias
    _same(y2[:, 3:6].transpose(0, 2, 1).reshape(-1, 3),
          mpcore.matmul(windows, w, options=options).astype(np.float32))


def test_conv_matmul_rejects_bad_arguments_by_name():
    x, w = np.zeros((1, 2, 5, 5), dtype=np.float32), np.zeros((3, 18), dtype=np.float32)
    geometry, options = ((3, 3), (1, 1), (0, 0), (1, 1)), mpcore.MatmulOptions(acc="fp16")
    run = mpcore._core.conv_matmul
    run(x, w, *geometry, 0, 2, options, np.zeros((1, 3, 9), np.float32), 0)
    with pytest.raises(ValueError, match="y must have shape"):
        run(x, w, *geometry, 0, 2, options, np.zeros((1, 3, 8), np.float32), 0)
    with pytest.raises(ValueError, match="output channels"):
        run(x, w, *geometry, 0, 2, options, np.zeros((1, 4, 9), np.float32), 2)
    with pytest.raises(ValueError, match="features"):
        run(x, w, *geometry, 0, 1, options, np.zeros((1, 3, 9), np.float32), 0)
    with pytest.raises(ValueError, match="channels"):
        run(x, w, *geometry, 1, 2, options, np.zeros((1, 3, 9), np.float32), 0)
    with pytest.raises(TypeError):  # y of another dtype than x
        run(x, w, *geometry, 0, 2, options, np.zeros((1, 3, 9), np.float64), 0)
    read_only = np.zeros((1, 3, 9), np.float32)
    read_only.flags.writeable = False
    with pytest.raises(TypeError):
        run(x, w, *geometry, 0, 2, options, read_only, 0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_conv2d_in_float32_is_the_unfold_matmul_rounded_once(dtype):
    torch.manual_seed(2)
    conv = torch.nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2)).eval()
    x = torch.randn(3, 4, 8, 7).to(dtype)
    y = mt.convert(conv, mpcore.Uniform("fp16"))(x)
    assert y.dtype == torch.float32 and y.shape == conv(x.float()).shape
    cols = F.unfold(x.float(), (3, 2), dilation=(1, 2), padding=(1, 2), stride=(2, 1))
    xs = cols.transpose(1, 2).reshape(-1, cols.shape[1]).numpy()
    want = mpcore.matmul(xs, conv.weight.detach().reshape(6, -1).numpy(), conv.bias.detach().numpy(), acc="fp16")
    got = y.reshape(3, 6, -1).transpose(1, 2).reshape(-1, 6)
    _same(got.numpy(), want.astype(np.float32))


def test_convolutions_of_an_empty_batch_have_torch_shapes():
    conv2, conv1 = torch.nn.Conv2d(3, 4, 3, padding=1).eval(), torch.nn.Conv1d(3, 4, 3).eval()
    for conv, x in ((conv2, torch.zeros(0, 3, 5, 5)), (conv1, torch.zeros(0, 3, 7))):
        y = mt.convert(conv, mpcore.Uniform("fp16"))(x)
        assert y.shape == conv(x).shape and y.dtype == torch.float32


# Factories, not policies: a policy holds _core options, and instances kept by pytest's
# parametrization live until the interpreter's exit, where nanobind reports them as leaked.
@pytest.mark.parametrize("make_policy", [
    pytest.param(lambda: mpcore.Uniform("fp16"), id="uniform"),
    pytest.param(lambda: mpcore.Selective("fp8_e4m3", "fp16", tau=0.1), id="selective-tau"),
    pytest.param(lambda: mpcore.Selective("fp8_e4m3", "fp16", budget=0.2), id="selective-budget"),
    pytest.param(lambda: mpcore.Selective("fp8_e4m3", "fp16", tau=0.5, score="random", rounding="sr"),
                 id="selective-random-sr")])
def test_attention_and_linear_on_empty_batches_and_sequences_have_torch_shapes(make_policy):
    policy = make_policy()
    mha, lin = torch.nn.MultiheadAttention(8, 2, batch_first=True).eval(), torch.nn.Linear(8, 3).eval()
    sim_mha, sim_lin = mt.convert(mha, policy), mt.convert(lin, policy)
    for shape in ((0, 4, 8), (2, 0, 8), (2, 3, 8)):
        x = torch.randn(*shape)
        assert sim_mha(x, x, x)[0].shape == mha(x, x, x)[0].shape
        assert sim_lin(x).shape == lin(x).shape


def test_conv1d_and_linear_in_a_model_with_layer_selection():
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Conv1d(3, 4, 5, padding=2), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(4 * 16, 10), torch.nn.Tanh(), torch.nn.Linear(10, 3))
    x = torch.randn(5, 3, 16)
    ref = model(x).detach().numpy()
    full = mt.convert(model, mpcore.Uniform("fp32"))
    np.testing.assert_allclose(full(x).numpy(), ref, rtol=1e-5, atol=1e-5)
    only_linear = mt.convert(model, mpcore.Uniform("fp8_e4m3"), layers=[torch.nn.Linear])
    assert isinstance(only_linear[0], torch.nn.Conv1d) and not isinstance(only_linear[3], torch.nn.Linear)
    by_name = mt.convert(model, {"3": mpcore.Uniform("fp16"), torch.nn.Conv1d: mpcore.Uniform("bf16")})
    assert [r["layer"] for r in mt.report(by_name)] == ["0", "3"]
    # The converted Linear is mpcore.matmul of its input, bit for bit.
    h = torch.tanh(full[3](full[2](full[1](full[0](x)))))
    _same(full[5](h).numpy(), mpcore.matmul(h.numpy(), model[5].weight.detach().numpy(),
                                            model[5].bias.detach().numpy(), acc="fp32"))
    assert model(x).detach().numpy().tolist() == ref.tolist()  # the original is untouched


def test_selective_policy_reports_recomputed_fraction():
    torch.manual_seed(2)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 6, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(6 * 6 * 6, 10))
    x = torch.rand(4, 1, 8, 8)
    sim = mt.convert(model, mpcore.Selective("fp8_e4m3", "fp16", budget=0.25, score="margin"))
    sim(x)
    rows = mt.report(sim)
    assert [r["type"] for r in rows] == ["Conv2d", "Linear"]
    assert rows[0]["components"] == 4 * 36 * 6 and rows[0]["fraction_recomputed"] == pytest.approx(0.25, abs=0.1)
    assert rows[1]["fraction_recomputed"] == pytest.approx(0.3)  # floor(0.25 * 10 + 0.5) = 3 of 10 per row
    # Cost (mpcore.networks.cost): the low pass in 8 bits, the estimator in 32, 30 % recomputed
    # in 16, over all 10 x 216 x 4 products in 16 bits.
    lin = rows[1]
    macs = 4 * 216 * 10
    assert lin["relative_cost"] == pytest.approx((macs * 8 + macs * 32 + 0.3 * macs * 16) / (macs * 16))
    assert sum(lin["kappa_histogram"].values()) == lin["components"]
    uniform = mt.convert(model, mpcore.Uniform("fp16"))
    uniform(x)
    assert all(r["relative_cost"] == 1.0 and sum(r["kappa_histogram"].values()) == 0 for r in mt.report(uniform))
    with pytest.raises(ValueError, match="no Linear"):
        mt.convert(torch.nn.ReLU(), mpcore.Uniform("fp16"))
    with pytest.raises(TypeError, match="policy"):
        mt.convert(model, "fp16")


def test_the_activation_after_a_layer_is_detected_and_used():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 4, 3)
            self.fc1 = torch.nn.Linear(4 * 6 * 6, 16)
            self.fc2 = torch.nn.Linear(16, 5)
            self.act = torch.nn.Tanh()

        def forward(self, x):
            h = torch.relu(self.conv(x)).flatten(1)
            return self.fc2(self.act(self.fc1(h)))

    torch.manual_seed(3)
    net, x = Net(), torch.rand(3, 1, 8, 8)
    policy = mpcore.Selective("fp8_e4m3", "fp16", tau=0.5)
    sim = mt.convert(net, policy)
    y = sim(x)
    assert [(r["layer"], r["activation"]) for r in mt.report(sim)] == [("conv", "relu"), ("fc1", "tanh"),
                                                                       ("fc2", "identity")]
    # fc1's decisions are the selective layer's with tanh.
    h = torch.relu(sim.conv(x)).flatten(1).numpy()
    want = mpcore.selective_linear(h, net.fc1.weight.detach().numpy(), net.fc1.bias.detach().numpy(),
                                   low="fp8_e4m3", high="fp16", tau=0.5, activation="tanh", bounds=False).z
    _same(sim.fc1(torch.from_numpy(h)).numpy(), want.astype(np.float32))
    assert y.shape == (3, 5)


def _attention_reference(q, k, v, mask, scale, scale_first, acc):
    """softmax(q kᵀ scale + mask) v per batch entry with mpcore.matmul, as documented."""
    out = []
    for b in range(q.shape[0]):
        qb = q[b] * scale if scale_first else q[b]
        s = torch.from_numpy(mpcore.matmul(qb.numpy(), k[b].numpy(), acc=acc))
        if not scale_first:
            s = s * scale
        if mask is not None:
            s = s + mask
        p = torch.softmax(s, dim=-1)
        out.append(torch.from_numpy(mpcore.matmul(p.numpy(), v[b].T.contiguous().numpy(), acc=acc)))
    return torch.stack(out)


@pytest.mark.parametrize("batch_first", [True, False])
def test_multihead_attention_is_the_documented_products(batch_first):
    torch.manual_seed(3)
    mha = torch.nn.MultiheadAttention(16, 4, batch_first=batch_first).double().eval()
    x = torch.randn(2, 5, 16, dtype=torch.float64)
    xin = x if batch_first else x.transpose(0, 1)
    mask = torch.zeros(5, 5, dtype=torch.bool).triu(1)  # causal, as a boolean mask
    sim = mt.convert(mha, mpcore.Uniform("bf16"))
    got, weights = sim(xin, xin, xin, attn_mask=mask)
    # By hand: the projections and both products with mpcore.matmul in bf16.
    w, b = mha.in_proj_weight.detach().numpy(), mha.in_proj_bias.detach().numpy()
    flat = x.reshape(-1, 16).numpy()
    q, k, v = (torch.from_numpy(mpcore.matmul(flat, w[i * 16:(i + 1) * 16], b[i * 16:(i + 1) * 16], acc="bf16"))
               .reshape(2, 5, 4, 4).transpose(1, 2).reshape(8, 5, 4) for i in range(3))
    additive = torch.zeros(5, 5, dtype=torch.float64).masked_fill(mask, float("-inf"))
    o = _attention_reference(q, k, v, additive, 0.5, True, "bf16")
    o = o.reshape(2, 4, 5, 4).transpose(1, 2).reshape(10, 16).numpy()
    want = mpcore.matmul(o, mha.out_proj.weight.detach().numpy(), mha.out_proj.bias.detach().numpy(), acc="bf16")
    _same((got if batch_first else got.transpose(0, 1)).reshape(10, 16).numpy(), want)
    assert weights.shape == (2, 5, 5) and torch.allclose(weights.sum(-1), torch.ones(2, 5, dtype=torch.float64))
    # fp64 accumulation matches torch's own attention.
    ref = mha(xin, xin, xin, attn_mask=mask)[0]
    np.testing.assert_allclose(mt.convert(mha, mpcore.Uniform("fp64"))(xin, xin, xin, attn_mask=mask)[0].numpy(),
                               ref.detach().numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("rounding", ["rne", "sr"])
def test_selective_attention_in_one_batched_ladder_is_the_calls_one_by_one(rounding, monkeypatch):
    from mpcore.networks import torch_attention

    torch.manual_seed(4)
    mha = torch.nn.MultiheadAttention(16, 4, batch_first=True).eval()
    x = torch.randn(3, 6, 16)
    mask = torch.zeros(6, 6, dtype=torch.bool).triu(1)
    policy = mpcore.Selective("fp8_e4m3", "fp16", tau=0.3, estimator="norm", rounding=rounding, seed=2)

    def run():
        sim = mt.convert(mha, policy)
        out, weights = sim(x, x, x, attn_mask=mask)
        return out, weights, mt.report(sim)

    batched = run()
    monkeypatch.setattr(torch_attention, "_kappa_rule", lambda policy: False)  # one ladder call per entry and head
    one_by_one = run()
    _same(batched[0].numpy(), one_by_one[0].numpy())
    _same(batched[1].numpy(), one_by_one[1].numpy())
    for a, b in zip(batched[2], one_by_one[2]):
        assert {k: v for k, v in a.items() if k != "seconds"} == {k: v for k, v in b.items() if k != "seconds"}
    assert 0 < batched[2][0]["fraction_recomputed"] < 1


@pytest.mark.parametrize("decision", [dict(tau=0.5, score="random", score_seed=3), dict(budget=0.25, score="margin"),
                                      dict(tau=1e-3, score="oracle"), dict(budget=0.3), dict(neurons=[0, 3, 5]),
                                      dict(tau=0.3)])
@pytest.mark.parametrize("rounding", ["rne", "sr"])
def test_batched_attention_products_decide_as_the_calls_one_by_one(decision, rounding):
    from mpcore.networks import simulated, torch_attention

    rng = np.random.default_rng(5)
    x3, w3 = rng.standard_normal((5, 6, 8)), rng.standard_normal((5, 7, 8)).astype(np.float32).astype(np.float64)
    policy = mpcore.Selective("fp8_e4m3", "fp16", estimator="fp32", rounding=rounding, seed=2, **decision)
    stats = simulated._Stats()
    z = torch_attention._batched(x3, w3, policy, stats)
    recomputed, kappa_counts = 0, np.zeros_like(stats.kappa_counts)
    for b in range(x3.shape[0]):
        one = mpcore.ladder_linear(x3[b], w3[b], options=policy.layer_options("identity", None), **policy.decision())
        _same(z[b], one.z)
        recomputed += int(np.count_nonzero(one.rung))
        with np.errstate(divide="ignore"):
            kappa_counts += np.histogram(np.log10(one.kappa[np.isfinite(one.kappa)]), simulated.KAPPA_EDGES)[0]
    assert stats.recomputed == recomputed and stats.calls == x3.shape[0]
    assert np.array_equal(stats.kappa_counts, kappa_counts)
    assert 0 < recomputed < z.size


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("make_policy", [  # factories: see above
    pytest.param(lambda: mpcore.Uniform("fp16"), id="uniform"),
    pytest.param(lambda: mpcore.Uniform("bf16", rounding="sr", seed=3), id="uniform-sr"),
    pytest.param(lambda: mpcore.Selective("fp8_e4m3", "fp16", tau=0.3, estimator="norm"), id="selective-norm")])
def test_batched_attention_products_read_strided_views_as_their_copies(dtype, make_policy):
    """The heads' views (transposed, sliced) go to mpcore without copies: the same bits as
    contiguous copies of them."""
    policy = make_policy()
    from mpcore.networks import simulated, torch_attention

    rng = np.random.default_rng(6)
    x = rng.standard_normal((7, 3, 10)).astype(dtype)  # (L, B*h, E): heads are strided views
    w = rng.standard_normal((10, 3, 9)).astype(dtype)[:, :, ::2]  # (E, B*h, S) sliced: w[b] is transposed
    x3, w3 = x.transpose(1, 0, 2), w.transpose(1, 2, 0)
    assert not x3.flags.c_contiguous and not w3.flags.c_contiguous
    strided = torch_attention._batched(x3, w3, policy, simulated._Stats())
    copied = torch_attention._batched(np.ascontiguousarray(x3), np.ascontiguousarray(w3), policy, simulated._Stats())
    _same(strided, copied)


class _FunctionalAttention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = torch.nn.Linear(8, 24)

    def forward(self, x):
        q, k, v = self.qkv(x).reshape(x.shape[0], x.shape[1], 3, 2, 4).permute(2, 0, 3, 1, 4)
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)


def test_functional_attention_is_simulated_while_the_model_runs():
    torch.manual_seed(4)
    model = _FunctionalAttention().double().eval()
    x = torch.randn(3, 6, 8, dtype=torch.float64)
    sim = mt.convert(model, mpcore.Uniform("fp16"))
    got = sim(x)
    qkv = sim.qkv(x)  # the converted projection
    q, k, v = qkv.reshape(3, 6, 3, 2, 4).permute(2, 0, 3, 1, 4)
    causal = torch.zeros(6, 6, dtype=torch.float64).masked_fill(torch.ones(6, 6, dtype=torch.bool).triu(1),
                                                                float("-inf"))
    want = _attention_reference(q.reshape(6, 6, 4), k.reshape(6, 6, 4), v.reshape(6, 6, 4), causal, 0.5, False,
                                "fp16")
    _same(got.reshape(6, 6, 4).numpy(), want.numpy())
    rows = {r["layer"]: r for r in mt.report(sim)}
    assert rows["scaled_dot_product_attention"]["calls"] == 2 * 6 and rows["qkv"]["calls"] == 2
    np.testing.assert_allclose(mt.convert(model, mpcore.Uniform("fp64"))(x).numpy(), model(x).detach().numpy(),
                               rtol=1e-12, atol=1e-12)
    # Only the projection: the attention stays torch's.
    only = mt.convert(model, mpcore.Uniform("fp16"), layers=["qkv"])
    assert not hasattr(only, "_mpcore_attention")


def test_a_model_with_conv_pool_norm_residual_and_attention_converts():
    torch.manual_seed(5)

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 8, 3, padding=1)
            self.pool = torch.nn.MaxPool2d(2)
            self.attn = torch.nn.MultiheadAttention(8, 2, batch_first=True)
            self.norm = torch.nn.LayerNorm(8)
            self.mlp = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.GELU(), torch.nn.Linear(16, 8))
            self.head = torch.nn.Linear(8 * 16, 3)

        def forward(self, x):
            t = self.pool(torch.relu(self.conv(x))).flatten(2).transpose(1, 2)  # (N, 16 tokens, 8)
            t = t + self.attn(t, t, t, need_weights=False)[0]  # residual
            t = t + self.mlp(self.norm(t))
            return self.head(t.flatten(1))

    model = Block().double().eval()
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    np.testing.assert_allclose(mt.convert(model, mpcore.Uniform("fp64"))(x).detach().numpy(),
                               model(x).detach().numpy(), rtol=1e-10, atol=1e-12)
    sim = mt.convert(model, mpcore.Selective("fp8_e4m3", "fp32", tau=0.05))
    y = sim(x)
    assert y.shape == (2, 3) and torch.isfinite(y).all()
    kinds = {r["type"] for r in mt.report(sim)}
    assert {"Conv2d", "MultiheadAttention", "Linear"} <= kinds
    names = [r["layer"] for r in mt.report(sim)]
    assert "attn" in names and "attn.out_proj" not in names and sim.conv.activation == "relu"


def test_transformer_encoder_layer_runs_its_attention_through_mpcore():
    torch.manual_seed(6)
    layer = torch.nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, activation="gelu", batch_first=True)
    model = torch.nn.Sequential(layer).double().eval()
    x = torch.randn(3, 7, 16, dtype=torch.float64)
    sim = mt.convert(model, mpcore.Uniform("fp64"))
    np.testing.assert_allclose(sim(x).detach().numpy(), model(x).detach().numpy(), rtol=1e-10, atol=1e-12)
    assert mt.report(sim)[0]["calls"] > 0 and any(r["type"] == "MultiheadAttention" and r["calls"] for r in
                                                  mt.report(sim))


def test_an_onnx_graph_with_conv_norm_residual_runs_as_torch_and_converts(tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from mpcore.networks import onnx_torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
            self.fc = torch.nn.Linear(4 * 4 * 4, 16)
            self.norm = torch.nn.LayerNorm(16)
            self.w = torch.nn.Parameter(torch.randn(16, 16) / 4)
            self.out = torch.nn.Linear(16, 3)

        def forward(self, x):
            h = torch.nn.functional.max_pool2d(torch.relu(self.conv(x)), 2).flatten(1)
            h = self.fc(h)
            h = h + torch.nn.functional.gelu(self.norm(h)) @ self.w  # residual, MatMul with a weight
            return torch.softmax(self.out(torch.tanh(h)), -1)

    torch.manual_seed(7)
    net = Net().eval()
    x = torch.rand(5, 1, 8, 8)
    path = tmp_path / "net.onnx"
    try:
        torch.onnx.export(net, (x,), str(path), dynamo=False, opset_version=17, input_names=["x"],
                          dynamic_axes={"x": {0: "n"}})
    except Exception as exc:  # pragma: no cover - depends on the torch build's exporter
        pytest.skip(f"torch cannot export ONNX here: {exc}")
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert {"Conv", "MaxPool", "Gemm", "LayerNormalization", "MatMul", "Add", "Softmax", "Tanh"} <= ops
    graph = onnx_torch.to_torch(path)
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x.numpy()})[0]
    np.testing.assert_allclose(graph(x).detach().numpy(), want, rtol=1e-5, atol=1e-6)
    sim = mt.convert(graph, mpcore.Uniform("fp64"))
    np.testing.assert_allclose(sim(x).detach().numpy(), want, rtol=1e-5, atol=1e-6)
    kinds = [r["type"] for r in mt.report(sim)]
    assert kinds.count("Linear") == 3 and kinds.count("Conv2d") == 1  # Gemm x2, MatMul with its weight, Conv
    assert mt.report(sim)[0]["activation"] == "relu"  # found through torch.fx
    low = mt.convert(graph, mpcore.Uniform("fp8_e4m3"))(x)
    assert not np.allclose(low.detach().numpy(), want, atol=1e-3)  # simulated, not torch's own arithmetic
    bad = onnx.helper.make_model(onnx.helper.make_graph(
        [onnx.helper.make_node("Einsum", ["a"], ["b"], equation="ij->ji")], "g",
        [onnx.helper.make_tensor_value_info("a", onnx.TensorProto.FLOAT, [2, 2])],
        [onnx.helper.make_tensor_value_info("b", onnx.TensorProto.FLOAT, [2, 2])]))
    with pytest.raises(ValueError, match="unsupported ONNX operator Einsum"):
        onnx_torch.to_torch(bad)


def test_torch_runs_one_thread_inside_a_converted_layer_and_is_restored(monkeypatch):
    # Torch's spinning OpenMP threads took the cores from mpcore's (README: speed).
    seen, calls = [], []

    class Probe(torch.nn.Module):
        def forward(self, x):
            seen.append(torch.get_num_threads())
            return x

    real = mt._products

    def spy(*args, **kwargs):
        calls.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(mt, "_products", spy)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        model = mt.convert(torch.nn.Sequential(torch.nn.Linear(4, 3), Probe()), mpcore.Uniform("fp16"))
        seen.clear()  # convert traces the model (torch.fx) once
        model(torch.rand(5, 4))
        assert (calls, seen, torch.get_num_threads()) == ([1], [2], 2)
    finally:
        torch.set_num_threads(before)
