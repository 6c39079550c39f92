"""Number formats: the named ones and lookup by name.

``mpcore.formats.fp16`` etc. are :class:`mpcore.Format` objects; ``names()``
lists the named formats, ``get()`` turns a name (or a Format) into a Format.
Named formats follow ml_dtypes where it has the dtype: ``fp8_e4m3`` is OCP
e4m3fn (max 448, no inf, overflow gives NaN), ``fp6_*`` and ``fp4_e2m1`` have no
inf or NaN and saturate.
"""

from __future__ import annotations

from typing import Dict, List, Union

import numpy as np

from ._core import Format, named_formats

ALL: Dict[str, Format] = {f.name: f for f in named_formats()}

fp64 = ALL["fp64"]
fp32 = ALL["fp32"]
tf32 = ALL["tf32"]
bf16 = ALL["bf16"]
fp16 = ALL["fp16"]
fp8_e5m2 = ALL["fp8_e5m2"]
fp8_e4m3 = ALL["fp8_e4m3"]
fp6_e2m3 = ALL["fp6_e2m3"]
fp6_e3m2 = ALL["fp6_e3m2"]
fp4_e2m1 = ALL["fp4_e2m1"]

# ml_dtypes / NumPy dtype names of the formats that have one.
DTYPE_NAMES: Dict[str, str] = {
    "fp64": "float64",
    "fp32": "float32",
    "bf16": "bfloat16",
    "fp16": "float16",
    "fp8_e5m2": "float8_e5m2",
    "fp8_e4m3": "float8_e4m3fn",
    "fp6_e2m3": "float6_e2m3fn",
    "fp6_e3m2": "float6_e3m2fn",
    "fp4_e2m1": "float4_e2m1fn",
}

FormatLike = Union[str, Format]


def names() -> List[str]:
    """Names of the built-in formats, widest first."""
    return list(ALL)


def get(fmt: FormatLike, argument: str = "fmt") -> Format:
    """The Format named ``fmt`` (a Format passes through).

    Raises ValueError naming ``argument`` and listing the valid names when the
    name is unknown, TypeError when ``fmt`` is neither a string nor a Format.
    """
    if isinstance(fmt, Format):
        return fmt
    if isinstance(fmt, str):
        try:
            return ALL[fmt]
        except KeyError:
            valid = ", ".join(repr(n) for n in ALL)
            raise ValueError(f"{argument}: unknown format {fmt!r}; valid: {valid}") from None
    raise TypeError(f"{argument} must be a format name or an mpcore.Format, not {type(fmt).__name__}")


def code_values(fmt: FormatLike) -> np.ndarray:
    """Value of every bit pattern of a format of at most 8 bits (index = code), float64.

    Layout: sign | exponent | significand (p - 1 bits), bias 1 - emin, exponent field 0
    for zero and subnormals. Codes past max_finite are inf (IEEE formats, exponent all
    ones with zero significand) or NaN.
    """
    f = get(fmt)
    if f.bits > 8:
        raise ValueError(f"{f.name} has {f.bits} bits: code tables are for formats of at most 8 bits")
    mbits = f.precision - 1
    ebits = f.bits - 1 - mbits
    codes = np.arange(2 ** f.bits)
    sign = np.where(codes >> (f.bits - 1), -1.0, 1.0)
    e = (codes >> mbits) & ((1 << ebits) - 1)
    m = codes & ((1 << mbits) - 1)
    mag = np.where(e == 0, m * 2.0 ** (f.emin - mbits), (1 + m / 2.0 ** mbits) * 2.0 ** (e - 1 + f.emin))
    values = sign * mag
    beyond = mag > f.max_finite
    if f.overflow == "inf":
        top = e == (1 << ebits) - 1
        values = np.where(top & (m == 0), sign * np.inf, np.where(top, np.nan, values))
    else:
        values = np.where(beyond, np.nan, values)
    return values


def encode(x, fmt: FormatLike) -> np.ndarray:
    """Bit patterns (uint8) of values already representable in an <= 8-bit format."""
    table = code_values(fmt)
    xa = np.asarray(x, dtype=np.float64)
    order = np.argsort(table, kind="stable")
    finite = order[~np.isnan(table[order])]
    pos = np.clip(np.searchsorted(table[finite], xa), 0, len(finite) - 1)
    codes = finite[pos].astype(np.uint8)
    # Negative zero and NaN get their own codes.
    codes = np.where((xa == 0) & np.signbit(xa), np.uint8(1 << (get(fmt).bits - 1)), codes)
    nan_codes = np.flatnonzero(np.isnan(table))
    if np.isnan(xa).any():
        if not len(nan_codes):
            raise ValueError(f"{get(fmt).name} cannot encode NaN")
        codes = np.where(np.isnan(xa), np.uint8(nan_codes[-1]), codes)
    bad = ~np.isnan(xa) & (table[codes] != xa)
    if bad.any():
        raise ValueError(f"values not representable in {get(fmt).name}: {xa[bad][:5]} (round them first)")
    return codes.astype(np.uint8)


def decode(codes, fmt: FormatLike) -> np.ndarray:
    """Values (float64) of bit patterns of an <= 8-bit format."""
    return code_values(fmt)[np.asarray(codes, dtype=np.intp)]
