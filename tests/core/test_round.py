"""mpcore.round against ml_dtypes' casts and the exact rational reference."""

import math
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest

import mpcore
from conftest import DETERMINISTIC_MODES
from exact_reference import round_exact, same
from mpcore.formats import DTYPE_NAMES

ML_FORMATS = ["bf16", "fp16", "fp8_e5m2", "fp8_e4m3", "fp6_e2m3", "fp6_e3m2", "fp4_e2m1"]


def ml_dtype(name):
    return np.float16 if name == "fp16" else getattr(ml_dtypes, DTYPE_NAMES[name])


def same_as_cast(got, want):
    both_nan = np.isnan(got) & np.isnan(want)
    equal = (got == want) & (np.signbit(got) == np.signbit(want))
    return both_nan | equal


@pytest.mark.parametrize("name", ML_FORMATS)
def test_random_float32_matches_ml_dtypes_cast(name, rng):
    dt = ml_dtype(name)
    f = mpcore.formats.get(name)
    # Magnitudes spanning the format's subnormals to beyond its overflow threshold.
    lo, hi = math.log2(f.smallest_subnormal) - 3, math.log2(f.max_finite) + 2
    with np.errstate(over="ignore"):  # overflow to inf is part of what is tested
        x = (rng.choice([-1, 1], 200_000) * 2.0 ** rng.uniform(lo, hi, 200_000)).astype(np.float32)
    x = np.concatenate([x, np.float32([0.0, -0.0, np.inf, -np.inf])])
    if f.overflow != "saturate":  # ml_dtypes maps NaN to a non-NaN code in fp6/fp4
        x = np.concatenate([x, np.float32([np.nan])])
    got = mpcore.round(x, name)
    with np.errstate(over="ignore"):
        want = x.astype(dt).astype(np.float64)
    bad = ~same_as_cast(got, want)
    assert not bad.any(), f"{bad.sum()} mismatches, first x={x[bad][:5]} got={got[bad][:5]} want={want[bad][:5]}"


@pytest.mark.parametrize("source", ["fp16", "fp8_e5m2", "fp8_e4m3"])
def test_every_value_rounded_to_every_narrower_format(source):
    if source == "fp16":
        values = np.arange(2 ** 16, dtype=np.uint16).view(np.float16).astype(np.float64)
    else:
        values = np.arange(256, dtype=np.uint8).view(ml_dtype(source)).astype(np.float64)
    values = values[~np.isnan(values)]
    src = mpcore.formats.get(source)
    checked = 0
    for name in ML_FORMATS:
        f = mpcore.formats.get(name)
        if f.precision >= src.precision and f.emax >= src.emax and f.emin <= src.emin:
            continue  # not narrower: every value is exact
        x = values if f.overflow != "saturate" else values[np.isfinite(values)]
        got = mpcore.round(x, name)
        want = x.astype(np.float32).astype(ml_dtype(name)).astype(np.float64)
        bad = ~same_as_cast(got, want)
        assert not bad.any(), f"{source}->{name}: x={x[bad][:5]} got={got[bad][:5]} want={want[bad][:5]}"
        checked += 1
    assert checked >= 4


def crafted_values(f):
    """Ties, the subnormal boundary, overflow thresholds and zeros of format f."""
    p, emin = f.precision, f.emin
    vals = [0.0, f.smallest_subnormal, f.smallest_subnormal / 2, f.smallest_subnormal * 1.5,
            f.smallest_normal, f.smallest_normal * (1 - 2.0 ** -p), f.smallest_normal * (1 - 2.0 ** -(p + 1)),
            f.max_finite, f.max_finite * (1 + 2.0 ** -(p + 1)), f.max_finite * (1 + 2.0 ** -p),
            f.max_finite * 2, 1.0, 1.0 + 2.0 ** -p, 1.0 + 3 * 2.0 ** -p, 1.0 - 2.0 ** -(p + 1),
            1.0 + 2.0 ** -p + 2.0 ** -(p + 10), 1.0 + 2.0 ** -p - 2.0 ** -(p + 10)]
    for e in (emin - 3, emin - 1, emin, emin + 1, 0, 3):
        for k in range(1, 12):
            vals.append(k * 2.0 ** (e - p))  # multiples of a half-ulp: ties and grid points
    vals = [v for v in vals if v == v and v < 1e300]
    return np.array(vals + [-v for v in vals])


@pytest.mark.parametrize("name", mpcore.formats.names())
@pytest.mark.parametrize("mode", DETERMINISTIC_MODES)
def test_crafted_and_random_values_against_exact_reference(name, mode, rng):
    f = mpcore.formats.get(name)
    x = np.concatenate([crafted_values(f), rng.standard_normal(300) * 2.0 ** rng.integers(-20, 20, 300)])
    got = mpcore.round(x, f, rounding=mode)
    for xi, gi in zip(x, got):
        want = round_exact(Fraction(float(xi)), f, mode)
        assert same(gi, want), f"{name} {mode}: round({xi!r}) = {gi!r}, want {want}"
        if gi == 0:
            assert math.copysign(1, gi) == math.copysign(1, xi), f"sign of zero lost for {xi!r}"


def test_shape_and_special_values():
    x = np.array([[1.0, np.nan], [np.inf, -np.inf]])
    out = mpcore.round(x, "fp8_e4m3")
    assert out.shape == (2, 2) and out[0, 0] == 1.0
    assert np.isnan(out[0, 1]) and np.isnan(out[1, 0]) and np.isnan(out[1, 1])
    assert list(mpcore.round([np.inf, -np.inf], "fp16")) == [np.inf, -np.inf]
    assert list(mpcore.round([np.inf, -np.inf, 1e9], "fp4_e2m1")) == [6.0, -6.0, 6.0]
    assert mpcore.round([], "fp16").shape == (0,)
    assert mpcore.round(np.float32(3.3), "bf16").shape == ()
