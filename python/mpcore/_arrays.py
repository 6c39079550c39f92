"""Turning user arrays into what the C++ kernels take, with clear errors."""

from __future__ import annotations

import functools

import numpy as np


def _is_ml_dtype(dtype: np.dtype) -> bool:
    return type(dtype).__module__.startswith("ml_dtypes") or dtype.type.__module__.startswith("ml_dtypes")


def as_real_array(a, name: str, keep_narrow: bool = False) -> np.ndarray:
    """``a`` as float32 (exact for every format narrower than fp32) or float64.

    float32, float16 and ml_dtypes arrays become float32 (no value changes);
    float64 stays float64; integers become float64 (exact below 2^53).
    Other dtypes raise TypeError naming the argument. keep_narrow: 1- and 2-byte
    float formats stay as they are (for :func:`stored_operand`).
    """
    try:
        arr = np.asarray(a)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be an array of real numbers: {exc}") from None
    dt = arr.dtype
    if _is_ml_dtype(dt):
        if "complex" in dt.name:  # ml_dtypes.complex32 / bcomplex32: refused like NumPy complex
            raise TypeError(f"{name} must hold real numbers, not {dt}")
        if keep_narrow and dt.itemsize <= 2:
            return arr
        return arr.astype(np.float32)
    if dt.kind == "f":
        if keep_narrow and dt.itemsize == 2:
            return arr
        if dt.itemsize <= 4:
            return arr.astype(np.float32, copy=False)
        if dt.itemsize == 8:
            return arr
        raise TypeError(f"{name} has dtype {dt}, wider than float64: round it to float64 first")
    if dt.kind in "iu":
        return arr.astype(np.float64)
    raise TypeError(f"{name} must hold real numbers (float or integer dtype), not {dt}")


@functools.lru_cache(maxsize=None)
def code_table(dtype: np.dtype) -> np.ndarray:
    """float32 value of every code of a 1- or 2-byte format (exact: each is a binary32 number)."""
    codes = np.arange(1 << (8 * dtype.itemsize), dtype=np.uint8 if dtype.itemsize == 1 else np.uint16)
    table = codes.view(dtype).astype(np.float32)
    table.setflags(write=False)
    return table


def stored_operand(arr: np.ndarray):
    """(array, table) as the C++ kernels read it without a whole copy: float32 and float64
    arrays as they are; float16 and ml_dtypes formats as their uint8/uint16 codes with
    :func:`code_table` (the kernels convert a panel at a time); ``arr`` comes from
    :func:`as_real_array(..., keep_narrow=True)`."""
    dt = arr.dtype
    if dt == np.float32 or dt == np.float64:
        return arr, None
    codes = arr.view(np.uint8 if dt.itemsize == 1 else np.uint16)
    return codes, code_table(dt)


def stored_operands(x2: np.ndarray, w: np.ndarray, b):
    """(x, w, b) as :func:`stored_operand` passes them, and their tables as keyword arguments."""
    xs, xt = stored_operand(x2)
    if hasattr(w, "_prepared"):
        return (xs, w._prepared, None), {"x_table": xt, "w_table": None, "b_table": None}
    ws, wt = stored_operand(w)
    bs, bt = stored_operand(b) if b is not None else (None, None)
    return (xs, ws, bs), {"x_table": xt, "w_table": wt, "b_table": bt}


def common_dtype(*arrays: np.ndarray) -> np.dtype:
    """float32 when every array is float32, else float64 (float32 -> float64 is exact)."""
    return np.dtype(np.float32) if all(a.dtype == np.float32 for a in arrays) else np.dtype(np.float64)


def check_linear(x, w, b, keep_narrow: bool = False):
    """Validate an nn.Linear-shaped problem; returns (x2, w, b, vector), each in its own dtype.

    x2 is 2-D (batch, in); ``vector`` says x was 1-D; b may be None.
    """
    xa = as_real_array(x, "x", keep_narrow)
    if hasattr(w, "_prepared"):  # a PreparedLinear: its own w and b
        if b is not None:
            raise ValueError("w is a PreparedLinear, which holds its own b: pass b=None")
        if not keep_narrow:  # the caller wants plain arrays (the CUDA path)
            w, b = w.w, w.b
    wa = w if hasattr(w, "_prepared") else as_real_array(w, "w", keep_narrow)
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
    ba = None
    if b is not None:
        ba = as_real_array(b, "b", keep_narrow)
        if ba.ndim != 1 or ba.shape[0] != wa.shape[0]:
            raise ValueError(f"b must have shape ({wa.shape[0]},) to match w, got {ba.shape}")
    return x2, wa, ba, vector


def prepare_linear(x, w, b):
    """:func:`check_linear`, then all in one dtype (float32 if all are, else float64)."""
    x2, wa, ba, vector = check_linear(x, w, b)
    arrays = [x2, wa] + ([ba] if ba is not None else [])
    dtype = common_dtype(*arrays)
    x2, wa = x2.astype(dtype, copy=False), wa.astype(dtype, copy=False)
    if ba is not None:
        ba = ba.astype(dtype, copy=False)
    return x2, wa, ba, vector
