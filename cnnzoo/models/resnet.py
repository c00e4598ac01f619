"""ResNet (He et al. 2015) with basic and bottleneck blocks, and pre-activation (v2) blocks.

Two layouts:
- `imagenet`: 7x7/2 stem and max pool, four stages of 64-512 filters; depth 18 and 34 use
  basic blocks, 50, 101 and 152 bottleneck blocks (stride on the 3x3, "v1.5").
- `cifar`: the paper's CIFAR-10 network, depth 6n+2: a 3x3 stem and three stages of
  16, 32, 64 filters with n basic blocks each.

Convolutions before batch norm carry no bias (as torchvision; keras.applications keeps
them), so ResNet-50 at 224x224x3 with 1000 classes has 25,557,032 parameters rather than
keras.applications' 25,636,712. Where a block changes shape its shortcut is a 1x1
projection (the paper's option B; its CIFAR option A pads with zeros instead, which would
need a Lambda layer and break serialisation): ResNet-20 has 0.27M parameters either way.
"""

import keras

from cnnzoo.models.batch_norm import BatchNormalization
from cnnzoo.models.layers import (check_choice, check_options, conv_bn_relu, document_options,
                                  finish_model, image_input)
from cnnzoo.registry import register_variant

# depth -> (block kind, blocks per stage) for the ImageNet layout.
IMAGENET_DEPTHS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
IMAGENET_WIDTHS = (64, 128, 256, 512)
CIFAR_WIDTHS = (16, 32, 64)
# Smallest input each layout's downsampling allows: imagenet halves 5 times, cifar twice.
MIN_SIZES = {"imagenet": 32, "cifar": 4}
_EXPANSION = {"basic": 1, "bottleneck": 4}


def _batch_norm(name):
    return BatchNormalization(name=name)


def _conv(filters, kernel_size, strides, name, kernel_initializer):
    return keras.layers.Conv2D(filters, kernel_size, strides=strides, padding="same",
                               use_bias=False, kernel_initializer=kernel_initializer, name=name)


def _residual_block(x, filters, *, strides, kind, preact, name, kernel_initializer):
    """Returns the output of one basic or bottleneck block, plain or pre-activation."""
    out_channels = filters * _EXPANSION[kind]
    needs_projection = strides != 1 or x.shape[-1] != out_channels
    if preact:
        x = _batch_norm(f"{name}_preact_bn")(x)
        x = keras.layers.Activation("relu", name=f"{name}_preact_relu")(x)
    shortcut = x
    if needs_projection:
        shortcut = _conv(out_channels, 1, strides, f"{name}_0_conv", kernel_initializer)(x)
        if not preact:
            shortcut = _batch_norm(f"{name}_0_bn")(shortcut)
    # In a pre-activation block each conv but the first is preceded by bn-relu, and the
    # block's last conv is followed by nothing; in a plain block every conv has bn after.
    if kind == "basic":
        convs = [(filters, 3, strides), (out_channels, 3, 1)]
    else:
        convs = [(filters, 1, 1), (filters, 3, strides), (out_channels, 1, 1)]
    y = x
    for index, (width, size, stride) in enumerate(convs, start=1):
        last = index == len(convs)
        if preact and index > 1:
            y = _batch_norm(f"{name}_{index}_bn")(y)
            y = keras.layers.Activation("relu", name=f"{name}_{index}_relu")(y)
        if preact or last:
            y = _conv(width, size, stride, f"{name}_{index}_conv", kernel_initializer)(y)
            if not preact:
                y = _batch_norm(f"{name}_{index}_bn")(y)
        else:
            y = conv_bn_relu(y, width, size, strides=stride, name=f"{name}_{index}",
                             kernel_initializer=kernel_initializer)
    y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    if not preact:
        y = keras.layers.Activation("relu", name=f"{name}_out")(y)
    return y


