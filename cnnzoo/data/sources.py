"""Turn a dataset name, arrays or a path into uint8 images, int32 labels and a DatasetInfo.

Where a named dataset comes from, in order (the first that has the files wins):

1. ``data_dir=`` (the folder itself, then ``<data_dir>/<usual folder name>``);
2. ``$CNNZOO_DATA_DIR`` (the same way);
3. ``~/.keras/datasets/<usual folder name>`` (``$KERAS_HOME`` honoured);
4. system folders, e.g. ``/usr/share/datasets/fashion-mnist`` (Debian's
   ``dataset-fashion-mnist`` package);
5. tensorflow-datasets (``tfds.load``), which reads its own prepared copy or
   downloads one when there is a network.

``fashion_mnist_sample`` is the small real sample shipped in the package; asking for
``fashion_mnist`` never falls back to it. Everything except tensorflow-datasets and
image folders is read with NumPy alone.
"""

from __future__ import annotations

import difflib
import os
from typing import NamedTuple

import numpy as np

from cnnzoo.data import catalog
from cnnzoo.data.files import read_local_split
from cnnzoo.data.folders import SPLIT_FOLDERS, read_image_folder
from cnnzoo.data.info import DatasetInfo

__all__ = ["DatasetNotFoundError", "LoadedSource", "load_source", "list_local_names",
           "search_dirs"]

ENV_DATA_DIR = "CNNZOO_DATA_DIR"


class DatasetNotFoundError(FileNotFoundError):
    """A named dataset is in none of the places searched and tfds could not supply it."""


class LoadedSource(NamedTuple):
    """What a source yields: in-memory arrays, or (tfds only) a stream of examples."""

    info: DatasetInfo
    images: np.ndarray | None = None   # uint8 (N, H, W, C)
    labels: np.ndarray | None = None   # int32 (N,)
    stream: object | None = None       # tf.data.Dataset of (uint8 image, int32 label)


def list_local_names() -> tuple[str, ...]:
    """Returns the dataset names cnnzoo can read from local files without tfds."""
    return tuple(sorted(set(catalog.LOCAL_FOLDER_NAMES) | {"digits", catalog.SAMPLE_NAME}))


def search_dirs(name: str, data_dir: str | os.PathLike | None = None) -> list[str]:
    """Returns the files/folders searched for ``name``, in order (they need not exist)."""
    roots = [os.fspath(d) for d in (data_dir, os.environ.get(ENV_DATA_DIR)) if d]
    places = []
    for root in roots:
        root = os.path.expanduser(root)
        places.append(root)
        places += [os.path.join(root, sub) for sub in catalog.LOCAL_FOLDER_NAMES.get(name, ())]
    keras_dir = catalog.keras_datasets_dir()
    places += [os.path.join(keras_dir, sub) for sub in catalog.LOCAL_FOLDER_NAMES.get(name, ())]
    places += list(catalog.SYSTEM_DATA_DIRS.get(name, ()))
    return list(dict.fromkeys(places))


# ---- validation, splitting -------------------------------------------------------------

def _check_split(split: str) -> str:
    if not isinstance(split, str) or not split:
        raise ValueError(f"split must be a string such as 'train' or 'test'; received "
                         f"split={split!r}.")
    return split


def _validated_arrays(x, y, where: str):
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3, 4):
        raise ValueError(
            f"{where}: images must have shape (N, H, W) or (N, H, W, C) with C in 1, 3, 4; "
            f"received shape {x.shape}.")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(
            f"{where}: labels must be one integer per image, shape ({len(x)},); received "
            f"shape {y.shape}. (One-hot labels: pass y.argmax(axis=1).)")
    if len(x) == 0:
        raise ValueError(f"{where}: received 0 images.")
    if not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValueError(f"{where}: labels must be integers; received dtype {y.dtype}.")
    if y.min() < 0:
        raise ValueError(f"{where}: labels must be >= 0; received a label {y.min()}.")
    if x.dtype != np.uint8:
        if x.dtype == bool or not np.issubdtype(x.dtype, np.number) \
                or x.min() < 0 or x.max() > 255:
            raise ValueError(
                f"{where}: images must be pixel values 0..255 (uint8 preferred); received "
                f"dtype {x.dtype} with range [{x.min()}, {x.max()}].")
        if np.issubdtype(x.dtype, np.floating) and x.max() <= 1.0:
            raise ValueError(
                f"{where}: float images in [0, 1] look already normalised; cnnzoo models "
                f"take raw 0..255 pixels. Pass (x * 255).astype('uint8').")
        x = np.round(x).astype(np.uint8)
    return np.ascontiguousarray(x), y.astype(np.int32)


def _hold_out(images, labels, split: str, validation_split: float, seed: int, where: str):
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"validation_split must be in [0, 1); received "
                         f"validation_split={validation_split}.")
    if validation_split == 0.0:
        return images, labels
    order = np.random.default_rng(seed).permutation(len(labels))
    n_val = max(1, int(round(len(labels) * validation_split)))
    keep = order[:n_val] if split == "validation" else order[n_val:]
    keep.sort()  # keep file order inside each part; shuffling is the pipeline's job
    return images[keep], labels[keep]


