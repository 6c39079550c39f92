"""mpcore.matmul against the accumulation model in exact rational arithmetic."""

import math
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest

import mpcore
from conftest import DETERMINISTIC_MODES
from exact_reference import accumulate, same

ORDERS = [("sequential", None), ("pairwise", None), ("blocked", 5)]


def check_against_reference(x, w, b, acc, mode, order="sequential", block=None, outer="fp32", product=None):
    got = mpcore.matmul(x, w, b, acc=acc, rounding=mode, order=order, block=block, outer=outer)
    acc_f, outer_f = mpcore.formats.get(acc), mpcore.formats.get(outer)
    kwargs = {} if product is None else {"product": product}
    x2 = np.atleast_2d(np.asarray(x, dtype=np.float64))
    got2 = np.atleast_2d(got)
    for r in range(x2.shape[0]):
        for i in range(w.shape[0]):
            want = accumulate(w[i], x2[r], None if b is None else b[i], acc_f, mode, order,
                              block or 32, outer_f, **kwargs)
            assert same(got2[r, i], want), (f"{acc} {mode} {order}: output ({r},{i}) = {got2[r, i]!r}, exact "
                                             f"model gives {float(want) if not isinstance(want, float) else want!r}")
    return got2.size


def grid_inputs(rng, f, batch, n, out):
    """Inputs on a coarse binary grid, so sums land on ties and grid points often."""
    scale = 2.0 ** max(f.emin, -20)

    def draw(shape):
        return (rng.integers(-8, 9, shape) * 2.0 ** rng.integers(0, 6, shape)).astype(np.float32)

    x = draw((batch, n))
    w = (draw((out, n)) * np.float32(scale * 2 ** (f.precision % 5))).astype(np.float32)
    b = draw(out)
    return x, w, b


@pytest.mark.parametrize("acc", mpcore.formats.names())
@pytest.mark.parametrize("mode", DETERMINISTIC_MODES)
@pytest.mark.parametrize("order, block", ORDERS)
def test_random_layers(acc, mode, order, block, rng):
    f = mpcore.formats.get(acc)
    x = rng.standard_normal((2, 23)).astype(np.float32)
    w = (rng.standard_normal((5, 23)) * 0.3).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    if f.max_finite < 100:  # keep the sums inside small formats' ranges (mostly)
        x *= np.float32(0.5)
    check_against_reference(x, w, b, acc, mode, order, block)


@pytest.mark.parametrize("acc", mpcore.formats.names())
@pytest.mark.parametrize("mode", DETERMINISTIC_MODES)
def test_ties_and_grid_points(acc, mode, rng):
    f = mpcore.formats.get(acc)
    x, w, b = grid_inputs(rng, f, 3, 17, 6)
    check_against_reference(x, w, b, acc, mode)
    check_against_reference(x, w, b, acc, mode, "pairwise")


@pytest.mark.parametrize("acc", ["fp16", "bf16", "fp8_e4m3", "fp8_e5m2", "fp6_e2m3", "fp4_e2m1", "fp32"])
@pytest.mark.parametrize("mode", DETERMINISTIC_MODES)
def test_overflow_and_subnormals(acc, mode, rng):
    f = mpcore.formats.get(acc)
    # Terms near the overflow threshold: partial sums cross it (and come back for "saturate").
    big = np.float32(f.max_finite / 3)
    x = np.ones((1, 8), dtype=np.float32)
    w = np.array([[big, big, big, big, -big, -big, -big, -big],
                  [big, -big, big, big, big, big, -big, -big],
                  [-big, -big, -big, -big, big, 0, 0, 0]], dtype=np.float32)
    check_against_reference(x, w, None, acc, mode)
    # Terms near the subnormal range.
    tiny = f.smallest_normal
    xs = rng.integers(-4, 5, (2, 9)).astype(np.float32)
    ws = (rng.integers(-7, 8, (4, 9)) * np.float64(tiny) * 2.0 ** -3).astype(np.float32)
    if f.precision < 24:
        check_against_reference(xs, ws, None, acc, mode)


