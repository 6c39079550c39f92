"""mpcore: simulated low-precision accumulation for neural-network inference.

The core (this package's modules): formats (:mod:`mpcore.formats`), correctly rounded
accumulation (:func:`matmul`, :func:`dot`, :func:`sum`) and rounding of arrays
(:func:`round`), condition estimators and the selective / ladder layer
(:func:`selective_linear`, :func:`ladder_linear`), backed by a header-only C++ core.
Networks on it: :mod:`mpcore.networks` (MLPs, policies, cost, importers, PyTorch).
The application: :mod:`mpcore.app` (command line, sweeps, plots, datasets).
"""

import warnings as _warnings

from . import _core, formats
from ._core import Activation, Estimator, Factor, Format, LadderOptions, MatmulOptions, Order, Rounding, __version__
from .layer import PreparedLinear
from .app import datasets
from .app.sweep import sweep
from .networks import models
from .networks.mlp import MLP, Dense, Evaluation, RunResult
from .networks.policy import Ladder, Selective, Uniform
from .ops import ORDERS, ROUNDING_MODES, dot, kernel, matmul, round, sum
from .selective import (ACTIVATIONS, ESTIMATORS, LayerResult, activate, cond_activation, cond_inner, ladder_linear,
                        selective_linear)

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "Estimator",
    "Factor",
    "LadderOptions",
    "MatmulOptions",
    "Order",
    "Rounding",
    "Dense",
    "ESTIMATORS",
    "Evaluation",
    "Format",
    "Ladder",
    "LayerResult",
    "MLP",
    "PreparedLinear",
    "ORDERS",
    "ROUNDING_MODES",
    "RunResult",
    "Selective",
    "Uniform",
    "__version__",
    "activate",
    "cond_activation",
    "cond_inner",
    "datasets",
    "dot",
    "formats",
    "kernel",
    "ladder_linear",
    "matmul",
    "models",
    "round",
    "selective_linear",
    "sum",
    "sweep",
]

if _core.simd_environment_problem():
    _warnings.warn(_core.simd_environment_problem(), RuntimeWarning, stacklevel=2)
