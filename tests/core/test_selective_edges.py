"""The selective layer never keeps a wrong result silently: z = 0 under activations with
phi(0) != 0, sums clamped at the format's top, NaN estimates, tau = inf, empty sums."""

import numpy as np
import pytest

import mpcore
from mpcore.selective import ACTIVATIONS

HUGE = [1e300, -1e300, 1e308, -1e308, 750.0, -750.0, 40.0, -40.0]


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_condition_has_no_nan(activation):
    t = np.array([0.0, -0.0, 1e-320, -1e-320, np.inf, -np.inf] + HUGE)
    k = mpcore.cond_activation(activation, t)
    assert not np.isnan(k).any(), dict(zip(t, k))
    assert (k >= 0).all()
    assert np.isnan(mpcore.cond_activation(activation, np.array([np.nan])))[0]


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_zero_low_result_is_recomputed_unless_its_estimate_is_finite(activation):
    # 16 + 0.5 - 16 in fp8_e4m3 gives 0 (0.5 is lost next to 16); the exact value is 0.5.
    x = np.array([[16, .5, -16]], np.float32)
    w = np.ones((1, 3), np.float32)
    r = mpcore.selective_linear(x, w, low="fp8_e4m3", high="fp16", tau=1e-3, activation=activation)
    assert not np.isnan(r.kappa).any() and not np.isnan(r.err_est).any()
    assert r.high[0, 0], (activation, r.kappa)  # a real error of 0.5 in z: always worth recomputing here
    assert r.z[0, 0] == 0.5
    assert np.allclose(r.y[0, 0], mpcore.activate(activation, np.array([0.5]))[0])


@pytest.mark.parametrize("activation", ["sigmoid", "softplus"])
def test_phi_of_zero_nonzero_gives_finite_estimate_at_zero(activation):
    x = np.array([[16, .5, -16]], np.float32)
    w = np.ones((1, 3), np.float32)
    r = mpcore.selective_linear(x, w, low="fp8_e4m3", high="fp16", tau=1e6, activation=activation)
    # kappa = |phi'(0)/phi(0)| * (|W||x|) = (1/2 or 1/(2 ln 2)) * 32.5: finite, kept at a huge tau.
    want = (0.5 if activation == "sigmoid" else 0.5 / np.log(2)) * 32.5
    assert np.isclose(r.kappa[0, 0], want, rtol=1e-6) and not r.high[0, 0]


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_combined_form_equals_product_where_both_are_finite(activation, rng):
    x = rng.standard_normal((6, 30)).astype(np.float32)
    w = rng.standard_normal((20, 30)).astype(np.float32)
    r = mpcore.selective_linear(x, w, low="bf16", high="fp32", tau=np.inf, activation=activation,
                                estimator="exact")
    kv = mpcore.cond_inner(x, w, None, r.z, estimator="exact")
    kphi = mpcore.cond_activation(activation, r.z)
    ok = np.isfinite(kv) & (r.z != 0)
    assert ok.sum() > 100
    assert np.allclose(r.kappa[ok], (kphi * kv)[ok], rtol=1e-12, atol=0)


def exact_linear(x, w, b=None):
    z = x.astype(np.float64) @ w.T.astype(np.float64)
    return z if b is None else z + b


@pytest.mark.parametrize("low,mode", [("fp6_e2m3", "rne"), ("fp4_e2m1", "rne"), ("fp6_e3m2", "sr"),
                                      ("fp8_e4m3", "rtz"), ("fp8_e4m3", "rto"), ("fp16", "rtz"),
                                      ("fp8_e5m2", "rup"), ("fp8_e5m2", "rdn"), ("fp6_e2m3", "rtz")])
