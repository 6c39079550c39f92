"""Selection by score and threshold or budget (mpcore.scores)."""

import numpy as np
import pytest

import mpcore


@pytest.fixture
def layer():
    rng = np.random.default_rng(3)
    w = (rng.standard_normal((60, 96)) / 10).astype(np.float32)
    b = (rng.standard_normal(60) / 10).astype(np.float32)
    x = rng.random((9, 96)).astype(np.float32)
    return x, w, b


OPTS = dict(low="fp8_e4m3", high="fp32", activation="relu", bounds=False)


def _low_high(x, w, b):
    return mpcore.matmul(x, w, b, acc="fp8_e4m3"), mpcore.matmul(x, w, b, acc="fp32")


@pytest.mark.parametrize("score", ["kappa", "authors", "margin", "magnitude", "random", "oracle"])
@pytest.mark.parametrize("budget", [0.0, 0.1, 0.25, 0.5, 1.0])
def test_budget_recomputes_exactly_its_share_of_every_row(layer, score, budget):
    x, w, b = layer
    r = mpcore.selective_linear(x, w, b, score=score, budget=budget, **OPTS)
    k = int(np.floor(budget * w.shape[0] + 0.5))
    assert (r.high.sum(axis=1) == k).all()
    low, high = _low_high(x, w, b)
    np.testing.assert_array_equal(r.z, np.where(r.high, high, low))  # recomputed = the high matmul's bits


def test_authors_score_is_qlinearmp_decision(layer):
    x, w, b = layer
    low, _ = _low_high(x, w, b)
    for tol in (1.0, 0.5, 0.1):
        r = mpcore.selective_linear(x, w, b, score="authors", tau=tol, **OPTS)
        # QLinearMP: keep low where kappa_phi(z)/|z| <= tol; ReLU: kappa_phi = 1 above 0, 0 below.
        with np.errstate(divide="ignore", invalid="ignore"):
            kphi = np.where(low > 0, 1.0, 0.0)
            recompute = (kphi / np.abs(low) > tol) | (low == 0)
        np.testing.assert_array_equal(r.high, recompute)


def test_oracle_picks_the_largest_true_output_changes(layer):
    x, w, b = layer
    low, high = _low_high(x, w, b)
    true = np.abs(np.maximum(low, 0) - np.maximum(high, 0))
    r = mpcore.selective_linear(x, w, b, score="oracle", budget=0.2, **OPTS)
    for row in range(x.shape[0]):
        picked, left = true[row][r.high[row]], true[row][~r.high[row]]
        assert picked.min() >= left.max()


def test_magnitude_and_random(layer):
    x, w, b = layer
    low, _ = _low_high(x, w, b)
    r = mpcore.selective_linear(x, w, b, score="magnitude", budget=0.1, **OPTS)
    for row in range(x.shape[0]):
        assert np.abs(low[row][r.high[row]]).max() <= np.abs(low[row][~r.high[row]]).min()
    a = mpcore.selective_linear(x, w, b, score="random", budget=0.3, score_seed=5, **OPTS)
    assert np.array_equal(a.high, mpcore.selective_linear(x, w, b, score="random", budget=0.3, score_seed=5,
                                                          **OPTS).high)
    assert not np.array_equal(a.high, mpcore.selective_linear(x, w, b, score="random", budget=0.3, score_seed=6,
                                                              **OPTS).high)


def test_kappa_score_with_a_budget_takes_the_largest_estimates(layer):
    x, w, b = layer
    ref = mpcore.selective_linear(x, w, b, tau=np.inf, **OPTS)  # kappa of every component, nothing recomputed
    r = mpcore.selective_linear(x, w, b, budget=0.2, **OPTS)
    for row in range(x.shape[0]):
        assert ref.kappa[row][r.high[row]].min() >= ref.kappa[row][~r.high[row]].max()
    # With tau, score="kappa" is the ladder's own rule, unchanged.
    t = mpcore.selective_linear(x, w, b, tau=0.05, **OPTS)
    np.testing.assert_array_equal(t.high, (ref.kappa * mpcore.formats.fp8_e4m3.u > 0.05) | ~np.isfinite(ref.z))


