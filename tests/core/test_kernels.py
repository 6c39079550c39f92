"""Every CPU kernel path gives the same bits; thread counts do not matter."""

import numpy as np
import pytest

import mpcore
from mpcore import _core
from conftest import DETERMINISTIC_MODES


def options(acc, mode="rne", order="sequential", block=32, seed=7, threads=1):
    return mpcore.MatmulOptions(acc=acc, rounding=mode, order=order, block=block if order == "blocked" else None,
                                seed=seed, threads=threads)


def run(x, w, b, acc, mode="rne", order="sequential", block=32, seed=7, threads=1, path="auto"):
    return _core.matmul(x, w, b, options(acc, mode, order, block, seed, threads), path)


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
        assert _core.kernel_path("float64", options(mpcore.formats.fp32, "rne", "sequential")) == "lanes"
    else:
        assert _core.kernel_path(np.dtype(dtype).name, options(mpcore.formats.get(acc), "rne", "sequential")) == native
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


def format_valued(rng, shape, fmt, scale=1.0):
    """Values of `fmt` (as float32), with zeros and values near its smallest normal."""
    v = rng.standard_normal(shape) * scale
    v.flat[::7] = 0
    v.flat[3::11] *= mpcore.formats.get(fmt).smallest_normal
    return mpcore.round(v, fmt).astype(np.float32)


FLOAT32_LANE_MODES = ("rne", "rna", "rtz", "rup", "rto", "sr")


@pytest.mark.parametrize("isa", ["portable", "avx2", "avx512"])
@pytest.mark.parametrize("acc", ["fp16", "bf16", "tf32", "fp8_e4m3", "fp8_e5m2", "fp6_e3m2", "fp4_e2m1"])
def test_float32_container_lanes_equal_generic(isa, acc, rng):
    if isa not in available_isas():
        pytest.skip(f"this CPU has no {isa}")
    # fp16 activations times fp8 weights: 11 + 4 significand bits, every product exact in binary32.
    x = format_valued(rng, (3, 90), "fp16", 0.5)
    w = format_valued(rng, (37, 90), "fp8_e4m3", 0.3)
    b = format_valued(rng, 37, "fp16")
    x[1, 40:] = 0  # an exact zero sum continued
    w[2, :45], w[2, 45:] = 200.0, -200.0  # overflow (inf, NaN or saturation) on the way
    previous = _core.simd_isa()
    _core.set_simd_isa(isa)
    try:
        for mode in DETERMINISTIC_MODES + ("sr",):
            expected = "lanes32" if mode in FLOAT32_LANE_MODES else "lanes"
            assert _core.kernel_path(x, w, options(mpcore.formats.get(acc), mode, "sequential")) == expected
            generic = run(x, w, b, acc, mode, path="generic")
            assert np.array_equal(run(x, w, b, acc, mode, path="lanes32"), generic, equal_nan=True), (acc, mode)
            assert np.array_equal(run(x, w, b, acc, mode), generic, equal_nan=True), (acc, mode)
            for order in ("blocked", "pairwise"):
                want = run(x, w, b, acc, mode, order=order, block=16, path="generic")
                assert np.array_equal(run(x, w, b, acc, mode, order=order, block=16), want, equal_nan=True), order
    finally:
        _core.set_simd_isa(previous)


@pytest.mark.parametrize("acc", ["fp16", "bf16", "fp8_e4m3"])
def test_float32_container_lanes_against_exact_rationals(acc, rng):
    from exact_reference import accumulate, same

    f = mpcore.formats.get(acc)
    x = format_valued(rng, (2, 64), "bf16")
    w = format_valued(rng, (33, 64), "bf16", 0.2 if f.max_finite < 1000 else 1.0)
    for mode in FLOAT32_LANE_MODES[:-1]:  # the deterministic ones
        got = run(x, w, None, acc, mode, path="lanes32")
        for r in range(2):
            for i in range(0, 33, 4):
                assert same(got[r, i], accumulate(w[i], x[r], None, f, mode)), (acc, mode, r, i)


