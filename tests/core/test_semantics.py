"""Documented semantics that are easy to get wrong, each pinned by a test (README: the
accumulation model): the blocked order's outer rounding, the pairwise leaf, stochastic
rounding at overflow and with few random bits, the random stream itself, and directed
rounding at the top of the NaN-on-overflow format fp8_e4m3."""

import math
from fractions import Fraction

import numpy as np
import pytest

import mpcore
from exact_reference import _floor_log2, accumulate, same

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def stream_key(seed, index):
    return mix64(mix64((seed + GOLDEN) & MASK) ^ ((index * 0xD1B54A32D192ED03 + 1) & MASK))


def fmix32(z):
    z = ((z ^ (z >> 16)) * 0x85EBCA6B) & 0xFFFFFFFF
    z = ((z ^ (z >> 13)) * 0xC2B2AE35) & 0xFFFFFFFF
    return z ^ (z >> 16)


def stream_bits(key, step):
    """The 32-bit word of step `step`."""
    return fmix32((((key & 0xFFFFFFFF) + (step + 1) * 0x9E3779B9) & 0xFFFFFFFF) ^ (key >> 32))


def sr_round(v: Fraction, fmt, bits: int, nbits: int = 32):
    """The README's stochastic rounding of an exact value with a 32-bit random word."""
    if v == 0:
        return Fraction(0)
    a = abs(v)
    e = _floor_log2(a)
    q = Fraction(2) ** ((e if e >= fmt.emin else fmt.emin) - fmt.precision + 1)
    k = math.floor(a / q)
    frac = a / q - k
    up = (bits >> (32 - nbits)) < math.floor(frac * 2 ** nbits)
    r = (k + up) * q
    if r > Fraction(fmt.max_finite):
        r = math.inf if fmt.overflow == "inf" else (math.nan if fmt.overflow == "nan" else fmt.max_finite)
        return math.copysign(r, v) if not math.isnan(r) else r
    return r if v > 0 else -r


def sr_accumulate(w, x, b, fmt, seed, index, order="sequential", block=4, outer=None):
    """One output with the documented generator and step numbering."""
    key = stream_key(seed, index)
    terms = [Fraction(float(a)) * Fraction(float(c)) for a, c in zip(w, x)]
    n = len(terms)

    def add(s, t, f, step):
        return sr_round(s + t, f, stream_bits(key, step))

    if order == "sequential":
        s = Fraction(0)
        for j, t in enumerate(terms):
            s = add(s, t, fmt, j)
        return add(s, Fraction(float(b)), fmt, n)
    if order == "blocked":
        s, k = Fraction(0), 0
        for start in range(0, n, block):
            t = Fraction(0)
            for j in range(start, min(start + block, n)):
                t = add(t, terms[j], fmt, j)
            s = add(s, t, outer, n + k)
            k += 1
        return add(s, Fraction(float(b)), outer, n + k)
    # pairwise: a binary counter of runs; the k-th internal node formed gets step n + k
    stack, node = [], 0
    for j, t in enumerate(terms):
        v, size = add(Fraction(0), t, fmt, j), 0
        while stack and stack[-1][1] == size:
            v = add(stack.pop()[0], v, fmt, n + node)
            node += 1
            size += 1
        stack.append((v, size))
    s = stack[-1][0]
    for left, _ in reversed(stack[:-1]):
        s = add(left, s, fmt, n + node)
        node += 1
    return add(s, Fraction(float(b)), fmt, 2 * n)


