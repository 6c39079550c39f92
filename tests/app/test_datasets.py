import gzip
import os
import pathlib

import numpy as np
import pytest

from mpcore import datasets


def write_idx(path: pathlib.Path, arr: np.ndarray, compress: bool) -> None:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    data = header + arr.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


@pytest.mark.parametrize("compress", [True, False])
def test_reads_idx_files_gzip_or_not(tmp_path, compress):
    images = np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28)
    labels = np.array([7, 2, 1], dtype=np.uint8)
    suffix = ".gz" if compress else ""
    write_idx(tmp_path / f"t10k-images-idx3-ubyte{suffix}", images, compress)
    write_idx(tmp_path / f"t10k-labels-idx1-ubyte{suffix}", labels, compress)
    x, y = datasets.load("mnist", "test", root=tmp_path)
    assert x.shape == (3, 784) and x.dtype == np.float32
    assert np.array_equal(x, images.reshape(3, -1) / np.float32(255))
    assert list(y) == [7, 2, 1] and y.dtype == np.int64


def test_errors_say_where_they_looked(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=str(tmp_path.resolve())):
        datasets.load("fashion-mnist", "train", root=tmp_path)
    monkeypatch.delenv("MPCORE_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="MPCORE_DATA"):
        datasets.load("mnist")
    monkeypatch.setenv("MPCORE_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str((tmp_path / "mnist").resolve())):
        datasets.load("mnist")
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        datasets.load("cifar")
    with pytest.raises(ValueError, match="unknown split"):
        datasets.load("mnist", "validation", root=tmp_path)


def test_bad_idx_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        datasets.read_idx(tmp_path / "bad")
    header = bytes([0, 0, 0x08, 1]) + (100).to_bytes(4, "big")
    (tmp_path / "short").write_bytes(header + b"\x00" * 10)
    with pytest.raises(ValueError, match="truncated"):
        datasets.read_idx(tmp_path / "short")


@pytest.mark.skipif(not os.environ.get("MPCORE_DATA") or not pathlib.Path(os.environ["MPCORE_DATA"], "mnist").is_dir(),
                    reason="MPCORE_DATA does not point at the datasets")
@pytest.mark.parametrize("name", datasets.NAMES)
def test_real_datasets(name):
    x, y = datasets.load(name, "test")
    assert x.shape == (10000, 784) and y.shape == (10000,)
    assert 0 <= x.min() and x.max() == 1.0
    assert np.array_equal(np.bincount(y, minlength=10) > 0, np.ones(10, bool))
    if name == "mnist":
        assert list(np.bincount(y)) == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
