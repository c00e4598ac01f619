"""ResNet-9, the DAWNBench CIFAR-10 network (Page 2018, "How to train your ResNet").

A prep convolution, then three layers that each widen and halve the resolution, the first
and last with a residual pair of convolutions:

    prep    conv(w)
    layer1  conv(2w), max pool 2, + residual [conv(2w), conv(2w)]
    layer2  conv(4w), max pool 2
    layer3  conv(8w), max pool 2, + residual [conv(8w), conv(8w)]
    head    global max pool, softmax

Every conv is 3x3, bias-free, followed by batch norm and ReLU. The paper's width is
w = 64 (6.57M parameters); `resnet9_w24` is the same network at 3/8 of the width (7x fewer
multiply-adds) for 28x28 grayscale images, which a 2-core CPU trains in under an hour.
"""

import keras

from cnnzoo.models.layers import (check_options, conv_bn_relu, document_options, finish_model,
                                  image_input)
from cnnzoo.registry import register_variant

# Three 2x2 pools: 8 px leave one pixel.
_MIN_SIZE = 8


def _residual_pair(x, name, kernel_initializer):
    width = x.shape[-1]
    y = conv_bn_relu(x, width, 3, name=f"{name}_res1", kernel_initializer=kernel_initializer)
    y = conv_bn_relu(y, width, 3, name=f"{name}_res2", kernel_initializer=kernel_initializer)
    return keras.layers.Add(name=f"{name}_add")([x, y])


@document_options
def build_resnet9(*, width=64, input_shape=(32, 32, 3), num_classes=10, dropout=0.0,
                  kernel_initializer="glorot_uniform", include_top=True, pooling=None,
                  compile=True, name="resnet9", **compile_kwargs):
    """Builds ResNet-9 with base width `width` (prep conv; layers of 2, 4 and 8 x width).

    Layer names are `prep_conv`, `layer1_conv`, `layer1_res1_conv`, `layer1_add`, ...
    The top pools by global max, as Page's. Every convolution is followed by batch norm
    (the network does not train at its learning rates without), so there is no
    `batch_norm` option.

    Args:
        width: the prep convolution's filters; the three layers have 2, 4 and 8 times as
            many (64 in the paper).

    Returns:
        A `keras.Model`, compiled for integer labels unless `compile=False`.

    Raises:
        ValueError: a width that is not a positive integer, an input smaller than 8x8, a
            channel count other than 1 or 3, fewer than 2 classes, or an option or setting
            refused.

    Example:
        >>> build_resnet9(compile=False).count_params()
        6577610
    """
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"{name} width must be a positive integer (64 in the paper); "
                         f"received width={width!r}.")
    options = check_options(build_resnet9, name=name, input_shape=input_shape,
                            min_size=_MIN_SIZE, num_classes=num_classes,
                            include_top=include_top, pooling=pooling, dropout=dropout,
                            kernel_initializer=kernel_initializer, compile=compile,
                            compile_kwargs=compile_kwargs)
    inputs, x = image_input(options.input_shape)
    x = conv_bn_relu(x, width, 3, name="prep", kernel_initializer=kernel_initializer)
    for layer, (multiple, residual) in enumerate(((2, True), (4, False), (8, True)), start=1):
        x = conv_bn_relu(x, multiple * width, 3, name=f"layer{layer}",
                         kernel_initializer=kernel_initializer)
        x = keras.layers.MaxPooling2D(2, name=f"layer{layer}_pool")(x)
        if residual:
            x = _residual_pair(x, name=f"layer{layer}", kernel_initializer=kernel_initializer)
    return finish_model(inputs, x, options, top_pooling="max")


build_resnet9_paper = register_variant(
    "resnet9", build_resnet9, fixed={"width": 64}, builder_name="build_resnet9_paper",
    family="resnet9", num_params=6_573_130,
    reference="Page 2018, How to train your ResNet (DAWNBench CIFAR-10)",
    summary="ResNet-9 at the paper's width 64: 64-128-256-512 filters "
            "(6,573,130 params at 32x32x3).")

build_resnet9_w24 = register_variant(
    "resnet9_w24", build_resnet9, fixed={"width": 24},
    defaults={"input_shape": (28, 28, 1), "name": "resnet9_w24"}, family="resnet9",
    num_params=926_578, reference="Page 2018 (ResNet-9) at 3/8 width, for 28x28 grayscale",
    summary="ResNet-9 at width 24: 24-48-96-192 filters (926,578 params at 28x28x1), for "
            "a CPU.")
