"""The two-block CNNs of the classic PyTorch MNIST / Fashion-MNIST tutorials."""

import keras

from cnnzoo.models.layers import check_options, conv, document_options, finish_model, image_input
from cnnzoo.registry import register_variant

# Two 'same' convolutions each followed by a 2x2 pool: 4 px leave one pixel.
_MIN_SIZE = 4


@document_options
def build_tutorial_cnn(*, filters=(32, 64), kernel_size=3, hidden_units=(128,), batch_norm=False,
                       dropout=0.0, kernel_initializer="glorot_uniform",
                       input_shape=(28, 28, 1), num_classes=10, include_top=True, pooling=None,
                       compile=True, name="tutorial_cnn", **compile_kwargs):
    """Two blocks of Conv('same')-ReLU-MaxPool(2), then the dense top.

    Args:
        filters: the two convolutions' filter counts.
        kernel_size: both convolutions' kernel size.
        hidden_units: the widths of the top's hidden dense layers; () goes straight from
            the flattened maps to the classes.

    Returns:
        A `keras.Model`, compiled for integer labels unless `compile=False`.

    Raises:
        ValueError: an input smaller than 4x4, a channel count other than 1 or 3, fewer
            than 2 classes, not exactly two filter counts, or an option or setting refused.

    Example:
        >>> build_tutorial_cnn(filters=(8, 16), compile=False).output_shape
        (None, 10)
    """
    if len(filters) != 2:
        raise ValueError(f"{name} has two convolution blocks; received filters={filters!r}. "
                         "Pass two filter counts, e.g. (32, 64).")
    options = check_options(build_tutorial_cnn, name=name, input_shape=input_shape,
                            min_size=_MIN_SIZE, num_classes=num_classes,
                            include_top=include_top, pooling=pooling, dropout=dropout,
                            kernel_initializer=kernel_initializer, compile=compile,
                            compile_kwargs=compile_kwargs)
    inputs, x = image_input(options.input_shape)
    for block, width in enumerate(filters, start=1):
        x = conv(x, width, kernel_size, name=f"conv{block}", padding="same",
                 batch_norm=batch_norm, kernel_initializer=kernel_initializer)
        x = keras.layers.MaxPooling2D(2, name=f"pool{block}")(x)
    return finish_model(inputs, x, options, top_pooling="flatten", hidden_units=hidden_units)


build_tutorial_3x3 = register_variant(
    "tutorial_3x3", build_tutorial_cnn,
    fixed={"filters": (32, 64), "kernel_size": 3, "hidden_units": (128,)},
    defaults={"dropout": 0.5, "name": "tutorial_3x3"},
    family="tutorial", num_params=421_642,
    reference="PyTorch / Keras beginner tutorials: Conv32-Conv64 3x3, Dense 128",
    summary="Conv 32/64 3x3 'same' + 2x2 pool twice, Dense 128, Dropout 0.5 "
            "(421,642 params at 28x28x1).")

build_tutorial_5x5 = register_variant(
    "tutorial_5x5", build_tutorial_cnn,
    fixed={"filters": (16, 32), "kernel_size": 5, "hidden_units": ()},
    defaults={"name": "tutorial_5x5"},
    family="tutorial", num_params=28_938,
    reference="PyTorch MNIST tutorial CNN: Conv16-Conv32 5x5, linear classifier",
    summary="Conv 16/32 5x5 'same' + 2x2 pool twice, straight to the classes "
            "(28,938 params at 28x28x1).")
