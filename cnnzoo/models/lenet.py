"""LeNet-5 (LeCun, Bottou, Bengio and Haffner, 1998)."""

import keras

from cnnzoo.models.layers import (check_choice, check_input_shape, check_num_classes,
                                  finish_model, image_input)
from cnnzoo.registry import register_model

# Two valid 5x5 convolutions and two 2x2 pools: 16 -> 12 -> 6 -> 2 -> 1.
_MIN_SIZE = 16


@register_model("lenet5", family="lenet", default_input=(32, 32, 1), num_classes=10,
                num_params=61_706,
                reference="LeCun et al. 1998, Gradient-based learning applied to document "
                          "recognition")
def build_lenet5(*, input_shape=(32, 32, 1), num_classes=10, activation="tanh",
                 subsampling="avg", include_top=True, compile=True, name="lenet5",
                 **compile_kwargs):
    """LeNet-5: C1 6@5x5, S2, C3 16@5x5, S4, C5 120, F6 84, output (61,706 params at 32x32).

    As in the paper, C1 sees a 32x32 image and the activations are tanh with average
    subsampling; `activation="relu"` and `subsampling="max"` give the modern variant.
    C5 is a dense layer over the flattened S4 maps, which at 32x32 input is exactly the
    paper's 5x5 convolution, and which also lets 28x28 images in unpadded.

    Returns:
        A `keras.Model`, compiled for integer labels unless `compile=False`.

    Raises:
        ValueError: an input smaller than 16x16, a channel count other than 1 or 3, fewer
            than 2 classes, or an unknown `subsampling`.
    """
    check_choice(subsampling, ("avg", "max"), argument="subsampling", model=name)
    input_shape = check_input_shape(input_shape, min_size=_MIN_SIZE, model=name)
    num_classes = check_num_classes(num_classes, model=name)
    pool = keras.layers.AveragePooling2D if subsampling == "avg" else keras.layers.MaxPooling2D
    inputs, x = image_input(input_shape)
    x = keras.layers.Conv2D(6, 5, activation=activation, name="c1")(x)
    x = pool(2, name="s2")(x)
    x = keras.layers.Conv2D(16, 5, activation=activation, name="c3")(x)
    x = pool(2, name="s4")(x)
    return finish_model(inputs, x, name=name, num_classes=num_classes,
                        include_top=include_top, pooling="flatten", hidden_units=(120, 84),
                        head_activation=activation, compile=compile,
                        compile_kwargs=compile_kwargs)
