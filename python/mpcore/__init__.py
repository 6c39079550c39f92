"""mpcore: simulated low-precision accumulation for neural-network inference.

Formats (:mod:`mpcore.formats`), correctly rounded accumulation
(:func:`matmul`, :func:`dot`, :func:`sum`) and rounding of arrays
(:func:`round`), backed by a header-only C++ core.
"""

from . import formats
from ._core import Format, __version__
from .ops import ORDERS, ROUNDING_MODES, dot, matmul, round, sum

__all__ = [
    "Format",
    "ORDERS",
    "ROUNDING_MODES",
    "__version__",
    "dot",
    "formats",
    "matmul",
    "round",
    "sum",
]
