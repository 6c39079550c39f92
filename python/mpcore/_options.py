"""Validation of the keyword options shared by every kernel (clear errors naming the argument)."""

from __future__ import annotations

import secrets
import math
from typing import Tuple

import numpy as np

from . import _core

ROUNDING_MODES = ("rne", "rna", "rtz", "rup", "rdn", "rto", "sr")
ORDERS = ("sequential", "pairwise", "blocked")
DEFAULT_BLOCK = 32
MAX_THREADS = 1024  # the C++ side never starts more (results do not depend on it)


def check_rounding(rounding) -> str:
    if not isinstance(rounding, str) or rounding not in ROUNDING_MODES:
        valid = ", ".join(repr(m) for m in ROUNDING_MODES)
        raise ValueError(f"rounding: unknown rounding mode {rounding!r}; valid: {valid}")
    return rounding


def check_seed(seed, rounding: str) -> int:
    if seed is None:
        return secrets.randbits(64) if rounding == "sr" else 0
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer or None, not {type(seed).__name__}")
    seed = int(seed)
    if not 0 <= seed < 2**64:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    return seed


def check_sr_bits(sr_bits) -> int:
    if sr_bits is None:
        return _core.MAX_SR_BITS
    if not isinstance(sr_bits, (int, np.integer)) or not 1 <= int(sr_bits) <= _core.MAX_SR_BITS:
        raise ValueError(f"sr_bits must be an integer in 1..{_core.MAX_SR_BITS}, got {sr_bits!r}")
    return int(sr_bits)


def check_threads(threads) -> int:
    if threads is None:
        return 0
    if isinstance(threads, (bool, np.bool_)) or not isinstance(threads, (int, np.integer)):
        raise TypeError(f"threads must be a positive integer or None, not {type(threads).__name__}")
    if not 1 <= int(threads) <= MAX_THREADS:
        raise ValueError(f"threads must be in 1..{MAX_THREADS} (or None for all cores), got {threads!r}")
    return int(threads)


def check_order(order, block) -> Tuple[str, int]:
    if not isinstance(order, str) or order not in ORDERS:
        valid = ", ".join(repr(o) for o in ORDERS)
        raise ValueError(f"order: unknown summation order {order!r}; valid: {valid}")
    if order != "blocked":
        if block is not None:
            raise ValueError(f"block is only used with order='blocked' (order is {order!r})")
        return order, DEFAULT_BLOCK
    if block is None:
        return order, DEFAULT_BLOCK
    if not isinstance(block, (int, np.integer)) or int(block) < 1:
        raise ValueError(f"block must be a positive integer, got {block!r}")
    return order, int(block)


def check_tau(tau) -> float:
    if isinstance(tau, (bool, np.bool_)) or not isinstance(tau, (int, float, np.integer, np.floating)):
        raise TypeError(f"tau must be a real number, not {type(tau).__name__}")
    tau = float(tau)
    if math.isnan(tau) or tau < 0:
        raise ValueError(f"tau must be >= 0 (inf allowed), got {tau}")
    return tau


DEVICES = ("cpu", "cuda")


def check_device(device) -> str:
    """'cpu' or 'cuda'; 'cuda' needs a CUDA build of mpcore (and a GPU, checked when it runs)."""
    if device not in DEVICES:
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if device == "cuda" and not _core.has_cuda:
        raise RuntimeError("device='cuda': this mpcore was built without CUDA; rebuild it with "
                           "pip install . -Ccmake.define.MPCORE_CUDA=ON (or MPCORE_CUDA=1 in the environment)")
    return device
