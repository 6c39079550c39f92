"""The option objects (MatmulOptions, LadderOptions): one place that checks every option,
the same results as the keywords, names from the C++ enums, pickling, one default each."""

import copy
import pickle

import numpy as np
import pytest

import mpcore
from mpcore import _core


def data(rng, batch=5, n=40, out=9):
    x = rng.standard_normal((batch, n)).astype(np.float32)
    w = rng.standard_normal((out, n)).astype(np.float32)
    b = rng.standard_normal(out).astype(np.float32)
    return x, w, b


def test_names_come_from_the_cpp_enums():
    assert mpcore.ROUNDING_MODES == ("rne", "rna", "rtz", "rup", "rdn", "rto", "sr")
    assert mpcore.ORDERS == ("sequential", "pairwise", "blocked")
    assert mpcore.ESTIMATORS == ("fp32", "low", "norm")
    assert mpcore.LadderOptions(["fp16"], estimator="exact").estimator == mpcore.Estimator.fp32  # the former name
    assert "gelu_tanh" in mpcore.ACTIVATIONS and "elu" in mpcore.ACTIVATIONS
    assert tuple(mpcore.Factor.__members__) == ("one", "sqrt", "n") and mpcore.selective.FACTORS == ("1", "sqrt", "n")
    assert mpcore.LadderOptions(["fp16"], factor="1").factor == mpcore.Factor.one


def test_enum_values_and_names_are_the_same_option(rng):
    x, w, b = data(rng)
    by_name = mpcore.matmul(x, w, b, acc="bf16", rounding="rtz", order="pairwise")
    by_enum = mpcore.matmul(x, w, b, acc="bf16", rounding=mpcore.Rounding.rtz, order=mpcore.Order.pairwise)
    assert np.array_equal(by_name, by_enum)


@pytest.mark.parametrize("rounding", ["rne", "sr"])
@pytest.mark.parametrize("order", ["sequential", "blocked"])
def test_matmul_options_object_equals_keywords(rng, rounding, order):
    x, w, b = data(rng)
    block = 8 if order == "blocked" else None
    kw = dict(acc="fp8_e5m2", rounding=rounding, order=order, block=block, outer="bf16", seed=123, sr_bits=9)
    o = mpcore.MatmulOptions(**kw)
    assert np.array_equal(mpcore.matmul(x, w, b, options=o), mpcore.matmul(x, w, b, **kw))
    assert o.acc == mpcore.formats.fp8_e5m2 and o.rounding == mpcore.Rounding[rounding] and o.seed == 123
    assert o.block == (8 if block else mpcore.ops.DEFAULT_BLOCK) and o.sr_bits == 9 and o.threads is None


def test_ladder_options_object_equals_keywords(rng):
    x, w, b = data(rng, batch=20)
    kw = dict(tau=0.05, activation="tanh", estimator="norm", factor="sqrt", guard_sign=True)
    acc = mpcore.MatmulOptions(rounding="sr", seed=5)
    o = mpcore.LadderOptions(["fp8_e4m3", "bf16", "fp32"], accumulation=acc, **kw)
    a = mpcore.ladder_linear(x, w, b, options=o)
    k = mpcore.ladder_linear(x, w, b, formats=["fp8_e4m3", "bf16", "fp32"], rounding="sr", seed=5, **kw)
    for field in ("z", "y", "rung", "kappa", "err_est", "bound"):
        assert np.array_equal(getattr(a, field), getattr(k, field), equal_nan=True), field
    assert 0 < a.fraction_high < 1


