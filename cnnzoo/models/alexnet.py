"""AlexNet-lite: AlexNet's layout (Krizhevsky, Sutskever and Hinton, 2012) for small images."""

import keras

from cnnzoo.models.layers import check_options, conv, document_options, finish_model, image_input
from cnnzoo.registry import register_model

# Three 3x3/2 'same' max pools: 8 -> 4 -> 2 -> 1.
_MIN_SIZE = 8


@register_model("alexnet_lite", family="alexnet", num_params=3_628_682,
                reference="Krizhevsky et al. 2012, ImageNet classification with deep CNNs "
                          "(layout), scaled for 28-64 px")
@document_options
def build_alexnet_lite(*, input_shape=(32, 32, 3), num_classes=10,
                       filters=(64, 192, 256, 256, 192), hidden_units=(512, 512), batch_norm=False, dropout=0.5,
                       kernel_initializer="glorot_uniform", include_top=True, pooling=None,
                       compile=True, name="alexnet_lite", **compile_kwargs):
    """AlexNet's 5 convolutions and 3 dense layers for 28-64 px (3,628,682 params at 32x32x3).

    Layout: conv1 5x5 -> pool1 -> conv2 5x5 -> pool2 -> conv3, conv4, conv5 3x3 -> pool5 ->
    fc1 512 -> fc2 512 -> predictions, ReLU throughout, Dropout 0.5 before each dense
    layer's successor, overlapping 3x3/2 max pools as in the paper. The 11x11/4 stem and
    local response normalisation are dropped: they suit 224 px images and add nothing
    here. At 32x32x3 with 10 classes: 3,628,682 parameters (the flattened pool5 feeds
    fc1, so larger inputs add parameters there).

    Args:
        filters: the five convolutions' filter counts.
        hidden_units: the widths of the top's hidden dense layers (`fc1`, `fc2`, ...).

    Returns:
        A `keras.Model`, compiled for integer labels unless `compile=False`.

    Raises:
        ValueError: an input smaller than 8x8, a channel count other than 1 or 3, fewer
            than 2 classes, not five filter counts, or an option or setting refused.
    """
    if len(filters) != 5:
        raise ValueError(f"{name} has five convolutions; received filters={filters!r}.")
    options = check_options(build_alexnet_lite, name=name, input_shape=input_shape,
                            min_size=_MIN_SIZE, num_classes=num_classes,
                            include_top=include_top, pooling=pooling, dropout=dropout,
                            kernel_initializer=kernel_initializer, compile=compile,
                            compile_kwargs=compile_kwargs)
    inputs, x = image_input(options.input_shape)
    kernel_sizes = (5, 5, 3, 3, 3)
    for index, (width, size) in enumerate(zip(filters, kernel_sizes), start=1):
        x = conv(x, width, size, name=f"conv{index}", padding="same", batch_norm=batch_norm,
                 kernel_initializer=kernel_initializer)
        if index in (1, 2, 5):
            x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name=f"pool{index}")(x)
    return finish_model(inputs, x, options, top_pooling="flatten", hidden_units=hidden_units)
