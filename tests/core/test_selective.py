"""The selective layer and the precision ladder (the paper's Algorithm 1)."""

import math

import numpy as np
import pytest

import mpcore

ACTS = mpcore.ACTIVATIONS


def layer(rng, batch=6, n=97, out=40, scale=1.0, dtype=np.float32):
    x = rng.random((batch, n)).astype(dtype)
    w = (rng.standard_normal((out, n)) * scale / np.sqrt(n)).astype(dtype)
    b = (rng.standard_normal(out) * 0.1).astype(dtype)
    return x, w, b


def log_derivative(activation, z):
    """|phi'(z) / phi(z)| in NumPy, independently of the C++ code: kappa_phi / |z|, except
    for the activations with phi(0) != 0, whose formulas are finite at 0."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if activation == "sigmoid":
            return 1.0 / (1.0 + np.exp(z))
        if activation == "softplus":
            return np.where(z < -30, 1.0, (1.0 / (1.0 + np.exp(-z))) / np.logaddexp(0.0, z))
        kphi = mpcore.cond_activation(activation, z)
        return np.where(kphi == 0, 0.0, np.where(z == 0, np.inf, kphi / np.abs(z)))


def python_rule(x, w, b, low, tau, activation, estimator, factor):
    """The decision recomputed in Python from the low-precision result, with kappa in the
    combined form |phi'(z)| N / |phi(z)| (N = |W||x| + |b| by the estimator). Returns also
    where the decision is too close to tau for a last-bit difference to be ruled out."""
    z_low = mpcore.matmul(x, w, b, acc=low)
    numerator = mpcore.cond_inner(x, w, b, np.ones_like(z_low), estimator=estimator, low=low)  # N / 1
    rho = log_derivative(activation, z_low)
    with np.errstate(invalid="ignore"):
        kappa = np.where((rho == 0) | (numerator == 0), 0.0, rho * numerator)
    n = w.shape[1]
    c = {"1": 1.0, "sqrt": math.sqrt(n), "n": float(n)}[factor]
    u = mpcore.formats.get(low).u
    high = ~np.isfinite(z_low) | (kappa * u * c > tau) | (tau == 0)
    close = np.isfinite(kappa) & (np.abs(kappa * u * c - tau) <= 1e-9 * tau)
    return z_low, kappa, high, close


@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("estimator", mpcore.ESTIMATORS)
@pytest.mark.parametrize("factor", ["1", "sqrt", "n"])
def test_mask_equals_the_rule_and_values_equal_uniform_runs(activation, estimator, factor, rng):
    x, w, b = layer(rng)
    w[0] *= 1e-3  # some badly conditioned rows
    low, high = "fp8_e4m3", "fp16"
    tau = {"1": 0.2, "sqrt": 2.0, "n": 30.0}[factor]
    r = mpcore.selective_linear(x, w, b, low=low, high=high, tau=tau, activation=activation,
                                estimator=estimator, factor=factor)
    z_low, kappa, want_high, close = python_rule(x, w, b, low, tau, activation, estimator, factor)
    assert np.allclose(r.kappa, kappa, rtol=1e-12, atol=0, equal_nan=True)
    assert close.mean() < 0.02 and np.array_equal(r.high[~close], want_high[~close])
    z_high = mpcore.matmul(x, w, b, acc=high)
    assert np.array_equal(r.z[r.high], z_high[r.high])
    assert np.array_equal(r.z[~r.high], z_low[~r.high])
    assert np.array_equal(r.y, mpcore.activate(activation, r.z))
    assert r.fraction_high == pytest.approx(np.mean(r.high))


def test_tau_zero_is_uniform_high_and_tau_inf_is_uniform_low(rng):
    x, w, b = layer(rng)
    for act in ("relu", "tanh", "identity"):
        r0 = mpcore.selective_linear(x, w, b, low="fp8_e4m3", high="fp16", tau=0, activation=act)
        assert r0.high.all() and np.array_equal(r0.z, mpcore.matmul(x, w, b, acc="fp16"))
        ri = mpcore.selective_linear(x, w, b, low="bf16", high="fp32", tau=np.inf, activation=act)
        z_low = mpcore.matmul(x, w, b, acc="bf16")
        assert np.array_equal(ri.high, ~np.isfinite(z_low)) and np.array_equal(ri.z, z_low)


def test_mask_grows_monotonically_as_tau_decreases(rng):
    x, w, b = layer(rng, batch=10, out=60)
    for est in mpcore.ESTIMATORS:
        previous = None
        for tau in [np.inf, 10, 1, 0.3, 0.1, 0.03, 0.01, 1e-3, 1e-5, 0]:
            m = mpcore.selective_linear(x, w, b, low="fp8_e4m3", high="fp16", tau=tau, activation="tanh",
                                        estimator=est).high
            if previous is not None:
                assert np.all(m >= previous), (est, tau)
            previous = m
        assert previous.all()


def test_relu_negatives_are_never_recomputed(rng):
    x, w, b = layer(rng, batch=8, out=64)
    for est in mpcore.ESTIMATORS:
        r = mpcore.selective_linear(x, w, b, low="fp8_e4m3", high="fp32", tau=1e-12, activation="relu",
                                    estimator=est)
        z_low = mpcore.matmul(x, w, b, acc="fp8_e4m3")
        negative = z_low < 0
        assert negative.any() and not r.high[negative].any()
        assert np.all(r.kappa[negative] == 0) and np.all(r.y[negative] == 0)
        assert r.high[z_low > 0].all()


def test_overflowing_low_results_are_recomputed(rng):
    x = np.full((2, 64), 8.0, dtype=np.float32)
    w = np.full((3, 64), 8.0, dtype=np.float32)  # partial sums pass 448 at the 8th term
    w[2] = 0.01
    z_low = mpcore.matmul(x, w, acc="fp8_e4m3")
    assert np.isnan(z_low[:, :2]).all()
    r = mpcore.selective_linear(x, w, low="fp8_e4m3", high="fp16", tau=np.inf)
    assert r.high[:, :2].all() and not r.high[:, 2].any()
    assert np.all(r.z[:, :2] == 4096.0) and np.isfinite(r.y).all()


def test_zero_components():
    x = np.array([[1.0, 1.0]], dtype=np.float32)
    w = np.array([[0.0, 0.0], [1.0, -1.0]], dtype=np.float32)
    kv = mpcore.cond_inner(x, w, None, mpcore.matmul(x, w, acc="bf16"))
    assert kv[0, 0] == 0.0 and kv[0, 1] == np.inf  # exact zero vs cancellation
    r = mpcore.selective_linear(x, w, low="bf16", high="fp32", tau=1.0)
    assert list(r.high[0]) == [False, True]


@pytest.mark.parametrize("activation", ACTS)
def test_activation_condition_against_finite_differences(activation):
    t = np.array([-7.3, -3.1, -1.7, -0.9, -0.3, -0.01, 0.02, 0.4, 1.1, 2.5, 6.0])
    phi = lambda s: mpcore.activate(activation, s)  # noqa: E731
    h = 1e-6 * np.maximum(np.abs(t), 1e-3)
    deriv = (phi(t + h) - phi(t - h)) / (2 * h)
    with np.errstate(divide="ignore", invalid="ignore"):
        fd = np.abs(t * deriv / phi(t))
    got = mpcore.cond_activation(activation, t)
    ok = np.isfinite(fd)
    assert np.allclose(got[ok], fd[ok], rtol=1e-4, atol=1e-9), (t[ok], got[ok], fd[ok])


def test_activation_condition_limits():
    at0 = {a: float(mpcore.cond_activation(a, np.array([0.0]))[0]) for a in ACTS}
    assert at0 == {"identity": 1.0, "relu": 1.0, "leaky_relu": 1.0, "tanh": 1.0, "sigmoid": 0.0, "gelu": 1.0,
                   "gelu_tanh": 1.0, "silu": 1.0, "softplus": 0.0, "elu": 1.0}
    # Tails: finite, and the known asymptotics.
    big = np.array([-1e4, -60.0, 60.0, 1e4])
    for a in ACTS:
        k = mpcore.cond_activation(a, big)
        assert np.all(np.isfinite(k)), a
    assert mpcore.cond_activation("tanh", np.array([30.0]))[0] < 1e-20
    # gelu: kappa ~ t^2 in the left tail; the asymptotic branch below -20 joins the direct one.
    g = mpcore.cond_activation("gelu", np.array([-40.0, -25.0, -20.0001, -19.9999]))
    assert np.allclose(g, np.array([40.0, 25.0, 20.0001, 19.9999]) ** 2, rtol=1e-2)
    assert abs(g[2] / g[3] - (20.0001 / 19.9999) ** 2) < 1e-8
    assert mpcore.cond_activation("relu", np.array([-1.0]))[0] == 0.0


@pytest.mark.parametrize("rounding", ["rne", "rtz", "sr"])
def test_ladder_picks_the_cheapest_sufficient_rung(rounding, rng):
    x, w, b = layer(rng, batch=8, out=50)
    w[:5] *= 1e-3  # badly conditioned: the top rung
    w[5:15] *= 30  # saturated tanh: kappa_phi tiny, the bottom rung
    fmts = ["fp8_e4m3", "bf16", "fp16", "fp32"]
    tau = 1e-2
    r = mpcore.ladder_linear(x, w, b, formats=fmts, tau=tau, activation="tanh", rounding=rounding, seed=9)
    z0 = mpcore.matmul(x, w, b, acc=fmts[0], rounding=rounding, seed=9)
    us = [mpcore.formats.get(f).u for f in fmts]
    # kappa from the public estimators, not from the layer's own output: kappa_phi(z0) times
    # kappa_v (the fp32 sum |W||x| + |b| over |z0|), the product form of the combined estimate.
    kappa = mpcore.cond_activation("tanh", z0) * mpcore.cond_inner(x, w, b, z0)
    expected = np.full(r.rung.shape, len(fmts) - 1)
    near = np.zeros(r.rung.shape, dtype=bool)  # the two forms may differ in the last bits: skip ties
    for idx in np.ndindex(r.rung.shape):
        if np.isfinite(z0[idx]):
            expected[idx] = next((k for k in range(len(fmts) - 1) if kappa[idx] * us[k] <= tau), len(fmts) - 1)
            near[idx] = any(abs(kappa[idx] * u - tau) <= 1e-9 * tau for u in us)
    assert np.array_equal(r.rung[~near], expected[~near]) and near.mean() < 0.01
    assert np.allclose(r.kappa[np.isfinite(z0)], kappa[np.isfinite(z0)], rtol=1e-12, atol=0)
    for k, f in enumerate(fmts):
        sel = r.rung == k
        assert np.array_equal(r.z[sel], mpcore.matmul(x, w, b, acc=f, rounding=rounding, seed=9)[sel])
    assert r.fractions.sum() == pytest.approx(1.0)
    assert len(set(r.rung.reshape(-1))) >= 3
    # The two-rung ladder is the selective layer.
    s = mpcore.selective_linear(x, w, b, low="fp8_e4m3", high="fp32", tau=tau, activation="tanh",
                                rounding=rounding, seed=9)
    t = mpcore.ladder_linear(x, w, b, formats=["fp8_e4m3", "fp32"], tau=tau, activation="tanh",
                             rounding=rounding, seed=9)
    assert np.array_equal(s.z, t.z) and np.array_equal(s.high, t.high)


def test_error_estimates(rng):
    x, w, b = layer(rng)
    r = mpcore.selective_linear(x, w, b, low="fp8_e4m3", high="fp16", tau=0.1, activation="tanh", factor="sqrt")
    c = math.sqrt(w.shape[1])
    kept = ~r.high
    assert np.array_equal(r.err_est[kept], r.kappa[kept] * mpcore.formats.fp8_e4m3.u * c)
    kv = mpcore.cond_inner(x, w, b, r.z)
    kphi = mpcore.cond_activation("tanh", r.z)
    final = np.where(kphi == 0, 0, kphi * kv) * mpcore.formats.fp16.u * c
    assert np.allclose(r.err_est[r.high], final[r.high], rtol=1e-12, atol=0)


def exact_z(x, w, b):
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    return np.array([[math.fsum(list(w64[i] * x64[r]) + [float(b[i])]) for i in range(w.shape[0])]
                     for r in range(x.shape[0])])


@pytest.mark.parametrize("low, high", [("fp8_e4m3", "fp16"), ("fp8_e5m2", "bf16"), ("bf16", "fp32"),
                                       ("fp4_e2m1", "fp8_e4m3")])
@pytest.mark.parametrize("activation", ["identity", "relu", "tanh"])
@pytest.mark.parametrize("rounding, order", [("rne", "sequential"), ("rtz", "sequential"), ("sr", "sequential"),
                                             ("rne", "pairwise"), ("rne", "blocked")])
def test_worst_case_bound_always_holds(low, high, activation, rounding, order, rng):
    scale = 0.2 if low == "fp4_e2m1" else 1.0
    x, w, b = layer(rng, batch=6, n=120, out=30, scale=scale)
    r = mpcore.selective_linear(x, w, b, low=low, high=high, tau=0.05, activation=activation,
                                rounding=rounding, order=order, seed=4)
    err = np.abs(r.z - exact_z(x, w, b))
    finite = np.isfinite(r.z)
    assert np.all(err[finite] <= r.bound[finite]), np.max(err[finite] / r.bound[finite])
    # The probabilistic bound may fail with probability <= 1e-3 per component under its model.
    assert np.mean(err[finite] > r.bound_prob[finite]) <= 0.02
    assert np.all(r.bound_prob <= r.bound)


def test_bad_input():
    x, w = np.ones((2, 3), np.float32), np.ones((4, 3), np.float32)
    cases = [
        (lambda: mpcore.selective_linear(x, w, low="fp16", high="fp8_e4m3", tau=0.1), ValueError,
         "low .* is more precise than high"),
        (lambda: mpcore.selective_linear(x, w, low="fp8_e4m3", high="fp16", tau=-1), ValueError, "tau"),
        (lambda: mpcore.selective_linear(x, w, low="fp8_e4m3", high="fp16", tau=float("nan")), ValueError, "tau"),
        (lambda: mpcore.selective_linear(x, w, low="fp8_e4m3", high="fp16", tau="big"), TypeError, "tau"),
        (lambda: mpcore.selective_linear(x, w, low="fp8_e4m3", high="fp16", tau=1, activation="swish"),
         ValueError, "activation: unknown activation 'swish'; valid: 'identity'"),
        (lambda: mpcore.selective_linear(x, w, low="fp8_e4m3", high="fp16", tau=1, estimator="guess"),
         ValueError, "estimator"),
        (lambda: mpcore.selective_linear(x, w, low="fp8_e4m3", high="fp16", tau=1, factor="log"),
         ValueError, "factor"),
        (lambda: mpcore.selective_linear(x, w, low="fp9", high="fp16", tau=1), ValueError, "low: unknown format"),
        (lambda: mpcore.ladder_linear(x, w, formats=[], tau=1), ValueError, "non-empty"),
        (lambda: mpcore.ladder_linear(x, w, formats=["fp16", "fp8_e4m3"], tau=1), ValueError,
         "least to most precise"),
        (lambda: mpcore.selective_linear(x, np.ones((4, 5)), low="fp8_e4m3", high="fp16", tau=1), ValueError,
         "features"),
        (lambda: mpcore.cond_inner(x, w, None, np.ones((3, 3))), ValueError, "z must have shape"),
        (lambda: mpcore.cond_inner(x, w, None, np.ones((2, 4)), estimator="low"), ValueError, "low="),
        (lambda: mpcore.cond_activation("cube", [1.0]), ValueError, "activation"),
    ]
    for call, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            call()


def test_one_dimensional_input_and_norm_estimator_is_an_upper_bound(rng):
    x, w, b = layer(rng, batch=1)
    r = mpcore.selective_linear(x[0], w, b, low="bf16", high="fp32", tau=0.01)
    assert r.z.shape == (w.shape[0],) and r.high.shape == (w.shape[0],)
    z = mpcore.matmul(x, w, b, acc="bf16")
    exact = mpcore.cond_inner(x, w, b, z, estimator="exact")
    norm = mpcore.cond_inner(x, w, b, z, estimator="norm")
    assert np.all(norm >= exact * (1 - 1e-6))


def _documented_norm(a):
    """euclidean_norm's order (condition.hpp): squares of terms j = k mod 4 added in order
    into four partial sums, then (s0 + s1) + (s2 + s3), in binary64."""
    sq = np.asarray(a, dtype=np.float64) ** 2
    s = [0.0] * 4
    for j, v in enumerate(sq):
        s[j % 4] += v
    return math.sqrt((s[0] + s[1]) + (s[2] + s[3]))


@pytest.mark.parametrize("n", [1, 3, 4, 7, 33, 333])
def test_norm_estimator_has_the_documented_bits(n, rng):
    x = rng.standard_normal((3, n)).astype(np.float32)
    w = rng.standard_normal((5, n)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    z = np.ones((3, 5))
    got = mpcore.cond_inner(x, w, b, z, estimator="norm")
    want = np.array([[_documented_norm(w[i]) * _documented_norm(x[r]) + abs(float(b[i])) for i in range(5)]
                     for r in range(3)])
    assert np.array_equal(got, want)


@pytest.mark.parametrize("estimator", mpcore.ESTIMATORS)
def test_guard_sign_recomputes_untrustworthy_relu_negatives(estimator, rng):
    x, w, b = layer(rng, batch=8, out=64)
    low, tau = "fp8_e4m3", 0.05
    plain = mpcore.selective_linear(x, w, b, low=low, high="fp16", tau=tau, activation="relu", estimator=estimator)
    guarded = mpcore.selective_linear(x, w, b, low=low, high="fp16", tau=tau, activation="relu",
                                      estimator=estimator, guard_sign=True)
    z_low = mpcore.matmul(x, w, b, acc=low)
    kv = mpcore.cond_inner(x, w, b, z_low, estimator=estimator, low=low)
    unsure = (z_low < 0) & ~(kv * mpcore.formats.get(low).u < 1)
    assert unsure.any()
    assert np.array_equal(guarded.high, plain.high | unsure)
    # Negatives whose sign is safe stay in low precision.
    assert not guarded.high[(z_low < 0) & ~unsure].any()


def test_first_pass_reuse_gives_identical_results(rng):
    x, w, b = layer(rng)
    fp = mpcore.selective.first_pass(x, w, b, low="fp8_e4m3", estimator="norm")
    for tau in (1, 0.1, 0.01):
        a = mpcore.selective_linear(x, w, b, low="fp8_e4m3", high="fp16", tau=tau, estimator="norm",
                                    activation="tanh")
        r = mpcore.selective_linear(x, w, b, low="fp8_e4m3", high="fp16", tau=tau, estimator="norm",
                                    activation="tanh", first_pass=fp)
        assert np.array_equal(a.z, r.z) and np.array_equal(a.kappa, r.kappa) and np.array_equal(a.bound, r.bound)
    with pytest.raises(ValueError, match="other options"):
        mpcore.selective_linear(x, w, b, low="fp8_e4m3", high="fp16", tau=0.1, estimator="exact", first_pass=fp)
