"""PreparedLinear: W packed once gives the bits of the same calls with the arrays."""

import pickle

import ml_dtypes
import numpy as np
import pytest

import mpcore


def _same(a, b):
    np.testing.assert_array_equal(np.asarray(a).view(np.int64), np.asarray(b).view(np.int64))


@pytest.mark.parametrize("w_dtype", [np.float32, np.float64, np.float16, ml_dtypes.bfloat16])
@pytest.mark.parametrize("x_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("acc,rounding,order", [("fp16", "rne", "sequential"), ("bf16", "sr", "pairwise"),
                                                ("fp8_e4m3", "rtz", "blocked"), ("fp32", "rne", "sequential"),
                                                ("fp64", "rne", "sequential"), ("fp16", "rdn", "sequential")])
def test_matmul_with_a_prepared_layer_gives_the_same_bits(w_dtype, x_dtype, acc, rounding, order):
    rng = np.random.default_rng(5)
    w = rng.standard_normal((70, 45)).astype(w_dtype)  # 3 panels, the last one partial
    b = rng.standard_normal(70).astype(np.float32)
    x = (rng.standard_normal((5, 45)) / 3).astype(x_dtype)
    layer = mpcore.PreparedLinear(w, b)
    opts = dict(acc=acc, rounding=rounding, order=order, seed=2)
    _same(mpcore.matmul(x, layer, **opts), mpcore.matmul(x, w, b, **opts))
    _same(mpcore.matmul(x[0], layer, **opts), mpcore.matmul(x[0], w, b, **opts))
    assert mpcore.kernel(x, layer, acc=acc, rounding=rounding, order=order)["path"] == \
        mpcore.kernel(x, w, acc=acc, rounding=rounding, order=order)["path"]


@pytest.mark.parametrize("estimator", ["fp32", "low", "norm"])
@pytest.mark.parametrize("w_dtype", [np.float32, np.float16])
@pytest.mark.parametrize("x_dtype", [np.float32, np.float16])  # fp16 x fp16: the recompute in binary32 lanes
def test_selective_layer_and_estimators_with_a_prepared_layer(estimator, w_dtype, x_dtype):
    rng = np.random.default_rng(9)
    w = rng.standard_normal((50, 64)).astype(w_dtype)
    b = rng.standard_normal(50).astype(w_dtype)
    x = rng.standard_normal((7, 64)).astype(x_dtype)
    layer = mpcore.PreparedLinear(w, b)
    opts = dict(low="fp8_e4m3", high="fp32", tau=0.3, activation="relu", estimator=estimator)
    for _ in range(2):  # |W|'s panels and the row norms made on first use, then reused
        got, want = mpcore.selective_linear(x, layer, **opts), mpcore.selective_linear(x, w, b, **opts)
        for name in ("z", "y", "kappa", "err_est", "bound", "bound_prob"):
            _same(getattr(got, name), getattr(want, name))
    z = mpcore.matmul(x, w, b, acc="fp8_e4m3")
    _same(mpcore.cond_inner(x, layer, None, z, estimator=estimator, low="fp8_e4m3"),
          mpcore.cond_inner(x, w, b, z, estimator=estimator, low="fp8_e4m3"))
    from mpcore.selective import first_pass
    fp, fp_arrays = first_pass(x, layer, low="fp8_e4m3", estimator=estimator), \
        first_pass(x, w, b, low="fp8_e4m3", estimator=estimator)
    _same(fp.numerator, fp_arrays.numerator)


def test_prepared_layer_refuses_a_second_bias_and_bad_shapes():
    w = np.ones((4, 3), np.float32)
    layer = mpcore.PreparedLinear(w, np.ones(4))
    with pytest.raises(ValueError, match="holds its own b"):
        mpcore.matmul(np.ones(3), layer, np.ones(4))
    with pytest.raises(ValueError, match="x has 2 features"):
        mpcore.matmul(np.ones(2), layer)
    with pytest.raises(ValueError, match="b must have shape"):
        mpcore.PreparedLinear(w, np.ones(3))
    with pytest.raises(ValueError, match="2-D"):
        mpcore.PreparedLinear(np.ones(3))


def test_prepared_layer_pickles_and_mlp_prepares_each_layer_once():
    rng = np.random.default_rng(1)
    w1, b1 = rng.standard_normal((16, 8)), rng.standard_normal(16)
    w2, b2 = rng.standard_normal((3, 16)), rng.standard_normal(3)
    layer = pickle.loads(pickle.dumps(mpcore.PreparedLinear(w1, b1)))
    x = rng.standard_normal((4, 8))
    _same(mpcore.matmul(x, layer, acc="bf16"), mpcore.matmul(x, w1, b1, acc="bf16"))
    net = mpcore.MLP([mpcore.Dense(w1, b1, "relu"), mpcore.Dense(w2, b2)], weight_format="bf16")
    assert net.prepared(0) is net.prepared(0)
    policy = mpcore.Selective("fp8_e4m3", "fp32", tau=0.5)
    logits = net.run(x, policy).logits
    clone = pickle.loads(pickle.dumps(net))
    _same(clone.run(x, policy).logits, logits)
    # The same logits as the layer functions called with the arrays.
    h = mpcore.ladder_linear(x, net.layers[0].w, net.layers[0].b, formats=["fp8_e4m3", "fp32"], tau=0.5,
                             activation="relu", bounds=False).y.astype(np.float32)
    z = mpcore.ladder_linear(h, net.layers[1].w, net.layers[1].b, formats=["fp8_e4m3", "fp32"], tau=0.5,
                             bounds=False).y
    _same(z, logits)
