"""What `fit` and `evaluate` accept as data, and the checks made before any training.

Data is one of:
- a `tf.data.Dataset` of `(images, labels)` batches;
- the `(dataset, info)` pair `cnnzoo.data.load_dataset` returns (the info supplies the
  class names and the number of classes);
- a pair of arrays `(images, labels)`, which also works on Keras's JAX backend.

Images are raw pixels (B, H, W, C); labels are integer class ids, or one-hot / mixed rows.

Arrays are checked whole before training (pixels finite and in 0..255, labels in range).
A dataset's first batch is checked the same way up front, and `check_every_batch` checks
every later batch as the input pipeline reads it (the same rules, and the first batch's
image shape); `raising_batch_errors` turns a failed check into a `ValueError` with the
batch, the value and the fix.
"""

import contextlib
import dataclasses
import re

import numpy as np

from cnnzoo.data.sources import check_finite_pixels, check_labels

# Starts the message of a failed per-batch check, so it can be told from TF's other errors.
_CHECK_FAILED = "cnnzoo batch check: "
# TF's Assert prints its message as "assertion failed: [<message>]" on one line.
_CHECK_MESSAGE = re.compile(re.escape(_CHECK_FAILED) + r"(.*)\]")


@dataclasses.dataclass
class Data:
    """Data in the form Keras takes, with what is known about it."""

    data: object              # a tf.data.Dataset, or (images, labels) arrays
    info: object = None       # a cnnzoo.data.DatasetInfo, when known
    is_arrays: bool = False
    argument: str = "train"   # what the data is called in error messages
    image_shape: tuple = None  # (H, W, C) of the first batch, once `first_batch` read it

    @property
    def class_names(self):
        return tuple(self.info.class_names) if self.info is not None else None

    @property
    def num_classes(self):
        return self.info.num_classes if self.info is not None else None


def _is_dataset(value):
    return type(value).__module__.startswith("tensorflow") and hasattr(value, "element_spec")


def as_data(value, *, argument="train"):
    """Returns `value` as `Data`.

    Raises:
        ValueError: anything other than the three accepted forms, arrays of unequal length,
            no images, or images with NaN or infinite pixels or pixels outside 0..255.
        TypeError: complex, string or other non-numeric images.
    """
    if _is_dataset(value):
        return Data(value, argument=argument)
    if isinstance(value, tuple) and len(value) == 2:
        first, second = value
        if _is_dataset(first):
            return Data(first, info=second, argument=argument)
        if hasattr(first, "shape") and hasattr(second, "shape"):
            images, labels = np.asarray(first), np.asarray(second)
            if len(images) != len(labels):
                raise ValueError(f"{argument} has {len(images)} images but {len(labels)} "
                                 "labels; they must pair up one to one.")
            if not len(images):
                raise ValueError(f"{argument} has 0 images; there is nothing to train or "
                                 "evaluate on. Pass at least one image.")
            _check_pixel_dtype(images.dtype, argument)
            # Checked after the cast: float64 pixels beyond float32's range become inf.
            with np.errstate(over="ignore"):  # refused just below, with a clearer message
                images = images.astype("float32")
            check_finite_pixels(images, argument=argument)
            _check_pixel_range(images, argument)
            return Data((images, labels), is_arrays=True, argument=argument)
    raise ValueError(
        f"{argument} must be a tf.data.Dataset of (images, labels), the (dataset, info) pair "
        f"from cnnzoo.load_dataset, or a tuple of arrays (images, labels); received "
        f"{type(value).__name__}.")


def _check_pixel_dtype(dtype, argument):
    """Raises TypeError unless `dtype` (NumPy or TensorFlow) holds real pixel values.

    NumPy object arrays pass: the cast to float32 that follows says whether they hold
    numbers.
    """
    if isinstance(dtype, np.dtype):
        real = dtype.kind in "biufO"
    else:
        real = dtype.is_floating or dtype.is_integer or dtype.is_bool
    if not real:
        raise TypeError(f"{argument} has images of dtype {dtype.name}; images must be real "
                        "pixel values 0..255 (uint8 or float32), not complex or text.")


