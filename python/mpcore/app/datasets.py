"""MNIST-style datasets from standard IDX files.

``load("mnist" | "fashion-mnist", split="train" | "test", root=None)`` reads
``train-images-idx3-ubyte[.gz]`` / ``t10k-...`` files from ``root``, else from
``$MPCORE_DATA/<name>/``. Images come back as float32 in [0, 1], shape (N, 784);
labels as int64.
"""

from __future__ import annotations

import gzip
import os
import pathlib
from typing import Optional, Tuple

import numpy as np

NAMES = ("mnist", "fashion-mnist")
SPLITS = {"train": "train", "test": "t10k"}
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path) -> np.ndarray:
    """An IDX file (gzip-compressed or not) as a NumPy array."""
    path = pathlib.Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * k: 8 + 4 * k], "big") for k in range(ndim)]
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    offset = 4 + 4 * ndim
    count = int(np.prod(dims)) if dims else 1
    if len(raw) - offset < count * dtype.itemsize:
        raise ValueError(f"{path} is truncated: header says {dims}")
    return np.frombuffer(raw, dtype=dtype, count=count, offset=offset).reshape(dims)


def _find(directory: pathlib.Path, stem: str) -> Optional[pathlib.Path]:
    for candidate in (directory / (stem + ".gz"), directory / stem):
        if candidate.is_file():
            return candidate
    return None


SOURCES = {"mnist": "MNIST (LeCun, Cortes and Burges: train/t10k-images-idx3-ubyte.gz and "
                    "-labels-idx1-ubyte.gz)",
           "fashion-mnist": "Fashion-MNIST (Zalando Research, same file names)"}


def data_root(name: str, root=None) -> pathlib.Path:
    """Where ``load`` looks for dataset ``name``."""
    if root is not None:
        return pathlib.Path(root)
    env = os.environ.get("MPCORE_DATA")
    if not env:
        raise FileNotFoundError(
            f"no data location for {name!r}: set MPCORE_DATA to a folder holding {name}/ (or pass root=..., "
            f"--data-root on the command line). The files are the standard IDX .gz files of {SOURCES[name]}; "
            "'mpcore sweep --data embedded' uses the 1,000 bundled MNIST test images instead"
        )
    return pathlib.Path(env) / name


def load(name: str, split: str = "test", root=None) -> Tuple[np.ndarray, np.ndarray]:
    """(images, labels) of ``name``'s ``split``: float32 (N, 784) in [0, 1] and int64 (N,)."""
    if name not in NAMES:
        raise ValueError(f"unknown dataset {name!r}; valid: {', '.join(repr(n) for n in NAMES)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: 'train', 'test'")
    directory = data_root(name, root)
    prefix = SPLITS[split]
    images_path = _find(directory, f"{prefix}-images-idx3-ubyte")
    labels_path = _find(directory, f"{prefix}-labels-idx1-ubyte")
    missing = [s for s, p in ((f"{prefix}-images-idx3-ubyte[.gz]", images_path),
                              (f"{prefix}-labels-idx1-ubyte[.gz]", labels_path)) if p is None]
    if missing:
        raise FileNotFoundError(f"{name} {split}: {', '.join(missing)} not found in {directory.resolve()} "
                                f"(set MPCORE_DATA or --data-root; the files are those of {SOURCES[name]})")
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(f"{name} {split}: unexpected shapes {images.shape} and {labels.shape}")
    x = images.reshape(images.shape[0], -1).astype(np.float32) / np.float32(255)
    return x, labels.astype(np.int64)