def _finish(name, split, images, labels, class_names, source_path, *, validation_split,
            seed, limit, where) -> LoadedSource:
    images, labels = _validated_arrays(images, labels, where)
    if split in ("train", "validation"):
        images, labels = _hold_out(images, labels, split, validation_split, seed, where)
    if limit is not None:
        if not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a positive integer or None; received "
                             f"limit={limit!r}.")
        images, labels = images[:limit], labels[:limit]
    if class_names is None:
        class_names = tuple(str(i) for i in range(int(labels.max()) + 1))
    if labels.max() >= len(class_names):
        raise ValueError(
            f"{where}: a label is {labels.max()} but there are only {len(class_names)} "
            f"class names; pass class_names= with one name per label.")
    info = DatasetInfo(name=name, split=split, class_names=tuple(class_names),
                       image_shape=images.shape[1:], num_examples=len(labels),
                       source_path=source_path)
    return LoadedSource(info, images, labels)


def _file_split(split: str, validation_split: float, where: str) -> str:
    """The split to read from files: validation is carved out of train."""
    if split == "validation":
        if not validation_split:
            raise ValueError(
                f"{where} has no separate validation split; pass validation_split=0.1 "
                f"(say) to hold out part of the training split, with the same seed "
                f"for the 'train' and 'validation' calls.")
        return "train"
    if split not in ("train", "test"):
        raise ValueError(f"{where} has splits 'train' and 'test' (and 'validation' with "
                         f"validation_split>0); received split={split!r}.")
    return split


# ---- the kinds of source ---------------------------------------------------------------

def _from_digits(split, **kw) -> LoadedSource:
    from sklearn.datasets import load_digits

    digits = load_digits()
    # Pixels are counts 0..16; 255/16 maps them onto the 0..255 range models expect.
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    labels = digits.target.astype(np.int32)
    # Deterministic, stratified 80/20: every fifth example of each class is a test example.
    rank = np.zeros(len(labels), np.int64)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        rank[members] = np.arange(len(members))
    file_split = _file_split(split, kw["validation_split"], "digits")
    keep = (rank % 5 == 4) if file_split == "test" else (rank % 5 != 4)
    return _finish("digits", split, images[keep], labels[keep], catalog.CLASS_NAMES["digits"],
                   None, where="digits", **kw)


def _from_path(path: str, split: str, *, class_names, image_size, **kw) -> LoadedSource:
    path = os.path.abspath(os.path.expanduser(os.fspath(path)))
    name = os.path.splitext(os.path.basename(path.rstrip(os.sep)))[0] or path
    if not os.path.exists(path):
        raise FileNotFoundError(f"source path {path} does not exist.")
    if split in ("train", "test"):
        file_split = split
    else:  # "validation" is carved out of train when asked; image folders may have val/
        file_split = "train" if split == "validation" and kw["validation_split"] else None
    arrays = read_local_split(path, file_split) if file_split else None
    if arrays is not None:
        return _finish(name, split, *arrays, class_names, path, where=path, **kw)
    if os.path.isfile(path):
        raise ValueError(f"{path} is not a dataset file cnnzoo can read; pass a folder "
                         f"of IDX/CIFAR files or of class sub-folders, or a Keras .npz.")
    subdirs = {n for n in os.listdir(path) if os.path.isdir(os.path.join(path, n))}
    root = path
    if subdirs & {"train", "test"}:
        if split in subdirs:
            root = os.path.join(path, split)
        elif split == "validation" and kw["validation_split"] and "train" in subdirs:
            root = os.path.join(path, "train")
        else:
            raise ValueError(f"{path} has split folders {sorted(subdirs & set(SPLIT_FOLDERS))} "
                             f"but none named {split!r}; received split={split!r}.")
    elif split == "test":
        raise ValueError(
            f"{path} is one image folder (taken as the 'train' split) with no test/ folder; "
            f"use split='validation' with validation_split>0, or give it train/ and test/.")
    images, labels, found_names = read_image_folder(root, image_size=image_size)
    return _finish(name, split, images, labels, class_names or found_names, root,
                   where=root, **kw)


def _from_local_name(name, split, data_dir, **kw) -> tuple[LoadedSource | None, list[str]]:
    places = search_dirs(name, data_dir)
    file_split = _file_split(split, kw["validation_split"], name)
    for place in places:
        arrays = read_local_split(place, file_split) if os.path.exists(place) else None
        if arrays is not None:
            return _finish(name, split, *arrays, catalog.CLASS_NAMES[name], place,
                           where=place, **kw), places
    return None, places


def _tfds_load(name, split, data_dir, download):
    """tfds.load, kept in one place so tests can stand in for the network."""
    import tensorflow_datasets as tfds

    return tfds.load(name, split=split, as_supervised=True, with_info=True,
                     data_dir=data_dir, download=download)


