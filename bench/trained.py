"""The four trained networks of bench/models/ and their test sets, shared by the bench scripts."""

from __future__ import annotations

import pathlib
from typing import Iterator, Tuple

import numpy as np

from mpcore import datasets, models
from mpcore.networks.mlp import MLP

HERE = pathlib.Path(__file__).parent
NETWORKS = [("mnist", "relu"), ("mnist", "tanh"), ("fashion-mnist", "relu"), ("fashion-mnist", "tanh")]


def networks_with_test_sets(limit: int = 0) -> Iterator[Tuple[str, MLP, np.ndarray, np.ndarray]]:
    """(dataset name, network, x, y) for each trained network and its dataset's test split (the first
    ``limit`` images if limit > 0); datasets come from $MPCORE_DATA."""
    for dataset, activation in NETWORKS:
        net = models.load(HERE / "models" / f"{dataset}_{activation}.npz")
        x, y = datasets.load(dataset, "test")
        if limit:
            x, y = x[:limit], y[:limit]
        yield dataset, net, x, y
