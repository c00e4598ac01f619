"""The two-block CNNs of the classic PyTorch MNIST / Fashion-MNIST tutorials."""

import keras

from cnnzoo.models.layers import (check_input_shape, check_num_classes, finish_model, image_input,
                                  refuse_fixed)
from cnnzoo.registry import register_model

# Two 'same' convolutions each followed by a 2x2 pool: 4 px leave one pixel.
_MIN_SIZE = 4
_TUTORIAL_3X3 = {"filters": (32, 64), "kernel_size": 3, "hidden_units": (128,)}
_TUTORIAL_5X5 = {"filters": (16, 32), "kernel_size": 5, "hidden_units": ()}


def build_tutorial_cnn(*, filters=(32, 64), kernel_size=3, hidden_units=(128,), dropout=0.0,
                       input_shape=(28, 28, 1), num_classes=10, include_top=True,
                       pooling="flatten", compile=True, name="tutorial_cnn", **compile_kwargs):
    """Two blocks of Conv('same')-ReLU-MaxPool(2), then the dense head.

    Returns:
        A `keras.Model`, compiled for integer labels unless `compile=False`.

    Raises:
        ValueError: an input smaller than 4x4, a channel count other than 1 or 3, fewer
            than 2 classes, or not exactly two filter counts.
    """
    if len(filters) != 2:
        raise ValueError(f"{name} has two convolution blocks; received filters={filters!r}. "
                         "Pass two filter counts, e.g. (32, 64).")
    input_shape = check_input_shape(input_shape, min_size=_MIN_SIZE, model=name)
    num_classes = check_num_classes(num_classes, model=name)
    inputs, x = image_input(input_shape)
    for block, width in enumerate(filters, start=1):
        x = keras.layers.Conv2D(width, kernel_size, padding="same", activation="relu",
                                name=f"conv{block}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{block}")(x)
    return finish_model(inputs, x, name=name, num_classes=num_classes,
                        include_top=include_top, pooling=pooling, hidden_units=hidden_units,
                        dropout=dropout, compile=compile, compile_kwargs=compile_kwargs)


@register_model("tutorial_3x3", family="tutorial", default_input=(28, 28, 1), num_classes=10,
                num_params=421_642,
                reference="PyTorch / Keras beginner tutorials: Conv32-Conv64 3x3, Dense 128")
def build_tutorial_3x3(**kwargs):
    """Conv 32/64 3x3 'same' + 2x2 pool twice, Dense 128, Dropout 0.5 (421,642 params)."""
    refuse_fixed(kwargs, model="tutorial_3x3", family_builder="build_tutorial_cnn",
                 **_TUTORIAL_3X3)
    kwargs.setdefault("name", "tutorial_3x3")
    kwargs.setdefault("dropout", 0.5)
    return build_tutorial_cnn(**_TUTORIAL_3X3, **kwargs)


@register_model("tutorial_5x5", family="tutorial", default_input=(28, 28, 1), num_classes=10,
                num_params=28_938,
                reference="PyTorch MNIST tutorial CNN: Conv16-Conv32 5x5, linear classifier")
def build_tutorial_5x5(**kwargs):
    """Conv 16/32 5x5 'same' + 2x2 pool twice, straight to the classes (28,938 params)."""
    refuse_fixed(kwargs, model="tutorial_5x5", family_builder="build_tutorial_cnn",
                 **_TUTORIAL_5X5)
    kwargs.setdefault("name", "tutorial_5x5")
    return build_tutorial_cnn(**_TUTORIAL_5X5, **kwargs)