def test_options_pickle_and_copy_to_equal_independent_objects():
    o = mpcore.MatmulOptions(acc="fp16", rounding="sr", order="blocked", block=7, outer="bf16", seed=2**64 - 1,
                             sr_bits=3, threads=2)
    for twin in (pickle.loads(pickle.dumps(o)), copy.copy(o), copy.deepcopy(o)):
        assert twin == o and twin is not o
    c = copy.copy(o)
    c.seed = 1
    assert o.seed == 2**64 - 1 and c != o
    lo = mpcore.LadderOptions(["fp16", "fp32"], tau=0.5, activation="leaky_relu", accumulation=o)
    lc = copy.copy(lo)
    lc.accumulation.threads = 1
    assert lo.accumulation.threads == 2 and lc.accumulation.threads == 1
    assert pickle.loads(pickle.dumps(mpcore.Selective("fp16", "fp32", tau=0.1))) == mpcore.Selective("fp16", "fp32",
                                                                                                      tau=0.1)
    assert type(pickle.loads(pickle.dumps(mpcore.Selective("fp16", "fp32", tau=0.1)))) is mpcore.Selective
    ladder = mpcore.Ladder(("fp8_e4m3", "bf16", "fp32"), budget=0.2, score="margin", rounding="sr", seed=5)
    twin = pickle.loads(pickle.dumps(ladder))
    assert twin == ladder and type(twin) is mpcore.Ladder and twin.options.accumulation.seed == 5
    lo_twin = pickle.loads(pickle.dumps(lo))
    assert [f.name for f in lo_twin.formats] == ["fp16", "fp32"] and lo_twin.tau == 0.5
    assert lo_twin.activation == mpcore.Activation.leaky_relu and lo_twin.accumulation == o


@pytest.mark.parametrize(
    "make, exc, message",
    [
        (lambda: mpcore.MatmulOptions(rounding="up"), ValueError, "rounding: unknown rounding mode 'up'; valid: 'rne'"),
        (lambda: mpcore.MatmulOptions(rounding=3), TypeError, "rounding must be a name"),
        (lambda: mpcore.MatmulOptions(order="tree"), ValueError, "order: unknown summation order"),
        (lambda: mpcore.MatmulOptions(acc="fp7"), ValueError, "acc: unknown format 'fp7'"),
        (lambda: mpcore.MatmulOptions(outer=1.5), TypeError, "outer must be a format name"),
        (lambda: mpcore.MatmulOptions(seed=True), TypeError, "seed must be an integer"),
        (lambda: mpcore.MatmulOptions(seed=2**64), ValueError, "seed must be in"),
        (lambda: mpcore.MatmulOptions(sr_bits=33), ValueError, "sr_bits must be an integer in 1..32"),
        (lambda: mpcore.MatmulOptions(threads=2.0), TypeError, "threads must be a positive integer"),
        (lambda: mpcore.MatmulOptions(threads=5000), ValueError, "threads must be in 1..1024"),
        (lambda: mpcore.LadderOptions([]), ValueError, "formats must be a non-empty list"),
        (lambda: mpcore.LadderOptions("fp16"), ValueError, "formats must be a non-empty list"),
        (lambda: mpcore.LadderOptions(["fp16", "bf16"]), ValueError, "least to most precise"),
        (lambda: mpcore.LadderOptions(["fp16", "fp9"]), ValueError, r"formats\[1\]: unknown format"),
        (lambda: mpcore.LadderOptions(["fp16"], tau=-1), ValueError, "tau must be >= 0"),
        (lambda: mpcore.LadderOptions(["fp16"], tau=float("nan")), ValueError, "tau must be >= 0"),
        (lambda: mpcore.LadderOptions(["fp16"], tau="0.1"), TypeError, "tau must be a real number"),
        (lambda: mpcore.LadderOptions(["fp16"], activation="swish"), ValueError, "activation: unknown activation"),
        (lambda: mpcore.LadderOptions(["fp16"], alpha=float("inf")), ValueError, "alpha must be finite"),
        (lambda: mpcore.LadderOptions(["fp16"], estimator="max"), ValueError, "estimator: unknown estimator"),
        (lambda: mpcore.LadderOptions(["fp16"], factor="2"), ValueError, "factor: unknown factor"),
        (lambda: mpcore.LadderOptions(["fp16"], factor=2), TypeError, "factor must be a name"),
    ],
)
def test_every_option_is_checked_once_with_its_name(make, exc, message):
    with pytest.raises(exc, match=message):
        make()


