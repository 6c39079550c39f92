"""Property tests (hypothesis, bounded budget): any shape (0 included), dtype, stride, NaN/inf
and option value gives a result or a clear exception, never a crash; results are values of
the accumulator format, independent of thread count and of memory layout; the selective
layer's recomputed components equal matmul(acc=high)."""

import numpy as np
import pytest

import mpcore

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

BUDGET = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FORMATS = ["fp64", "fp32", "tf32", "bf16", "fp16", "fp8_e5m2", "fp8_e4m3", "fp6_e2m3", "fp4_e2m1"]
MODES = list(mpcore.ROUNDING_MODES)
DTYPES = [np.float32, np.float64, np.float16]

values = st.floats(allow_nan=True, allow_infinity=True, width=32)


@st.composite
def problems(draw):
    batch = draw(st.integers(0, 5))
    n = draw(st.integers(0, 40))
    out = draw(st.integers(0, 40))
    dtype = draw(st.sampled_from(DTYPES))
    x = draw(hnp.arrays(dtype, (batch, n), elements=values.filter(lambda v: abs(v) < 1e4 or not np.isfinite(v))))
    w = draw(hnp.arrays(dtype, (out, n), elements=st.floats(-8, 8, width=16)))
    bias = draw(st.none() | hnp.arrays(dtype, (out,), elements=st.floats(-8, 8, width=16)))
    return x, w, bias


def representable(v, fmt):
    finite = np.isfinite(v)
    return np.array_equal(mpcore.round(v[finite], fmt), v[finite])


@BUDGET
@given(problems(), st.sampled_from(FORMATS), st.sampled_from(MODES),
       st.sampled_from(["sequential", "pairwise", "blocked"]))
def test_matmul_values_threads_and_layout(problem, acc, mode, order):
    x, w, b = problem
    extra = dict(block=3) if order == "blocked" else {}
    y = mpcore.matmul(x, w, b, acc=acc, rounding=mode, order=order, seed=5, threads=1, **extra)
    assert y.shape == (x.shape[0], w.shape[0])
    assert representable(y, "fp32" if order == "blocked" else acc)
    assert np.array_equal(y, mpcore.matmul(x, w, b, acc=acc, rounding=mode, order=order, seed=5, threads=3, **extra),
                          equal_nan=True)
    # Strided (a column slice of a wider array) and Fortran-ordered inputs give the same bits.
    wide = np.zeros((w.shape[0], 2 * w.shape[1] + 1), w.dtype)
    wide[:, 1::2] = w
    assert np.array_equal(y, mpcore.matmul(np.asfortranarray(x), wide[:, 1::2], b, acc=acc, rounding=mode,
                                           order=order, seed=5, **extra), equal_nan=True)


@BUDGET
@given(problems(), st.sampled_from(["fp8_e4m3", "fp8_e5m2", "bf16", "fp6_e3m2"]), st.sampled_from(MODES),
       st.sampled_from([0.0, 1e-3, 0.1, 1.0, np.inf]), st.sampled_from(list(mpcore.ACTIVATIONS)),
       st.sampled_from(["exact", "low", "norm"]))
def test_selective_recomputed_equal_uniform_high(problem, low, mode, tau, activation, estimator):
    x, w, b = problem
    r = mpcore.selective_linear(x, w, b, low=low, high="fp32", tau=tau, activation=activation, rounding=mode, seed=2,
                                estimator=estimator)
    z_low = mpcore.matmul(x, w, b, acc=low, rounding=mode, seed=2)
    z_high = mpcore.matmul(x, w, b, acc="fp32", rounding=mode, seed=2)
    assert np.array_equal(r.z[r.high], z_high[r.high], equal_nan=True)
    assert np.array_equal(r.z[~r.high], z_low[~r.high], equal_nan=True)
    assert r.high[~np.isfinite(z_low)].all()
    if tau == 0:
        assert r.high.all()


BAD_OPTIONS = [
    dict(acc="fp7"), dict(acc=3), dict(rounding="nearest"), dict(order="tree"), dict(seed=-1), dict(seed=1.5),
    dict(threads=0), dict(threads=True), dict(threads=10**6), dict(sr_bits=0), dict(sr_bits=53),
    dict(order="blocked", block=0), dict(block=4),
]


@pytest.mark.parametrize("options", BAD_OPTIONS, ids=lambda o: ",".join(f"{k}={v!r}" for k, v in o.items()))
def test_bad_options_raise_clear_errors(options):
    opts = dict(acc="fp16")
    opts.update(options)
    with pytest.raises((ValueError, TypeError)) as info:
        mpcore.matmul(np.ones((2, 3), np.float32), np.ones((4, 3), np.float32), **opts)
    named = [k for k in options if k in str(info.value)] or [k for k in ("block", "order") if k in str(info.value)]
    assert named, str(info.value)


@pytest.mark.parametrize("bad", [np.ones((2, 3), complex), np.array([["a", "b", "c"]]), [[1, 2], [3]],
                                 np.ones((2, 3, 1)), np.ones((2, 4))])
def test_bad_arrays_raise_clear_errors(bad):
    with pytest.raises((ValueError, TypeError), match="x"):
        mpcore.matmul(bad, np.ones((4, 3)), acc="fp16")
