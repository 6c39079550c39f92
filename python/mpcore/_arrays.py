"""Turning user arrays into what the C++ kernels take, with clear errors."""

from __future__ import annotations

import numpy as np


def _is_ml_dtype(dtype: np.dtype) -> bool:
    return type(dtype).__module__.startswith("ml_dtypes") or dtype.type.__module__.startswith("ml_dtypes")


def as_real_array(a, name: str) -> np.ndarray:
    """``a`` as float32 (exact for every format narrower than fp32) or float64.

    float32, float16 and ml_dtypes arrays become float32 (no value changes);
    float64 stays float64; integers become float64 (exact below 2^53).
    Other dtypes raise TypeError naming the argument.
    """
    try:
        arr = np.asarray(a)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be an array of real numbers: {exc}") from None
    dt = arr.dtype
    if _is_ml_dtype(dt):
        if "complex" in dt.name:  # ml_dtypes.complex32 / bcomplex32: refused like NumPy complex
            raise TypeError(f"{name} must hold real numbers, not {dt}")
        return arr.astype(np.float32)
    if dt.kind == "f":
        if dt.itemsize <= 4:
            return arr.astype(np.float32, copy=False)
        if dt.itemsize == 8:
            return arr
        raise TypeError(f"{name} has dtype {dt}, wider than float64: round it to float64 first")
    if dt.kind in "iu":
        return arr.astype(np.float64)
    raise TypeError(f"{name} must hold real numbers (float or integer dtype), not {dt}")


def common_dtype(*arrays: np.ndarray) -> np.dtype:
    """float32 when every array is float32, else float64 (float32 -> float64 is exact)."""
    return np.dtype(np.float32) if all(a.dtype == np.float32 for a in arrays) else np.dtype(np.float64)


def prepare_linear(x, w, b):
    """Validate an nn.Linear-shaped problem; returns (x2, w, b, vector) in one dtype.

    x2 is 2-D (batch, in); ``vector`` says x was 1-D; b may be None.
    """
    xa = as_real_array(x, "x")
    wa = as_real_array(w, "w")
    if wa.ndim != 2:
        raise ValueError(f"w must be 2-D (out_features, in_features), got shape {wa.shape}")
    if xa.ndim not in (1, 2):
        raise ValueError(f"x must be 1-D (in_features,) or 2-D (batch, in_features), got shape {xa.shape}")
    vector = xa.ndim == 1
    x2 = xa[None, :] if vector else xa
    if x2.shape[1] != wa.shape[1]:
        raise ValueError(
            f"x has {x2.shape[1]} features but w has {wa.shape[1]} columns (w is (out_features, in_features))"
        )
    arrays = [x2, wa]
    ba = None
    if b is not None:
        ba = as_real_array(b, "b")
        if ba.ndim != 1 or ba.shape[0] != wa.shape[0]:
            raise ValueError(f"b must have shape ({wa.shape[0]},) to match w, got {ba.shape}")
        arrays.append(ba)
    dtype = common_dtype(*arrays)
    x2, wa = x2.astype(dtype, copy=False), wa.astype(dtype, copy=False)
    if ba is not None:
        ba = ba.astype(dtype, copy=False)
    return x2, wa, ba, vector