def _check_pixel_range(images, argument):
    """Raises ValueError when a pixel of finite `images` lies outside 0..255."""
    low, high = images.min(), images.max()
    if low < 0 or high > 255:
        bad = ((images < 0) | (images > 255)).reshape(len(images), -1).any(axis=1)
        raise ValueError(
            f"{argument} has pixel values outside 0..255 (from {low:g} to {high:g}) in "
            f"{int(bad.sum())} of {len(images)} images, the first in image "
            f"{int(np.argmax(bad))} (counting from 0); cnnzoo models take raw pixels 0..255 "
            "and normalise inside. Pass the images as loaded, or clip them: "
            "np.clip(x, 0, 255).")


def first_batch(data, batch_size=256):
    """Returns `(images, labels)` of the first batch as NumPy arrays (all labels for arrays).

    Records the images' shape in `data.image_shape`, the shape `check_every_batch` then
    holds every batch to.

    Raises:
        ValueError: a dataset with no batches, or an empty first batch, or one with NaN,
            infinite or out-of-range (not 0..255) pixels.
        TypeError: a dataset of complex or text images.
    """
    if data.is_arrays:
        images, labels = data.data
        data.image_shape = tuple(images.shape[1:])
        return images[:batch_size], labels
    spec = data.data.element_spec
    if isinstance(spec, tuple) and hasattr(spec[0], "dtype"):
        _check_pixel_dtype(spec[0].dtype, data.argument)
    batch = next(iter(data.data.take(1).as_numpy_iterator()), None)
    if batch is None or not len(batch[0]):
        raise ValueError(
            f"{data.argument} has no examples: the dataset is empty (a filter that keeps "
            "nothing? a split or shard with no files?), so there is nothing to train or "
            "evaluate on. Check it yields batches, e.g. with next(iter(dataset)).")
    images, labels = batch[:2]
    check_finite_pixels(images, argument=f"{data.argument} batch 0")
    _check_pixel_range(images, f"{data.argument} batch 0")
    data.image_shape = tuple(images.shape[1:])
    return images, labels


def infer_num_classes(data, labels):
    """Returns the number of classes from the data's info or its one-hot labels, else None."""
    if data.num_classes:
        return data.num_classes
    if labels.ndim == 2 and labels.shape[-1] > 1:
        return int(labels.shape[-1])
    return None


def check_batch(images, labels, *, input_shape, num_classes, model_name, argument="train"):
    """Checks a batch against the model before training or evaluating starts.

    Raises:
        ValueError: images of another shape than the model takes, or labels the model
            cannot take (see `check_model_labels`).
    """
    image_shape = tuple(images.shape[1:])
    if image_shape != tuple(input_shape):
        raise ValueError(
            f"{argument} has images of shape {image_shape} but {model_name} takes "
            f"{tuple(input_shape)}. Build the model with input_shape={image_shape}, or "
            f"resize the images to {tuple(input_shape)}.")
    check_model_labels(labels, num_classes=num_classes, model_name=model_name,
                       argument=argument)


def check_model_labels(labels, *, num_classes, model_name, argument="train"):
    """Checks labels against a model predicting `num_classes` classes.

    Labels are one-hot (or mixed) rows of width `num_classes`, or class ids checked by
    `cnnzoo.data.check_labels`.

    Raises:
        ValueError: one-hot rows of another width, labels that are not whole-number class
            ids, or class ids outside `[0, num_classes)`.
    """
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[-1] > 1:
        if labels.shape[-1] != num_classes:
            raise ValueError(f"{argument} has one-hot labels for {labels.shape[-1]} classes "
                             f"but {model_name} predicts {num_classes}.")
        return
    class_ids = check_labels(labels, argument=f"{argument} labels")
    bad = class_ids[class_ids >= num_classes]
    if bad.size:
        raise ValueError(
            f"{argument} has labels outside [0, {num_classes}) for {model_name} with "
            f"{num_classes} classes, e.g. {int(bad[0])} ({bad.size} of {class_ids.size} "
            "checked). Labels must be class ids 0..num_classes-1; pass num_classes= to "
            "match the data.")


