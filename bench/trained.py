"""The four trained networks of bench/models/ and their test sets, shared by the bench scripts."""

from __future__ import annotations

import pathlib
from typing import Iterator, Tuple

import numpy as np

from mpcore import datasets, models
from mpcore.networks.mlp import MLP

HERE = pathlib.Path(__file__).parent
NETWORKS = [("mnist", "relu"), ("mnist", "tanh"), ("fashion-mnist", "relu"), ("fashion-mnist", "tanh")]


def normalization(dataset: str) -> Tuple[float, float]:
    """The mean and standard deviation of the training split's pixels, to 4 decimals (as the
    authors' torchvision Normalize constants: MNIST 0.1307, 0.3081)."""
    x = np.asarray(datasets.load(dataset, "train")[0], dtype=np.float64)
    return round(float(x.mean()), 4), round(float(x.std()), 4)


def normalize(dataset: str, x: np.ndarray) -> np.ndarray:
    """(x - mean) / std in float32, the authors' input normalisation."""
    mean, std = normalization(dataset)
    return ((np.asarray(x, dtype=np.float32) - np.float32(mean)) / np.float32(std)).astype(np.float32)


def model_path(dataset: str, activation: str, normalized: bool = False) -> pathlib.Path:
    return HERE / "models" / f"{dataset}_{activation}{'_normalized' if normalized else ''}.npz"


def networks_with_test_sets(limit: int = 0, normalized: bool = False) -> Iterator[Tuple[str, MLP, np.ndarray,
                                                                                       np.ndarray]]:
    """(dataset name, network, x, y) for each trained network and its dataset's test split (the first
    ``limit`` images if limit > 0); datasets come from $MPCORE_DATA. normalized: the networks
    trained on normalised inputs (train.py --normalize), with the test inputs normalised."""
    for dataset, activation in NETWORKS:
        net = models.load(model_path(dataset, activation, normalized))
        x, y = datasets.load(dataset, "test")
        if limit:
            x, y = x[:limit], y[:limit]
        yield dataset, net, normalize(dataset, x) if normalized else x, y
