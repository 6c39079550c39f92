"""The CUDA backend: bit-identical to the CPU. Runs where mpcore was built with CUDA and a
GPU is present (bench/gpu_check.sh); elsewhere only the clear errors are checked."""

import numpy as np
import pytest

import mpcore
from mpcore import _core

HAS_GPU = _core.has_cuda and _core.cuda_device_count() > 0
gpu = pytest.mark.skipif(not HAS_GPU, reason="needs a CUDA build of mpcore and a GPU")


def test_asking_for_cuda_without_it_is_a_clear_error():
    if _core.has_cuda:
        pytest.skip("this build has CUDA")
    x, w = np.ones((2, 3), np.float32), np.ones((4, 3), np.float32)
    with pytest.raises(RuntimeError, match="built without CUDA"):
        mpcore.matmul(x, w, acc="fp16", device="cuda")
    with pytest.raises(RuntimeError, match="built without CUDA"):
        mpcore.selective_linear(x, w, low="fp8_e4m3", high="fp16", tau=0.1, device="cuda")
    with pytest.raises(ValueError, match="device must be"):
        mpcore.matmul(x, w, device="tpu")


@gpu
@pytest.mark.parametrize("acc", mpcore.formats.names())
@pytest.mark.parametrize("rounding", mpcore.ROUNDING_MODES)
@pytest.mark.parametrize("order", ["sequential", "pairwise", "blocked"])
def test_gpu_matches_cpu_bit_for_bit(acc, rounding, order, rng):
    x = rng.standard_normal((9, 200)).astype(np.float32)
    w = (rng.standard_normal((33, 200)) / 14).astype(np.float32)
    b = rng.standard_normal(33).astype(np.float32)
    kw = dict(acc=acc, rounding=rounding, order=order, seed=5)
    assert np.array_equal(mpcore.matmul(x, w, b, **kw), mpcore.matmul(x, w, b, device="cuda", **kw), equal_nan=True)


@gpu
@pytest.mark.parametrize("estimator", mpcore.ESTIMATORS)
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_gpu_selective_masks_match(estimator, activation, rng):
    x = rng.random((16, 300)).astype(np.float32)
    w = (rng.standard_normal((64, 300)) / 17).astype(np.float32)
    kw = dict(formats=["fp8_e4m3", "bf16", "fp16"], tau=0.02, activation=activation, estimator=estimator,
              bounds=False)
    c, g = mpcore.ladder_linear(x, w, **kw), mpcore.ladder_linear(x, w, device="cuda", **kw)
    assert np.array_equal(c.rung, g.rung) and np.array_equal(c.z, g.z) and np.array_equal(c.kappa, g.kappa)
