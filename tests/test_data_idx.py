"""IDX reading and writing, with files the tests write, including corrupt ones."""

import gzip
import os
import zlib

import numpy as np
import pytest

from cnnzoo.data import DataFormatError, IdxFormatError, load_arrays, read_idx, write_idx
from cnnzoo.data.files import read_local_split


def _idx_bytes(array):
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


def _write_mnist_like(folder, n_train=12, n_test=5, size=6, gz=True):
    rng = np.random.default_rng(0)
    os.makedirs(folder, exist_ok=True)
    ext = ".gz" if gz else ""
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
        labels = (np.arange(n) % 3).astype(np.uint8)
        write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte{ext}"), images)
        write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte{ext}"), labels)
        arrays[prefix] = (images, labels)
    return arrays


@pytest.mark.parametrize("name", ["x-idx3-ubyte", "x-idx3-ubyte.gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.float32])
def test_write_then_read_round_trips(tmp_path, name, dtype):
    array = (np.arange(2 * 3 * 4) - 5).reshape(2, 3, 4).astype(dtype)
    if dtype == np.uint8:
        array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / name, array)
    back = read_idx(tmp_path / name)
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


def test_reads_a_hand_built_big_endian_file(tmp_path):
    # Hand-built bytes, independent of write_idx: 2 images of 2x3 and their labels.
    images = np.array([[[0, 1, 2], [3, 4, 5]], [[250, 251, 252], [253, 254, 255]]], np.uint8)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(_idx_bytes(images))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx_bytes(np.array([7, 1], np.uint8)))
    x, y, info = load_arrays(str(tmp_path))
    assert x.shape == (2, 2, 3, 1) and x.dtype == np.uint8
    np.testing.assert_array_equal(x[..., 0], images)
    np.testing.assert_array_equal(y, [7, 1])
    assert y.dtype == np.int32 and info.source_path == str(tmp_path)


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path):
    write_idx(tmp_path / "a-idx1-ubyte.gz", np.arange(5, dtype=np.uint8))
    assert sorted(os.listdir(tmp_path)) == ["a-idx1-ubyte.gz"]


def test_write_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(ValueError, match="int64"):
        write_idx(tmp_path / "a-idx1-ubyte", np.arange(3, dtype=np.int64))


def test_wrong_magic_names_the_file(tmp_path):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(b"\x12\x34\x08\x03" + bytes(20))
    with pytest.raises(IdxFormatError, match="bad-idx3-ubyte.*magic number is 12340803"):
        read_idx(path)


def test_unknown_type_byte(tmp_path):
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(b"\x00\x00\x07\x01" + bytes(8))
    with pytest.raises(IdxFormatError, match="magic number"):
        read_idx(path)


def test_truncated_data(tmp_path):
    path = tmp_path / "short-idx3-ubyte.gz"
    full = _idx_bytes(np.zeros((4, 5, 5), np.uint8))
    path.write_bytes(gzip.compress(full[:-7]))
    with pytest.raises(IdxFormatError, match=r"short-idx3-ubyte.gz is truncated.*100 data bytes, "
                                             r"found 93"):
        read_idx(path)


def test_trailing_bytes(tmp_path):
    path = tmp_path / "long-idx1-ubyte"
    path.write_bytes(_idx_bytes(np.zeros(4, np.uint8)) + b"\x00\x00")
    with pytest.raises(IdxFormatError, match="longer than its header says"):
        read_idx(path)


def test_truncated_header(tmp_path):
    path = tmp_path / "hdr-idx3-ubyte"
    path.write_bytes(b"\x00\x00\x08\x03" + bytes(5))
    with pytest.raises(IdxFormatError, match="truncated IDX header"):
        read_idx(path)


def test_truncated_gzip_stream(tmp_path):
    path = tmp_path / "cut-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(_idx_bytes(np.ones((3, 4, 4), np.uint8)))[:-10])
    with pytest.raises(IdxFormatError, match="cut-idx3-ubyte.gz.*cannot be decompressed"):
        read_idx(path)


