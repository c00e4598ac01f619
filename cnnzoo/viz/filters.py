"""What the convolutions learned: first-layer filters and any layer's feature maps."""

import keras
import numpy as np

from cnnzoo.viz.figures import panel_grid, show_image
from cnnzoo.viz.layers import feature_maps, find_layer, first_convolution


def first_layer_filters(model):
    """Returns `(name, kernel)`: the first `Conv2D`'s kernel `(kh, kw, in, out)`, float32.

    Raises:
        ValueError: a model without a `Conv2D`.

    Example:
        >>> import cnnzoo
        >>> name, kernel = first_layer_filters(cnnzoo.build("mnist_cnn"))
        >>> name, kernel.shape
        ('conv1', (3, 3, 1, 32))
    """
    name, layer = first_convolution(model)
    return name, np.asarray(keras.ops.convert_to_numpy(layer.kernel), np.float32)


def plot_filters(model, *, max_filters=64, columns=8):
    """Returns a figure of the first convolution's filters, one panel each.

    A filter on RGB input is drawn in colour; on one channel, in gray; each is scaled to
    its own range (mid-gray or mid-colour is zero weight, so the same colour means
    different weights in different panels).

    Raises:
        ValueError: a model without a `Conv2D`, or `max_filters` below 1.
    """
    if max_filters < 1:
        raise ValueError(f"max_filters must be at least 1; received {max_filters}.")
    name, kernel = first_layer_filters(model)
    count = min(kernel.shape[-1], max_filters)
    figure, axes = panel_grid(count, columns=columns, size=1.0, title_space=0.1)
    for index, axis in enumerate(axes):
        weights = kernel[..., index]
        if weights.shape[-1] != 3:
            weights = weights[..., :1]  # Gray input, or the first channel of many.
        span = np.abs(weights).max() or 1.0
        show_image(axis, (weights / span + 1) * 127.5)
    figure.suptitle(f"{model.name} {name}: {count} of {kernel.shape[-1]} filters "
                    f"{kernel.shape[0]}x{kernel.shape[1]}x{kernel.shape[2]}", fontsize=10)
    return figure


def plot_feature_maps(model, image, layer=None, *, max_maps=16, columns=8):
    """Returns a figure of a layer's feature maps for one image, one panel per channel.

    Args:
        model: a Keras CNN taking raw pixels.
        image: one image of raw pixels.
        layer: a name from `cnnzoo.viz.layer_names(model)`; None for the last one.
        max_maps: the number of channels shown (the first ones).

    Returns:
        A `matplotlib.figure.Figure`.

    Raises:
        ValueError: a bad layer name or image, or `max_maps` below 1.
    """
    if max_maps < 1:
        raise ValueError(f"max_maps must be at least 1; received {max_maps}.")
    name, _ = find_layer(model, layer)
    maps = feature_maps(model, image, name)
    count = min(maps.shape[-1], max_maps)
    figure, axes = panel_grid(count, columns=columns, size=1.2, title_space=0.1)
    for index, axis in enumerate(axes):
        axis.imshow(maps[..., index], cmap="viridis", interpolation="nearest")
    figure.suptitle(f"{model.name} {name}: {count} of {maps.shape[-1]} maps "
                    f"{maps.shape[0]}x{maps.shape[1]}", fontsize=10)
    return figure
