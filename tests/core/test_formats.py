import pickle

import ml_dtypes
import numpy as np
import pytest

import mpcore
from mpcore.formats import DTYPE_NAMES


@pytest.mark.parametrize("name", [n for n in DTYPE_NAMES if n not in ("fp64", "fp32", "fp16")])
def test_named_formats_match_ml_dtypes(name):
    f = mpcore.formats.get(name)
    info = ml_dtypes.finfo(getattr(ml_dtypes, DTYPE_NAMES[name]))
    assert f.precision == info.nmant + 1
    assert f.max_finite == float(info.max)
    assert f.smallest_normal == float(info.smallest_normal)
    assert f.smallest_subnormal == float(info.smallest_subnormal)
    assert f.u == 2.0 ** -f.precision
    assert f.bits == info.bits


@pytest.mark.parametrize("name", ["fp64", "fp32", "fp16"])
def test_ieee_formats_match_numpy(name):
    f = mpcore.formats.get(name)
    info = np.finfo(DTYPE_NAMES[name])
    assert f.precision == info.nmant + 1
    assert f.max_finite == float(info.max)
    assert f.smallest_normal == float(info.smallest_normal)
    assert f.smallest_subnormal == float(info.smallest_subnormal)
    assert f.bits == info.bits
    assert f.overflow == "inf"


def test_overflow_policies():
    assert mpcore.formats.fp8_e4m3.overflow == "nan"
    assert mpcore.formats.fp8_e5m2.overflow == "inf"
    for name in ("fp6_e2m3", "fp6_e3m2", "fp4_e2m1"):
        assert mpcore.formats.get(name).overflow == "saturate"
    assert mpcore.formats.tf32.bits == 19 and mpcore.formats.tf32.precision == 11


def test_listing_and_lookup():
    names = mpcore.formats.names()
    assert names[0] == "fp64" and "fp8_e4m3" in names and len(names) == 10
    assert mpcore.formats.get("bf16") is mpcore.formats.bf16
    with pytest.raises(ValueError, match="unknown format 'fp7'.*'fp16'"):
        mpcore.formats.get("fp7")
    with pytest.raises(TypeError):
        mpcore.formats.get(3)


def test_custom_format():
    f = mpcore.Format(precision=5, emin=-10, emax=10, name="e5m4")
    assert f.max_finite == (2 - 2.0 ** -4) * 2.0 ** 10
    assert f.bits == 1 + 5 + 4
    assert f.smallest_subnormal == 2.0 ** (-10 - 4)
    g = mpcore.Format(precision=4, emin=-6, emax=8, max_finite=448, overflow="nan", bits=8)
    assert g == mpcore.formats.fp8_e4m3
    assert hash(g) == hash(mpcore.formats.fp8_e4m3)
    assert pickle.loads(pickle.dumps(f)) == f and pickle.loads(pickle.dumps(f)).name == "e5m4"
    # A custom format works everywhere a named one does.
    assert mpcore.round([1.0 + 2.0 ** -5], f)[0] == 1.0
    assert mpcore.dot([1.0, 2.0 ** -6], [1.0, 1.0], acc=f) == 1.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(precision=0, emin=-1, emax=1), "precision"),
        (dict(precision=60, emin=-1, emax=1), "precision"),
        (dict(precision=4, emin=3, emax=1), "emin"),
        (dict(precision=4, emin=-1, emax=2000), "emax"),
        (dict(precision=24, emin=-1070, emax=1), "emin"),
        (dict(precision=4, emin=-6, emax=8, max_finite=449.0), "max_finite"),
        (dict(precision=4, emin=-6, emax=8, max_finite=1000.0), "max_finite"),
        (dict(precision=4, emin=-6, emax=8, overflow="wrap"), "overflow"),
    ],
)
def test_bad_custom_formats(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mpcore.Format(**kwargs)
