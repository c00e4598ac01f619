"""The classic Keras MNIST convnet (Keras examples' `mnist_convnet` / TF's CNN tutorial)."""

import keras

from cnnzoo.models.layers import check_input_shape, check_num_classes, finish_model, image_input
from cnnzoo.registry import register_model

# Three valid 3x3 convolutions and two 2x2 pools: 18 -> 16 -> 8 -> 6 -> 3 -> 1 is the
# smallest input that leaves conv3 a pixel.
_MIN_SIZE = 18


@register_model("mnist_cnn", family="mnist_cnn", default_input=(28, 28, 1), num_classes=10,
                num_params=93_322,
                reference="TensorFlow CNN tutorial / Keras MNIST example (Chollet, 2015)")
def build_mnist_cnn(*, input_shape=(28, 28, 1), num_classes=10, include_top=True,
                    pooling="flatten", compile=True, name="mnist_cnn", **compile_kwargs):
    """The classic Keras MNIST stack: Conv32-Pool-Conv64-Pool-Conv64-Dense64 (93,322 params).

    At 28x28x1 with 10 classes the model has exactly the 93,322 parameters of the
    classic script. It takes raw pixels in [0, 255] and rescales them itself.

    Returns:
        A `keras.Model`, compiled for integer labels unless `compile=False`.

    Raises:
        ValueError: an input smaller than 18x18, a channel count other than 1 or 3, or
            fewer than 2 classes.

    Example:
        >>> model = build_mnist_cnn()
        >>> model.count_params()
        93322
    """
    input_shape = check_input_shape(input_shape, min_size=_MIN_SIZE, model=name)
    num_classes = check_num_classes(num_classes, model=name)
    inputs, x = image_input(input_shape)
    x = keras.layers.Conv2D(32, 3, activation="relu", name="conv1")(x)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(64, 3, activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool2")(x)
    x = keras.layers.Conv2D(64, 3, activation="relu", name="conv3")(x)
    return finish_model(inputs, x, name=name, num_classes=num_classes,
                        include_top=include_top, pooling=pooling, hidden_units=(64,),
                        compile=compile, compile_kwargs=compile_kwargs)