def _resnet_plan(depth, layout):
    """Returns (block kind, blocks per stage, widths) for `depth` in `layout`."""
    if layout == "imagenet":
        check_choice(depth, tuple(IMAGENET_DEPTHS), argument="depth", model="resnet (imagenet)")
        kind, blocks = IMAGENET_DEPTHS[depth]
        return kind, blocks, IMAGENET_WIDTHS
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(
            f"the cifar ResNet layout has depth 6n+2 (20, 32, 44, 56, 110, ...); received "
            f"depth={depth!r}. For 18, 34, 50, 101 or 152 use layout='imagenet'.")
    return "basic", ((depth - 2) // 6,) * 3, CIFAR_WIDTHS


@document_options
def build_resnet(depth=20, *, layout=None, preact=False, input_shape=(32, 32, 3),
                 num_classes=10, dropout=0.0, kernel_initializer="glorot_uniform",
                 include_top=True, pooling=None, compile=True, name=None, **compile_kwargs):
    """Builds ResNet-`depth`; `layout=None` picks imagenet for 18/34/50/101/152, else cifar.

    `preact=True` gives pre-activation (v2) blocks (He et al. 2016, Identity mappings in
    deep residual networks) with a final bn-relu before pooling. Layer names are
    `stem_conv`, `stage2_block1_1_conv`, `stage2_block1_0_conv` (projection), `post_bn`.
    Batch norm is part of every block (the residual stages do not train without it), so
    there is no `batch_norm` option.

    Args:
        depth: 18, 34, 50, 101 or 152 (imagenet layout), or 6n+2 such as 20, 32, 44, 56
            or 110 (cifar layout).
        layout: `"imagenet"` (7x7/2 stem and max pool, stages of 64-512 filters),
            `"cifar"` (3x3 stem, stages of 16, 32, 64 filters) or None (from `depth`).
        preact: whether the blocks are pre-activation (v2) blocks.
        name: the Keras model's name; None gives `resnet20` or `resnet20_preact`.

    Returns:
        A `keras.Model`, compiled for integer labels unless `compile=False`.

    Raises:
        ValueError: a depth the layout does not have, an unknown layout, an input smaller
            than the layout allows (32 px imagenet, 4 px cifar), a channel count other than
            1 or 3, fewer than 2 classes, or an option or setting refused.

    Example:
        >>> build_resnet(20, compile=False).count_params()
        274042
    """
    if isinstance(depth, bool) or not isinstance(depth, int):
        raise ValueError(f"resnet depth must be an integer such as 20 or 50; received "
                         f"depth={depth!r}.")
    if layout is None:
        layout = "imagenet" if depth in IMAGENET_DEPTHS else "cifar"
    check_choice(layout, tuple(MIN_SIZES), argument="layout", model="resnet")
    kind, blocks_per_stage, widths = _resnet_plan(depth, layout)
    name = name or f"resnet{depth}{'_preact' if preact else ''}"
    options = check_options(build_resnet, name=name, input_shape=input_shape,
                            min_size=MIN_SIZES[layout], num_classes=num_classes,
                            include_top=include_top, pooling=pooling, dropout=dropout,
                            kernel_initializer=kernel_initializer, compile=compile,
                            compile_kwargs=compile_kwargs)

    inputs, x = image_input(options.input_shape)
    if layout == "imagenet":
        x = conv_bn_relu(x, 64, 7, strides=2, name="stem", kernel_initializer=kernel_initializer)
        x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    elif preact:
        x = _conv(widths[0], 3, 1, "stem_conv", kernel_initializer)(x)
    else:
        x = conv_bn_relu(x, widths[0], 3, name="stem", kernel_initializer=kernel_initializer)
    for stage, (blocks, width) in enumerate(zip(blocks_per_stage, widths), start=1):
        for block in range(1, blocks + 1):
            strides = 2 if stage > 1 and block == 1 else 1
            x = _residual_block(x, width, strides=strides, kind=kind, preact=preact,
                                name=f"stage{stage}_block{block}",
                                kernel_initializer=kernel_initializer)
    if preact:
        x = _batch_norm("post_bn")(x)
        x = keras.layers.Activation("relu", name="post_relu")(x)
    return finish_model(inputs, x, options, top_pooling="avg")


def _register_resnet(depth, num_params):
    layout = "imagenet" if depth in IMAGENET_DEPTHS else "cifar"
    defaults = ({"input_shape": (224, 224, 3), "num_classes": 1000} if layout == "imagenet"
                else {})
    shape = "x".join(map(str, defaults.get("input_shape", (32, 32, 3))))
    kind = IMAGENET_DEPTHS[depth][0] if layout == "imagenet" else "basic"
    return register_variant(
        f"resnet{depth}", build_resnet, fixed={"depth": depth, "layout": layout},
        defaults=defaults, family="resnet", num_params=num_params,
        reference="He et al. 2015, Deep residual learning for image recognition",
        summary=f"ResNet-{depth}, {layout} layout, {kind} blocks ({num_params:,} params at "
                f"{shape}, {defaults.get('num_classes', 10)} classes).")


build_resnet18 = _register_resnet(18, 11_689_512)
build_resnet34 = _register_resnet(34, 21_797_672)
build_resnet50 = _register_resnet(50, 25_557_032)
build_resnet101 = _register_resnet(101, 44_549_160)
build_resnet152 = _register_resnet(152, 60_192_808)
build_resnet20 = _register_resnet(20, 272_474)
build_resnet32 = _register_resnet(32, 466_906)
build_resnet44 = _register_resnet(44, 661_338)
build_resnet56 = _register_resnet(56, 855_770)
build_resnet110 = _register_resnet(110, 1_730_714)
