import numpy as np
import pytest

import mpcore

DETERMINISTIC_MODES = ("rne", "rna", "rtz", "rup", "rdn", "rto")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def all_format_names():
    return mpcore.formats.names()
