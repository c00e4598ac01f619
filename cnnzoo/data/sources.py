"""Turn a dataset name, arrays or a path into uint8 images, int32 labels and a DatasetInfo.

Where a named dataset comes from, in order (the first that has the files wins):

1. `data_dir=` (the folder itself, then `<data_dir>/<usual folder name>`);
2. `$CNNZOO_DATA_DIR` (the same way);
3. `~/.keras/datasets/<usual folder name>` (`$KERAS_HOME` honoured);
4. system folders, e.g. `/usr/share/datasets/fashion-mnist` (Debian's
   `dataset-fashion-mnist` package);
5. tensorflow-datasets (`tfds.load`), which reads its own prepared copy or
   downloads one when there is a network.

`validation_split` holds out part of the training split as `"validation"`. For
local data the hold-out is a seeded random choice; tensorflow-datasets sources get
split slices instead (`tfds_split`), the last part of tfds's training split.

`fashion_mnist_sample` is the small real sample shipped in the package; asking for
`fashion_mnist` never falls back to it. Everything except tensorflow-datasets and
image folders is read with NumPy alone.
"""

from __future__ import annotations

import difflib
import os
from typing import NamedTuple

import numpy as np

from cnnzoo.data import catalog
from cnnzoo.data.files import (DataFormatError, check_regular, local_format, read_local_split,
                               split_files)
from cnnzoo.data.folders import (SPLIT_FOLDERS, check_resize, list_class_names,
                                 read_image_folder)
from cnnzoo.data.info import DatasetInfo

__all__ = ["DatasetNotFoundError", "LoadedSource", "check_finite_pixels", "check_labels",
           "load_source", "list_local_names", "search_dirs", "tfds_split"]

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
    """Returns the files/folders searched for `name`, in order (they need not exist)."""
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

def _check_seed(seed) -> None:
    """Raises ValueError unless `seed` is an integer in [0, 2**63) (NumPy's and tf.data's)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or \
            not 0 <= seed < 2 ** 63:
        raise ValueError(f"seed must be an integer from 0 to 2**63-1; received seed={seed!r}.")


def _check_split(split: str) -> str:
    if not isinstance(split, str) or not split:
        raise ValueError(f"split must be a string such as 'train' or 'test'; received "
                         f"split={split!r}.")
    return split


def check_labels(labels, num_classes: int | None = None, *,
                 argument: str = "labels") -> np.ndarray:
    """Checks that `labels` are class ids: whole numbers in `[0, num_classes)`.

    The one label check in cnnzoo; data sources and training both call it.

    Args:
        labels: one label per example, shape `(N,)` or `(N, 1)`; any integer
            dtype, or floats holding whole numbers (`3.0`).
        num_classes: when given, labels must also be `< num_classes`.
        argument: what the labels are called in error messages.

    Returns:
        The labels as an int32 array of shape `(N,)`.

    Raises:
        ValueError: another shape (one-hot labels included), a label that is not a
            whole number (`0.5`, NaN), a negative label, or one `>= num_classes`.

    Example:
        >>> check_labels([0.0, 2.0, 1.0], num_classes=3)
        array([0, 2, 1], dtype=int32)
        >>> check_labels([0, 1.5])
        Traceback (most recent call last):
        ...
        ValueError: labels must be whole-number class ids; received 1.5 (dtype float64).
    """
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise ValueError(
            f"{argument} must be one class id per example, shape (N,); received shape "
            f"{labels.shape}. (One-hot labels: pass y.argmax(axis=1).)")
    if not labels.size:
        return labels.astype(np.int32)
    if labels.dtype == object:  # e.g. a pandas column of Python ints
        try:
            labels = labels.astype(np.float64)
        except (TypeError, ValueError):
            pass
    if labels.dtype.kind not in "biuf":  # Complex ids too: np.mod cannot take them.
        raise ValueError(f"{argument} must be whole-number class ids; received dtype "
                         f"{labels.dtype}.")
    if not np.issubdtype(labels.dtype, np.integer) and labels.dtype != bool:
        with np.errstate(invalid="ignore"):  # NaN and inf count as fractional
            fractional = ~np.equal(np.mod(labels, 1), 0)
        if fractional.any():
            raise ValueError(f"{argument} must be whole-number class ids; received "
                             f"{labels[fractional][0]} (dtype {labels.dtype}).")
    if labels.min() < 0:
        raise ValueError(f"{argument} must be >= 0 (class ids); received a label "
                         f"{labels.min()}.")
    if num_classes is not None:
        bad = labels[labels >= num_classes]
        if bad.size:
            raise ValueError(
                f"{argument} must be class ids 0..{num_classes - 1} for {num_classes} "
                f"classes; received {bad[0]} ({bad.size} of {labels.size} labels out of "
                f"range). Pass num_classes= to match the data.")
    if labels.max() > np.iinfo(np.int32).max:
        raise ValueError(f"{argument} must be class ids below 2**31; received "
                         f"{labels.max()}.")
    return labels.astype(np.int32)


def check_finite_pixels(images, *, argument: str = "images") -> None:
    """Checks that no pixel of a batch of float `images` is NaN or infinite.

    One NaN pixel makes a convolution's kernel NaN at the first gradient step, and
    converting it to uint8 would silently make it 0, so such images are refused.
    Integer images always pass.

    Args:
        images: an array `(N, ...)` of pixel values.
        argument: what the images are called in the error message.

    Raises:
        ValueError: how many values in how many images are NaN or infinite, the index
            of the first such image, and how to replace or drop them.

    Example:
        >>> check_finite_pixels(np.array([[1.0, 2.0], [3.0, np.nan]]), argument="x")
        Traceback (most recent call last):
        ...
        ValueError: x has 1 NaN or infinite pixel values in 1 of 2 images, the first in \