def test_float32_container_only_where_products_are_exact(rng):
    fp16 = mpcore.formats.fp16
    x = format_valued(rng, (2, 20), "fp16")
    w = format_valued(rng, (5, 20), "fp16")
    assert _core.kernel_path(x, w, options(fp16, "rne", "sequential")) == "lanes32"  # 11 + 11 bits
    w13 = w.copy()
    w13[0, 0] = np.float32(1 + 2.0 ** -13)  # 14 bits: 11 + 14 > 24
    assert _core.kernel_path(x, w13, options(fp16, "rne", "sequential")) == "lanes"
    tiny = w.copy()
    tiny[0, 0] = np.float32(2.0 ** -120)  # products could leave binary32's normal range
    assert _core.kernel_path(x, tiny, options(fp16, "rne", "sequential")) == "lanes"
    assert _core.kernel_path(x.astype(np.float64), w.astype(np.float64), options(fp16, "rne", "sequential")) == "lanes"
    assert _core.kernel_path(x, w, options(fp16, "rdn", "sequential")) == "lanes"
    assert _core.kernel_path(x, w, options(mpcore.formats.fp32, "rne", "sequential")) == "native32"
    # Forcing the binary32 container on data it cannot hold falls back to the exact kernels.
    for data in (w13, tiny):
        assert np.array_equal(run(x, data, None, "fp16", path="lanes32"), run(x, data, None, "fp16", path="generic"))


@pytest.mark.parametrize("isa", ["portable", "avx2", "avx512"])
@pytest.mark.parametrize("acc", ["fp16", "bf16", "fp8_e4m3", "fp8_e5m2", "tf32", "fp32"])
def test_pairwise_order_in_the_lanes_equals_generic(isa, acc, rng):
    if isa not in available_isas():
        pytest.skip(f"this CPU has no {isa}")
    f = mpcore.formats.get(acc)
    x = (rng.standard_normal((3, 77)) * (0.3 if f.max_finite < 1000 else 1)).astype(np.float32)
    w = rng.standard_normal((35, 77)).astype(np.float32)
    b = rng.standard_normal(35).astype(np.float32)
    x[0, :9] = 0  # zero leaves and zero subtrees
    x[1, 5] = 1e-30  # a leaf below the smallest subnormal
    w[3, :40] = 3e4  # overflow inside the tree
    previous = _core.simd_isa()
    _core.set_simd_isa(isa)
    try:
        for inputs in ("float32", "stored"):
            xs, ws = (x, w) if inputs == "float32" else (mpcore.round(x, "bf16").astype(np.float32),
                                                         mpcore.round(w, "bf16").astype(np.float32))
            for n in (77, 64, 1):  # uneven tree, full tree, one leaf
                for mode in DETERMINISTIC_MODES + ("sr",):
                    want = run(xs[:, :n], ws[:, :n], b, acc, mode, order="pairwise", path="generic")
                    got = run(xs[:, :n], ws[:, :n], b, acc, mode, order="pairwise")
                    assert np.array_equal(got, want, equal_nan=True), (inputs, n, mode)
    finally:
        _core.set_simd_isa(previous)


ISAS = ["portable", "avx2", "avx512"]


def test_forcing_and_auto_dispatch():
    previous = _core.simd_isa()
    try:
        for isa in ISAS[: ISAS.index(_core.detected_simd_isa()) + 1]:
            _core.set_simd_isa(isa)
            assert _core.simd_isa() == isa
            report = _core.family_isa("lanes", options("fp16", "sr", "pairwise"))
            assert report["isa"] == isa and report["rates"] == {}  # forced: nothing timed is reported
        _core.set_simd_isa("auto")
        assert _core.simd_isa() == "auto"
        report = _core.family_isa("lanes", options("fp16", "rtz", "blocked"))
        assert report["family"] == "lanes sequential directed"  # blocked order runs the sequential lanes
        assert report["isa"] == max(report["rates"], key=report["rates"].get)
        assert all(rate > 0 for rate in report["rates"].values())
        families = {r["family"] for r in _core.dispatch_report()}
        assert "lanes sequential directed" in families
        with pytest.raises(ValueError, match="auto"):
            _core.set_simd_isa("fastest")
    finally:
        _core.set_simd_isa(previous)