def test_setting_a_field_checks_it_too():
    o = mpcore.MatmulOptions()
    with pytest.raises(ValueError, match="rounding: unknown"):
        o.rounding = "nearest"
    with pytest.raises(ValueError, match="sr_bits"):
        o.sr_bits = 0
    lo = mpcore.LadderOptions(["fp16", "fp32"])
    with pytest.raises(ValueError, match="tau must be >= 0"):
        lo.tau = -0.5
    assert lo.tau == 0.0 and o.rounding == mpcore.Rounding.rne


def test_policies_check_their_options_when_made():
    with pytest.raises(ValueError, match="rounding: unknown"):
        mpcore.Uniform("fp16", rounding="nearest")
    with pytest.raises(ValueError, match="estimator: unknown"):
        mpcore.Selective("fp8_e4m3", "fp32", tau=0.1, estimator="max")
    p = mpcore.Selective("fp8_e4m3", "fp32", tau=0.1, rounding="sr", seed=4)
    assert isinstance(p.options, mpcore.LadderOptions) and isinstance(p, mpcore.Ladder)
    assert p.options.accumulation.seed == 4 and p.options.tau == 0.1


def test_alpha_has_one_default_per_activation(rng):
    assert mpcore.LadderOptions(["fp16"], activation="elu").alpha == 1.0
    assert mpcore.LadderOptions(["fp16"], activation="leaky_relu").alpha == 0.01
    assert mpcore.LadderOptions(["fp16"], activation="elu", alpha=0.5).alpha == 0.5
    z = np.array([-2.0, -0.5, 0.5])
    assert np.array_equal(mpcore.activate("elu", z), np.where(z > 0, z, np.expm1(z)))  # alpha 1
    x, w, b = data(rng)
    r = mpcore.ladder_linear(x, w, b, formats=["fp16", "fp32"], tau=0.0, activation="elu")
    assert np.array_equal(r.y, mpcore.activate("elu", r.z))


def test_seed_defaults_to_zero_everywhere_and_none_draws_a_fresh_one(rng):
    x, w, b = data(rng, n=400)
    first = mpcore.matmul(x, w, b, acc="bf16", rounding="sr")
    assert np.array_equal(first, mpcore.matmul(x, w, b, acc="bf16", rounding="sr", seed=0))
    assert np.array_equal(mpcore.round(x, "fp8_e5m2", "sr"), mpcore.round(x, "fp8_e5m2", "sr", seed=0))
    fresh = [mpcore.matmul(x, w, b, acc="bf16", rounding="sr", seed=None) for _ in range(2)]
    assert not np.array_equal(fresh[0], fresh[1])  # 64-bit seeds: equal with probability ~0
    assert mpcore.MatmulOptions(rounding="rne", seed=None).seed == 0
    assert mpcore.Uniform("fp16").options.seed == mpcore.MatmulOptions().seed == 0
    assert mpcore.Selective("fp16", "fp32", tau=0.1).options.accumulation.seed == 0


def test_results_are_new_arrays_owned_by_python(rng):
    x, w, b = data(rng)
    z = _core.matmul(x, w, b, mpcore.MatmulOptions(acc="fp16"))
    assert z.flags.owndata is False and z.flags.c_contiguous and z.dtype == np.float64
    z[0, 0] = 123.0  # writable, and alive after the call
    out = _core.ladder_linear(x, w, b, mpcore.LadderOptions(["fp16", "fp32"], tau=0.1, bounds=False))
    assert out["bound"] is None and out["z"].shape == (5, 9) and out["rung"].dtype == np.int32


def test_the_type_stubs_are_python():
    import ast
    import pathlib

    stub = pathlib.Path(mpcore.__file__).parent / "_core.pyi"
    if not stub.exists():
        pytest.skip("no generated stub next to the extension (a source-tree build)")
    tree = ast.parse(stub.read_text())  # an enum member named "1" made it invalid once
    names = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    assert {"MatmulOptions", "LadderOptions", "Rounding", "Factor"} <= names