image 1 (counting from 0); ... Replace them, e.g. x = np.nan_to_num(x, ...
    """
    images = np.asarray(images)
    if images.dtype.kind != "f" or not images.size or images.ndim < 1:
        return
    # min and max propagate NaN: when all is well, two passes and no extra memory.
    if np.isfinite(images.min()) and np.isfinite(images.max()):
        return
    bad = ~np.isfinite(images.reshape(len(images), -1))
    bad_images = np.flatnonzero(bad.any(axis=1))
    raise ValueError(
        f"{argument} has {int(bad.sum())} NaN or infinite pixel values in "
        f"{len(bad_images)} of {len(images)} images, the first in image {bad_images[0]} "
        f"(counting from 0); one such pixel makes the model's weights NaN when it trains. "
        f"Replace them, e.g. x = np.nan_to_num(x, nan=0.0, posinf=255.0, neginf=0.0), or "
        f"drop those images: keep = np.isfinite(x).reshape(len(x), -1).all(axis=1); "
        f"x, y = x[keep], y[keep].")


# What to do with images that have channels no model takes.
_CHANNEL_FIXES = {2: "gray+alpha: keep the gray channel, x[..., :1]",
                  4: "RGBA: drop the alpha channel, x[..., :3]"}


def _validated_arrays(x, y, where: str):
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(
            f"{where}: images must have shape (N, H, W) or (N, H, W, C); received shape "
            f"{x.shape}.")
    if x.shape[-1] not in (1, 3):
        fix = _CHANNEL_FIXES.get(x.shape[-1], "pass (N, H, W, 1) gray or (N, H, W, 3) RGB")
        raise ValueError(
            f"{where}: images must have 1 (gray) or 3 (RGB) channels, the inputs cnnzoo "
            f"models take; received shape {x.shape} with {x.shape[-1]} channels. "
            f"Fix: {fix}.")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(
            f"{where}: labels must be one integer per image, shape ({len(x)},); received "
            f"shape {y.shape}. (One-hot labels: pass y.argmax(axis=1).)")
    if len(x) == 0:
        raise ValueError(f"{where}: received 0 images; there is nothing to train or "
                         f"evaluate on. Pass at least one image.")
    y = check_labels(y, argument=f"{where}: labels")
    if x.dtype != np.uint8:
        numeric = x.dtype.kind in "iuf"  # Not bool, not complex (a cast drops the imaginary).
        if numeric:
            check_finite_pixels(x, argument=f"{where}: images")
        if not numeric or x.min() < 0 or x.max() > 255:
            raise ValueError(
                f"{where}: images must be pixel values 0..255 (uint8 preferred); received "
                f"dtype {x.dtype} with range [{x.min()}, {x.max()}].")
        if np.issubdtype(x.dtype, np.floating) and x.max() <= 1.0:
            raise ValueError(
                f"{where}: float images in [0, 1] look already normalised; cnnzoo models "
                f"take raw 0..255 pixels. Pass (x * 255).astype('uint8').")
        x = np.round(x).astype(np.uint8)
    return np.ascontiguousarray(x), y


def _hold_out(images, labels, split: str, validation_split: float, seed: int, where: str):
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"validation_split must be in [0, 1); received "
                         f"validation_split={validation_split}.")
    if validation_split == 0.0:
        return images, labels
    order = np.random.default_rng(seed).permutation(len(labels))
    n_val = max(1, int(round(len(labels) * validation_split)))
    if n_val == len(labels):
        raise ValueError(
            f"{where}: validation_split={validation_split} of {len(labels)} images holds "
            f"out every image and leaves none to train on; use a smaller validation_split "
            f"or more images.")
    keep = order[:n_val] if split == "validation" else order[n_val:]
    keep.sort()  # keep file order inside each part; shuffling is the pipeline's job
    return images[keep], labels[keep]


def _check_class_names(class_names, where: str) -> tuple[str, ...]:
    """Returns `class_names` as a tuple of strings.

    Raises:
        ValueError: a name given twice (two labels would print as one class).
    """
    names = tuple(str(name) for name in class_names)
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"{where}: class_names must name each class once; {repeated} "
                         f"appear(s) more than once in {list(names)}. Pass one distinct name "
                         f"per label.")
    return names


# Classes without an example that labels may imply before their gap is refused (when
# they are also more than half): small fixtures with labels such as {1, 7} still pass.
_MAX_EMPTY_CLASSES = 10


def _implied_class_names(labels, where: str) -> tuple[str, ...]:
    """Returns names "0".."K-1" for labels without class names, K = the largest label + 1.

    Raises:
        ValueError: more than half of those K classes, and more than
            `_MAX_EMPTY_CLASSES`, have no example, so the largest label is taken to be a
            mistake (one label 200 among 0..9 would make a 201-class model); the message
            names it.
    """
    present = np.unique(labels)
    implied = int(present[-1]) + 1
    empty = implied - len(present)
    if empty > _MAX_EMPTY_CLASSES and empty > len(present):
        raise ValueError(
            f"{where}: the largest label, {int(present[-1])} "
            f"({int(np.sum(labels == present[-1]))} example(s)), implies {implied} classes "
            f"but only {len(present)} of them have any example; a typo or a label from "
            f"another dataset? Fix or drop those examples, or pass class_names= with one "
            f"name per class if the classes are meant.")
    return tuple(str(i) for i in range(implied))


def _finish(name, split, images, labels, class_names, source_path, *, validation_split,
            seed, limit, where) -> LoadedSource:
    images, labels = _validated_arrays(images, labels, where)
    # From the whole split, before the hold-out and `limit`, which must not change them.
    class_names = (_implied_class_names(labels, where) if class_names is None
                   else _check_class_names(class_names, where))
    if split in ("train", "validation"):
        images, labels = _hold_out(images, labels, split, validation_split, seed, where)
    if limit is not None:
        if not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a positive integer or None; received "
                             f"limit={limit!r}.")
        images, labels = images[:limit], labels[:limit]
    if labels.max() >= len(class_names):
        raise ValueError(
            f"{where}: a label is {labels.max()} but there are only {len(class_names)} "
            f"class names; pass class_names= with one name per label.")
    info = DatasetInfo(name=name, split=split, class_names=tuple(class_names),
                       image_shape=images.shape[1:], num_examples=len(labels),
                       source_path=source_path)
    return LoadedSource(info, images, labels)


def _file_split(split: str, validation_split: float, what: str) -> str:
    """The split to read from files: validation is carved out of train.

    `what` names the data in the user's terms: `"digits"`, `"IDX data in <folder>"`.
    """
    if split == "validation":
        if not validation_split:
            raise ValueError(
                f"split='validation' needs validation_split>0 for {what}, which has no "
                f"separate validation split; pass validation_split=0.1 (say) to hold out "
                f"part of the training split, with the same seed for the 'train' and "
                f"'validation' calls.")
        return "train"
    if split not in ("train", "test"):
        raise ValueError(f"{what} has splits 'train' and 'test' (and 'validation' with "
                         f"validation_split>0); received split={split!r}.")
    return split


def tfds_split(split: str, validation_split: float) -> str:
    """The tensorflow-datasets split expression for `split` with a hold-out.

    With `validation_split=v`, `"train"` becomes the first `100*(1-v)` percent of
    tfds's training split and `"validation"` the rest. Both slices use the same
    boundary, which tfds rounds once to the closest example, so the two parts never
    overlap and together are the whole training split; the validation part has
    `round(N * v)` examples give or take one. The boundary is kept to 4 decimals of a
    percent. Unlike local data, the hold-out is the end of tfds's (fixed) order, not a
    seeded choice. Other splits are passed through unchanged.

    Raises:
        ValueError: `validation_split` outside [0, 1), one that rounds to 0% or 100%,
            or a hold-out asked of a split expression other than "train"/"validation".

    Example:
        >>> tfds_split("train", 0.1), tfds_split("validation", 0.1), tfds_split("test", 0.1)
        ('train[:90%]', 'train[90%:]', 'test')
        >>> tfds_split("validation", 0.125), tfds_split("train[:50%]", 0.0)
        ('train[87.5%:]', 'train[:50%]')
    """
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"validation_split must be in [0, 1); received "
                         f"validation_split={validation_split}.")
    if not validation_split or split not in ("train", "validation"):
        if validation_split and "[" in split:
            raise ValueError(
                f"validation_split carves 'validation' out of 'train'; it cannot be "
                f"combined with the split expression split={split!r}. Pass "
                f"split='train' or 'validation', or slice yourself with "
                f"validation_split=0.")
        return split
    # round() first: 100 * (1 - 0.07) is 93.00000000000001 in floating point.
    boundary = round(100.0 * (1.0 - validation_split), 4)
    if not 0.0 < boundary < 100.0:
        raise ValueError(f"validation_split={validation_split} rounds to a {100 - boundary:g}% "
                         f"hold-out; pass a fraction between 0.000001 and 0.999999.")
    percent = f"{boundary:.4f}".rstrip("0").rstrip(".")
    return f"train[:{percent}%]" if split == "train" else f"train[{percent}%:]"


# ---- the kinds of source ---------------------------------------------------------------

def _from_digits(split, **kw) -> LoadedSource:
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:
        raise ImportError(
            f"the 'digits' dataset comes from scikit-learn, which cannot be imported "
            f"({err}); install it with: pip install scikit-learn") from None

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


# Formats that fix their classes; an IDX or .npz file may hold any.
_FORMAT_CLASSES = {"CIFAR-10 binary": catalog.CLASS_NAMES["cifar10"],
                   "CIFAR-10 python": catalog.CLASS_NAMES["cifar10"],
                   "CIFAR-100 binary": catalog.CLASS_NAMES["cifar100"],
                   "CIFAR-100 python": catalog.CLASS_NAMES["cifar100"]}


def _from_path(path: str, split: str, *, class_names, image_size, **kw) -> LoadedSource:
    path = os.path.abspath(os.path.expanduser(os.fspath(path)))
    name = os.path.splitext(os.path.basename(path.rstrip(os.sep)))[0] or path
    if not os.path.exists(path):
        raise FileNotFoundError(f"source path {path} does not exist.")
    check_regular(path)
    data_format = local_format(path)
    if data_format is not None:
        # Data files: check the split against what the files hold before reading, so an
        # IDX or CIFAR folder never falls through to the image-folder reader's errors.
        file_split = _file_split(split, kw["validation_split"], f"{data_format} data in {path}")
        arrays = read_local_split(path, file_split)
        if arrays is None:
            raise DataFormatError(
                f"no {split_files(data_format, file_split)} for split {split!r} in {path} "
                f"(it holds {data_format} files for another split). Add that split's "
                f"files, or use split='validation' with validation_split>0 to hold out "
                f"part of the training split.")
        return _finish(name, split, *arrays, class_names or _FORMAT_CLASSES.get(data_format),
                       path, where=path, **kw)
    if os.path.isfile(path):
        raise ValueError(f"{path} is not a dataset file cnnzoo can read; pass a folder "
                         f"of IDX/CIFAR files or of class sub-folders, or a Keras .npz.")
    subdirs = {n for n in os.listdir(path) if os.path.isdir(os.path.join(path, n))}
    root, labels_from = path, None
    if subdirs & {"train", "test"}:
        if split in subdirs:
            root = os.path.join(path, split)
        elif split == "validation" and kw["validation_split"] and "train" in subdirs:
            root = os.path.join(path, "train")
        else:
            raise ValueError(f"{path} has split folders {sorted(subdirs & set(SPLIT_FOLDERS))} "
                             f"but none named {split!r}; received split={split!r}.")
        if "train" in subdirs:
            # One class -> label mapping for every split, the training split's (as tfds).
            labels_from = list_class_names(os.path.join(path, "train"))
    elif split == "test":
        raise ValueError(
            f"{path} is one image folder (taken as the 'train' split) with no test/ folder; "
            f"use split='validation' with validation_split>0, or give it train/ and test/.")
    images, labels, found_names = read_image_folder(root, image_size=image_size,
                                                    class_names=labels_from)
    return _finish(name, split, images, labels, class_names or found_names, root,
                   where=root, **kw)


def _from_local_name(name, split, data_dir, **kw) -> tuple[LoadedSource | None, list[str]]:
    """The first local copy of `name` that holds `split`, and the places searched.

    A place holding the dataset's files but not this split is listed with what it
    lacks, so the not-found error says why it was passed over.
    """
    places = search_dirs(name, data_dir)
    if "[" in split:  # a tfds split expression ("train[:50%]"): only tfds serves those
        return None, places
    file_split = _file_split(split, kw["validation_split"], name)
    searched = []
    for place in places:
        arrays = read_local_split(place, file_split) if os.path.exists(place) else None
        if arrays is not None:
            return _finish(name, split, *arrays, catalog.CLASS_NAMES[name], place,
                           where=place, **kw), places
        data_format = local_format(place)
        searched.append(place if data_format is None else
                        f"{place} ({data_format} files, but no "
                        f"{split_files(data_format, file_split)} for split {split!r})")
    return None, searched


def _tfds_load(name, split, data_dir, download):
    """tfds.load, kept in one place so tests can stand in for the network."""
    import tensorflow_datasets as tfds

    return tfds.load(name, split=split, as_supervised=True, with_info=True,
                     data_dir=data_dir, download=download)


def _from_tfds(name, split, tfds_expression, ds, tinfo, image_size, limit) -> LoadedSource:
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
        num = int(tinfo.splits[tfds_expression].num_examples)
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
    """Reads `split` of `source` (a name, `(x, y)` arrays, or a path).

    A string with a path separator, or starting with `.` or `~`, or a
    `pathlib.Path`, is a path; any other string is a dataset name.

    A name is resolved in order: cnnzoo's local names and files (see the module
    docstring), then tensorflow-datasets, where `validation_split` becomes split
    slices (`tfds_split`).

    Returns:
        A `LoadedSource`: arrays for everything but tensorflow-datasets,
        which gives an unbatched `tf.data.Dataset` stream.

    Raises:
        DatasetNotFoundError: a named dataset is nowhere (lists where it looked).
        FileNotFoundError: a path does not exist.
        ImportError: `"digits"` without scikit-learn installed.
        ValueError: bad arrays (NaN or infinite pixels, no images), a bad argument,
            corrupt or inconsistent files (`IdxFormatError`, `DataFormatError`,
            `ImageFolderError`), or a path to a device or FIFO (`DataFormatError`).
        TypeError: `source` is none of the accepted kinds.
    """
    split = _check_split(split)
    _check_seed(seed)
    image_size = check_resize(image_size)
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
    tfds_expression = tfds_split(split, validation_split)
    try:
        ds, tinfo = _tfds_load(name, tfds_expression, data_dir, download)
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
    return _from_tfds(name, split, tfds_expression, ds, tinfo, image_size, limit)
