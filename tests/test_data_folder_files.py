"""Image folders: every file that will be read is checked, and every split uses the
training split's classes.

Each test builds a real folder with the damage in it (a FIFO, a link to /dev/zero, a
decompression bomb in a sub-folder or a hidden file, broken and looping links, a file
past the size cap, a test split with a class the training split lacks) and reads it the
way users do.
"""

import os
import struct
import zlib

import numpy as np
import pytest
import tensorflow as tf

import cnnzoo
from cnnzoo.data import ImageFolderError, load_arrays, load_dataset
from cnnzoo.data.folders import MAX_IMAGE_FILE_BYTES


def _write_png(path, value=0, size=(6, 5)):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_png(np.full((*size, 1), value, np.uint8)).numpy())


def _folder(root, classes=("cat", "dog"), per_class=2):
    """A gray image folder: class i's images hold the value 40 * i."""
    for label, name in enumerate(classes):
        for i in range(per_class):
            _write_png(root / name / f"{i:03d}.png", 40 * label)
    return root


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_bomb(width=5000, height=5000):
    """A valid gray PNG of zeros that decodes to width*height bytes from a few KB."""
    deflate = zlib.compressobj(9)
    rows = b"".join(deflate.compress(b"\0" * (width + 1)) for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + _chunk(b"IDAT", rows + deflate.flush()) + _chunk(b"IEND", b""))


def _one_line(error):
    message = str(error.value)
    assert "\n" not in message and "Traceback" not in message, message
    return message


# ---- one class -> label mapping, the training split's, for every split -------------------

def test_a_test_split_lacking_classes_keeps_the_training_labels(tmp_path):
    root = tmp_path / "pets"
    _folder(root / "train", classes=("a", "b", "c"))
    _folder(root / "test", classes=("a", "c"))  # c's images hold 40, as test's 2nd class
    x, y, info = load_arrays(str(root), "test")
    assert info.class_names == ("a", "b", "c") and info.num_classes == 3
    np.testing.assert_array_equal(y, [0, 0, 2, 2])  # a -> 0 and c -> 2, not c -> 1
    np.testing.assert_array_equal(x[2:, 0, 0, 0], [40, 40])


def test_a_test_split_with_a_class_the_training_split_lacks_is_refused_before_training(
        tmp_path):
    from cnnzoo.job import load_training_data
    from cnnzoo.training.recipes import get_recipe

    root = tmp_path / "pets"
    _folder(root / "train", classes=("a", "b", "c"))
    _folder(root / "test", classes=("a", "c", "misc"))
    with pytest.raises(ImageFolderError, match=r"class folder\(s\) \['misc'\] that the "
                                               r"training split lacks") as error:
        load_training_data(str(root), get_recipe("tutorial_5x5"), say=lambda _: None)
    assert str(root / "test") in _one_line(error)


def test_train_and_validation_of_split_folders_share_the_mapping(tmp_path):
    root = tmp_path / "pets"
    _folder(root / "train", classes=("a", "b"), per_class=5)
    _folder(root / "test", classes=("b",))
    _, y, info = load_arrays(str(root), "test")
    assert info.class_names == ("a", "b") and list(y) == [1, 1]
    _, y_val, info_val = load_arrays(str(root), "validation", validation_split=0.3)
    assert info_val.class_names == ("a", "b") and set(y_val) <= {0, 1}


# ---- every file Keras reads is checked first ----------------------------------------------

@pytest.mark.timeout(60)
@pytest.mark.parametrize("where", ["cat/fifo.png", "cat/deeper/fifo.png"])
def test_a_fifo_in_a_class_folder_is_refused_without_blocking(tmp_path, where):
    root = _folder(tmp_path / "pets")
    (root / where).parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(root / where)
    with pytest.raises(ImageFolderError, match=r"is a FIFO \(named pipe\), not an image"):
        load_arrays(str(root))


@pytest.mark.timeout(60)
def test_a_link_to_dev_zero_is_refused_without_reading_it(tmp_path):
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero on this platform")
    root = _folder(tmp_path / "pets")
    (root / "dog" / "zero.png").symlink_to("/dev/zero")
    with pytest.raises(ImageFolderError, match=r"dog/zero.png is a character device"):
        load_dataset(str(root))


@pytest.mark.parametrize("where", ["cat/sub/bomb.png", "cat/.bomb.png", "cat/.hidden/b.png"])
def test_a_png_bomb_in_a_sub_folder_or_hidden_is_refused_from_its_header(tmp_path, where):
    root = _folder(tmp_path / "pets")
    (root / where).parent.mkdir(parents=True, exist_ok=True)
    (root / where).write_bytes(_png_bomb())
    with pytest.raises(ImageFolderError, match=r"is 5000x5000 pixels") as error:
        load_arrays(str(root))
    assert where in _one_line(error)


