"""Bad input gives a clear exception naming the argument, never a crash."""

import numpy as np
import pytest

import mpcore

X = np.ones((2, 3), dtype=np.float32)
W = np.ones((4, 3), dtype=np.float32)


@pytest.mark.parametrize(
    "call, exc, message",
    [
        (lambda: mpcore.matmul(X, np.ones((4, 5), np.float32)), ValueError, "x has 3 features but w has 5"),
        (lambda: mpcore.matmul(X, np.ones(3, np.float32)), ValueError, "w must be 2-D"),
        (lambda: mpcore.matmul(np.ones((2, 2, 3)), W), ValueError, "x must be 1-D"),
        (lambda: mpcore.matmul(X, W, np.ones(3)), ValueError, r"b must have shape \(4,\)"),
        (lambda: mpcore.matmul(X, W, acc="fp7"), ValueError, "acc: unknown format 'fp7'; valid: 'fp64'"),
        (lambda: mpcore.matmul(X, W, outer="x"), ValueError, "outer: unknown format"),
        (lambda: mpcore.matmul(X, W, acc=16), TypeError, "acc must be"),
        (lambda: mpcore.matmul(X, W, rounding="nearest"), ValueError, "rounding: unknown rounding mode"),
        (lambda: mpcore.matmul(X, W, order="random"), ValueError, "order: unknown summation order"),
        (lambda: mpcore.matmul(X, W, block=4), ValueError, "block is only used with order='blocked'"),
        (lambda: mpcore.matmul(X, W, order="blocked", block=0), ValueError, "block must be a positive"),
        (lambda: mpcore.matmul(X, W, rounding="sr", seed=-1), ValueError, "seed must be in"),
        (lambda: mpcore.matmul(X, W, rounding="sr", seed=1.5), TypeError, "seed must be an integer"),
        (lambda: mpcore.matmul(X, W, rounding="sr", sr_bits=0), ValueError, "sr_bits"),
        (lambda: mpcore.matmul(X, W, threads=0), ValueError, "threads"),
        (lambda: mpcore.matmul(X.astype(complex), W), TypeError, "x must hold real numbers"),
        (lambda: mpcore.matmul(X, W.astype(bool)), TypeError, "w must hold real numbers"),
        (lambda: mpcore.matmul(np.array([["a", "b", "c"]]), W), TypeError, "x must hold real numbers"),
        (lambda: mpcore.matmul([[1, 2], [3]], W), TypeError, "x must be an array of real numbers"),
        (lambda: mpcore.matmul(X, W.astype(object)), TypeError, "w must hold real numbers"),
        (lambda: mpcore.dot([1.0, 2.0], [1.0]), ValueError, "same length"),
        (lambda: mpcore.dot(np.ones((2, 2)), np.ones((2, 2))), ValueError, "must be 1-D"),
        (lambda: mpcore.sum(np.ones((2, 2))), ValueError, "must be 1-D"),
        (lambda: mpcore.round([1.0], "bf17"), ValueError, "fmt: unknown format"),
        (lambda: mpcore.round([1.0], "fp16", rounding="up"), ValueError, "rounding"),
        (lambda: mpcore.round(["x"], "fp16"), TypeError, "x must hold real numbers"),
    ],
)
def test_bad_input_raises_clearly(call, exc, message):
    with pytest.raises(exc, match=message):
        call()


def test_empty_arrays_give_empty_or_natural_results():
    assert mpcore.matmul(np.ones((0, 3), np.float32), W).shape == (0, 4)
    assert mpcore.matmul(X, np.ones((0, 3), np.float32)).shape == (2, 0)
    # No terms: the sum is 0, plus the bias rounded to the accumulator.
    z = mpcore.matmul(np.ones((2, 0), np.float32), np.ones((4, 0), np.float32), np.full(4, 1.0 + 2.0 ** -12),
                      acc="fp16")
    assert z.shape == (2, 4) and np.all(z == 1.0)
    assert mpcore.dot([], [], acc="bf16") == 0.0


def test_results_too_large_to_address_raise_instead_of_wrapping():
    # Zero-width operands take no memory at any number of rows; their product's shape
    # (2^66 values) must not wrap to a small allocation that the kernels then overrun.
    tall = np.zeros((2 ** 33, 0), np.float32)
    with pytest.raises(ValueError, match="more elements than memory can address"):
        mpcore.matmul(tall, tall, acc="fp16")
    with pytest.raises(ValueError, match="more elements than memory can address"):
        mpcore.selective_linear(tall, tall, low="fp8_e4m3", high="fp16", tau=0.1)
    tall3 = np.zeros((2 ** 22, 2 ** 22, 0), np.float32)
    with pytest.raises(ValueError, match="more elements than memory can address"):
        mpcore._core.matmul_batched(tall3, tall3, mpcore.MatmulOptions(acc="fp16"))
    with pytest.raises(ValueError, match="more elements than memory can address"):
        mpcore._core.ladder_batched(tall3, tall3, mpcore.LadderOptions(["bf16"]))


def test_integer_inputs_are_accepted():
    assert np.array_equal(mpcore.matmul(np.ones((2, 3), int), np.ones((4, 3), int)), np.full((2, 4), 3.0))


def test_one_dimensional_x_gives_one_dimensional_result():
    y = mpcore.matmul(np.ones(3, np.float32), W, acc="fp16")
    assert y.shape == (4,) and np.all(y == 3.0)
