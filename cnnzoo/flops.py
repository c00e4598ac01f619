"""Floating-point operations of a model's forward pass, counted from its layers.

Counts the multiply-adds of convolutions and dense layers (2 FLOPs each, as hardware peak
figures count them) and leaves out everything else: bias adds, batch norm, activations,
pooling and additions are memory-bound and under 2% of the total in this zoo's models. A
training step costs about 3 forward passes (the forward pass, then gradients with respect
to activations and to weights, each as much again), the usual estimate (Kaplan et al. 2020).
"""

import math

import keras

TRAINING_PASSES = 3


def _layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _layers(layer)
        else:
            yield layer


def _shape(tensor):
    return tuple(int(d) for d in tensor.shape[1:])


def layer_flops(layer):
    """Returns the forward FLOPs one image costs in `layer` (0 for uncounted kinds).

    Raises:
        ValueError: the layer has not been called on an input (no shapes to count from).
    """
    if not isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D,
                              keras.layers.Dense)):
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


def training_flops(model):
    """Returns the FLOPs of one image's training step: `TRAINING_PASSES` forward passes."""
    return TRAINING_PASSES * forward_flops(model)