def test_files_in_sub_folders_are_read_as_their_class(tmp_path):
    root = _folder(tmp_path / "pets")
    _write_png(root / "dog" / "more" / "x.png", 40)
    (root / "dog" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")  # hidden, not an image: unread
    x, y, _ = load_arrays(str(root))
    assert len(x) == 5 and list(y) == [0, 0, 1, 1, 1]


def test_a_stray_file_in_a_sub_folder_is_refused(tmp_path):
    root = _folder(tmp_path / "pets")
    (root / "dog" / "more").mkdir()
    (root / "dog" / "more" / "notes.txt").write_text("hello")
    with pytest.raises(ImageFolderError, match=r"dog/more/notes.txt is not an image file"):
        load_arrays(str(root))


@pytest.mark.parametrize("link, message", [
    ("nowhere.png", r"broken symbolic link \(to 'nowhere.png'"),
    ("loop.png", r"symbolic link that leads back to itself"),
])
def test_broken_and_looping_links_are_named_in_one_line(tmp_path, link, message):
    root = _folder(tmp_path / "pets")
    target = root / "cat" / ("loop.png" if link == "loop.png" else "gone.png")
    target.symlink_to(link)
    with pytest.raises(ImageFolderError, match=message) as error:
        load_arrays(str(root))
    assert str(target) in _one_line(error)


def test_a_file_past_the_size_cap_is_refused_before_reading(tmp_path):
    root = _folder(tmp_path / "pets")
    with open(root / "cat" / "huge.png", "wb") as f:  # sparse: no disk, no memory
        f.write(b"\x89PNG\r\n\x1a\n")
        f.truncate(MAX_IMAGE_FILE_BYTES + 1)
    with pytest.raises(ImageFolderError, match=rf"huge.png is {MAX_IMAGE_FILE_BYTES + 1:,} "
                                               r"bytes; an image file may be at most"):
        load_arrays(str(root))


@pytest.mark.parametrize("name, data", [
    ("cut.png", None),  # a real PNG cut short after its header
    ("garbage.jpg", b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4),
    ("garbage.gif", b"GIF89a\x06\x00\x05\x00" + b"\xff" * 64),
])
def test_a_corrupt_file_is_named_in_one_line(tmp_path, name, data):
    root = _folder(tmp_path / "pets")
    if data is None:
        _write_png(tmp_path / "whole.png", 7, size=(40, 40))
        data = (tmp_path / "whole.png").read_bytes()[:60]
    (root / "dog" / name).write_bytes(data)
    with pytest.raises(ImageFolderError, match=rf"dog/{name} cannot be (decoded|read) as an "
                                               r"image") as error:
        load_arrays(str(root), image_size=(6, 5))
    _one_line(error)


# ---- arguments refused in one line ------------------------------------------------------

@pytest.mark.parametrize("image_size, message", [
    ((0, 0), r"two integers >= 1; received image_size=\(0, 0\)"),
    ((100000, 100000), r"10,000,000,000 pixels an image; the limit is 16,777,216"),
    ((8.5, 8), r"two integers >= 1"),
    (8, r"two integers >= 1"),
])
def test_bad_image_size_is_one_line(tmp_path, image_size, message):
    root = _folder(tmp_path / "pets")
    with pytest.raises(ValueError, match=message) as error:
        load_dataset(str(root), image_size=image_size)
    _one_line(error)


@pytest.mark.parametrize("seed", ["abc", -1, 1.5, True, 2 ** 64])
def test_bad_seed_is_one_line(seed):
    with pytest.raises(ValueError, match=r"seed must be an integer from 0 to 2\*\*63-1") \
            as error:
        cnnzoo.load_dataset("digits", seed=seed)
    _one_line(error)


def test_cnnzoo_train_refuses_a_test_class_the_training_split_lacks_in_one_line(
        tmp_path, capsys):
    from cnnzoo.cli import main

    root = tmp_path / "pets"
    _folder(root / "train", classes=("a", "b", "c"))
    _folder(root / "test", classes=("a", "c", "misc"))
    status = main(["train", "tutorial_5x5", "--dataset", str(root), "--workdir",
                   str(tmp_path / "run")])
    error = capsys.readouterr().err.strip()
    assert status == 2, error
    assert error.startswith("cnnzoo train: error: ") and "['misc']" in error, error
    assert len(error.splitlines()) == 1
    assert not (tmp_path / "run").exists()  # refused before training