def test_public_kernel_report(rng):
    x = format_valued(rng, (4, 30), "fp16")
    w = format_valued(rng, (6, 30), "fp8_e4m3")
    info = mpcore.kernel(x, w, acc="fp16")
    assert info["path"] == "lanes32"
    family = _core.family_isa("lanes32", options("fp16", "rne", "sequential"))
    assert info["isa"] == family["isa"] == (_core.simd_isa() if _core.simd_isa() != "auto" else info["isa"])
    if _core.simd_isa() == "auto":  # timed: the fastest measured, every instruction set up to the detected one
        assert set(info["rates"]) == set(ISAS[: ISAS.index(_core.detected_simd_isa()) + 1])
        assert info["isa"] == max(info["rates"], key=info["rates"].get)
    assert mpcore.kernel(x[0], w, acc="fp16", rounding="rdn")["path"] == "lanes"
    assert mpcore.kernel(x.astype(np.float64) + 0.1, w, acc="bf16")["path"] == "lanes"
    assert mpcore.kernel(x, w, acc="fp32")["path"] == "native32"
    assert mpcore.kernel(x, w, acc="fp32", order="pairwise")["path"] == "lanes"  # p = 24: binary64 lanes
    assert mpcore.kernel(x, w, acc="fp64", order="pairwise")["path"] == "generic"  # p = 53: scalar
    with pytest.raises(ValueError, match="order"):
        mpcore.kernel(x, w, order="zigzag")
    with pytest.raises(ValueError, match="features"):
        mpcore.kernel(x, w[:, :5])


@pytest.mark.parametrize("isa", available_isas())
@pytest.mark.parametrize("mode", ["rne", "rna", "rtz", "rup", "rto", "sr"])
@pytest.mark.parametrize("batch", [2, 3, 6, 9])
@pytest.mark.parametrize("order", ["sequential", "pairwise"])
def test_multi_row_binary32_lanes_equal_generic(isa, mode, batch, order, rng):
    # Rows run two or four at a time against a panel (lanes32_rows): each row's special lanes
    # (overflow of fp16 in row 1 only, subnormal sums in row 0) are redone for that row alone.
    x = format_valued(rng, (batch, 70), "fp8_e4m3")
    w = format_valued(rng, (45, 70), "fp8_e4m3")
    b = format_valued(rng, (45,), "fp8_e4m3")
    x[0] *= 2.0 ** -16
    if batch > 1:
        x[1, :20] = 448.0
        w[:7, :20] = 448.0
    previous = _core.simd_isa()
    _core.set_simd_isa(isa)
    try:
        assert _core.kernel_path(x, w, options(mpcore.formats.fp16, mode, order)) == "lanes32"
        got = run(x, w, b, "fp16", mode, order=order)
    finally:
        _core.set_simd_isa(previous)
    assert np.array_equal(got, run(x, w, b, "fp16", mode, order=order, path="generic"), equal_nan=True)
    assert np.isinf(got[1, :7]).any() or mode in ("rtz", "rto") or batch == 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batched_matmul_is_the_calls_one_by_one(dtype, rng):
    x = rng.standard_normal((5, 7, 33)).astype(dtype)
    w = rng.standard_normal((5, 33, 11)).astype(dtype).transpose(0, 2, 1)  # strided: (5, 11, 33) view
    o = mpcore.MatmulOptions(acc="bf16", rounding="sr", seed=4, order="pairwise")
    got = _core.matmul_batched(x, w, o)
    assert got.shape == (5, 7, 11)
    for b in range(5):
        want = mpcore.matmul(x[b], w[b], options=o)
        np.testing.assert_array_equal(got[b].view(np.int64), want.view(np.int64))
    with pytest.raises(ValueError, match="same batch size"):
        _core.matmul_batched(x, w[:4], o)
    with pytest.raises(ValueError, match="33 features but w has 10"):
        _core.matmul_batched(x, w[:, :, :10], o)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rounding", ["rne", "sr"])
