"""The MLP runner, policies and the cost model."""

import numpy as np
import pytest

import mpcore
from mpcore.networks import cost
from mpcore.networks.mlp import predictions


def small_net(rng, activation="relu", **options):
    dims = [20, 16, 12, 4]
    layers = [mpcore.Dense(rng.standard_normal((m, n)) / np.sqrt(n), rng.standard_normal(m) * 0.1,
                           activation if k < 2 else "identity")
              for k, (n, m) in enumerate(zip(dims[:-1], dims[1:]))]
    return mpcore.MLP(layers, **options)


def test_uniform_run_is_the_chain_of_matmuls(rng):
    net = small_net(rng, weight_format="bf16", activation_format="fp16")
    x = rng.random((7, 20))
    logits = net.run(x, mpcore.Uniform("fp16")).logits
    h = x
    for k, layer in enumerate(net.layers):
        z = mpcore.matmul(h, layer.w, layer.b, acc="fp16")
        h = mpcore.activate(layer.activation, z)
        if k < 2:
            h = mpcore.round(h, "fp16")
    assert np.array_equal(logits, h)
    # Weights were rounded once to bf16.
    assert np.array_equal(net.layers[0].w, mpcore.round(net.layers[0].w, "bf16"))


def test_policy_per_layer_and_selective_stats(rng):
    net = small_net(rng)
    x = rng.random((9, 20))
    policies = [mpcore.Selective("fp8_e4m3", "fp16", 0.1), mpcore.Uniform("bf16"),
                mpcore.Ladder(["fp8_e4m3", "bf16", "fp32"], 0.01)]
    r = net.run(x, policies)
    assert r.logits.shape == (9, 4)
    assert [len(s.counts) for s in r.layers] == [2, 1, 3]
    assert all(abs(sum(s.fractions) - 1) < 1e-12 for s in r.layers)
    with pytest.raises(ValueError, match="list of 3"):
        net.run(x, policies[:2])
    with pytest.raises(ValueError, match="shape"):
        net.run(rng.random((3, 5)), mpcore.Uniform("fp16"))


def test_evaluate_metrics(rng):
    net = small_net(rng)
    x = rng.random((50, 20))
    ref = net.reference_logits(x)
    y = predictions(ref)
    y[:5] = (y[:5] + 1) % 4  # five wrong labels
    e = net.evaluate(x, y, mpcore.Uniform("fp32"))
    assert e.accuracy == pytest.approx(0.9) and e.agreement == 1.0
    assert e.logits_rel_err_mean < 1e-6 and e.relative_cost == pytest.approx(1.0)
    low = net.evaluate(x, y, mpcore.Uniform("fp4_e2m1"), cost_reference="fp16")
    assert low.relative_cost == pytest.approx(4 / 16)
    assert low.logits_rel_err_mean > e.logits_rel_err_mean
    assert net.evaluate(x, y, mpcore.Selective("fp8_e4m3", "fp32", 0)).agreement == 1.0


def test_cost_model_arithmetic():
    B, n, m = 10, 100, 20
    sel = mpcore.Selective("fp8_e4m3", "fp16", 0.1)
    counts = [150, 50]
    low_pass, recompute = B * n * m * 8, 50 * n * 16
    assert cost.layer_cost(sel, B, n, m, counts) == low_pass + B * n * m * 32 + recompute
    norm = mpcore.Selective("fp8_e4m3", "fp16", 0.1, estimator="norm")
    assert cost.layer_cost(norm, B, n, m, counts) == low_pass + B * (n + m) * 32 + recompute
    lowest = mpcore.Selective("fp8_e4m3", "fp16", 0.1, estimator="low")
    assert cost.layer_cost(lowest, B, n, m, counts) == low_pass + B * n * m * 8 + recompute
    assert cost.layer_cost(mpcore.Uniform("bf16"), B, n, m, [B * m]) == B * n * m * 16
    table = {"fp8_e4m3": 1.0, "fp16": 3.0, "fp32": 10.0}
    assert cost.layer_cost(sel, B, n, m, counts, table) == B * n * m * 1 + B * n * m * 10 + 50 * n * 3
    with pytest.raises(ValueError, match="no entry for format 'bf16'"):
        cost.format_cost("bf16", table)
    assert cost.uniform_cost("fp16", B, [(n, m), (m, 5)]) == B * (n * m + m * 5) * 16


def test_bad_networks(rng):
    with pytest.raises(ValueError, match="at least one layer"):
        mpcore.MLP([])
    with pytest.raises(ValueError, match="layer 1 takes 5 inputs"):
        mpcore.MLP([mpcore.Dense(np.ones((4, 3))), mpcore.Dense(np.ones((2, 5)))])
    with pytest.raises(ValueError, match="unsupported activation 'swish'"):
        mpcore.Dense(np.ones((2, 2)), activation="swish")
    with pytest.raises(ValueError, match="b must have shape"):
        mpcore.Dense(np.ones((2, 2)), np.ones(3))
