"""The Keras example "Simple MNIST convnet" (keras.io/examples/vision/mnist_convnet)."""

import keras

from cnnzoo.models.layers import check_options, conv, document_options, finish_model, image_input
from cnnzoo.registry import register_model

# Two valid 3x3 convolutions, each followed by a 2x2 pool: 10 -> 8 -> 4 -> 2 -> 1.
_MIN_SIZE = 10


@register_model("keras_mnist_convnet", family="keras_mnist", num_params=34_826,
                reference="Keras example 'Simple MNIST convnet' (Chollet, 2015; "
                          "keras.io/examples/vision/mnist_convnet)")
@document_options
def build_keras_mnist_convnet(*, input_shape=(28, 28, 1), num_classes=10, batch_norm=False,
                              dropout=0.5, kernel_initializer="glorot_uniform",
                              include_top=True, pooling=None, compile=True,
                              name="keras_mnist_convnet", **compile_kwargs):
    """The Keras MNIST example: Conv32-Pool-Conv64-Pool-Dropout-Dense (34,826 params at 28x28x1).

    Two valid 3x3 ReLU convolutions (32 and 64 filters), each followed by a 2x2 max
    pool, then flatten, Dropout 0.5 and the softmax classes, as the Keras example that
    most Keras users start from; at 28x28x1 with 10 classes, 34,826 parameters.

    Returns:
        A `keras.Model`, compiled for integer labels unless `compile=False`.

    Raises:
        ValueError: an input smaller than 10x10, a channel count other than 1 or 3, fewer
            than 2 classes, or an option or setting refused.

    Example:
        >>> build_keras_mnist_convnet(compile=False).count_params()
        34826
    """
    options = check_options(build_keras_mnist_convnet, name=name, input_shape=input_shape,
                            min_size=_MIN_SIZE, num_classes=num_classes,
                            include_top=include_top, pooling=pooling, dropout=dropout,
                            kernel_initializer=kernel_initializer, compile=compile,
                            compile_kwargs=compile_kwargs)
    inputs, x = image_input(options.input_shape)
    for index, filters in enumerate((32, 64), start=1):
        x = conv(x, filters, 3, name=f"conv{index}", batch_norm=batch_norm,
                 kernel_initializer=kernel_initializer)
        x = keras.layers.MaxPooling2D(2, name=f"pool{index}")(x)
    return finish_model(inputs, x, options, top_pooling="flatten")
