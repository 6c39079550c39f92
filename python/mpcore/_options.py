"""Names of the options' values (from the C++ enums) and the device choice.

Every option is checked in C++ by :class:`mpcore.MatmulOptions` and
:class:`mpcore.LadderOptions`, with an error naming the argument.
"""

from __future__ import annotations

from . import _core

ROUNDING_MODES = tuple(_core.Rounding.__members__)
ORDERS = tuple(_core.Order.__members__)
DEFAULT_BLOCK = _core.DEFAULT_BLOCK
MAX_THREADS = _core.MAX_THREADS  # the C++ side never starts more (results do not depend on it)


DEVICES = ("cpu", "cuda")


def check_device(device) -> str:
    """'cpu' or 'cuda'; 'cuda' needs a CUDA build of mpcore (and a GPU, checked when it runs)."""
    if device not in DEVICES:
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if device == "cuda" and not _core.has_cuda:
        raise RuntimeError("device='cuda': this mpcore was built without CUDA; rebuild it with "
                           "pip install . -Ccmake.define.MPCORE_CUDA=ON (or MPCORE_CUDA=1 in the environment)")
    return device