def _from_tfds(name, split, ds, tinfo, image_size, limit) -> LoadedSource:
    import tensorflow as tf

    label = tinfo.features["label"]
    shape = tuple(tinfo.features["image"].shape)
    if image_size is not None:
        shape = (*image_size, shape[-1])
        ds = ds.map(lambda x, y: (tf.cast(tf.clip_by_value(tf.round(
            tf.image.resize(x, image_size)), 0, 255), tf.uint8), y))
    elif None in shape:
        raise ValueError(f"tfds dataset {name!r} has images of varying size {shape}; "
                         f"pass image_size=(height, width) to resize them.")
    ds = ds.map(lambda x, y: (tf.cast(x, tf.uint8), tf.cast(y, tf.int32)))
    try:
        num = int(tinfo.splits[split].num_examples)
    except Exception:  # split expressions tfds cannot size up front
        num = None
    if limit is not None:
        ds = ds.take(limit)
        num = min(num, limit) if num is not None else None
    info = DatasetInfo(name=name, split=split, class_names=tuple(label.names),
                       image_shape=shape, num_examples=num,
                       source_path=f"tfds:{tinfo.data_dir}")
    return LoadedSource(info, stream=ds)


def _not_found(name, places, tfds_error) -> DatasetNotFoundError:
    looked = [f"  - {p}" for p in places] + [f"  - tensorflow-datasets: {tfds_error}"]
    if name == "fashion_mnist":
        first = ("install Debian's package: sudo apt install dataset-fashion-mnist "
                 "(it puts the IDX files in /usr/share/datasets/fashion-mnist)")
    elif places:
        first = "put the dataset's files (IDX, CIFAR binary or .npz) in one of the places above"
    else:
        first = ("prepare it with tensorflow-datasets on a machine with a network and copy "
                 "its data folder (~/tensorflow_datasets) here")
    return DatasetNotFoundError(
        f"dataset {name!r} not found. Looked in:\n" + "\n".join(looked) +
        f"\nTo get it:\n  1. {first};\n"
        f"  2. pass data_dir=<folder with the files> or set ${ENV_DATA_DIR};\n"
        f"  3. connect to a network so tensorflow-datasets can download it.\n"
        f"(For a quick offline demo, 'fashion_mnist_sample' is shipped with cnnzoo.)")


def _is_path(source) -> bool:
    if isinstance(source, os.PathLike):
        return True
    return os.sep in source or source.startswith((".", "~")) or \
        (os.altsep is not None and os.altsep in source)


def load_source(source, split: str = "train", *, data_dir=None, class_names=None,
                image_size=None, download: bool = True, validation_split: float = 0.0,
                seed: int = 0, limit: int | None = None) -> LoadedSource:
    """Read ``split`` of ``source`` (a name, ``(x, y)`` arrays, or a path).

    A string with a path separator, or starting with ``.`` or ``~``, or a
    ``pathlib.Path``, is a path; any other string is a dataset name.

    Returns:
        A :class:`LoadedSource`: arrays for everything but tensorflow-datasets,
        which gives an unbatched ``tf.data.Dataset`` stream.

    Raises:
        DatasetNotFoundError: a named dataset is nowhere (lists where it looked).
        FileNotFoundError: a path does not exist.
        ValueError: bad arrays, a bad argument, corrupt or inconsistent files
            (``IdxFormatError``, ``DataFormatError``, ``ImageFolderError``).
        TypeError: ``source`` is none of the accepted kinds.
    """
    split = _check_split(split)
    kw = dict(validation_split=validation_split, seed=seed, limit=limit)
    if isinstance(source, (tuple, list)) and len(source) == 2 and not isinstance(source[0], str):
        x, y = source
        return _finish("arrays", split, x, y, class_names, None, where="arrays (x, y)", **kw)
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"source must be a dataset name, a path, or a tuple (x, y) of arrays; "
                        f"received {type(source).__name__}.")
    if _is_path(source):
        return _from_path(source, split, class_names=class_names, image_size=image_size, **kw)

    name = source.strip().lower().replace("-", "_")
    if name == "digits":
        return _from_digits(split, **kw)
    if name == catalog.SAMPLE_NAME:
        return _finish(name, split, *read_local_split(
            catalog.SAMPLE_DIR, _file_split(split, validation_split, name)),
            catalog.CLASS_NAMES[name], catalog.SAMPLE_DIR, where=catalog.SAMPLE_DIR, **kw)
    places: list[str] = []
    if name in catalog.LOCAL_FOLDER_NAMES:
        found, places = _from_local_name(name, split, data_dir, **kw)
        if found is not None:
            return found
    if validation_split:
        raise ValueError(f"validation_split applies to local data; for tfds dataset "
                         f"{name!r} use a split expression such as split='train[:90%]'.")
    try:
        ds, tinfo = _tfds_load(name, split, data_dir, download)
    except Exception as err:  # tfds raises many types: network, unknown name, checksum
        error = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        if not places and "not found" in str(err).lower():
            close = difflib.get_close_matches(name, list_local_names(), n=3)
            hint = f" Did you mean {close}?" if close else ""
            raise ValueError(
                f"unknown dataset name {source!r}: not a cnnzoo local name "
                f"{list(list_local_names())} nor a tensorflow-datasets name ({error}).{hint}"
            ) from None
        raise _not_found(name, places, error) from None
    return _from_tfds(name, split, ds, tinfo, image_size, limit)
