"""Every CPU kernel path gives the same bits; thread counts do not matter."""

import numpy as np
import pytest

import mpcore
from mpcore import _core
from conftest import DETERMINISTIC_MODES


def run(x, w, b, acc, mode="rne", order="sequential", block=32, seed=7, threads=1, path="auto"):
    out = np.empty((x.shape[0], w.shape[0]))
    _core.matmul(x, w, b, out, mpcore.formats.get(acc), mode, order, block, mpcore.formats.fp32, seed, 52,
                 threads, path)
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("acc", ["fp32", "fp64"])
def test_native_fma_chain_equals_simulated(dtype, acc, rng):
    x = rng.standard_normal((7, 300)).astype(dtype)
    w = rng.standard_normal((13, 300)).astype(dtype)
    b = rng.standard_normal(13).astype(dtype)
    # Huge and tiny terms too: overflow to inf and subnormal partial sums.
    x[0, :5] = [3e38, 3e38, 1e-30, -1e-30, 1e-39] if dtype == np.float32 else [1e300, 1e300, 1e-300, -1e-300, 1e-310]
    native = "native32" if acc == "fp32" else "native64"
    if acc == "fp32" and dtype == np.float64:
        assert _core.kernel_path("float64", mpcore.formats.fp32, "rne", "sequential") == "lanes"
    else:
        assert _core.kernel_path(np.dtype(dtype).name, mpcore.formats.get(acc), "rne", "sequential") == native
    a = run(x, w, b, acc, path=native)
    s = run(x, w, b, acc, path="lanes")
    g = run(x, w, b, acc, path="generic")
    assert np.array_equal(a, s, equal_nan=True) and np.array_equal(s, g, equal_nan=True)


@pytest.mark.parametrize("acc", ["fp16", "bf16", "fp8_e4m3", "tf32"])
@pytest.mark.parametrize("mode", DETERMINISTIC_MODES + ("sr",))
def test_lanes_equal_generic_and_threads_do_not_matter(acc, mode, rng):
    x = rng.standard_normal((5, 61)).astype(np.float32)
    w = (rng.standard_normal((19, 61)) * 0.2).astype(np.float32)
    b = rng.standard_normal(19).astype(np.float32)
    one = run(x, w, b, acc, mode, threads=1, path="lanes")
    assert np.array_equal(one, run(x, w, b, acc, mode, threads=1, path="generic"), equal_nan=True)
    for threads in (2, 3, 8):
        assert np.array_equal(one, run(x, w, b, acc, mode, threads=threads), equal_nan=True)


@pytest.mark.parametrize("order", ["pairwise", "blocked"])
def test_other_orders_independent_of_threads(order, rng):
    x = rng.standard_normal((4, 100)).astype(np.float32)
    w = rng.standard_normal((9, 100)).astype(np.float32)
    ref = mpcore.matmul(x, w, acc="fp8_e5m2", order=order, rounding="sr", seed=3, threads=1)
    for threads in (2, 5):
        assert np.array_equal(ref, mpcore.matmul(x, w, acc="fp8_e5m2", order=order, rounding="sr", seed=3,
                                                 threads=threads), equal_nan=True)


def test_large_problem_uses_threads_consistently(rng):
    x = rng.random((64, 784)).astype(np.float32)
    w = (rng.standard_normal((300, 784)) / 28).astype(np.float32)
    a = mpcore.matmul(x, w, acc="fp16", threads=1)
    assert np.array_equal(a, mpcore.matmul(x, w, acc="fp16", threads=2))
    # Sanity: close to the float64 result at fp16's accuracy for these sums.
    exact = x.astype(np.float64) @ w.T.astype(np.float64)
    assert np.max(np.abs(a - exact)) < 784 * 2.0 ** -11 * np.max(np.abs(x) @ np.abs(w.T))


def available_isas():
    order = ["portable", "avx2", "avx512"]
    return order[: order.index(_core.detected_simd_isa()) + 1]


@pytest.mark.parametrize("isa", ["portable", "avx2", "avx512"])
def test_every_dispatch_path_is_exact(isa, rng):
    if isa not in available_isas():
        pytest.skip(f"this CPU has no {isa}")
    from exact_reference import accumulate, same

    previous = _core.simd_isa()
    _core.set_simd_isa(isa)
    try:
        assert _core.simd_isa() == isa
        for acc in ("fp16", "bf16", "fp8_e4m3", "fp8_e5m2", "fp4_e2m1", "tf32"):
            f = mpcore.formats.get(acc)
            x = (rng.standard_normal((3, 70)) * (0.3 if f.max_finite < 100 else 1)).astype(np.float32)
            w = rng.standard_normal((37, 70)).astype(np.float32)
            x[0, :10] = 0  # exact zero sums and subnormal partial sums
            w[1] *= np.float32(f.smallest_normal * 4)
            for mode in DETERMINISTIC_MODES + ("sr",):
                lanes = run(x, w, None, acc, mode, path="lanes")
                assert np.array_equal(lanes, run(x, w, None, acc, mode, path="generic"), equal_nan=True), (acc, mode)
            for mode in ("rne", "rtz"):
                got = run(x, w, None, acc, mode, path="lanes")
                for r in range(3):
                    for i in range(0, 37, 5):
                        assert same(got[r, i], accumulate(w[i], x[r], None, f, mode)), (acc, mode, r, i)
    finally:
        _core.set_simd_isa(previous)


def test_forcing_an_unsupported_isa_is_an_error():
    with pytest.raises(ValueError, match="unknown instruction set"):
        _core.set_simd_isa("neon")
    if "avx512" not in available_isas():
        with pytest.raises(ValueError, match="does not support avx512"):
            _core.set_simd_isa("avx512")


@pytest.mark.parametrize("acc", ["fp16", "bf16", "fp8_e4m3", "fp64"])
@pytest.mark.parametrize("mode", DETERMINISTIC_MODES + ("sr",))
@pytest.mark.parametrize("block", [1, 7, 64])
def test_blocked_order_in_the_lanes_equals_generic(acc, mode, block, rng):
    x = rng.standard_normal((3, 50)).astype(np.float32)
    w = (rng.standard_normal((35, 50)) * 0.3).astype(np.float32)
    b = rng.standard_normal(35).astype(np.float32)
    lanes = run(x, w, b, acc, mode, order="blocked", block=block, path="lanes")
    assert np.array_equal(lanes, run(x, w, b, acc, mode, order="blocked", block=block, path="generic"), equal_nan=True)
