import json
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest

import mpcore
from mpcore.networks.mlp import predictions


@pytest.fixture
def net_and_data(rng):
    dims = [30, 24, 5]
    layers = [mpcore.Dense(rng.standard_normal((m, n)) / np.sqrt(n), rng.standard_normal(m) * 0.1,
                           "relu" if k == 0 else "identity") for k, (n, m) in enumerate(zip(dims[:-1], dims[1:]))]
    net = mpcore.MLP(layers, weight_format="fp8_e4m3", name="tiny")
    x = rng.random((40, 30))
    return net, x, predictions(net.reference_logits(x))


def test_sweep_rows_and_outputs(net_and_data, tmp_path):
    net, x, y = net_and_data
    r = mpcore.sweep(net, x, y, "fp8_e4m3", "fp16", [1, 0.1, 0], progress=False)
    assert [row["label"] for row in r.rows][:3] == ["uniform fp8_e4m3", "uniform fp16", "uniform fp32"]
    assert [row["tau"] for row in r.rows[3:]] == [1.0, 0.1, 0.0]
    assert r.rows[1]["relative_cost"] == pytest.approx(1.0) and r.rows[0]["relative_cost"] == pytest.approx(0.5)
    assert r.rows[-1]["fraction_high"] == 1.0 and r.rows[-1]["agreement"] == r.rows[1]["agreement"]
    fractions = [row["fraction_high"] for row in r.rows[3:]]
    assert fractions == sorted(fractions)
    assert len(r.kappa) == 2 and r.kappa[0].shape == (40, 24)
    r.to_csv(tmp_path / "s.csv")
    assert (tmp_path / "s.csv").read_text().startswith("label,kind,tau")
    data = json.loads(r.to_json(tmp_path / "s.json"))
    assert data["rows"][3]["tau"] == 1.0 and "selective" in r.table()
    plot = pytest.importorskip("mpcore.app.plot")
    pytest.importorskip("matplotlib")
    plot.cost_accuracy(r, tmp_path / "a.png")
    plot.kappa_histogram(r, tmp_path / "k.png")
    assert (tmp_path / "a.png").stat().st_size > 1000 and (tmp_path / "k.png").stat().st_size > 1000


@pytest.mark.parametrize("pool", [ThreadPoolExecutor, ProcessPoolExecutor])
def test_executor_gives_the_serial_results(net_and_data, pool):
    net, x, y = net_and_data
    serial = mpcore.sweep(net, x, y, "fp8_e4m3", "bf16", [0.5, 0.05], progress=False)
    with pool(2) as ex:
        spread = mpcore.sweep(net, x, y, "fp8_e4m3", "bf16", [0.5, 0.05], executor=ex, progress=False)
    strip = lambda rows: [{k: v for k, v in row.items() if k != "seconds"} for row in rows]  # noqa: E731
    assert strip(serial.rows) == strip(spread.rows)


def test_sweep_errors(net_and_data):
    net, x, y = net_and_data
    with pytest.raises(ValueError, match="taus"):
        mpcore.sweep(net, x, y, "fp8_e4m3", "fp16", [])
    with pytest.raises(ValueError, match=">= 0"):
        mpcore.sweep(net, x, y, "fp8_e4m3", "fp16", [-1])
    with pytest.raises(ValueError, match="more precise"):
        mpcore.sweep(net, x, y, "fp32", "fp16", [0.1])
