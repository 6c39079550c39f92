"""Operands cross into C++ in the type they are stored in (stored.hpp): float16 and the
ml_dtypes formats as codes with a table, float32 and float64 as they are, mixed freely.
The bits are those of the same values converted to float64 first, and no whole copy of an
operand (or of its conversion, or of its magnitudes) is made."""

import subprocess
import sys
import textwrap
import tracemalloc

import ml_dtypes
import numpy as np
import pytest

import mpcore

NARROW = [np.float16, ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2]
if hasattr(ml_dtypes, "float4_e2m1fn"):
    NARROW.append(ml_dtypes.float4_e2m1fn)


def _values(rng, shape, dtype):
    v = rng.standard_normal(shape) * 2.0
    v[rng.random(shape) < 0.1] = 0.0
    return v.astype(dtype)


def _same(a, b):
    assert a.shape == b.shape
    np.testing.assert_array_equal(np.asarray(a).view(np.int64), np.asarray(b).view(np.int64))


@pytest.mark.parametrize("dtype", NARROW, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("partner", ["same", np.float32, np.float64])
@pytest.mark.parametrize("acc,rounding,order", [("fp16", "rne", "sequential"), ("bf16", "rtz", "pairwise"),
                                                ("fp8_e4m3", "sr", "sequential"), ("fp32", "rne", "sequential"),
                                                ("fp64", "rne", "sequential"), ("fp16", "rup", "blocked")])
def test_codes_give_the_bits_of_the_converted_values(dtype, partner, acc, rounding, order):
    rng = np.random.default_rng(7)
    w = _values(rng, (37, 70), dtype)
    x = _values(rng, (5, 70), dtype if partner == "same" else partner)
    b = _values(rng, (37,), dtype)
    opts = dict(acc=acc, rounding=rounding, order=order, seed=3)
    expected = mpcore.matmul(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), **opts)
    _same(mpcore.matmul(x, w, b, **opts), expected)
    _same(mpcore.matmul(w[:5], x.T.copy().T[:, :70], None, **opts),
          mpcore.matmul(w[:5].astype(np.float64), x.astype(np.float64), None, **opts))
    # Strided views (a column slice, a transpose) are read in place.
    wt = np.ascontiguousarray(w.T).T
    _same(mpcore.matmul(x[:, ::2], wt[:, ::2], b, **opts),
          mpcore.matmul(x[:, ::2].astype(np.float64), w[:, ::2].astype(np.float64), b.astype(np.float64), **opts))


@pytest.mark.parametrize("dtype", NARROW[:3], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("estimator", ["exact", "low", "norm"])
def test_selective_layer_and_estimators_read_codes_alike(dtype, estimator):
    rng = np.random.default_rng(11)
    w, x, b = _values(rng, (40, 64), dtype), _values(rng, (6, 64), np.float32), _values(rng, (40,), dtype)
    w64, x64, b64 = (a.astype(np.float64) for a in (w, x, b))
    opts = dict(low="fp8_e4m3", high="fp32", tau=0.5, activation="relu", estimator=estimator)
    got, want = mpcore.selective_linear(x, w, b, **opts), mpcore.selective_linear(x64, w64, b64, **opts)
    for name in ("z", "y", "kappa", "err_est", "bound", "bound_prob"):
        _same(getattr(got, name), getattr(want, name))
    np.testing.assert_array_equal(got.rung, want.rung)
    z = mpcore.matmul(x64, w64, b64, acc="fp8_e4m3")
    _same(mpcore.cond_inner(x, w, b, z, estimator=estimator, low="fp8_e4m3"),
          mpcore.cond_inner(x64, w64, b64, z, estimator=estimator, low="fp8_e4m3"))
    from mpcore.selective import first_pass
    fp = first_pass(x, w, b, low="fp8_e4m3", estimator=estimator)
    fp64 = first_pass(x64, w64, b64, low="fp8_e4m3", estimator=estimator)
    _same(fp.z, fp64.z)
    _same(fp.numerator, fp64.numerator)


def test_kernel_reports_the_binary32_lanes_for_narrow_codes():
    rng = np.random.default_rng(1)
    x, w = _values(rng, (4, 16), np.float16), _values(rng, (8, 16), ml_dtypes.bfloat16)
    assert mpcore.kernel(x, w, acc="fp16")["path"] == "lanes32"
    assert mpcore.kernel(x.astype(np.float64), w, acc="fp16")["path"] == "lanes"


def test_codes_without_or_with_a_wrong_table_are_refused():
    from mpcore import _core
    x = np.zeros((2, 3), np.uint16)
    o = mpcore.MatmulOptions(acc="fp16", threads=1)
    with pytest.raises(ValueError, match="x: codes need a table of 65536"):
        _core.matmul(x, np.zeros((2, 3)), None, o)
    with pytest.raises(ValueError, match="w: a table goes with codes only"):
        _core.matmul(np.zeros((2, 3)), np.zeros((2, 3)), None, o, w_table=np.zeros(256, np.float32))
    with pytest.raises(TypeError, match="x must be float32, float64"):
        _core.matmul(np.zeros((2, 3), np.int32), np.zeros((2, 3)), None, o)


def _traced_peak(fn):
    mpcore.kernel(np.zeros((1, 1), np.float16), np.zeros((1, 1), ml_dtypes.bfloat16))  # tables cached
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("x_dtype,w_dtype", [(np.float16, np.float16), (ml_dtypes.bfloat16, ml_dtypes.bfloat16),
                                             (np.float64, np.float32), (np.float32, np.float16)])
def test_matmul_makes_no_python_side_copy_of_w(x_dtype, w_dtype):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((1024, 1024)).astype(w_dtype)  # 2 or 4 MiB
    x = rng.standard_normal((2, 1024)).astype(x_dtype)
    peak = _traced_peak(lambda: mpcore.matmul(x, w, acc="fp16"))
    assert peak < w.nbytes / 4, f"{peak} bytes traced for a {w.nbytes}-byte w"


def test_selective_layer_peak_memory_stays_below_one_copy_of_w():
    # Whole copies of W (the recompute's, the estimator's |W|) are made in C++, where
    # tracemalloc cannot see them: measure the process's peak resident size instead.
    script = textwrap.dedent("""
        import resource, numpy as np, mpcore
        rng = np.random.default_rng(0)
        w = rng.standard_normal((4096, 4096), dtype=np.float32)  # no float64 temporary to raise the peak
        x = rng.standard_normal((2, 4096)).astype(np.float32)
        mpcore.selective_linear(x[:1, :64], w[:64, :64], low="fp16", high="fp32", tau=0.0)  # warm up
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        mpcore.selective_linear(x, w, low="fp16", high="fp32", tau=0.0, activation="relu", threads=2)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((after - before) * 1024 / w.nbytes)
    """)
    ratio = float(subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                                 text=True).stdout.strip())
    assert ratio < 0.5, f"peak grew by {ratio:.2f} x the size of w"
