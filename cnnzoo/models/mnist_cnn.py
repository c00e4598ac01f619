"""The TensorFlow CNN tutorial's network (tensorflow.org/tutorials/images/cnn) at 28x28x1."""

import keras

from cnnzoo.models.layers import check_options, conv, document_options, finish_model, image_input
from cnnzoo.registry import register_model

# Three valid 3x3 convolutions and two 2x2 pools: 18 -> 16 -> 8 -> 6 -> 3 -> 1 is the
# smallest input that leaves conv3 a pixel.
_MIN_SIZE = 18


@register_model("mnist_cnn", family="mnist_cnn", num_params=93_322,
                reference="TensorFlow CNN tutorial (tensorflow.org/tutorials/images/cnn), "
                          "at 28x28x1")
@document_options
def build_mnist_cnn(*, input_shape=(28, 28, 1), num_classes=10, batch_norm=False, dropout=0.0,
                    kernel_initializer="glorot_uniform", include_top=True, pooling=None,
                    compile=True, name="mnist_cnn", **compile_kwargs):
    """The TF CNN tutorial: Conv32-Pool-Conv64-Pool-Conv64-Dense64 (93,322 params at 28x28x1).

    TensorFlow's CNN tutorial stacks three valid 3x3 ReLU convolutions (32, 64, 64
    filters) with a 2x2 max pool after the first two, then Dense 64 and the classes; at
    28x28x1 with 10 classes that is 93,322 parameters. (The Keras example's MNIST
    convnet is a smaller network: `keras_mnist_convnet`.)

    Returns:
        A `keras.Model`, compiled for integer labels unless `compile=False`.

    Raises:
        ValueError: an input smaller than 18x18, a channel count other than 1 or 3, fewer
            than 2 classes, or an option or setting refused.

    Example:
        >>> model = build_mnist_cnn()
        >>> model.count_params()
        93322
    """
    options = check_options(build_mnist_cnn, name=name, input_shape=input_shape,
                            min_size=_MIN_SIZE, num_classes=num_classes,
                            include_top=include_top, pooling=pooling, dropout=dropout,
                            kernel_initializer=kernel_initializer, compile=compile,
                            compile_kwargs=compile_kwargs)
    inputs, x = image_input(options.input_shape)
    for index, filters in enumerate((32, 64, 64), start=1):
        x = conv(x, filters, 3, name=f"conv{index}", batch_norm=batch_norm,
                 kernel_initializer=kernel_initializer)
        if index < 3:
            x = keras.layers.MaxPooling2D(2, name=f"pool{index}")(x)
    return finish_model(inputs, x, options, top_pooling="flatten", hidden_units=(64,))