def steps_per_epoch_of(data, batch_size):
    """Returns the batches in one pass over `data`, or None when the dataset cannot say."""
    if data.is_arrays:
        return -(-len(data.data[0]) // batch_size)
    cardinality = int(data.data.cardinality())
    return cardinality if cardinality > 0 else None


def check_every_batch(data, *, num_classes, model_name):
    """Returns `data` with each batch of its dataset checked as the pipeline reads it.

    Only the first batch is looked at before training; this catches, in any later batch,
    a NaN or infinite pixel, a pixel outside 0..255, images of another shape than the
    first batch's (`data.image_shape`, read by `first_batch` when not yet known), or a
    label that is no class id of the model, which would otherwise train silently into a
    NaN or wrong model or fail deep inside TensorFlow. The checks are a few reductions per
    batch inside `tf.data` (`bench/bench_batch_checks.py` measures them); the message is
    only built for a failing batch. Arrays, checked whole by `as_data`, come back
    unchanged.

    Args:
        data: a `Data`.
        num_classes: the classes the model predicts.
        model_name: the model's name, for messages.

    Returns:
        A `Data` whose dataset fails on a bad batch with an error that
        `raising_batch_errors` turns into a `ValueError` (messages hold no quotes, which
        TensorFlow would print escaped).
    """
    if data.is_arrays:
        return data
    import tensorflow as tf

    if data.image_shape is None:
        first_batch(data)
    image_shape = tuple(data.image_shape)
    where = f"{_CHECK_FAILED}{data.argument} batch {{}} (counting from 0)"

    def shape_check(index, images):
        if images.shape[1:].is_fully_defined():  # Known when the pipeline is built.
            if tuple(images.shape[1:]) != image_shape:
                raise ValueError(
                    f"{data.argument} has batches of images of shape "
                    f"{tuple(images.shape[1:])} but its first batch has {image_shape}; "
                    "every batch must have the shape the model is built for. Resize them "
                    "in the pipeline (tf.image.resize).")
            return None
        shape = tf.shape(images)[1:]
        ok = tf.cond(tf.size(shape) == len(image_shape), lambda: tf.reduce_all(
            tf.equal(shape, tf.constant(image_shape, shape.dtype))), lambda: False)
        return _fail_unless(ok, lambda: (False, tf.strings.format(
            where + " has images of shape {} but batch 0 has "
            f"{list(image_shape)}, the shape the model is built for; every batch must "
            "have it. Resize them in the pipeline (tf.image.resize) or drop them.",
            (index, tf.shape(images)[1:]))))

    def pixels_check(index, images):
        floating = images.dtype.is_floating

        def failure():
            bad = (images < 0) | (images > 255)  # False for NaN: counted below.
            finite = tf.math.is_finite(images) if floating else tf.ones_like(bad)
            non_finite = tf.reduce_sum(tf.cast(~finite, tf.int64))
            bad = bad | ~finite
            per_image = tf.reduce_any(tf.reshape(bad, [tf.shape(images)[0], -1]), axis=1)
            first = tf.argmax(tf.cast(per_image, tf.int8))  # 0 when none is bad
            in_range = tf.boolean_mask(images, finite)
            return ~tf.reduce_any(bad), tf.where(
                non_finite > 0,
                tf.strings.format(
                    where + " has {} NaN or infinite pixel values, the first in image {} "
                    "of the batch; one such pixel turns the weights into NaN. Replace them "
                    "(tf.where(tf.math.is_finite(x), x, 0.0) in the pipeline, np.nan_to_num "
                    "on arrays) or drop those images.", (index, non_finite, first)),
                tf.strings.format(
                    where + " has pixel values outside 0..255 (from {} to {}) in {} of its "
                    "images, the first in image {} of the batch; cnnzoo models take raw "
                    "pixels 0..255 and normalise inside. Feed the pixels as loaded, or clip "
                    "them (tf.clip_by_value(x, 0, 255)).",
                    (index, tf.reduce_min(in_range), tf.reduce_max(in_range),
                     tf.reduce_sum(tf.cast(per_image, tf.int64)), first)))

        ok = (tf.reduce_min(images) >= 0) & (tf.reduce_max(images) <= 255)
        if floating:
            # A sum is finite when every pixel is, and costs less than is_finite on each
            # pixel (NaN is not certain to reach a min or max). float16 sums are taken in
            # float32, whose range 255-valued pixels never exceed.
            wide = images if images.dtype.size >= 4 else tf.cast(images, tf.float32)
            ok = ok & tf.math.is_finite(tf.reduce_sum(wide))
        return _fail_unless(ok, failure)

    def labels_check(index, labels):
        if labels.shape.rank == 2 and labels.shape[-1] != 1:
            if not labels.dtype.is_floating:
                return None
            finite = tf.math.is_finite(labels)  # one-hot or mixed rows: only NaN is wrong
            return _fail_unless(tf.reduce_all(finite), lambda: (False, tf.strings.format(
                where + " has {} NaN or infinite label values; one-hot or mixed labels "
                "must be finite. Fix or drop those examples.",
                (index, tf.reduce_sum(tf.cast(~finite, tf.int64))))))
        # Wide types: num_classes=1000 does not fit uint8, and bool labels do not compare.
        ids = tf.cast(tf.reshape(labels, [-1]),
                      tf.float64 if labels.dtype.is_floating else tf.int64)

        def bad_ids():
            bad = (ids < 0) | (ids >= num_classes)
            # 0.5 and NaN are no class ids either.
            return bad | tf.not_equal(ids, tf.floor(ids)) if ids.dtype.is_floating else bad

        # Integer ids: min and max suffice, and the mask is made only for a failing batch.
        ok = ~tf.reduce_any(bad_ids()) if ids.dtype.is_floating else \
            (tf.reduce_min(ids) >= 0) & (tf.reduce_max(ids) < num_classes)

        def failure():
            bad = bad_ids()
            return False, tf.strings.format(
                where + " has label {} at position {} ({} of {} labels in the batch), "
                f"which is no class id 0..{num_classes - 1} of {model_name} with "
                f"{num_classes} classes. Fix or drop those examples, or pass num_classes= "
                "to match the data.",
                (index, tf.boolean_mask(ids, bad)[0], tf.where(bad)[0, 0],
                 tf.reduce_sum(tf.cast(bad, tf.int64)), tf.size(ids)))

        return _fail_unless(ok, failure)

    def check(index, batch):
        images, labels = batch[0], batch[1]
        checks = [labels_check(index, labels), shape_check(index, images)]
        if images.dtype not in (tf.uint8, tf.bool):  # Those are always in range.
            checks.append(pixels_check(index, images))
        with tf.control_dependencies([c for c in checks if c is not None]):
            return (tf.identity(images), tf.identity(labels), *batch[2:])

    dataset = data.data.enumerate().map(check, num_parallel_calls=tf.data.AUTOTUNE,
                                        deterministic=True)
    return dataclasses.replace(data, data=dataset.prefetch(tf.data.AUTOTUNE))


def _fail_unless(ok, failure):
    """Returns a tensor that fails when `ok` is False and `failure()` confirms it.

    `failure` returns `(exact ok, message)`; it only runs (in a `tf.cond` branch) when
    the quick check `ok` fails, so a passing batch costs no more than computing `ok`.
    """
    import tensorflow as tf

    def fail():
        exact_ok, message = failure()
        with tf.control_dependencies([tf.debugging.Assert(exact_ok, [message])]):
            return tf.constant(False)

    return tf.cond(ok, lambda: tf.constant(True), fail)


@contextlib.contextmanager
def raising_batch_errors():
    """Re-raises a failed `check_every_batch` check as a `ValueError` with its message.

    TensorFlow reports it as an `InvalidArgumentError` with graph and node noise; other
    errors pass through unchanged.

    Raises:
        ValueError: a batch failed a check (the message names the batch and the value).
    """
    try:
        yield
    except Exception as error:
        found = _CHECK_MESSAGE.search(str(error))
        if found is None:
            raise
        raise ValueError(found.group(1)) from None