def test_signed_zeros():
    x = np.array([[0.0, 0.0]], dtype=np.float32)
    w = np.array([[-1.0, -1.0]], dtype=np.float32)  # products are -0
    for mode in ("rne", "rtz", "rup"):
        z = mpcore.matmul(x, w, acc="fp16", rounding=mode)[0, 0]
        assert z == 0 and not math.copysign(1, z) < 0  # +0 + -0 = +0
    assert math.copysign(1, mpcore.matmul(x, w, acc="fp16", rounding="rdn")[0, 0]) < 0
    # An exact cancellation is +0, except rounding downward.
    xc = np.array([[1.0, 1.0]], dtype=np.float32)
    wc = np.array([[3.0, -3.0]], dtype=np.float32)
    assert math.copysign(1, mpcore.matmul(xc, wc, acc="bf16")[0, 0]) > 0
    assert math.copysign(1, mpcore.matmul(xc, wc, acc="bf16", rounding="rdn")[0, 0]) < 0
    # A tiny negative sum underflows to -0 (as a cast does).
    z = mpcore.matmul(np.float32([[2.0 ** -20]]), np.float32([[-(2.0 ** -20)]]), acc="fp16")[0, 0]
    assert z == 0 and math.copysign(1, z) < 0 and math.copysign(1, float(np.float16(-(2.0 ** -40)))) < 0


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float8_e4m3fn", "float8_e5m2"])
def test_narrow_and_ml_dtypes_inputs(dtype, rng):
    dt = np.float16 if dtype == "float16" else getattr(ml_dtypes, dtype)
    x = rng.standard_normal((2, 15)).astype(dt)
    w = (rng.standard_normal((3, 15)) * 0.5).astype(dt)
    b = rng.standard_normal(3).astype(dt)
    got = mpcore.matmul(x, w, b, acc="fp16")
    same32 = mpcore.matmul(x.astype(np.float32), w.astype(np.float32), b.astype(np.float32), acc="fp16")
    assert np.array_equal(got, same32)
    check_against_reference(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), "fp16", "rne")


def test_float64_inputs_round_the_product_once(rng):
    x = rng.standard_normal((2, 12))
    w = rng.standard_normal((3, 12))
    for acc in ("fp16", "fp32", "fp64"):
        check_against_reference(x, w, None, acc, "rne", product=lambda a, b: Fraction(a * b))
        check_against_reference(x, w, None, acc, "rtz", product=lambda a, b: Fraction(a * b))
    # float64 values that fit in float32 give exactly the float32 result.
    x32 = x.astype(np.float32)
    w32 = w.astype(np.float32)
    for acc in ("bf16", "fp32", "fp64"):
        assert np.array_equal(mpcore.matmul(x32.astype(np.float64), w32.astype(np.float64), acc=acc),
                              mpcore.matmul(x32, w32, acc=acc))


def test_strided_and_fortran_inputs(rng):
    base_x = rng.standard_normal((6, 40)).astype(np.float32)
    base_w = rng.standard_normal((10, 40)).astype(np.float32)
    x, w = base_x[::2, ::-1], np.asfortranarray(base_w)[:, ::-1]
    want = mpcore.matmul(np.ascontiguousarray(x), np.ascontiguousarray(w), acc="bf16")
    assert np.array_equal(mpcore.matmul(x, w, acc="bf16"), want)
    b = rng.standard_normal(20).astype(np.float32)[::2]
    assert np.array_equal(mpcore.matmul(x, w, b, acc="bf16"),
                          mpcore.matmul(np.ascontiguousarray(x), np.ascontiguousarray(w), b.copy(), acc="bf16"))


def test_dot_and_sum_follow_the_model():
    f16 = mpcore.formats.fp16
    x = np.float32([1.0, 2.0 ** -11, 2.0 ** -11, 2.0 ** -11])
    # Sequential fp16: 1 + 2^-11 is a tie that rounds to 1 (even), every time.
    assert mpcore.sum(x, acc="fp16") == 1.0
    assert mpcore.sum(x, acc="fp32") == 1.0 + 3 * 2.0 ** -11
    # Pairwise: (1 + 2^-11) -> 1, (2^-11 + 2^-11) = 2^-10 exact, 1 + 2^-10 exact.
    assert mpcore.sum(x, acc="fp16", order="pairwise") == 1.0 + 2.0 ** -10
    assert mpcore.dot(x, np.ones(4, np.float32), acc=f16, bias=2.0 ** -10) == 1.0 + 2.0 ** -10
    assert mpcore.sum([], acc="fp16") == 0.0
