"""Number formats: the named ones and lookup by name.

``mpcore.formats.fp16`` etc. are :class:`mpcore.Format` objects; ``names()``
lists the named formats, ``get()`` turns a name (or a Format) into a Format.
Named formats follow ml_dtypes where it has the dtype: ``fp8_e4m3`` is OCP
e4m3fn (max 448, no inf, overflow gives NaN), ``fp6_*`` and ``fp4_e2m1`` have no
inf or NaN and saturate.
"""

from __future__ import annotations

from typing import Dict, List, Union

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
