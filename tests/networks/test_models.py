"""Model import round trips: the imported network gives the framework's logits in fp64."""

import numpy as np
import pytest

import mpcore
from mpcore import models


def reference_net(rng):
    layers = [mpcore.Dense(rng.standard_normal((16, 12)), rng.standard_normal(16), "tanh"),
              mpcore.Dense(rng.standard_normal((8, 16)), rng.standard_normal(8), "relu"),
              mpcore.Dense(rng.standard_normal((3, 8)), rng.standard_normal(3))]
    return mpcore.MLP(layers, activation_format=None, name="ref")


def test_npz_round_trip(tmp_path, rng):
    net = reference_net(rng)
    models.save(net, tmp_path / "m.npz")
    back = models.load(tmp_path / "m.npz")
    x = rng.random((5, 12))
    assert back.name == "ref" and back.activation_format is None
    assert np.array_equal(back.reference_logits(x), net.reference_logits(x))


def test_npz_fp8_codes_round_trip(tmp_path, rng):
    net = mpcore.MLP(reference_net(rng).layers, weight_format="fp8_e4m3")
    models.save(net, tmp_path / "q.npz", encoding="fp8_e4m3")
    with np.load(tmp_path / "q.npz") as z:
        assert z["w0"].dtype == np.uint8
    back = models.load(tmp_path / "q.npz")
    for a, b in zip(net.layers, back.layers):
        assert np.array_equal(a.w, b.w) and np.array_equal(a.b, b.b) and a.activation == b.activation
    with pytest.raises(ValueError, match="not representable"):
        models.save(reference_net(rng), tmp_path / "bad.npz", encoding="fp8_e4m3")


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        models.load(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", a=np.ones(3))
    with pytest.raises(ValueError, match="not an mpcore model"):
        models.load(tmp_path / "other.npz")
    (tmp_path / "m.h5").write_bytes(b"x")
    with pytest.raises(ValueError, match="unknown model file type"):
        models.load_any(tmp_path / "m.h5")


def test_torch_round_trip(tmp_path, rng):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    seq = nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.GELU(), nn.Linear(16, 8), nn.LeakyReLU(0.05),
                        nn.Dropout(0.1), nn.Linear(8, 8), nn.ELU(0.7), nn.Linear(8, 3)).double().eval()
    x = rng.random((6, 12))
    with torch.no_grad():
        want = seq(torch.from_numpy(x)).numpy()
    net = models.from_torch(seq, activation_format=None)
    assert [l.activation for l in net.layers] == ["gelu", "leaky_relu", "elu", "identity"]
    assert np.allclose(net.reference_logits(x), want, rtol=1e-12, atol=1e-12)
    # A state dict plus activations, and a saved module.
    net2 = models.from_torch({k: v for k, v in seq.state_dict().items()}, ["gelu", "leaky_relu", "elu", "identity"],
                             activation_format=None)
    net2.layers[1].alpha, net2.layers[2].alpha = 0.05, 0.7
    assert np.allclose(net2.reference_logits(x), want, rtol=1e-12, atol=1e-12)
    torch.save(seq, tmp_path / "m.pt")
    assert np.allclose(models.load_any(tmp_path / "m.pt", activation_format=None).reference_logits(x), want,
                       rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="unsupported layer Conv1d"):
        models.from_torch(nn.Sequential(nn.Linear(3, 3), nn.Conv1d(1, 1, 1)))


# A partly trained classifier is all the round trip needs: 50 iterations, not convergence.
@pytest.mark.filterwarnings("ignore:Stochastic Optimizer. Maximum iterations")
def test_sklearn_round_trip(rng):
    sk = pytest.importorskip("sklearn.neural_network")
    x = rng.random((60, 12))
    y = rng.integers(0, 3, 60)
    clf = sk.MLPClassifier(hidden_layer_sizes=(10, 7), activation="tanh", max_iter=50, random_state=0).fit(x, y)
    net = models.from_sklearn(clf, activation_format=None)
    logits = net.reference_logits(x)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    assert np.allclose(p, clf.predict_proba(x), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="not a fitted"):
        models.from_sklearn(sk.MLPClassifier())


def make_onnx(rng, use_gemm=True):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    w1, b1 = rng.standard_normal((16, 12)), rng.standard_normal(16)
    w2, b2 = rng.standard_normal((3, 16)), rng.standard_normal(3)
    inits = [numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (w2.T.copy(), "w2t"), (b2, "b2"))]
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["z1"], transB=1) if use_gemm else
             helper.make_node("Gemm", ["x", "w1", "b1"], ["z1"], transB=1),
             helper.make_node("Sigmoid", ["z1"], ["h1"]),
             helper.make_node("MatMul", ["h1", "w2t"], ["m2"]),
             helper.make_node("Add", ["m2", "b2"], ["y"])]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.DOUBLE, [None, 12])],
                              [helper.make_tensor_value_info("y", TensorProto.DOUBLE, [None, 3])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    ref = lambda x: (1 / (1 + np.exp(-(x @ w1.T + b1)))) @ w2.T + b2  # noqa: E731
    return model, ref


def test_onnx_round_trip(tmp_path, rng):
    model, ref = make_onnx(rng)
    import onnx

    onnx.save(model, str(tmp_path / "m.onnx"))
    x = rng.random((5, 12))
    net = models.load_any(tmp_path / "m.onnx", activation_format=None)
    assert [l.activation for l in net.layers] == ["sigmoid", "identity"]
    got = net.reference_logits(x)
    assert np.allclose(got, ref(x), rtol=1e-12, atol=1e-12)
    try:
        import onnxruntime as ort
    except ImportError:
        return
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    assert np.allclose(got, sess.run(None, {"x": x})[0], rtol=1e-12, atol=1e-12)


def test_onnx_unsupported_operator(rng):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.DOUBLE, None)],
                              [helper.make_tensor_value_info("y", TensorProto.DOUBLE, None)])
    with pytest.raises(ValueError, match="unsupported ONNX operator Conv"):
        models.from_onnx(helper.make_model(graph))
