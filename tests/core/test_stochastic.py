"""Stochastic rounding: unbiased, probabilities proportional to distance, reproducible."""

import numpy as np
import pytest

import mpcore


def test_probability_proportional_to_distance():
    # Values a fraction t of the way from 1 to the next fp16 number (spacing 2^-10).
    n = 100_000
    for t in (0.1, 0.25, 0.5, 0.8):
        v = 1.0 + t * 2.0 ** -10
        r = mpcore.round(np.full(n, v), "fp16", rounding="sr", seed=11)
        assert set(np.unique(r)) <= {1.0, 1.0 + 2.0 ** -10}
        p_up = np.mean(r > 1.0)
        assert abs(p_up - t) < 5 * np.sqrt(t * (1 - t) / n), (t, p_up)
        assert abs(np.mean(r) - v) < 5 * 2.0 ** -10 * np.sqrt(t * (1 - t) / n)


def test_unbiased_accumulation():
    # A sum that stagnates under round-to-nearest does not stagnate in expectation.
    x = np.full(2000, 2.0 ** -12, dtype=np.float32)  # a quarter ulp of 1 in fp16
    x[0] = 1.0
    exact = 1.0 + 1999 * 2.0 ** -12
    assert mpcore.sum(x, acc="fp16") == 1.0
    sums = np.array([mpcore.sum(x, acc="fp16", rounding="sr", seed=s) for s in range(200)])
    assert abs(sums.mean() - exact) < 5 * sums.std() / np.sqrt(len(sums))


def test_limited_random_bits():
    # With 2 random bits the probability of rounding up is floor(4 t) / 4.
    n = 50_000
    v = 1.0 + 0.6 * 2.0 ** -10
    r = mpcore.round(np.full(n, v), "fp16", rounding="sr", seed=5, sr_bits=2)
    assert abs(np.mean(r > 1.0) - 0.5) < 0.02
    r1 = mpcore.round(np.full(n, 1.0 + 0.4 * 2.0 ** -10), "fp16", rounding="sr", seed=5, sr_bits=1)
    assert np.all(r1 == 1.0)


def test_seeded_results_reproducible_and_seed_sensitive(rng):
    x = rng.standard_normal((8, 200)).astype(np.float32)
    w = rng.standard_normal((30, 200)).astype(np.float32)
    a = mpcore.matmul(x, w, acc="bf16", rounding="sr", seed=123, threads=1)
    assert np.array_equal(a, mpcore.matmul(x, w, acc="bf16", rounding="sr", seed=123, threads=2))
    assert not np.array_equal(a, mpcore.matmul(x, w, acc="bf16", rounding="sr", seed=124))
    # Each output uses its own stream: a row computed alone matches the same row in the batch.
    # (The output index is r * out + i, so row 0 alone matches row 0 of the batch.)
    assert np.array_equal(a[0], mpcore.matmul(x[:1], w, acc="bf16", rounding="sr", seed=123)[0])


@pytest.mark.parametrize("acc", ["fp32", "fp64"])
def test_wide_formats_sr_is_unbiased(acc):
    f = mpcore.formats.get(acc)
    v = 1.0 + 0.3 * 2.0 ** (1 - f.precision)
    if acc == "fp64":
        # 1 + 0.3 ulp is not a double: use a sum whose exact value is.
        r = np.array([mpcore.dot([1.0, 0.3 * 2.0 ** -52], [1.0, 1.0], acc=acc, rounding="sr", seed=s)
                      for s in range(4000)])
    else:
        r = mpcore.round(np.full(40_000, v), acc, rounding="sr", seed=2)
    p_up = np.mean(r > 1.0)
    assert abs(p_up - 0.3) < 5 * np.sqrt(0.21 / len(r)), p_up