def test_margin_score_formula_for_relu(layer):
    from mpcore.scores import component_scores
    z = np.array([[-3.0, -0.5, 0.0, 0.5, 2.0]])
    num = np.array([[16.0, 16.0, 16.0, 16.0, 16.0]])
    s = component_scores("margin", z, num, activation="relu", alpha=0.0, u=1 / 16, c=1.0)
    e = 1.0  # u * c * S
    np.testing.assert_allclose(s, [[0.0, 0.5 / 2, 1.0 / 2, 1.0 / 2, 1.0 / 2]])  # / the row's largest output, 2


def test_selection_arguments_are_checked(layer):
    x, w, b = layer
    with pytest.raises(ValueError, match="exactly one of tau"):
        mpcore.selective_linear(x, w, b, **OPTS)
    with pytest.raises(ValueError, match="exactly one of tau"):
        mpcore.selective_linear(x, w, b, tau=1.0, budget=0.1, **OPTS)
    with pytest.raises(ValueError, match="score: unknown score"):
        mpcore.selective_linear(x, w, b, tau=1.0, score="best", **OPTS)
    with pytest.raises(ValueError, match="budget must be a fraction"):
        mpcore.selective_linear(x, w, b, budget=1.5, **OPTS)
    with pytest.raises(ValueError, match="two formats"):
        mpcore.ladder_linear(x, w, b, formats=["fp8_e4m3", "fp16", "fp32"], budget=0.1)


def test_policies_take_a_score_and_a_budget():
    rng = np.random.default_rng(2)
    net = mpcore.MLP([mpcore.Dense(rng.standard_normal((20, 12)), rng.standard_normal(20), "relu"),
                      mpcore.Dense(rng.standard_normal((4, 20)), None)], weight_format="bf16")
    x, y = rng.random((30, 12)), rng.integers(0, 4, 30)
    p = mpcore.Selective("fp8_e4m3", "fp32", budget=0.25, score="random", score_seed=1)
    assert "score=random#1" in p.label() and "budget=0.25" in p.label()
    ev = net.evaluate(x, y, p)
    assert ev.fraction_high_per_layer == [0.25, 0.25]
    with pytest.raises(ValueError, match="exactly one of tau"):
        mpcore.Selective("fp8_e4m3", "fp32")
    # No estimator is charged for a score that needs none: random costs less than kappa at equal budget.
    ev_kappa = net.evaluate(x, y, mpcore.Selective("fp8_e4m3", "fp32", budget=0.25))
    assert ev.cost < ev_kappa.cost


def test_static_plan_recomputes_the_planned_neurons_for_every_input():
    from mpcore.networks.plan import plan_policies, static_plan
    rng = np.random.default_rng(4)
    net = mpcore.MLP([mpcore.Dense(rng.standard_normal((20, 12)) / 3, rng.standard_normal(20) / 3, "relu"),
                      mpcore.Dense(rng.standard_normal((5, 20)) / 4, None)], weight_format="bf16")
    train, test = rng.random((200, 12)), rng.random((30, 12))
    plan = static_plan(net, train, "fp8_e4m3", "fp16", budget=0.2)
    assert [len(p) for p in plan] == [4, 1]
    # The planned neurons are those with the largest mean output change on the training inputs.
    z_low = mpcore.matmul(train, net.layers[0].w, net.layers[0].b, acc="fp8_e4m3")
    z_high = mpcore.matmul(train, net.layers[0].w, net.layers[0].b, acc="fp16")
    mean = np.abs(np.maximum(z_low, 0) - np.maximum(z_high, 0)).mean(axis=0)
    assert mean[list(plan[0])].min() >= np.delete(mean, plan[0]).max()
    policies = plan_policies(plan, "fp8_e4m3", "fp16")
    r = net.run(test, policies)
    assert [s.counts[1] for s in r.layers] == [4 * 30, 1 * 30]
    layer0 = mpcore.selective_linear(test, net.layers[0].w, net.layers[0].b, low="fp8_e4m3", high="fp16",
                                     neurons=plan[0], activation="relu", bounds=False)
    assert (layer0.high.sum(axis=0)[list(plan[0])] == 30).all() and layer0.high.sum() == 4 * 30
    with pytest.raises(ValueError, match="static plan"):
        mpcore.selective_linear(test, net.layers[0].w, low="fp8_e4m3", high="fp16", neurons=[1], tau=1.0)
