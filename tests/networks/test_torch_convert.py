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
    cols = F.unfold(x, 3, dilation=dilation, padding=padding, stride=stride)
    w, b = conv.weight.detach().numpy(), conv.bias.detach().numpy()
    per_in, per_out = cols.shape[1] // groups, 12 // groups
    for n in range(2):
        for g in range(groups):
            xs = cols[n, g * per_in:(g + 1) * per_in].T.numpy()
            want = mpcore.matmul(xs, w[g * per_out:(g + 1) * per_out].reshape(per_out, -1),
                                 b[g * per_out:(g + 1) * per_out], acc="bf16", rounding="sr", seed=3)
            _same(y[n, g * per_out:(g + 1) * per_out].reshape(per_out, -1).numpy().T, want)
    # fp64 accumulation matches torch's own convolution to rounding.
    np.testing.assert_allclose(mt.convert(conv, mpcore.Uniform("fp64"))(x).numpy(), conv(x).detach().numpy(),
                               rtol=1e-12, atol=1e-12)


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
