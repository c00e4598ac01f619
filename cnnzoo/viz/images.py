"""Grids of images with their labels: raw arrays or batches as `load_dataset` delivers them."""

import numpy as np

from cnnzoo.viz.figures import panel_grid, show_image


def as_arrays(data, *, limit=None):
    """Returns `(images, class ids, class names or None)` as NumPy arrays.

    Args:
        data: arrays `(images, labels)`, the `(dataset, info)` pair of
            `cnnzoo.load_dataset` (batches as they come out, augmentation included), or a
            `tf.data.Dataset` of `(images, labels)` batches. One-hot or mixed labels
            (mixup, cutmix) become their largest class.
        limit: stop after this many images (None: all).

    Raises:
        ValueError: anything else, or images and labels of different lengths.
    """
    class_names = None
    if isinstance(data, tuple) and len(data) == 2 and hasattr(data[1], "class_names"):
        data, class_names = data[0], list(data[1].class_names)
    if hasattr(data, "as_numpy_iterator"):
        images, labels, count = [], [], 0
        for batch in data.as_numpy_iterator():
            images.append(batch[0])
            labels.append(batch[1])
            count += len(batch[0])
            if limit is not None and count >= limit:
                break
        if not images:
            raise ValueError("the dataset yielded no images.")
        data = (np.concatenate(images), np.concatenate(labels))
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise ValueError(f"expected (images, labels) arrays, load_dataset's (dataset, info) "
                         f"or a tf.data.Dataset; received {type(data).__name__}.")
    images, labels = np.asarray(data[0]), np.asarray(data[1])
    if labels.ndim == 2:
        labels = labels.argmax(-1)
    if len(images) != len(labels):
        raise ValueError(f"images and labels differ in length: {len(images)} images, "
                         f"{len(labels)} labels.")
    if images.ndim != 4:
        raise ValueError(f"images must be (batch, height, width, channels); received shape "
                         f"{images.shape}.")
    return images[:limit], labels[:limit].astype(np.int64), class_names


def _name(class_names, index):
    return class_names[index] if class_names and 0 <= index < len(class_names) else str(index)


def plot_images(data, *, class_names=None, max_images=32, columns=8):
    """Returns a figure of images titled with their classes.

    Args:
        data: see `as_arrays`; images are raw pixels 0-255 (values an augmentation
            pushed outside are clipped for display).
        class_names: names for the labels (default: the dataset info's, else indices).
        max_images: how many images to show (the first ones).

    Returns:
        A `matplotlib.figure.Figure`.

    Raises:
        ValueError: data `as_arrays` refuses, or `max_images` below 1.
    """
    if max_images < 1:
        raise ValueError(f"max_images must be at least 1; received {max_images}.")
    images, labels, names = as_arrays(data, limit=max_images)
    names = list(class_names) if class_names else names
    figure, axes = panel_grid(len(images), columns=columns)
    for axis, image, label in zip(axes, images, labels):
        show_image(axis, image)
        axis.set_title(_name(names, int(label)), fontsize=8)
    return figure
