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
