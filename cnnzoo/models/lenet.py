"""LeNet-5 (LeCun, Bottou, Bengio and Haffner, 1998)."""

import keras

from cnnzoo.models.layers import (check_choice, check_options, conv, document_options,
                                  finish_model, image_input)
from cnnzoo.registry import register_model

# Two valid 5x5 convolutions and two 2x2 pools: 16 -> 12 -> 6 -> 2 -> 1.
_MIN_SIZE = 16


@register_model("lenet5", family="lenet", num_params=61_706,
                reference="LeCun et al. 1998, Gradient-based learning applied to document "
                          "recognition")
@document_options
def build_lenet5(*, input_shape=(32, 32, 1), num_classes=10, activation="tanh",
                 subsampling="avg", batch_norm=False, dropout=0.0,
                 kernel_initializer="glorot_uniform", include_top=True, pooling=None,
                 compile=True, name="lenet5", **compile_kwargs):
    """LeNet-5: C1 6@5x5, S2, C3 16@5x5, S4, C5 120, F6 84, output (61,706 params at 32x32).

    As in the paper, C1 sees a 32x32 image and the activations are tanh with average
    subsampling; `activation="relu"` and `subsampling="max"` give the modern variant.
    C5 is a dense layer over the flattened S4 maps, which at 32x32 input is exactly the
    paper's 5x5 convolution, and which also lets 28x28 images in unpadded.

    Args:
        activation: the activation of every layer but the output: `"tanh"` (the paper)
            or any Keras activation name such as `"relu"`.
        subsampling: `"avg"` (the paper's S2 and S4) or `"max"`.

    Returns:
        A `keras.Model`, compiled for integer labels unless `compile=False`.

    Raises:
        ValueError: an input smaller than 16x16, a channel count other than 1 or 3, fewer
            than 2 classes, an unknown `subsampling` or `activation`, or an option or setting refused.
    """
    check_choice(subsampling, ("avg", "max"), argument="subsampling", model=name)
    try:
        keras.activations.get(activation)
    except ValueError:
        raise ValueError(f"{name} takes a Keras activation name such as 'tanh' or 'relu'; "
                         f"received activation={activation!r}.") from None
    options = check_options(build_lenet5, name=name, input_shape=input_shape,
                            min_size=_MIN_SIZE, num_classes=num_classes,
                            include_top=include_top, pooling=pooling, dropout=dropout,
                            kernel_initializer=kernel_initializer, compile=compile,
                            compile_kwargs=compile_kwargs)
    pool = keras.layers.AveragePooling2D if subsampling == "avg" else keras.layers.MaxPooling2D
    inputs, x = image_input(options.input_shape)
    x = conv(x, 6, 5, name="c1", activation=activation, batch_norm=batch_norm,
             kernel_initializer=kernel_initializer)
    x = pool(2, name="s2")(x)
    x = conv(x, 16, 5, name="c3", activation=activation, batch_norm=batch_norm,
             kernel_initializer=kernel_initializer)
    x = pool(2, name="s4")(x)
    return finish_model(inputs, x, options, top_pooling="flatten", hidden_units=(120, 84),
                        head_activation=activation)
