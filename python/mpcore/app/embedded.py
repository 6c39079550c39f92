"""The embedded default: a trained MNIST network and 1,000 MNIST test images (see data/README.md)."""

from __future__ import annotations

import pathlib
from typing import Tuple

import numpy as np

from ..networks import models
from ..networks.mlp import MLP

DATA = pathlib.Path(__file__).parent / "data"


def default_model() -> MLP:
    """MLP 784-784-128-10, ReLU, fp8_e4m3 weights, trained on MNIST (bench/train.py)."""
    return models.load(DATA / "mnist_relu.npz")


def default_data() -> Tuple[np.ndarray, np.ndarray]:
    """The first 1,000 MNIST test images as float32 (1000, 784) in [0, 1], and their labels."""
    with np.load(DATA / "mnist_test_1000.npz") as z:
        x = z["images"].reshape(len(z["images"]), -1).astype(np.float32) / np.float32(255)
        return x, z["labels"].astype(np.int64)
