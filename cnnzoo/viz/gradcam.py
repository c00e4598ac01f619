"""Grad-CAM: where in the image a CNN looked to decide a class.

Selvaraju et al. 2017, "Grad-CAM: Visual Explanations from Deep Networks via
Gradient-based Localization" (arXiv:1610.02391). For a convolutional layer with feature
maps `A_k` (k = 1..channels) and a class score `y_c`:

1. the weight of map `k` is the mean over its pixels of `d y_c / d A_k`: how much the
   class score rises when that map is stronger, on average;
2. the heat map is `ReLU(sum_k weight_k * A_k)`: the maps' weighted sum, keeping only
   what speaks *for* the class; then scaled to [0, 1].

`y_c` is the class's score before the softmax (the paper's choice; probabilities
saturate near 1 and their gradients vanish): for a model ending in a softmax `Dense`
layer, as every cnnzoo classifier does, it is recomputed from that layer's input and
weights; otherwise the model's output is used as it is.
"""

import dataclasses

import keras
import numpy as np

from cnnzoo.viz.figures import new_figure, show_image
from cnnzoo.viz.layers import check_image, find_layer, recording


@dataclasses.dataclass(frozen=True)
class GradCAM:
    """The result of `grad_cam`.

    Attributes:
        heatmap: float32 `(height, width)` of the layer's feature maps, in [0, 1]
            (all zeros when nothing in the layer speaks for the class).
        layer: the name of the layer the heat map was taken at.
        class_index: the class explained.
        probabilities: the model's output for the image, float32 `(classes,)`.
    """

    heatmap: np.ndarray
    layer: str
    class_index: int
    probabilities: np.ndarray

    def resized(self, size):
        """Returns the heat map resized (bilinear) to `size` = `(height, width)`."""
        return resize_heatmap(self.heatmap, size)


def _softmax_head(model):
    """Returns the model's last layer if it is a `Dense` with a softmax, else None."""
    head = model.layers[-1] if model.layers else None
    if isinstance(head, keras.Model):  # A nested classifier: its own last layer.
        return _softmax_head(head)
    if isinstance(head, keras.layers.Dense) and head.activation is keras.activations.softmax:
        return head
    return None


def _check_class(class_index, num_classes):
    if class_index is None:
        return None
    if isinstance(class_index, bool) or not isinstance(class_index, (int, np.integer)) \
            or not 0 <= class_index < num_classes:
        raise ValueError(f"class_index must be an integer from 0 to {num_classes - 1} (the "
                         f"model has {num_classes} classes); received "
                         f"class_index={class_index!r}.")
    return int(class_index)


def grad_cam(model, image, *, class_index=None, layer=None):
    """Returns the Grad-CAM heat map of `image` for a class, at a convolutional layer.

    Works for Sequential, functional, residual and nested models (the model is run as it
    is; see `cnnzoo.viz.layers`), on raw 0-255 pixels, and for models built under mixed
    precision (the gradients are taken in the layer's dtype and the map is computed in
    float32).

    Args:
        model: a Keras CNN classifier taking raw pixels.
        image: one image `(H, W, C)` (or `(H, W)` for grayscale), raw pixels 0-255.
        class_index: the class to explain; None for the predicted one.
        layer: a name from `cnnzoo.viz.layer_names(model)`; None for the last
            convolutional feature map, the paper's choice (the most semantic layer that
            still has a spatial layout).

    Returns:
        A `GradCAM` with the heat map at the layer's resolution.

    Raises:
        ValueError: a bad layer name, a non-convolutional layer, an image of the wrong
            shape or channel count, a class index out of range, or a Keras backend other
            than tensorflow, jax and torch.

    Example:
        >>> import cnnzoo, numpy as np
        >>> result = grad_cam(cnnzoo.build("mnist_cnn"), np.zeros((28, 28, 1)), layer="conv2")
        >>> result.layer, result.heatmap.shape
        ('conv2', (11, 11))
    """
    layer_name, target = find_layer(model, layer)
    batch = check_image(model, image)
    class_index = _check_class(class_index, model.output_shape[-1])
    head = _softmax_head(model)
    with recording([target]) as (record,):
        probabilities = keras.ops.convert_to_numpy(model(batch, training=False))
    maps = keras.ops.convert_to_numpy(keras.ops.cast(record[-1][1], "float32"))[0]
    if class_index is None:
        class_index = int(np.argmax(probabilities[0]))
    gradients = _map_gradients(model, batch, target, head, class_index,
                               keras.ops.convert_to_numpy(record[-1][1]))
    if gradients is None:
        raise ValueError(f"the class score does not depend on layer {layer_name!r} of model "
                         f"{model.name!r}; choose a layer on the path to the output.")
    weights = gradients.astype(np.float32)[0].mean(axis=(0, 1))
    heatmap = np.maximum((maps * weights).sum(axis=-1), 0.0)
    peak = heatmap.max()
    heatmap = heatmap / peak if peak > 0 and np.isfinite(peak) else np.zeros_like(heatmap)
    return GradCAM(heatmap=heatmap.astype(np.float32), layer=layer_name,
                   class_index=class_index,
                   probabilities=np.asarray(probabilities, np.float32)[0])


