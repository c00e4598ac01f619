"""Finding a model's convolutional layers by name and reading their outputs.

Reading an inner layer's output is done by running the whole model once while that layer
records what it returns, rather than by building a sub-model from symbolic tensors
(`keras.Model(model.inputs, layer.output)`, as the well-known Keras Grad-CAM example
does). The sub-model way breaks where a layer's symbolic output is undefined or belongs to
another graph: Sequential models loaded or built without an `Input` (keras-team/keras
issue 20116), layers inside a nested model, layers called twice. Running the model as it
is works for Sequential, functional, residual and nested models alike, and the recorded
tensor stays on a `tf.GradientTape`, which Grad-CAM needs.
"""

import contextlib
import threading

import keras
import numpy as np

_CONVOLUTIONS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D,
                 keras.layers.SeparableConv2D, keras.layers.Conv2DTranspose)
# Recording patches a layer's `call` for one forward pass; one pass at a time per process.
_RECORDING = threading.Lock()


def _walk(model, prefix=""):
    """Yields `(name, layer)` for every layer, inside nested models as "outer/inner"."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _walk(layer, f"{prefix}{layer.name}/")
        else:
            yield f"{prefix}{layer.name}", layer


def _output_rank(layer):
    try:
        return len(layer.output.shape)
    except (AttributeError, ValueError):  # Never called, or called more than once.
        return None


def _feature_map_layers(model):
    """Returns `[(name, layer)]` of the layers with 4-D outputs from the first convolution on."""
    found, started = [], False
    for name, layer in _walk(model):
        started = started or isinstance(layer, _CONVOLUTIONS)
        if started and (_output_rank(layer) == 4 or
                        (_output_rank(layer) is None and isinstance(layer, _CONVOLUTIONS))):
            found.append((name, layer))
    return found


def layer_names(model):
    """Returns the names of `model`'s convolutional feature maps, input to output.

    These are the layers whose output is a 4-D feature map `(batch, height, width,
    channels)`, from the first convolution on: convolutions, and the batch norms,
    activations, poolings and residual additions between them. Layers inside a nested
    model are named "outer/inner". Any of them can be passed to `feature_maps`,
    `plot_feature_maps` and `grad_cam`; the last one is Grad-CAM's default.

    Raises:
        ValueError: a model without convolutional layers.

    Example:
        >>> import cnnzoo
        >>> layer_names(cnnzoo.build("mnist_cnn"))
        ['conv1', 'pool1', 'conv2', 'pool2', 'conv3']
    """
    names = [name for name, _ in _feature_map_layers(model)]
    if not names:
        raise ValueError(f"model {model.name!r} has no convolutional layers to show; "
                         "feature maps and Grad-CAM need a CNN.")
    return names


def find_layer(model, name=None):
    """Returns `(name, layer)` for the feature-map layer `name`, or the last one if None.

    A layer inside a nested model may be named by its path ("backbone/conv1") or by its
    own name when no other layer has it.

    Raises:
        ValueError: an unknown name, or a layer whose output is not a convolutional
            feature map (a dense or flatten layer); the message lists the choices.
    """
    layers = _feature_map_layers(model)
    if not layers:
        layer_names(model)  # Raises the "no convolutional layers" error.
    if name is None:
        return layers[-1]
    matches = [(path, layer) for path, layer in layers
               if path == name or path.rsplit("/", 1)[-1] == name]
    exact = [(path, layer) for path, layer in matches if path == name]
    if exact or len(matches) == 1:
        return (exact or matches)[0]
    choices = [path for path, _ in layers]
    if len(matches) > 1:
        raise ValueError(f"layer name {name!r} is ambiguous in model {model.name!r}: "
                         f"{[path for path, _ in matches]}. Pass the full path.")
    known = {path for path, _ in _walk(model)}
    why = ("is not a convolutional feature map (its output is not (batch, height, width, "
           "channels))" if name in known or any(p.endswith("/" + name) for p in known)
           else "is not a layer of it")
    raise ValueError(f"layer {name!r} {why} in model {model.name!r}; choose one of "
                     f"{choices} (see cnnzoo.viz.layer_names).")


def check_image(model, image):
    """Returns one image as a float32 batch `(1, H, W, C)` of raw pixels for `model`.

    Takes `(H, W, C)`, `(1, H, W, C)`, or `(H, W)` for a grayscale model; values are
    raw pixels 0-255 (any numeric dtype), as every cnnzoo model takes them.

    Raises:
        ValueError: another rank, a channel count or size the model does not take.
    """
    array = np.asarray(image)
    expected = tuple(model.input_shape[1:])
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim == 2 and expected[-1] == 1:
        array = array[..., None]
    if array.ndim != 3 or not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"expected one image of raw pixels (height, width, channels); "
                         f"received an array of shape {np.shape(image)} and dtype "
                         f"{array.dtype}. For a batch, pass one image: images[i].")
    if array.shape[-1] != expected[-1]:
        raise ValueError(f"model {model.name!r} takes {expected[-1]} channel(s); received "
                         f"an image of shape {np.shape(image)}. Convert it to "
                         f"{'grayscale' if expected[-1] == 1 else 'RGB'} first.")
    if any(want is not None and want != got for want, got in zip(expected[:2], array.shape)):
        raise ValueError(f"model {model.name!r} takes {expected[0]}x{expected[1]} images; "
                         f"received an image of shape {np.shape(image)}. Resize it first.")
    return array[None].astype(np.float32)


@contextlib.contextmanager
def recording(layers):
    """Within the block, each of `layers` appends its outputs to a list; yields the lists.

    A layer's `call` is wrapped for the block only and restored after, even on error.
    """
    records = [[] for _ in layers]
    with _RECORDING:
        for layer, record in zip(layers, records):
            layer.call = _recorder(layer.call, record)
        try:
            yield records
        finally:
            for layer in layers:
                del layer.call  # The instance attribute; the class's method shows again.


def _recorder(call, record):
    def recording_call(*args, **kwargs):
        output = call(*args, **kwargs)
        record.append((args, output))
        return output
    return recording_call


def feature_maps(model, image, layer=None):
    """Returns the output of a convolutional layer for one image, as `(H, W, channels)`.

    Args:
        model: a Keras CNN taking raw pixels.
        image: one image (see `check_image`).
        layer: a name from `layer_names(model)`; None for the last one.

    Returns:
        A float32 NumPy array `(height, width, channels)`.

    Raises:
        ValueError: a bad layer name or image (the message names the choices).

    Example:
        >>> import cnnzoo, numpy as np
        >>> feature_maps(cnnzoo.build("mnist_cnn"), np.zeros((28, 28, 1)), "conv2").shape
        (11, 11, 64)
    """
    _, target = find_layer(model, layer)
    batch = check_image(model, image)
    with recording([target]) as (record,):
        model(batch, training=False)
    return np.asarray(keras.ops.convert_to_numpy(record[-1][1]), np.float32)[0]


def first_convolution(model):
    """Returns `(name, layer)` of the model's first `Conv2D` (searching nested models).

    Raises:
        ValueError: a model without a `Conv2D`.
    """
    for name, layer in _walk(model):
        if isinstance(layer, keras.layers.Conv2D):
            return name, layer
    raise ValueError(f"model {model.name!r} has no Conv2D layer whose filters could be shown.")
