"""mpcore: simulated low-precision accumulation for neural-network inference.

Formats (:mod:`mpcore.formats`), correctly rounded accumulation
(:func:`matmul`, :func:`dot`, :func:`sum`) and rounding of arrays
(:func:`round`), condition estimators and the selective / ladder layer
(:func:`selective_linear`, :func:`ladder_linear`), backed by a header-only C++ core.
"""

from . import datasets, formats, models
from ._core import Format, __version__
from .mlp import MLP, Dense, Evaluation, RunResult
from .ops import ORDERS, ROUNDING_MODES, dot, matmul, round, sum
from .policy import Ladder, Selective, Uniform
from .sweep import sweep
from .selective import (ACTIVATIONS, ESTIMATORS, LayerResult, activate, cond_activation, cond_inner, ladder_linear,
                        selective_linear)

__all__ = [
    "Dense",
    "Evaluation",
    "Ladder",
    "MLP",
    "RunResult",
    "Selective",
    "Uniform",
    "datasets",
    "models",
    "sweep",
    "ACTIVATIONS",
    "ESTIMATORS",
    "LayerResult",
    "activate",
    "cond_activation",
    "cond_inner",
    "ladder_linear",
    "selective_linear",
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
