"""What `fit` and `evaluate` accept as data, and the checks made before any training.

Data is one of:
- a `tf.data.Dataset` of `(images, labels)` batches;
- the `(dataset, info)` pair `cnnzoo.data.load_dataset` returns (the info supplies the
  class names and the number of classes);
- a pair of arrays `(images, labels)`, which also works on Keras's JAX backend.

Images are raw pixels (B, H, W, C); labels are integer class ids, or one-hot / mixed rows.
"""

import dataclasses

import numpy as np

from cnnzoo.data.sources import check_labels


@dataclasses.dataclass
class Data:
    """Data in the form Keras takes, with what is known about it."""

    data: object              # a tf.data.Dataset, or (images, labels) arrays
    info: object = None       # a cnnzoo.data.DatasetInfo, when known
    is_arrays: bool = False

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
        ValueError: anything other than the three accepted forms, or arrays of unequal length.
    """
    if _is_dataset(value):
        return Data(value)
    if isinstance(value, tuple) and len(value) == 2:
        first, second = value
        if _is_dataset(first):
            return Data(first, info=second)
        if hasattr(first, "shape") and hasattr(second, "shape"):
            images, labels = np.asarray(first), np.asarray(second)
            if len(images) != len(labels):
                raise ValueError(f"{argument} has {len(images)} images but {len(labels)} "
                                 "labels; they must pair up one to one.")
            return Data((images.astype("float32"), labels), is_arrays=True)
    raise ValueError(
        f"{argument} must be a tf.data.Dataset of (images, labels), the (dataset, info) pair "
        f"from cnnzoo.load_dataset, or a tuple of arrays (images, labels); received "
        f"{type(value).__name__}.")


def first_batch(data, batch_size=256):
    """Returns `(images, labels)` of the first batch as NumPy arrays (all labels for arrays)."""
    if data.is_arrays:
        images, labels = data.data
        return images[:batch_size], labels
    images, labels = next(iter(data.data.take(1).as_numpy_iterator()))[:2]
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