def _gzip_of_header_and_zeros(shape, zeros):
    """Returns a gzip of an IDX header declaring `shape`, then `zeros` zero bytes, made in
    1 MiB pieces so that the test never holds the expanded data."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    header = bytes([0, 0, 0x08, len(shape)]) + np.asarray(shape, ">u4").tobytes()
    pieces, piece = [compressor.compress(header)], bytes(1 << 20)
    for _ in range(zeros >> 20):
        pieces.append(compressor.compress(piece))
    return b"".join(pieces) + compressor.flush()


def _resident_bytes():
    with open("/proc/self/status") as status:
        return int(next(l for l in status if l.startswith("VmRSS")).split()[1]) * 1024


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc (Linux)")
def test_gzip_bomb_is_refused_without_expanding_it(tmp_path):
    path = tmp_path / "bomb-idx3-ubyte.gz"
    path.write_bytes(_gzip_of_header_and_zeros((10, 28, 28), 1 << 30))  # 1 GiB of zeros.
    assert path.stat().st_size < 2 << 20
    before = _resident_bytes()
    with pytest.raises(IdxFormatError, match="bomb-idx3-ubyte.gz is longer than its header"):
        read_idx(path)
    assert _resident_bytes() - before < 64 << 20  # Not the 1 GiB the stream holds.


def test_header_declaring_more_than_gzip_can_hold_is_refused_before_inflating(tmp_path):
    path = tmp_path / "lie-idx3-ubyte.gz"
    path.write_bytes(_gzip_of_header_and_zeros((60000, 1000, 1000), 0))
    with pytest.raises(IdxFormatError, match=r"lie-idx3-ubyte.gz declares shape \(60000, "
                                             r"1000, 1000\).*more than a gzip file"):
        read_idx(path)


def test_dimensions_whose_product_overflows_int64_name_the_file(tmp_path):
    path = tmp_path / "huge-idx3-ubyte"
    header = bytes([0, 0, 0x08, 4]) + np.full(4, 2**32 - 1, ">u4").tobytes()
    path.write_bytes(header + bytes(16))
    with pytest.raises(IdxFormatError, match="huge-idx3-ubyte is truncated"):
        read_idx(path)


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="nowhere-idx3-ubyte"):
        read_idx("/nonexistent/nowhere-idx3-ubyte")


def test_folder_round_trip_reads_both_splits(tmp_path):
    written = _write_mnist_like(tmp_path / "data")
    for split, prefix in (("train", "train"), ("test", "t10k")):
        x, y, info = load_arrays(str(tmp_path / "data"), split)
        np.testing.assert_array_equal(x[..., 0], written[prefix][0])
        np.testing.assert_array_equal(y, written[prefix][1])
        assert info.image_shape == (6, 6, 1) and info.num_examples == len(y)
        assert info.class_names == ("0", "1", "2")


def test_image_label_count_mismatch(tmp_path):
    _write_mnist_like(tmp_path, gz=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(11, np.uint8))
    with pytest.raises(DataFormatError, match=r"holds 12 images but .*train-labels-idx1-ubyte "
                                              r"holds 11 labels"):
        read_local_split(str(tmp_path), "train")


def test_missing_label_file(tmp_path):
    _write_mnist_like(tmp_path)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(DataFormatError, match="no test labels file"):
        load_arrays(str(tmp_path), "test")


def test_corrupt_file_in_folder_surfaces_before_tensorflow(tmp_path):
    from cnnzoo.data import load_dataset

    _write_mnist_like(tmp_path)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"not an idx file at all")
    with pytest.raises(IdxFormatError, match="train-images-idx3-ubyte.gz"):
        load_dataset(str(tmp_path), batch_size=4)


def test_idx_folder_validation_without_validation_split(tmp_path):
    _write_mnist_like(tmp_path / "data")
    with pytest.raises(ValueError, match=r"split='validation' needs validation_split>0 for "
                                         r"IDX data in .*data") as caught:
        load_arrays(str(tmp_path / "data"), "validation")
    assert "class sub-folders" not in str(caught.value)
    x, _, _ = load_arrays(str(tmp_path / "data"), "validation", validation_split=0.25)
    assert len(x) == 3


def test_idx_folder_without_test_files(tmp_path):
    _write_mnist_like(tmp_path / "data")
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        os.remove(tmp_path / "data" / name)
    with pytest.raises(DataFormatError, match=r"no t10k-images-idx3-ubyte\[\.gz\] for split "
                                              r"'test' in .*data") as caught:
        load_arrays(str(tmp_path / "data"), "test")
    assert "image folder" not in str(caught.value)


def test_cifar_folder_without_test_batch(tmp_path):
    rows = np.zeros((2, 1 + 32 * 32 * 3), np.uint8)
    (tmp_path / "data_batch_1.bin").write_bytes(rows.tobytes())
    with pytest.raises(DataFormatError, match=r"no test_batch.bin for split 'test'"):
        load_arrays(str(tmp_path), "test")
    with pytest.raises(ValueError, match=r"needs validation_split>0 for CIFAR-10 binary"):
        load_arrays(str(tmp_path), "validation")


def test_npz_file_validation_without_validation_split(tmp_path):
    np.savez(tmp_path / "d.npz", x_train=np.zeros((2, 3, 3), np.uint8), y_train=[0, 1])
    with pytest.raises(ValueError, match=r"needs validation_split>0 for Keras .npz data"):
        load_arrays(str(tmp_path / "d.npz"), "validation")
