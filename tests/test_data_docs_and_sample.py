"""The sample generator is deterministic (docstring examples run through --doctest-modules)."""

import os

import numpy as np
import pytest

from cnnzoo.data import load_arrays, read_idx, write_idx
from cnnzoo.data.sample import make_sample


def _fake_full_set(folder, per_class=(30, 12)):
    rng = np.random.default_rng(0)
    os.makedirs(folder)
    for prefix, n in zip(("train", "t10k"), per_class):
        labels = np.repeat(np.arange(10, dtype=np.uint8), n)
        rng.shuffle(labels)
        images = rng.integers(0, 256, (len(labels), 28, 28), dtype=np.uint8)
        write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz"), images)
        write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz"), labels)


def test_make_sample_is_stratified_and_byte_identical(tmp_path):
    _fake_full_set(tmp_path / "full")
    counts = make_sample(str(tmp_path / "full"), str(tmp_path / "a"), train_per_class=4,
                         test_per_class=2)
    make_sample(str(tmp_path / "full"), str(tmp_path / "b"), train_per_class=4,
                test_per_class=2)
    assert counts == {"train": 40, "test": 20}
    for name in sorted(os.listdir(tmp_path / "a")):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    x, y, _ = load_arrays(str(tmp_path / "a"))
    np.testing.assert_array_equal(np.bincount(y), [4] * 10)
    # Every sampled image is one of the full set's, with its own label.
    full_x = read_idx(tmp_path / "full" / "train-images-idx3-ubyte.gz")
    full_y = read_idx(tmp_path / "full" / "train-labels-idx1-ubyte.gz")
    lookup = {img.tobytes(): label for img, label in zip(full_x, full_y)}
    assert all(lookup[img[..., 0].tobytes()] == label for img, label in zip(x, y))


def test_make_sample_refuses_too_few_examples(tmp_path):
    _fake_full_set(tmp_path / "full", per_class=(3, 3))
    with pytest.raises(ValueError, match="fewer than per_class=4"):
        make_sample(str(tmp_path / "full"), str(tmp_path / "out"), train_per_class=4)
