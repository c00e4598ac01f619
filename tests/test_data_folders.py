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


def _write_rgb_pets(root, first):
    """A colour folder whose first file (by name) is ``first``, followed by RGB images."""
    _write_png(root / "cat" / "000.png", first)
    rgb = np.random.default_rng(1).integers(0, 256, (6, 5, 3), dtype=np.uint8)
    _write_png(root / "cat" / "001.png", rgb)
    _write_png(root / "dog" / "000.png", rgb)
    return rgb


def test_rgba_first_image_gives_rgb_without_alpha(tmp_path):
    rgba = np.random.default_rng(0).integers(0, 256, (6, 5, 4), dtype=np.uint8)
    rgb = _write_rgb_pets(tmp_path / "pets", rgba)
    x, _, info = load_arrays(str(tmp_path / "pets"))
    assert x.shape == (3, 6, 5, 3) and info.image_shape == (6, 5, 3)
    np.testing.assert_array_equal(x[0], rgba[..., :3])  # alpha dropped, colour exact
    np.testing.assert_array_equal(x[1], rgb)


def test_gray_first_image_does_not_turn_a_colour_folder_gray(tmp_path):
    gray = np.random.default_rng(0).integers(0, 256, (6, 5, 1), dtype=np.uint8)
    rgb = _write_rgb_pets(tmp_path / "pets", gray)
    x, _, _ = load_arrays(str(tmp_path / "pets"))
    assert x.shape == (3, 6, 5, 3)
    np.testing.assert_array_equal(x[0], np.repeat(gray, 3, axis=-1))
    np.testing.assert_array_equal(x[2], rgb)


@pytest.mark.parametrize("pillow", [True, False])
def test_all_gray_folder_stays_gray(tmp_path, monkeypatch, pillow):
    import sys

    if not pillow:  # the fallback: decode each image to count its channels
        monkeypatch.setitem(sys.modules, "PIL", None)
    rng = np.random.default_rng(0)
    gray_alpha = rng.integers(0, 256, (6, 5, 2), dtype=np.uint8)
    _write_png(tmp_path / "pets" / "cat" / "000.png", gray_alpha)
    _write_png(tmp_path / "pets" / "dog" / "000.png", rng.integers(0, 256, (6, 5, 1),
                                                                    dtype=np.uint8))
    x, _, info = load_arrays(str(tmp_path / "pets"))
    assert x.shape == (2, 6, 5, 1) and info.image_shape == (6, 5, 1)
    np.testing.assert_array_equal(x[0], gray_alpha[..., :1])


def test_color_mode_rgba_is_refused(tmp_path):
    from cnnzoo.data.folders import read_image_folder

    _make_folder(tmp_path / "pets")
    with pytest.raises(ValueError, match="color_mode must be None, 'grayscale' or 'rgb'"):
        read_image_folder(str(tmp_path / "pets"), color_mode="rgba")


def test_png_with_a_corrupt_header_is_named(tmp_path):
    pytest.importorskip("PIL")
    _write_png(tmp_path / "pets" / "cat" / "000.png", np.zeros((4, 4, 1), np.uint8))
    (tmp_path / "pets" / "dog").mkdir()
    (tmp_path / "pets" / "dog" / "000.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 8)
    with pytest.raises(ImageFolderError, match=r"dog/000.png cannot be read as an image"):
        load_arrays(str(tmp_path / "pets"))
