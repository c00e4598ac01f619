"""Read a dataset split from local files, pure NumPy: IDX, CIFAR binary/python, .npz.

`read_local_split` looks at a file or folder, recognises one of the formats
below, and returns images `(N, H, W, C)` and labels `(N,)`, labels as stored:

- IDX (MNIST, Fashion-MNIST): `train-images-idx3-ubyte[.gz]`, `train-labels-idx1-ubyte[.gz]`,
  `t10k-...` (or `test-...`) for the test split;
- CIFAR-10 binary (`data_batch_1.bin` ... `test_batch.bin`) and CIFAR-100 binary
  (`train.bin`, `test.bin`; the fine label is used);
- CIFAR python batches as `keras.datasets` downloads them (read with an unpickler
  that only accepts NumPy arrays, so a hostile file cannot run code);
- a Keras-style `.npz` with `x_train, y_train, x_test, y_test` (`mnist.npz`).
"""

from __future__ import annotations

import os
import pickle
import re
import stat
import zipfile
import zlib

import numpy as np

from cnnzoo.data.idx import IdxFormatError, read_idx

__all__ = ["read_local_split", "local_format", "split_files", "DataFormatError",
           "check_regular", "special_kind"]

_IDX_NAME = re.compile(r"^(train|t10k|test)-(images|labels)[-.]idx(\d)-ubyte(\.gz)?$")
_CIFAR_IMAGE_BYTES = 32 * 32 * 3


class DataFormatError(ValueError):
    """Local data files exist but are incomplete or inconsistent."""


