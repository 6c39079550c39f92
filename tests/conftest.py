import numpy as np
import pytest

import mpcore

DETERMINISTIC_MODES = tuple(m for m in mpcore.ROUNDING_MODES if m != "sr")  # the names come from C++


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def all_format_names():
    return mpcore.formats.names()
