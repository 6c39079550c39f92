"""A layer's weights prepared once for the CPU kernels."""

from __future__ import annotations

from typing import Optional

from . import _core
from ._arrays import as_real_array, stored_operand

__all__ = ["PreparedLinear"]


class PreparedLinear:
    """W (out_features, in_features) and b packed once into the kernels' panels.

    Pass it wherever a function takes ``w`` (with ``b=None``): :func:`mpcore.matmul`,
    :func:`mpcore.selective_linear`, :func:`mpcore.ladder_linear`, :func:`mpcore.cond_inner`.
    Each call then reads the packed panels and their binary32 exactness digests instead of
    packing W again; |W|'s panels (for the condition estimators) and the row norms are
    made at their first use and kept. The results are the bits of the same call with the
    arrays. Costs one packed copy of W (two once an estimator has run); the arrays are kept
    by reference (do not modify them afterwards).
    """

    def __init__(self, w, b=None, *, threads: Optional[int] = None):
        wa = as_real_array(w, "w", keep_narrow=True)
        if wa.ndim != 2:
            raise ValueError(f"w must be 2-D (out_features, in_features), got shape {wa.shape}")
        ba = None
        if b is not None:
            ba = as_real_array(b, "b", keep_narrow=True)
            if ba.ndim != 1 or ba.shape[0] != wa.shape[0]:
                raise ValueError(f"b must have shape ({wa.shape[0]},) to match w, got {ba.shape}")
        (ws, w_table) = stored_operand(wa)
        (bs, b_table) = stored_operand(ba) if ba is not None else (None, None)
        self.w, self.b = wa, ba
        self._prepared = _core.PreparedLinear(ws, bs, w_table, b_table, threads)

    def __reduce__(self):  # pickled as its arrays, packed again where it is unpickled
        return (PreparedLinear, (self.w, self.b))

    @property
    def shape(self) -> tuple:
        return self.w.shape

    @property
    def ndim(self) -> int:
        return 2

    def __repr__(self) -> str:
        return f"PreparedLinear(out={self.shape[0]}, in={self.shape[1]}, dtype={self.w.dtype}, bias={self.b is not None})"
