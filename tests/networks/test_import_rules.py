"""An import reproduces the framework's outputs or fails naming what it cannot represent;
imported models are named after their file or class; bad files and dtypes get clear errors."""

import numpy as np
import pytest

import mpcore
from mpcore import models

torch = pytest.importorskip("torch")
nn = torch.nn


class FunctionalNet(nn.Module):
    """A custom module whose activations are functions in forward (imported as linear before)."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(6, 5), nn.Linear(5, 4), nn.Linear(4, 3)

    def forward(self, x):
        x = torch.relu(self.fc1(x.flatten(1)))
        x = torch.nn.functional.gelu(self.fc2(x), approximate="tanh")
        return self.fc3(x).tanh()


class ResidualNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(4, 4), nn.Linear(4, 2)

    def forward(self, x):
        return self.fc2(x + torch.relu(self.fc1(x)))


def torch_out(model, x):
    with torch.no_grad():
        return model.double()(torch.from_numpy(x)).numpy()


def test_custom_module_with_functional_activations_reproduces_torch():
    torch.manual_seed(0)
    model = FunctionalNet()
    net = models.from_torch(model)
    assert [layer.activation for layer in net.layers] == ["relu", "gelu_tanh", "tanh"]
    assert net.name == "functionalnet"
    x = np.random.default_rng(1).standard_normal((7, 6))
    assert np.allclose(net.reference_logits(x), torch_out(model, x), rtol=1e-12, atol=1e-12)


def test_nested_sequential_is_imported():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Sequential(nn.Linear(3, 4), nn.Tanh()), nn.Sequential(nn.Linear(4, 2)))
    net = models.from_torch(model)
    x = np.random.default_rng(2).standard_normal((5, 3))
    assert np.allclose(net.reference_logits(x), torch_out(model, x), rtol=1e-12, atol=1e-12)


def test_residual_connection_and_layernorm_are_refused_by_name():
    with pytest.raises(ValueError, match="residual"):
        models.from_torch(ResidualNet())
    with pytest.raises(ValueError, match="LayerNorm"):
        models.from_torch(nn.Sequential(nn.Linear(3, 3), nn.LayerNorm(3), nn.Linear(3, 2)))


def test_state_dict_needs_activations_and_linear_keys_only():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    with pytest.raises(ValueError, match="activations="):
        models.from_torch(model.state_dict())
    net = models.from_torch(model.state_dict(), ["relu", "identity"])
    x = np.random.default_rng(3).standard_normal((4, 3))
    assert np.allclose(net.reference_logits(x), torch_out(model, x), rtol=1e-12, atol=1e-12)
    sd = nn.Sequential(nn.Linear(3, 3), nn.LayerNorm(3)).state_dict()
    with pytest.raises(ValueError, match="not a Linear weight"):
        models.from_torch(sd, ["identity", "identity"])


def test_saved_state_dict_via_load_any_fails_clearly(tmp_path):
    path = tmp_path / "sd.pt"
    torch.save(nn.Sequential(nn.Linear(3, 2)).state_dict(), path)
    with pytest.raises(ValueError, match="activations"):
        models.load_any(path)


def test_imported_models_are_named_after_their_file(tmp_path):
    path = tmp_path / "my_classifier.pt"
    torch.save(nn.Sequential(nn.Linear(3, 2)), path)
    assert models.load_any(path).name == "my_classifier"


def test_corrupt_npz_names_the_file(tmp_path):
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match="broken.npz.*expected"):
        models.load(bad)
    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(ValueError, match="single array"):
        models.load(single)


def test_complex_ml_dtypes_are_refused():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    if not hasattr(ml_dtypes, "complex32"):
        pytest.skip("this ml_dtypes has no complex32")
    x = np.ones((1, 2), dtype=ml_dtypes.complex32)
    with pytest.raises(TypeError, match="x must hold real numbers"):
        mpcore.matmul(x, np.ones((1, 2)), acc="fp16")


def test_alpha_must_be_a_number():
    with pytest.raises(TypeError, match="alpha"):
        mpcore.selective_linear(np.ones((1, 2)), np.ones((1, 2)), low="fp8_e4m3", high="fp16", tau=1,
                                activation="elu", alpha="x")


def test_bad_simd_environment_warns():
    import subprocess
    import sys

    for value in ("AVX9", ""):
        out = subprocess.run([sys.executable, "-W", "always", "-c", "import mpcore"], capture_output=True, text=True,
                             env={**__import__("os").environ, "MPCORE_SIMD": value})
        assert "MPCORE_SIMD" in out.stderr, (value, out.stderr)