def _class_score(model, batch, target, head, class_index, shift):
    """Returns the class's score (before the softmax, in float32) with `shift` added to
    `target`'s output: its gradient with respect to `shift` is the one with respect to
    the feature maps, which any backend's autodiff takes from a plain input."""
    with recording([target] + ([head] if head is not None else [])) as records:
        call = target.call
        target.call = lambda *args, **kwargs: call(*args, **kwargs) + shift
        try:
            probabilities = model(batch, training=False)
        finally:
            target.call = call
    if head is None:
        return keras.ops.cast(probabilities, "float32")[0, class_index]
    features = keras.ops.cast(records[1][-1][0][0], "float32")
    scores = keras.ops.matmul(features, keras.ops.cast(head.kernel, "float32"))
    if head.use_bias:
        scores = scores + keras.ops.cast(head.bias, "float32")
    return scores[0, class_index]


def _map_gradients(model, batch, target, head, class_index, maps):
    """Returns the gradient of the class score with respect to `target`'s feature maps
    `maps` (a NumPy array in the layer's dtype), as NumPy, with the backend's own autodiff;
    None where the score does not depend on them (JAX answers zeros there).

    Raises:
        ValueError: a backend other than tensorflow, jax and torch.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        shift = tf.zeros_like(maps)
        with tf.GradientTape() as tape:
            tape.watch(shift)
            score = _class_score(model, batch, target, head, class_index, shift)
        gradients = tape.gradient(score, shift)
        return None if gradients is None else gradients.numpy()
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(lambda shift: _class_score(
            model, batch, target, head, class_index, shift))(jax.numpy.zeros_like(maps)))
    if backend == "torch":
        import torch

        shift = torch.zeros(maps.shape, dtype=getattr(torch, str(maps.dtype)),
                            device=keras.ops.convert_to_tensor(maps).device,
                            requires_grad=True)
        _class_score(model, batch, target, head, class_index, shift).backward()
        return None if shift.grad is None else shift.grad.detach().cpu().numpy()
    raise ValueError(f"grad_cam takes gradients on Keras's tensorflow, jax and torch "
                     f"backends; this process runs {backend!r}. Set KERAS_BACKEND to one "
                     "of them.")


def resize_heatmap(heatmap, size):
    """Returns `heatmap` (h, w) resized bilinearly to `size` = `(height, width)`.

    Example:
        >>> resize_heatmap(np.ones((2, 2), "float32"), (4, 6)).shape
        (4, 6)
    """
    resized = keras.ops.image.resize(np.asarray(heatmap, np.float32)[None, :, :, None],
                                     tuple(size), interpolation="bilinear",
                                     data_format="channels_last")
    return np.clip(keras.ops.convert_to_numpy(resized)[0, :, :, 0], 0.0, 1.0)


def overlay(image, heatmap, *, alpha=0.45, colormap="jet"):
    """Returns the heat map coloured and blended over the image, as RGB floats in [0, 1].

    Args:
        image: raw pixels `(H, W, 1 or 3)` or `(H, W)`, values 0-255.
        heatmap: `(h, w)` in [0, 1], any resolution (resized to the image).
        alpha: the heat map's share of each pixel.
        colormap: a matplotlib colormap name.

    Returns:
        float32 `(H, W, 3)`.
    """
    from matplotlib import colormaps

    image = np.clip(np.asarray(image, np.float32), 0, 255) / 255.0
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    heat = resize_heatmap(heatmap, image.shape[:2])
    colours = colormaps[colormap](heat)[..., :3]
    return ((1 - alpha) * image + alpha * colours).astype(np.float32)


def top_classes(probabilities, class_names=None, k=3):
    """Returns `[(class name, probability)]` of the `k` most probable classes, best first.

    Example:
        >>> top_classes(np.array([0.1, 0.7, 0.2]), ["a", "b", "c"], k=2)
        [('b', 0.7), ('c', 0.2)]
    """
    probabilities = np.asarray(probabilities)
    order = np.argsort(-probabilities, kind="stable")[:k]
    names = class_names or [str(i) for i in range(len(probabilities))]
    return [(names[i], float(probabilities[i])) for i in order]


def plot_grad_cam(model, image, *, class_index=None, layer=None, class_names=None,
                  result=None):
    """Returns a figure: the image, the Grad-CAM heat map and their overlay.

    The title names the class explained, the layer, and the top-3 predictions.

    Args:
        model, image, class_index, layer: as `grad_cam`.
        class_names: names for the classes (default: their indices).
        result: a `GradCAM` already computed for this image, to draw instead of
            computing one.

    Returns:
        A `matplotlib.figure.Figure`.

    Raises:
        ValueError: as `grad_cam`.
    """
    if result is None:
        result = grad_cam(model, image, class_index=class_index, layer=layer)
    image = check_image(model, image)[0]
    names = list(class_names) if class_names else None
    label = names[result.class_index] if names else str(result.class_index)
    ranked = ", ".join(f"{name} {p:.2f}" for name, p in
                       top_classes(result.probabilities, names, k=3))
    figure = new_figure(9, 3.6)
    axes = figure.subplots(1, 3)
    show_image(axes[0], image)
    axes[0].set_title("image")
    axes[1].imshow(result.heatmap, cmap="jet", vmin=0, vmax=1, interpolation="nearest")
    axes[1].set_title(f"{result.layer} ({result.heatmap.shape[0]}x"
                      f"{result.heatmap.shape[1]})")
    axes[2].imshow(overlay(image, result.heatmap), interpolation="nearest")
    axes[2].set_title(f"Grad-CAM for {label!r}")
    for axis in axes:
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle(f"{model.name}: {ranked}", fontsize=10)
    return figure
