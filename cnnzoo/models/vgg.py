"""VGG (Simonyan and Zisserman, 2014): 3x3 convolutions in five pooled blocks."""

import keras

from cnnzoo.models.batch_norm import BatchNormalization
from cnnzoo.models.layers import (check_choice, check_options, document_options, finish_model,
                                  image_input)
from cnnzoo.registry import register_variant

# Convolutions per block for each depth (configurations A, B, D and E of the paper).
VGG_CONFIGS = {11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2), 16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}
VGG_WIDTHS = (64, 128, 256, 512, 512)
# Five 2x2 pools halve the image five times.
_MIN_SIZE = 32
# `classic`: the paper's flatten -> 4096 -> 4096 head (138,357,544 params for VGG-16 at
# 224x224x3 and 1000 classes, as keras.applications.VGG16). `compact`: global average
# pooling -> 512 -> classes, the usual head for 32 px images.
HEADS = {"classic": ("flatten", (4096, 4096)), "compact": ("avg", (512,))}


@document_options
def build_vgg(depth=16, *, batch_norm=False, head="compact", input_shape=(32, 32, 3),
              num_classes=10, dropout=0.5, kernel_initializer="glorot_uniform",
              include_top=True, pooling=None, compile=True, name=None, **compile_kwargs):
    """Builds VGG-`depth` (11, 13, 16 or 19), optionally with batch norm after each conv.

    Layer names follow keras.applications (`block3_conv2`, `block3_pool`), with
    `block3_conv2_bn` where batch norm is on.

    Args:
        depth: 11, 13, 16 or 19 (the paper's configurations A, B, D and E).
        batch_norm: whether batch norm follows each convolution (as torchvision's
            `vgg16_bn`; the convolutions keep their biases).
        head: `"compact"` (global average pooling, Dense 512, the usual top for 32 px
            images) or `"classic"` (the paper's flatten, Dense 4096, Dense 4096).
        name: the Keras model's name; None gives `vgg16` or `vgg16_bn`.

    Returns:
        A `keras.Model`, compiled for integer labels unless `compile=False`.

    Raises:
        ValueError: an unsupported depth or head, an input smaller than 32x32, a channel
            count other than 1 or 3, fewer than 2 classes, or an option or setting refused.

    Example:
        >>> build_vgg(11, compile=False).count_params()
        9488266
    """
    name = name or f"vgg{depth}{'_bn' if batch_norm else ''}"
    check_choice(depth, tuple(VGG_CONFIGS), argument="depth", model="vgg")
    check_choice(head, tuple(HEADS), argument="head", model=name)
    options = check_options(build_vgg, name=name, input_shape=input_shape, min_size=_MIN_SIZE,
                            num_classes=num_classes, include_top=include_top, pooling=pooling,
                            dropout=dropout, kernel_initializer=kernel_initializer,
                            compile=compile, compile_kwargs=compile_kwargs)
    inputs, x = image_input(options.input_shape)
    for block, (convs, width) in enumerate(zip(VGG_CONFIGS[depth], VGG_WIDTHS), start=1):
        for index in range(1, convs + 1):
            layer = f"block{block}_conv{index}"
            x = keras.layers.Conv2D(width, 3, padding="same",
                                    kernel_initializer=kernel_initializer, name=layer)(x)
            if batch_norm:
                x = BatchNormalization(name=f"{layer}_bn")(x)
            x = keras.layers.Activation("relu", name=f"{layer}_relu")(x)
        x = keras.layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
    top_pooling, hidden_units = HEADS[head]
    return finish_model(inputs, x, options, top_pooling=top_pooling, hidden_units=hidden_units)


def _register_vgg(depth, batch_norm, num_params):
    name = f"vgg{depth}{'_bn' if batch_norm else ''}"
    return register_variant(
        name, build_vgg, fixed={"depth": depth, "batch_norm": batch_norm},
        family="vgg", num_params=num_params,
        reference="Simonyan & Zisserman 2014, Very deep convolutional networks for "
                  "large-scale image recognition",
        summary=f"VGG-{depth}{' with batch norm' if batch_norm else ''}, compact head "
                f"({num_params:,} params at 32x32x3).")


build_vgg11 = _register_vgg(11, False, 9_488_266)
build_vgg13 = _register_vgg(13, False, 9_672_778)
build_vgg16 = _register_vgg(16, False, 14_982_474)
build_vgg19 = _register_vgg(19, False, 20_292_170)
build_vgg11_bn = _register_vgg(11, True, 9_493_770)
build_vgg13_bn = _register_vgg(13, True, 9_678_666)
build_vgg16_bn = _register_vgg(16, True, 14_990_922)
build_vgg19_bn = _register_vgg(19, True, 20_303_178)
