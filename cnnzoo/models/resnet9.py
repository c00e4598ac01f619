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

from cnnzoo.models.layers import (check_input_shape, check_num_classes, conv_bn_relu,
                                  finish_model, image_input, refuse_fixed)
from cnnzoo.registry import register_model

# Three 2x2 pools: 8 px leave one pixel.
_MIN_SIZE = 8


def _residual_pair(x, name):
    width = x.shape[-1]
    y = conv_bn_relu(x, width, 3, name=f"{name}_res1")
    y = conv_bn_relu(y, width, 3, name=f"{name}_res2")
    return keras.layers.Add(name=f"{name}_add")([x, y])


def build_resnet9(*, width=64, input_shape=(32, 32, 3), num_classes=10, dropout=0.0,
                  include_top=True, pooling="max", compile=True, name="resnet9",
                  **compile_kwargs):
    """Builds ResNet-9 with base width `width` (prep conv; layers of 2, 4 and 8 x width).

    Layer names are `prep_conv`, `layer1_conv`, `layer1_res1_conv`, `layer1_add`, ...

    Returns:
        A `keras.Model`, compiled for integer labels unless `compile=False`.

    Raises:
        ValueError: a width that is not a positive integer, an input smaller than 8x8, a
            channel count other than 1 or 3, or fewer than 2 classes.

    Example:
        >>> build_resnet9(compile=False).count_params()
        6577610
    """
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"{name} width must be a positive integer (64 in the paper); "
                         f"received width={width!r}.")
    input_shape = check_input_shape(input_shape, min_size=_MIN_SIZE, model=name)
    num_classes = check_num_classes(num_classes, model=name)
    inputs, x = image_input(input_shape)
    x = conv_bn_relu(x, width, 3, name="prep")
    for layer, (multiple, residual) in enumerate(((2, True), (4, False), (8, True)), start=1):
        x = conv_bn_relu(x, multiple * width, 3, name=f"layer{layer}")
        x = keras.layers.MaxPooling2D(2, name=f"layer{layer}_pool")(x)
        if residual:
            x = _residual_pair(x, name=f"layer{layer}")
    return finish_model(inputs, x, name=name, num_classes=num_classes,
                        include_top=include_top, pooling=pooling, dropout=dropout,
                        compile=compile, compile_kwargs=compile_kwargs)


@register_model("resnet9", family="resnet9", default_input=(32, 32, 3), num_classes=10,
                num_params=6_573_130,
                reference="Page 2018, How to train your ResNet (DAWNBench CIFAR-10)")
def build_resnet9_paper(**kwargs):
    """ResNet-9 at the paper's width 64: 64-128-256-512 filters (6,573,130 params)."""
    refuse_fixed(kwargs, model="resnet9", family_builder="build_resnet9", width=64)
    return build_resnet9(width=64, **kwargs)


@register_model("resnet9_w24", family="resnet9", default_input=(28, 28, 1), num_classes=10,
                num_params=926_578,
                reference="Page 2018 (ResNet-9) at 3/8 width, for 28x28 grayscale")
def build_resnet9_w24(**kwargs):
    """ResNet-9 at width 16: 16-32-64-128 filters (412,666 params), for 28x28 on a CPU."""
    refuse_fixed(kwargs, model="resnet9_w24", family_builder="build_resnet9", width=24)
    kwargs.setdefault("name", "resnet9_w24")
    return build_resnet9(width=24, **kwargs)
