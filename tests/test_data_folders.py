"""Image folders: a round trip with PNGs the tests write, and the errors for bad folders."""

import numpy as np
import pytest
import tensorflow as tf

from cnnzoo.data import ImageFolderError, load_arrays, load_dataset


def _write_png(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_png(image).numpy())


def _make_folder(root, channels=3, per_class=3, size=(6, 5)):
    rng = np.random.default_rng(0)
    written = {}
    for label, name in enumerate(("cat", "dog")):
        for i in range(per_class):
            image = rng.integers(0, 256, (*size, channels), dtype=np.uint8)
            _write_png(root / name / f"{i:03d}.png", image)
            written[(label, i)] = image
    return written


@pytest.mark.parametrize("channels", [1, 3])
def test_png_round_trip_is_exact(tmp_path, channels):
    written = _make_folder(tmp_path / "pets", channels=channels)
    x, y, info = load_arrays(str(tmp_path / "pets"))
    assert x.shape == (6, 6, 5, channels) and x.dtype == np.uint8
    assert info.class_names == ("cat", "dog") and info.num_classes == 2
    np.testing.assert_array_equal(y, [0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(x[4], written[(1, 1)])  # files sorted by name


def test_image_folder_pipeline_and_split_folders(tmp_path):
    _make_folder(tmp_path / "pets" / "train", per_class=4)
    _make_folder(tmp_path / "pets" / "test", per_class=1)
    ds, info = load_dataset(str(tmp_path / "pets"), "train", batch_size=3, augment="standard")
    batches = list(ds)
    assert [b[0].shape[0] for b in batches] == [3, 3, 2]
    assert batches[0][0].dtype == tf.float32 and info.num_examples == 8
    _, info = load_dataset(str(tmp_path / "pets"), "test", batch_size=3)
    assert info.num_examples == 2 and info.source_path == str(tmp_path / "pets" / "test")


def test_image_size_resizes(tmp_path):
    _make_folder(tmp_path / "pets")
    x, _, info = load_arrays(str(tmp_path / "pets"), image_size=(8, 8))
    assert x.shape[1:] == (8, 8, 3) and info.image_shape == (8, 8, 3)


def test_empty_class_folder(tmp_path):
    _make_folder(tmp_path / "pets")
    (tmp_path / "pets" / "fish").mkdir()
    with pytest.raises(ImageFolderError, match=r"class folder .*pets/fish is empty"):
        load_dataset(str(tmp_path / "pets"))


def test_non_image_file(tmp_path):
    _make_folder(tmp_path / "pets")
    (tmp_path / "pets" / "dog" / "notes.txt").write_text("hello")
    with pytest.raises(ImageFolderError, match=r"dog/notes.txt is not an image file"):
        load_dataset(str(tmp_path / "pets"))


def test_corrupt_png(tmp_path):
    _make_folder(tmp_path / "pets")
    (tmp_path / "pets" / "cat" / "broken.png").write_bytes(b"GIF89a pretending")
    with pytest.raises(ImageFolderError, match=r"cat/broken.png is named like a .png image"):
        load_arrays(str(tmp_path / "pets"))


def test_folder_without_class_folders(tmp_path):
    (tmp_path / "flat").mkdir()
    _write_png(tmp_path / "flat" / "a.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ImageFolderError, match="no class sub-folders"):
        load_arrays(str(tmp_path / "flat"))


def test_test_split_of_a_single_folder(tmp_path):
    _make_folder(tmp_path / "pets")
    with pytest.raises(ValueError, match="no test/ folder"):
        load_arrays(str(tmp_path / "pets"), "test")
