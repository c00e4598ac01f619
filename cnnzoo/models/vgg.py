"""VGG (Simonyan and Zisserman, 2014): 3x3 convolutions in five pooled blocks."""

import keras

from cnnzoo.models.batch_norm import BatchNormalization
from cnnzoo.models.layers import (check_choice, check_input_shape, check_num_classes,
                                  finish_model, image_input, refuse_fixed)
from cnnzoo.registry import register_model

# Convolutions per block for each depth (configurations A, B, D and E of the paper).
VGG_CONFIGS = {11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2), 16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}
VGG_WIDTHS = (64, 128, 256, 512, 512)
# Five 2x2 pools halve the image five times.
_MIN_SIZE = 32
# `classic`: the paper's flatten -> 4096 -> 4096 head (138,357,544 params for VGG-16 at
# 224x224x3 and 1000 classes, as keras.applications.VGG16). `compact`: global average
# pooling -> 512 -> classes, the usual head for 32 px images.
HEADS = {"classic": ("flatten", (4096, 4096)), "compact": ("avg", (512,))}


def build_vgg(depth=16, *, batch_norm=False, head="compact", input_shape=(32, 32, 3),
              num_classes=10, dropout=0.5, include_top=True, compile=True, name=None,
              **compile_kwargs):
    """Builds VGG-`depth` (11, 13, 16 or 19), optionally with batch norm after each conv.

    Layer names follow keras.applications (`block3_conv2`, `block3_pool`), with
    `block3_conv2_bn` where batch norm is on.

    Returns:
        A `keras.Model`, compiled for integer labels unless `compile=False`.

    Raises:
        ValueError: an unsupported depth or head, an input smaller than 32x32, a channel
            count other than 1 or 3, or fewer than 2 classes.

    Example:
        >>> build_vgg(11, compile=False).count_params()
        9488266
    """
    name = name or f"vgg{depth}{'_bn' if batch_norm else ''}"
    check_choice(depth, tuple(VGG_CONFIGS), argument="depth", model="vgg")
    check_choice(head, tuple(HEADS), argument="head", model=name)
    input_shape = check_input_shape(input_shape, min_size=_MIN_SIZE, model=name)
    num_classes = check_num_classes(num_classes, model=name)
    inputs, x = image_input(input_shape)
    for block, (convs, width) in enumerate(zip(VGG_CONFIGS[depth], VGG_WIDTHS), start=1):
        for index in range(1, convs + 1):
            layer = f"block{block}_conv{index}"
            x = keras.layers.Conv2D(width, 3, padding="same", name=layer)(x)
            if batch_norm:
                x = BatchNormalization(name=f"{layer}_bn")(x)
            x = keras.layers.Activation("relu", name=f"{layer}_relu")(x)
        x = keras.layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
    pooling, hidden_units = HEADS[head]
    return finish_model(inputs, x, name=name, num_classes=num_classes,
                        include_top=include_top, pooling=pooling, hidden_units=hidden_units,
                        dropout=dropout, compile=compile, compile_kwargs=compile_kwargs)


def _register_vgg(depth, batch_norm, num_params):
    name = f"vgg{depth}{'_bn' if batch_norm else ''}"

    def builder(**kwargs):
        refuse_fixed(kwargs, model=name, family_builder="build_vgg", depth=depth,
                     batch_norm=batch_norm)
        return build_vgg(depth, batch_norm=batch_norm, **kwargs)

    builder.__name__ = builder.__qualname__ = f"build_{name}"
    builder.__doc__ = (f"VGG-{depth}{' with batch norm' if batch_norm else ''}, compact head "
                       f"for 32 px images by default ({num_params:,} params).")
    return register_model(
        name, family="vgg", default_input=(32, 32, 3), num_classes=10, num_params=num_params,
        reference="Simonyan & Zisserman 2014, Very deep convolutional networks for "
                  "large-scale image recognition")(builder)


build_vgg11 = _register_vgg(11, False, 9_488_266)
build_vgg13 = _register_vgg(13, False, 9_672_778)
build_vgg16 = _register_vgg(16, False, 14_982_474)
build_vgg19 = _register_vgg(19, False, 20_292_170)
build_vgg11_bn = _register_vgg(11, True, 9_493_770)
build_vgg13_bn = _register_vgg(13, True, 9_678_666)
build_vgg16_bn = _register_vgg(16, True, 14_990_922)
build_vgg19_bn = _register_vgg(19, True, 20_303_178)
