"""Floating-point operations of a model's forward pass and training step, counted from its layers.

Counts the multiply-adds of convolutions and dense layers (2 FLOPs each, as hardware peak
figures count them) and leaves out everything else: bias adds, batch norm, activations,
pooling and additions are memory-bound and under 2% of the total in this zoo's models.

A training step runs each counted layer's product up to three times: forward, then the
gradient with respect to its input and the gradient with respect to its kernel, each as
costly as the forward product (the usual "3 forward passes", Kaplan et al. 2020). The
count here is exact about which of the two gradients exist: a layer that sees only the
images (nothing trainable upstream, as the first convolution) needs no input gradient,
and a frozen layer (`trainable=False`, as a fine-tuned base) needs no kernel gradient.
"""

import math

import keras

# The layers counted: their products are the FLOPs; everything else is memory traffic.
COUNTED_LAYERS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense)


def _layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _layers(layer)
        else:
            yield layer


def _parents(layer):
    """Returns the layers whose outputs `layer` takes (none for an input layer)."""
    return [parent.operation for node in layer._inbound_nodes  # Keras has no public graph walk.
            for parent in node.parent_nodes]


def _layers_with_input_gradient(model, *, upstream_trainable=False):
    """Yields `(layer, needs_input_gradient)` for every leaf layer of `model`, in order.

    A layer needs the gradient with respect to its input when a trainable weight lies
    upstream of it; `upstream_trainable` says whether one lies upstream of `model` itself.
    """
    carries_gradient = set()  # ids of this model's layers whose outputs depend on one
    for layer in model.layers:
        parents = _parents(layer)
        needs = (any(id(parent) in carries_gradient for parent in parents) if parents
                 else upstream_trainable)
        if isinstance(layer, keras.Model):
            yield from _layers_with_input_gradient(layer, upstream_trainable=needs)
        else:
            yield layer, needs
        if needs or layer.trainable_weights:
            carries_gradient.add(id(layer))


def _shape(tensor):
    return tuple(int(d) for d in tensor.shape[1:])


def layer_flops(layer):
    """Returns the forward FLOPs one image costs in `layer` (0 for uncounted kinds).

    Raises:
        ValueError: the layer has not been called on an input (no shapes to count from).
    """
    if not isinstance(layer, COUNTED_LAYERS):
        return 0
    try:
        output = _shape(layer.output)
    except (AttributeError, ValueError):
        raise ValueError(f"layer {layer.name!r} has no output shape: count a built "
                         "functional or Sequential model (one made with an Input).") from None
    kernel = tuple(int(d) for d in layer.kernel.shape)
    if isinstance(layer, keras.layers.Dense):
        # Dense applies to the last axis: once per position of the other axes.
        return 2 * math.prod(output[:-1]) * kernel[0] * kernel[1]
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return 2 * math.prod(output) * kernel[0] * kernel[1]
    # Kernel (kh, kw, in_channels / groups, out): each output value is one such dot product.
    return 2 * math.prod(output) * kernel[0] * kernel[1] * kernel[2]


def forward_flops(model):
    """Returns the forward-pass FLOPs of one image through `model` (see the module doc)."""
    return sum(layer_flops(layer) for layer in _layers(model))


def training_flops_by_pass(model, *, layer_types=COUNTED_LAYERS):
    """Returns the FLOPs of one image's training step, split by pass.

    Args:
        model: a built functional or Sequential model.
        layer_types: count only layers of these types (default: all counted kinds).

    Returns:
        A dict with "forward", "input_gradient" and "kernel_gradient" FLOPs (see the
        module doc for which layers have which gradient).
    """
    passes = {"forward": 0, "input_gradient": 0, "kernel_gradient": 0}
    for layer, needs_input_gradient in _layers_with_input_gradient(model):
        flops = layer_flops(layer) if isinstance(layer, layer_types) else 0
        passes["forward"] += flops
        passes["input_gradient"] += flops if needs_input_gradient else 0
        passes["kernel_gradient"] += flops if layer.trainable_weights else 0
    return passes


def training_flops(model):
    """Returns the FLOPs of one image's training step: the three passes of the module doc."""
    return sum(training_flops_by_pass(model).values())