@pytest.mark.parametrize("order", ["sequential", "pairwise", "blocked"])
@pytest.mark.parametrize("acc", ["fp8_e4m3", "bf16", "fp16"])
def test_random_stream_reproducible_from_the_documented_formulas(order, acc, rng):
    fmt = mpcore.formats.get(acc)
    x = rng.standard_normal((2, 11)).astype(np.float32)
    w = rng.standard_normal((3, 11)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    extra = dict(block=4, outer="bf16") if order == "blocked" else {}
    got = mpcore.matmul(x, w, b, acc=acc, rounding="sr", seed=2024, order=order, **extra)
    for r in range(2):
        for i in range(3):
            want = sr_accumulate(w[i], x[r], b[i], fmt, 2024, r * 3 + i, order, 4, mpcore.formats.bf16)
            assert same(got[r, i], want), (r, i, got[r, i], float(want))


def _stream_words(seed, indices, steps):
    """The documented stream, vectorised: words[i, k] = bits(k) of output indices[i]."""
    with np.errstate(over="ignore"):
        def mix(z):
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            return z ^ (z >> np.uint64(31))
        idx = np.asarray(indices, dtype=np.uint64)
        key = mix(mix(np.uint64(seed) + np.uint64(GOLDEN)) ^ (idx * np.uint64(0xD1B54A32D192ED03) + np.uint64(1)))
        lo, hi = key & np.uint64(0xFFFFFFFF), key >> np.uint64(32)
        k = np.arange(1, steps + 1, dtype=np.uint64) * np.uint64(0x9E3779B9)
        z = ((lo[:, None] + k[None, :]) & np.uint64(0xFFFFFFFF)) ^ hi[:, None]
        z = ((z ^ (z >> np.uint64(16))) * np.uint64(0x85EBCA6B)) & np.uint64(0xFFFFFFFF)
        z = ((z ^ (z >> np.uint64(13))) * np.uint64(0xC2B2AE35)) & np.uint64(0xFFFFFFFF)
        return z ^ (z >> np.uint64(16))


def test_vectorised_stream_is_the_scalar_one():
    words = _stream_words(3, [0, 1, 977], 5)
    assert all(int(words[i, k]) == stream_bits(stream_key(3, idx), k)
               for i, idx in enumerate([0, 1, 977]) for k in range(5))


def test_random_stream_is_uniform_and_uncorrelated():
    """Statistics of the 32-bit words (2^20 of them) at 5 sigma: every bit fair, the top byte
    uniform (chi-square), no correlation between consecutive steps of one output or the same
    step of neighbouring outputs, and consecutive seeds give unrelated streams."""
    n_out, n_steps = 1024, 1024
    words = _stream_words(11, np.arange(n_out), n_steps)
    n = words.size
    for bit in range(32):
        mean = float(((words >> np.uint64(bit)) & np.uint64(1)).mean())
        assert abs(mean - 0.5) < 5 * 0.5 / math.sqrt(n), (bit, mean)
    counts = np.bincount((words >> np.uint64(24)).astype(np.int64).ravel(), minlength=256)
    expected = n / 256
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 255 + 5 * math.sqrt(2 * 255), chi2
    u = words.astype(np.float64) / 2.0 ** 32 - 0.5

    def corr(a, b):
        return float((a * b).mean() / math.sqrt((a * a).mean() * (b * b).mean()))

    assert abs(corr(u[:, 1:], u[:, :-1])) < 5 / math.sqrt(n)
    assert abs(corr(u[1:, :], u[:-1, :])) < 5 / math.sqrt(n)
    other = _stream_words(12, np.arange(n_out), n_steps).astype(np.float64) / 2.0 ** 32 - 0.5
    assert abs(corr(u, other)) < 5 / math.sqrt(n)

@pytest.mark.parametrize("mode", ["rtz", "rup", "rdn", "rna"])
def test_blocked_outer_sum_uses_the_accumulator_rounding_mode(mode, rng):
    x = rng.standard_normal((3, 40))
    w = rng.standard_normal((5, 40))
    b = rng.standard_normal(5)
    got = mpcore.matmul(x.astype(np.float32), w.astype(np.float32), b.astype(np.float32), acc="fp8_e5m2",
                        rounding=mode, order="blocked", block=8, outer="bf16")
    for r in range(3):
        for i in range(5):
            want = accumulate(np.float32(w[i]), np.float32(x[r]), np.float32(b[i]), mpcore.formats.fp8_e5m2, mode,
                              "blocked", 8, mpcore.formats.bf16)
            assert same(got[r, i], want)


def test_pairwise_leaf_is_round_of_zero_plus_product():
    # A -0 product enters the tree as round(0 + -0) = +0 (IEEE: +0 + -0 = +0, except rdn).
    x = np.array([[-0.0]], np.float32)
    w = np.array([[1.0]], np.float32)
    for order in ("sequential", "pairwise"):
        assert math.copysign(1, mpcore.matmul(x, w, acc="fp16", order=order)[0, 0]) == 1
        assert math.copysign(1, mpcore.matmul(x, w, acc="fp16", order=order, rounding="rdn")[0, 0]) == -1


def test_stochastic_rounding_at_overflow():
    f = mpcore.formats.fp16
    spacing = 2.0 ** (15 - 10)
    # Between max_finite and the next point of the unbounded grid: max or inf, with the
    # probability of the distance; past that next point, always inf.
    between = np.full(20000, f.max_finite + 0.25 * spacing)
    r = mpcore.round(between, "fp16", rounding="sr", seed=3)
    assert set(np.unique(r)) == {f.max_finite, np.inf}
    assert abs(np.mean(np.isinf(r)) - 0.25) < 0.02
    past = np.full(1000, f.max_finite + 1.0 * spacing)
    assert np.all(np.isinf(mpcore.round(past, "fp16", rounding="sr", seed=3)))
    # A saturating format saturates, a NaN-on-overflow format gives NaN.
    assert np.all(mpcore.round(np.full(100, 9.0), "fp6_e2m3", rounding="sr", seed=1) == 7.5)
    assert np.all(np.isnan(mpcore.round(np.full(100, 600.0), "fp8_e4m3", rounding="sr", seed=1)))


def test_sr_bits_truncate_the_probability_toward_zero():
    # P(away from zero) = floor(t * 2^R) / 2^R <= t: with R = 1 a distance of 0.4 never rounds up.
    v = 1.0 + 0.4 * 2.0 ** -10
    assert np.all(mpcore.round(np.full(5000, v), "fp16", rounding="sr", seed=1, sr_bits=1) == 1.0)
    assert np.all(mpcore.round(np.full(5000, -v), "fp16", rounding="sr", seed=1, sr_bits=1) == -1.0)


@pytest.mark.parametrize("mode,value,want", [
    ("rup", 449.0, math.nan), ("rup", -449.0, -448.0), ("rdn", -449.0, math.nan), ("rdn", 449.0, 448.0),
    ("rtz", 1000.0, 448.0), ("rto", -1000.0, -448.0), ("rne", 465.0, math.nan), ("rne", 464.0, 448.0),
    ("rna", 464.0, math.nan), ("rup", math.inf, math.nan), ("rtz", math.inf, math.nan),
])
def test_fp8_e4m3_directed_rounding_at_overflow(mode, value, want):
    got = mpcore.round(np.array([value]), "fp8_e4m3", rounding=mode)[0]
    assert (math.isnan(got) and math.isnan(want)) or got == want, (mode, value, got)
    # The same in an accumulation (one term, then the bias).
    acc = mpcore.matmul(np.array([[value / 2]]), np.array([[1.0]]), np.array([value / 2]), acc="fp64")
    assert acc[0, 0] == value or math.isinf(value)
