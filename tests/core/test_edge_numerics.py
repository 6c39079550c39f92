"""Edge cases of the lane kernels found by an MPFR check: every path, every ISA, one answer.

Each test pins a class of input (sums leaving the container's range, subnormal grids inside
binary64's subnormal range) and checks every kernel path on every instruction set this CPU
has against the scalar generic path and, where cheap, against exact rationals.
"""

from fractions import Fraction

import numpy as np
import pytest

import mpcore
from mpcore import _core
from conftest import DETERMINISTIC_MODES

ALL_MODES = DETERMINISTIC_MODES + ("sr",)


def available_isas():
    order = ["portable", "avx2", "avx512"]
    return order[: order.index(_core.detected_simd_isa()) + 1]


def options(acc, mode, order="sequential", seed=1, block=2):
    return mpcore.MatmulOptions(acc=acc, rounding=mode, order=order, block=block if order == "blocked" else None,
                                seed=seed, threads=1)


def run(x, w, b, acc, mode, order="sequential", path="auto", seed=1, block=2):
    return _core.matmul(x, w, b, options(acc, mode, order, seed, block), path)


@pytest.fixture(params=["portable", "avx2", "avx512"])
def isa(request):
    if request.param not in available_isas():
        pytest.skip(f"this CPU has no {request.param}")
    previous = _core.simd_isa()
    _core.set_simd_isa(request.param)
    yield request.param
    _core.set_simd_isa(previous)


@pytest.mark.parametrize("acc", ["tf32", "bf16"])
@pytest.mark.parametrize("order", ["sequential", "pairwise", "blocked"])
@pytest.mark.parametrize("mode", ALL_MODES)
def test_sums_past_binary32_range_agree_on_every_path(acc, order, mode, isa):
    # Products below 2^127 (the binary32 lanes' proof holds) whose partial sums pass 2^128.
    big_x, big_w = float.fromhex("0x1.ffcp+62"), float.fromhex("0x1.ffcp+63")
    x = np.array([[big_x] * 3, [big_x, -big_x, big_x], [big_x, big_x, -big_x]], np.float32)
    w = np.full((32, 3), big_w, np.float32)
    w[1::2, 1] = -big_w  # mixed signs: inf - inf in some partial sums
    assert _core.kernel_path("float32", options(acc, mode, order)) in ("lanes32", "lanes")
    want = run(x, w, None, acc, mode, order, path="generic")
    for path in ("lanes32", "lanes", "auto"):
        got = run(x, w, None, acc, mode, order, path=path)
        assert np.array_equal(got, want, equal_nan=True), (path, got[:, :2], want[:, :2])
    if mode in ("rne", "sr") and order == "sequential":
        assert np.all(np.isinf(want[0, ::2]))  # 3 terms of ~2^127: overflow, whatever the draw


def test_issue_reproducer_tf32_sr_overflow_is_inf():
    x = np.full((1, 3), float.fromhex("0x1.ffcp+62"), np.float32)
    w = np.full((32, 3), float.fromhex("0x1.ffcp+63"), np.float32)
    for seed in range(5):
        assert np.all(np.isposinf(mpcore.matmul(x, w, acc="tf32", rounding="sr", seed=seed)))


TINY_FORMATS = [
    dict(precision=40, emin=-1022, emax=1023),
    dict(precision=20, emin=-1010, emax=1000),
    dict(precision=52, emin=-1022, emax=1023),
]


def exact_round(value: Fraction, fmt, mode):
    """Rounds an exact rational to fmt (deterministic modes, subnormal range only)."""
    q = Fraction(2) ** (fmt.emin - fmt.precision + 1)
    k, r = divmod(abs(value), q)
    if r == 0:
        n = k
    elif mode == "rtz":
        n = k
    elif mode == "rto":
        n = k if k % 2 else k + 1
    elif mode == "rne":
        n = k + 1 if (2 * r > q or (2 * r == q and k % 2)) else k
    elif mode == "rna":
        n = k + 1 if 2 * r >= q else k
    elif mode == "rup":
        n = k + 1 if value > 0 else k
    else:  # rdn
        n = k + 1 if value < 0 else k
    return float(n * q) * (1 if value >= 0 else -1)


@pytest.mark.parametrize("spec", TINY_FORMATS, ids=lambda s: f"p{s['precision']}_emin{s['emin']}")
@pytest.mark.parametrize("mode", DETERMINISTIC_MODES)
def test_subnormal_grid_inside_binary64_subnormals(spec, mode, isa):
    fmt = mpcore.Format(**spec)
    q = 2.0 ** (fmt.emin - fmt.precision + 1)
    assert q < 2.0 ** -1022
    multiples = np.arange(-40, 41) / 4.0  # 0, quarters, halves (ties) and whole multiples of q
    x = (multiples * q).reshape(-1, 1)
    w = np.ones((1, 1))
    for path in ("lanes", "generic"):
        got = run(x, w, None, fmt, mode, path=path)[:, 0]
        for k, v in enumerate(x[:, 0]):
            want = exact_round(Fraction(v), fmt, mode)
            assert got[k] == want or (got[k] == 0 == want), (path, multiples[k], got[k] / q, want / q)


