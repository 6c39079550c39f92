"""The energy model (mpcore.networks.energy) against its published points and its own accounting."""

import numpy as np
import pytest

import mpcore
from mpcore.networks import energy


def test_the_published_points_are_reproduced_and_interpolation_is_monotone():
    assert energy.add_pj("fp16") == pytest.approx(0.4) and energy.add_pj("fp32") == pytest.approx(0.9, rel=1e-3)
    assert energy.mul_pj("fp16", "fp16") == pytest.approx(1.1)
    assert energy.mul_pj("fp32", "fp32") == pytest.approx(3.7, rel=0.01)
    assert energy.add_pj("fp8_e4m3") < energy.add_pj("bf16") <= energy.add_pj("fp16") < energy.add_pj("fp64")
    assert energy.mul_pj("fp8_e4m3", "fp8_e4m3") < energy.mul_pj("fp8_e4m3", "fp32") < energy.mul_pj("fp32", "fp32")


def test_layer_energy_accounts_for_estimator_decision_and_recompute():
    sel = mpcore.Selective("fp8_e4m3", "fp16", budget=0.1)
    rnd = mpcore.Selective("fp8_e4m3", "fp16", budget=0.1, score="random")
    counts = [90, 10]
    e_sel = energy.layer_energy_pj(sel, 1, 50, 100, counts, "fp8_e4m3", "fp32")
    e_rnd = energy.layer_energy_pj(rnd, 1, 50, 100, counts, "fp8_e4m3", "fp32")
    assert e_sel - e_rnd == pytest.approx(50 * 100 * energy.add_pj("fp32"))  # the exact estimator: an fp32 add per term
    uniform = energy.layer_energy_pj(mpcore.Uniform("fp8_e4m3"), 1, 50, 100, [100], "fp8_e4m3", "fp32")
    per_recompute = 50 * (energy.mul_pj("fp8_e4m3", "fp32") + energy.add_pj("fp16") + 8 * energy.SRAM_PJ_PER_BIT)
    decide = 100 * (energy.mul_pj("fp32", "fp32") + energy.add_pj("fp32"))
    assert e_rnd == pytest.approx(uniform + decide + 10 * per_recompute)


def test_evaluation_reports_relative_energy():
    rng = np.random.default_rng(0)
    net = mpcore.MLP([mpcore.Dense(rng.standard_normal((16, 8)), None, "relu"), mpcore.Dense(rng.standard_normal((3, 16)))],
                     weight_format="fp8_e4m3")
    x, y = rng.random((10, 8)).astype(np.float32), rng.integers(0, 3, 10)
    assert net.evaluate(x, y, mpcore.Uniform("fp16"), cost_reference="fp16").relative_energy == pytest.approx(1.0)
    low = net.evaluate(x, y, mpcore.Uniform("fp8_e4m3"), cost_reference="fp16")
    assert 0.5 < low.relative_energy < 1.0 and low.relative_cost == pytest.approx(0.5)