_SPECIAL_KINDS = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                  (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"))


def special_kind(mode: int) -> str | None:
    """Names the kind of a file whose `st_mode` is `mode` when it is a device, FIFO or
    socket ("a FIFO (named pipe)"), else returns None."""
    return next((kind for is_kind, kind in _SPECIAL_KINDS if is_kind(mode)), None)


def check_regular(path: str) -> None:
    """Checks that `path` (links followed) is a regular file, a folder, or nothing.

    Reading `/dev/zero`, `/dev/urandom` or a FIFO would never end or block forever, so
    such paths are refused before anything opens them.

    Raises:
        DataFormatError: `path` is a character or block device, a FIFO or a socket.

    Example:
        >>> check_regular("/dev/zero")
        Traceback (most recent call last):
        ...
        cnnzoo.data.files.DataFormatError: /dev/zero is a character device, not a regular \
file or folder; reading it could block or never end. ...
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:  # Missing or unreadable: the caller's open or listdir says which.
        return
    kind = special_kind(mode)
    if kind is not None:
        raise DataFormatError(
            f"{path} is {kind}, not a regular file or folder; reading it could block "
            f"or never end. Pass a regular dataset file, or a folder of them.")


def _split_prefixes(split: str) -> tuple[str, ...]:
    return {"train": ("train",), "test": ("t10k", "test")}.get(split, (split,))


def _as_nhwc(images: np.ndarray) -> np.ndarray:
    return images[..., None] if images.ndim == 3 else images


def _check_pair(images, labels, image_file, label_file):
    """Returns `(images, labels)`, labels as stored: the caller checks them
    (`cnnzoo.data.check_labels`), so 2.5 or 2**40 is refused, never cast to 2 or 0."""
    if len(images) != len(labels):
        raise DataFormatError(
            f"{image_file} holds {len(images)} images but {label_file} holds "
            f"{len(labels)} labels; the two files must come from the same download.")
    return images, labels


def _read_idx_split(folder: str, names: list[str], split: str):
    found: dict[str, str] = {}
    for name in names:
        match = _IDX_NAME.match(name)
        if match and match.group(1) in _split_prefixes(split):
            # Prefer the uncompressed file when both exist (it is the one someone unpacked).
            if match.group(2) not in found or not match.group(4):
                found[match.group(2)] = os.path.join(folder, name)
    if not found:
        return None
    for kind in ("images", "labels"):
        if kind not in found:
            other = next(iter(found.values()))
            raise DataFormatError(
                f"{folder} has {os.path.basename(other)} but no {split} {kind} file "
                f"(expected e.g. {_split_prefixes(split)[0]}-{kind}-idx"
                f"{3 if kind == 'images' else 1}-ubyte.gz).")
    for path in found.values():
        check_regular(path)
    images, labels = read_idx(found["images"]), read_idx(found["labels"])
    if images.ndim not in (3, 4) or images.dtype != np.uint8:
        raise IdxFormatError(
            f"{found['images']} should hold uint8 images of shape (N, H, W[, C]); "
            f"it holds {images.dtype} of shape {images.shape}.")
    if labels.ndim != 1:
        raise IdxFormatError(
            f"{found['labels']} should hold one label per image, shape (N,); "
            f"it has shape {labels.shape}.")
    return _check_pair(_as_nhwc(images), labels, found["images"], found["labels"])


def _read_cifar_binary(paths: list[str], label_bytes: int):
    record = label_bytes + _CIFAR_IMAGE_BYTES
    images, labels = [], []
    for path in paths:
        check_regular(path)
        raw = np.fromfile(path, np.uint8)
        if raw.size == 0 or raw.size % record:
            raise DataFormatError(
                f"{path} is {raw.size} bytes, not a whole number of {record}-byte "
                f"CIFAR records; the file is truncated or is not CIFAR binary.")
        rows = raw.reshape(-1, record)
        labels.append(rows[:, label_bytes - 1])  # CIFAR-100: (coarse, fine); keep fine.
        images.append(rows[:, label_bytes:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return np.concatenate(images), np.concatenate(labels).astype(np.int32)


class _ArrayOnlyUnpickler(pickle.Unpickler):
    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"),
                ("numpy._core.multiarray", "_reconstruct"),
                ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
                ("numpy", "ndarray"), ("numpy", "dtype"),
                ("_codecs", "encode")}  # how protocol-2 pickles from Python 3 store bytes

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _read_cifar_python(paths: list[str], label_key: bytes):
    images, labels = [], []
    for path in paths:
        check_regular(path)
        try:
            with open(path, "rb") as f:
                batch = _ArrayOnlyUnpickler(f, encoding="bytes").load()
            data = np.asarray(batch[b"data"], np.uint8)
            batch_labels = np.asarray(batch[label_key])
        except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError) as err:
            raise DataFormatError(
                f"{path} is not a CIFAR python batch ({type(err).__name__}: {err}); "
                f"download the dataset again.") from None
        images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(batch_labels)
    return _check_pair(np.concatenate(images), np.concatenate(labels), paths[0], paths[0])


def _read_npz(path: str, split: str):
    check_regular(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            images, labels = npz[f"x_{split}"], npz[f"y_{split}"]
    except KeyError:
        raise DataFormatError(
            f"{path} has no x_{split}/y_{split} arrays; Keras-style .npz files hold "
            f"x_train, y_train, x_test, y_test.") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise DataFormatError(f"{path} is not a readable .npz file ({type(error).__name__}: "
                              f"{error}); save it again with np.savez.") from None
    # Other dtypes stay as stored: the caller validates them (NaN and 300 are refused, not
    # silently cast to 0 and 44).
    return _check_pair(_as_nhwc(images), labels.reshape(-1), path, path)


def local_format(path: str) -> str | None:
    """Names the format a file or folder holds, without reading any data.

    Returns:
        `"IDX"`, `"CIFAR-10 binary"`, `"CIFAR-100 binary"`, `"CIFAR-10 python"`,
        `"CIFAR-100 python"` or `"Keras .npz"` (checked in the order
        `read_local_split` reads them), or `None` (e.g. an image folder).
    """
    if os.path.isfile(path):
        return "Keras .npz" if path.endswith(".npz") else None
    if not os.path.isdir(path):
        return None
    # Not only regular files: a device or FIFO under a dataset file's name is then refused
    # by name when read (`check_regular`), not taken for an image folder.
    files = {n for n in os.listdir(path) if not os.path.isdir(os.path.join(path, n))}
    if any(_IDX_NAME.match(n) for n in files):
        return "IDX"
    if "test_batch.bin" in files or any(re.fullmatch(r"data_batch_\d+\.bin", n) for n in files):
        return "CIFAR-10 binary"
    if files & {"train.bin", "test.bin"}:
        return "CIFAR-100 binary"
    if "test_batch" in files or any(re.fullmatch(r"data_batch_\d+", n) for n in files):
        return "CIFAR-10 python"
    if "meta" in files and files & {"train", "test"}:
        return "CIFAR-100 python"
    if len([n for n in files if n.endswith(".npz")]) == 1:
        return "Keras .npz"
    return None


# The files each format needs for a split, as an error message names them.
_SPLIT_FILES = {
    "IDX": {"train": "train-images-idx3-ubyte[.gz]", "test": "t10k-images-idx3-ubyte[.gz]"},
    "CIFAR-10 binary": {"train": "data_batch_<n>.bin", "test": "test_batch.bin"},
    "CIFAR-100 binary": {"train": "train.bin", "test": "test.bin"},
    "CIFAR-10 python": {"train": "data_batch_<n>", "test": "test_batch"},
    "CIFAR-100 python": {"train": "train", "test": "test"},
    "Keras .npz": {"train": "x_train/y_train arrays", "test": "x_test/y_test arrays"},
}


def split_files(data_format: str, split: str) -> str:
    """The file(s) `data_format` (from `local_format`) needs for `split`.

    Example:
        >>> split_files("IDX", "test")
        't10k-images-idx3-ubyte[.gz]'
    """
    return _SPLIT_FILES[data_format][split]


def read_local_split(path: str, split: str):
    """Reads `split` ("train" or "test") from a dataset file or folder.

    Returns:
        `(images, labels)` as `(N, H, W, C)` and `(N,)` arrays, or `None` when `path`
        holds none of the recognised formats. Images are uint8 except from a `.npz`;
        labels are as stored (IDX and `.npz` may hold floats or wide integers), for the
        caller to check with `cnnzoo.data.check_labels` before any cast.

    Raises:
        IdxFormatError: an IDX file is corrupt (magic number, length).
        DataFormatError: files are missing from a set, have mismatched counts, are
            truncated, or are devices or FIFOs (`check_regular`).
    """
    if os.path.isfile(path):
        return _read_npz(path, split) if path.endswith(".npz") else None
    if not os.path.isdir(path):
        return None
    names = sorted(os.listdir(path))
    result = _read_idx_split(path, names, split)
    if result is not None:
        return result
    present = set(names)
    if split == "train":
        cifar10_bin = [n for n in names if re.fullmatch(r"data_batch_\d+\.bin", n)]
        cifar10_py = [n for n in names if re.fullmatch(r"data_batch_\d+", n)]
    else:
        cifar10_bin = ["test_batch.bin"] if "test_batch.bin" in present else []
        cifar10_py = ["test_batch"] if "test_batch" in present else []
    join = lambda ns: [os.path.join(path, n) for n in ns]  # noqa: E731
    if cifar10_bin:
        return _read_cifar_binary(join(cifar10_bin), label_bytes=1)
    if f"{split}.bin" in present:
        return _read_cifar_binary(join([f"{split}.bin"]), label_bytes=2)
    if cifar10_py:
        return _read_cifar_python(join(cifar10_py), b"labels")
    if split in present and "meta" in present:
        return _read_cifar_python(join([split]), b"fine_labels")
    npz = [n for n in names if n.endswith(".npz")]
    if len(npz) == 1:
        return _read_npz(os.path.join(path, npz[0]), split)
    return None