def test_issue_reproducer_custom_subnormal_grid():
    C = mpcore.Format(precision=40, emin=-1022, emax=1023)
    q = 2.0 ** -1061
    assert mpcore.sum(np.array([2.5 * q]), acc=C, rounding="rup") == 3 * q
    assert mpcore.sum(np.array([2.5 * q]), acc=C, rounding="rna") == 3 * q
    assert mpcore.sum(np.array([3.5 * q]), acc=C, rounding="rtz") == 3 * q
    assert mpcore.sum(np.array([-2.5 * q]), acc=C, rounding="rdn") == -3 * q


@pytest.mark.parametrize("spec", TINY_FORMATS, ids=lambda s: f"p{s['precision']}_emin{s['emin']}")
def test_stochastic_rounding_of_tiny_custom_formats_equals_generic(spec, isa, rng):
    fmt = mpcore.Format(**spec)
    q = 2.0 ** (fmt.emin - fmt.precision + 1)
    # Sums at tiny binades (binary64 fields below 52 + random bits) and in the subnormal range.
    x = np.concatenate([rng.integers(-64, 64, (4, 9)) * q / 4, rng.standard_normal((4, 9)) * 2.0 ** -930])
    w = rng.integers(1, 4, (33, 9)).astype(np.float64)
    for seed in (1, 2):
        assert np.array_equal(run(x, w, None, fmt, "sr", path="lanes", seed=seed),
                              run(x, w, None, fmt, "sr", path="generic", seed=seed))


@pytest.mark.parametrize("acc,mode", [("fp64", "rtz"), ("fp64", "sr"), ("fp16", "rne"), ("fp16", "rup")])
def test_infinite_and_p53_inputs(acc, mode):
    # Cases that hit undefined shifts and signed overflow before (UBSan); values must be IEEE.
    got = mpcore.matmul(np.array([[.1, .2, .3]]), np.array([[1., 3., 7.]]), acc=acc, rounding=mode)
    assert np.isfinite(got).all()
    assert mpcore.matmul(np.array([[np.inf, 1.]]), np.ones((1, 2)), acc=acc, rounding=mode)[0, 0] == np.inf
    assert np.isnan(mpcore.matmul(np.array([[np.inf, -np.inf]]), np.ones((1, 2)), acc=acc, rounding=mode)[0, 0])


BIG_FORMATS = ["fp64", dict(precision=40, emin=-1022, emax=1023), dict(precision=52, emin=-1000, emax=1023)]


@pytest.mark.parametrize("spec", BIG_FORMATS, ids=str)
@pytest.mark.parametrize("mode", DETERMINISTIC_MODES)
@pytest.mark.parametrize("order", ["sequential", "pairwise"])
def test_finite_sums_past_binary64_range_round_like_any_other(spec, mode, order, isa):
    # The exact sum is finite (about 2^1024 and beyond) though binary64's own sum overflows:
    # rtz / rto / directed-toward-zero clamp to max_finite, the others overflow; never inf by
    # accident of the container.
    from exact_reference import accumulate, same

    fmt = mpcore.formats.get(spec) if isinstance(spec, str) else mpcore.Format(**spec)
    top = fmt.max_finite
    x = np.array([[top, top], [top, 2.0 ** 970], [-top, -top], [top, -top], [top, np.inf], [-np.inf, top]])
    w = np.ones((33, 2))
    for path in ("lanes", "generic"):
        got = run(x, w, None, fmt, mode, order, path=path)
        assert got[4, 0] == np.inf and got[5, 0] == -np.inf  # an infinite term is inf in every mode
        for r in range(4):
            want = accumulate(w[0], x[r], None, fmt, mode, order)
            assert same(got[r, 0], want), (path, r, got[r, 0], want)
            assert np.array_equal(got[r], np.full(33, got[r, 0]), equal_nan=True)


def test_stochastic_rounding_past_binary64_range_draws_both_neighbours():
    # DBL_MAX + 2^970 lies halfway between DBL_MAX and 2^1024 (inf in fp64): both outcomes.
    x = np.array([[np.finfo(np.float64).max, 2.0 ** 970]])
    outcomes = {float(mpcore.matmul(x, np.ones((1, 2)), acc="fp64", rounding="sr", seed=s)[0, 0]) for s in range(40)}
    assert outcomes == {np.finfo(np.float64).max, np.inf}
