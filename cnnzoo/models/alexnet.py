"""AlexNet-lite: AlexNet's layout (Krizhevsky, Sutskever and Hinton, 2012) for small images."""

import keras

from cnnzoo.models.layers import check_input_shape, check_num_classes, finish_model, image_input
from cnnzoo.registry import register_model

# Three 3x3/2 'same' max pools: 8 -> 4 -> 2 -> 1.
_MIN_SIZE = 8


@register_model("alexnet_lite", family="alexnet", default_input=(32, 32, 3), num_classes=10,
                num_params=3_628_682,
                reference="Krizhevsky et al. 2012, ImageNet classification with deep CNNs "
                          "(layout), scaled for 28-64 px")
def build_alexnet_lite(*, input_shape=(32, 32, 3), num_classes=10, filters=(64, 192, 256, 256, 192),
                       hidden_units=(512, 512), dropout=0.5, include_top=True, compile=True,
                       name="alexnet_lite", **compile_kwargs):
    """AlexNet's five convolutions and three dense layers, sized for 28-64 px images.

    Layout: conv1 5x5 -> pool1 -> conv2 5x5 -> pool2 -> conv3, conv4, conv5 3x3 -> pool5 ->
    fc1 512 -> fc2 512 -> predictions, ReLU throughout, Dropout 0.5 before each dense
    layer's successor, overlapping 3x3/2 max pools as in the paper. The 11x11/4 stem and
    local response normalisation are dropped: they suit 224 px images and add nothing
    here. At 32x32x3 with 10 classes: 3,628,682 parameters (the flattened pool5 feeds
    fc1, so larger inputs add parameters there).

    Returns:
        A `keras.Model`, compiled for integer labels unless `compile=False`.

    Raises:
        ValueError: an input smaller than 8x8, a channel count other than 1 or 3, fewer
            than 2 classes, or not five filter counts.
    """
    if len(filters) != 5:
        raise ValueError(f"{name} has five convolutions; received filters={filters!r}.")
    input_shape = check_input_shape(input_shape, min_size=_MIN_SIZE, model=name)
    num_classes = check_num_classes(num_classes, model=name)
    inputs, x = image_input(input_shape)
    kernel_sizes = (5, 5, 3, 3, 3)
    for index, (width, size) in enumerate(zip(filters, kernel_sizes), start=1):
        x = keras.layers.Conv2D(width, size, padding="same", activation="relu",
                                name=f"conv{index}")(x)
        if index in (1, 2, 5):
            x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name=f"pool{index}")(x)
    return finish_model(inputs, x, name=name, num_classes=num_classes,
                        include_top=include_top, pooling="flatten", hidden_units=hidden_units,
                        dropout=dropout, compile=compile, compile_kwargs=compile_kwargs)