def test_batched_ladder_is_the_calls_one_by_one(dtype, rounding, rng):
    x = rng.standard_normal((6, 9, 40)).astype(dtype)
    w = rng.standard_normal((6, 40, 13)).astype(dtype).transpose(0, 2, 1)  # strided: (6, 13, 40) view
    o = mpcore.LadderOptions(["fp8_e4m3", "bf16", "fp32"], tau=0.02, estimator="norm", bounds=True,
                             accumulation=mpcore.MatmulOptions(rounding=rounding, seed=5))
    got = _core.ladder_batched(x, w, o)
    counts = np.zeros(3, dtype=np.int64)
    for b in range(6):
        want = mpcore.ladder_linear(x[b], w[b], options=o)
        for name in ("z", "y", "kappa", "err_est", "bound", "bound_prob"):
            np.testing.assert_array_equal(got[name][b * 9:(b + 1) * 9].view(np.int64),
                                          getattr(want, name).view(np.int64), err_msg=name)
        assert np.array_equal(got["rung"][b * 9:(b + 1) * 9], want.rung)
        counts += np.bincount(want.rung.reshape(-1), minlength=3)
    assert 0 < counts[1] and 0 < counts[2] and list(got["count"]) == counts.tolist()
    with pytest.raises(ValueError, match="same batch size"):
        _core.ladder_batched(x, w[:4], o)
    with pytest.raises(ValueError, match="40 features but w has 10"):
        _core.ladder_batched(x, w[:, :, :10], o)


@pytest.mark.parametrize("estimator", ["fp32", "low", "norm"])
def test_batched_first_pass_and_given_rungs_are_the_calls_one_by_one(estimator, rng):
    x = rng.standard_normal((4, 5, 30))
    w = rng.standard_normal((4, 30, 9)).transpose(0, 2, 1)  # strided: (4, 9, 30) view
    o = mpcore.LadderOptions(["fp8_e4m3", "fp16"], tau=0.1, estimator=estimator)
    num = _core.inner_numerator_batched(x, w, estimator, "fp8_e4m3")
    z = _core.matmul_batched(x, w, mpcore.MatmulOptions(acc="fp8_e4m3")).reshape(20, 9)
    given = (rng.random((20, 9)) < 0.3).astype(np.int32)
    got = _core.ladder_batched(x, w, o, z, num, given)
    for b in range(4):
        rows = slice(b * 5, (b + 1) * 5)
        want_num = _core.inner_numerator(x[b], w[b], None, estimator, "fp8_e4m3")
        np.testing.assert_array_equal(num[rows].view(np.int64), want_num.view(np.int64))
        fp = mpcore.selective.first_pass(x[b], w[b], options=o)
        want = _core.ladder_linear(x[b], np.ascontiguousarray(w[b]), None, o, fp.z, fp.numerator,
                                   given_rung=given[rows].copy())
        for name in ("z", "kappa", "rung"):
            np.testing.assert_array_equal(got[name][rows], want[name], err_msg=name)
    assert np.array_equal(got["rung"], given)
    with pytest.raises(ValueError, match="given_rung must have shape"):
        _core.ladder_batched(x, w, o, z, num, given[:19])
    with pytest.raises(ValueError, match="first pass needs both"):
        _core.ladder_batched(x, w, o, z, None, given)
    with pytest.raises(ValueError, match="first pass z must have shape"):
        _core.ladder_batched(x, w, o, z[:, :8].copy(), num[:, :8].copy(), None)
    with pytest.raises(ValueError, match="a given rung is outside"):
        _core.ladder_batched(x, w, o, z, num, given * 2)