@pytest.mark.parametrize("order", ["sequential", "blocked"])
def test_clamped_sums_are_recomputed_and_bounds_hold(low, mode, order, rng):
    top = mpcore.formats.get(low).max_finite
    x = rng.standard_normal((8, 24)) * top / 6
    x[0] = top / 3  # every partial sum beyond the top
    x[1, :12], x[1, 12:] = top / 2, -top / 2  # clamped on the way, back to 0 at the end
    w = np.ones((5, 24))
    w[1::2] *= -1
    x = mpcore.round(x, low).astype(np.float32)
    w = w.astype(np.float32)
    extra = dict(order="blocked", block=5, outer=low) if order == "blocked" else {}
    r = mpcore.selective_linear(x, w, low=low, high="fp32", tau=np.inf, rounding=mode, seed=1, **extra)
    exact = exact_linear(x, w)
    kept = ~r.high
    assert r.high[0].all()
    if mode == "sr":
        # A stochastic path through the clamp may end on the very value the same draws give
        # without a top (the clamp then changed nothing): such a sum may stay, no other.
        f = mpcore.formats.get(low)
        free = mpcore.Format(precision=f.precision, emin=f.emin, emax=f.emax + 20, subnormals=f.subnormals)
        free_extra = dict(extra, outer=free) if order == "blocked" else {}
        free_z = mpcore.matmul(x, w, acc=free, rounding=mode, seed=1, **free_extra)
        assert np.array_equal(r.z[1][kept[1]], free_z[1][kept[1]])
    else:
        assert r.high[1].all()
    # Whatever was kept is within its worst-case bound (no silent saturation).
    assert (np.abs(r.z - exact)[kept] <= r.bound[kept]).all()
    # And it equals the low matmul; the rest equals the high matmul.
    low_z = mpcore.matmul(x, w, acc=low, rounding=mode, seed=1, **extra)
    high_z = mpcore.matmul(x, w, acc="fp32", rounding=mode, seed=1, **extra)
    assert np.array_equal(r.z[kept], low_z[kept]) and np.array_equal(r.z[~kept], high_z[~kept])


def test_issue_reproducers_saturation():
    r = mpcore.selective_linear(np.full((1, 4), 5, np.float32), np.ones((1, 4), np.float32), low="fp6_e2m3",
                                high="fp16", tau=1)
    assert r.high.all() and r.z[0, 0] == 20 and r.bound[0, 0] >= 0
    r = mpcore.selective_linear(np.array([[300, 300]], np.float32), np.ones((1, 2), np.float32), low="fp8_e4m3",
                                high="fp16", tau=0.2, rounding="rtz")
    assert r.high.all() and r.z[0, 0] == 600


def test_clamp_in_an_intermediate_rung_moves_to_the_top():
    wide = mpcore.Format(precision=3, emin=-2, emax=10)  # u = 1/8, no clamp at 20
    x = np.full((1, 4), 5, np.float32)
    w = np.ones((1, 4), np.float32)
    r = mpcore.ladder_linear(x, w, formats=[wide, "fp6_e2m3", "fp16"], tau=0.1)  # kappa u: 1/8 > 0.1 >= 1/16
    assert r.rung[0, 0] == 2 and r.z[0, 0] == 20
    r = mpcore.ladder_linear(x, w, formats=[wide, "fp6_e2m3"], tau=0.1)  # nothing above: say so
    assert r.rung[0, 0] == 1 and r.z[0, 0] == 7.5
    assert np.isinf(r.err_est[0, 0]) and np.isinf(r.bound[0, 0]) and np.isinf(r.bound_prob[0, 0])


def test_tau_inf_keeps_every_finite_unclamped_result_except_unsure_signs(rng):
    x = rng.standard_normal((16, 40)).astype(np.float32)
    w = rng.standard_normal((30, 40)).astype(np.float32)
    for estimator in ("exact", "low", "norm"):
        r = mpcore.selective_linear(x, w, low="fp8_e5m2", high="fp16", tau=np.inf, activation="relu",
                                    estimator=estimator)
        assert not r.high.any()
    g = mpcore.selective_linear(x, w, low="fp8_e5m2", high="fp16", tau=np.inf, activation="relu", guard_sign=True)
    assert g.high.any()  # documented exception
    assert (g.high <= (g.kappa == 0)).all()  # only negatives whose sign is unsure


def test_nan_estimate_is_recomputed_not_compared():
    # The "low" estimator sums |W||x| in fp8_e4m3: 600 > 448 is NaN there, while z is small.
    x = np.array([[300, -300, 1]], np.float32)
    w = np.ones((1, 3), np.float32)
    r = mpcore.selective_linear(x, w, low="fp8_e4m3", high="fp16", tau=np.inf, estimator="low")
    assert np.isnan(r.kappa[0, 0]) and r.high[0, 0] and r.z[0, 0] == 1


def test_empty_sum_with_factor_n(rng):
    x = np.zeros((3, 0), np.float32)
    w = np.zeros((4, 0), np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    for factor in ("1", "sqrt", "n"):
        r = mpcore.selective_linear(x, w, b, low="fp8_e4m3", high="fp16", tau=1, factor=factor)
        assert not np.isnan(r.err_est).any() and not r.high.any()
        assert np.array_equal(r.z, np.broadcast_to(mpcore.round(b, "fp8_e4m3"), (3, 4)))
