"""Pieces every family shares: argument checks, the pixel stem, conv-bn-relu and the head.

How pixels enter (decided once, for all models): every model takes **raw pixel values in
[0, 255]** as float32, shape `(batch, H, W, C)` with C = 1 or 3, and its first layer,
`rescale`, maps them to [0, 1]. Training, evaluation and serving therefore feed the same
raw pixels and no `preprocess_input` exists outside the model.
"""

import numbers

import keras

from cnnzoo.models.batch_norm import BatchNormalization
from cnnzoo.models.compile import compile_classifier

SUPPORTED_CHANNELS = (1, 3)
POOLINGS = ("avg", "max", "flatten", None)


def check_input_shape(input_shape, *, min_size, model):
    """Returns `input_shape` as a tuple of 3 ints after checking it suits `model`.

    Raises:
        ValueError: not three positive integers, a channel count other than 1 or 3, or a
            height or width below `min_size` (the smallest the model's downsampling allows).
    """
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else None
    if shape is None or len(shape) != 3 or not all(
            isinstance(d, numbers.Integral) and d > 0 for d in shape):
        raise ValueError(
            f"input_shape must be (height, width, channels) of positive integers; "
            f"received input_shape={input_shape!r} for {model}. Example: (28, 28, 1).")
    height, width, channels = (int(d) for d in shape)
    if channels not in SUPPORTED_CHANNELS:
        raise ValueError(
            f"{model} takes 1 (grayscale) or 3 (RGB) channels; received "
            f"input_shape={shape} with {channels} channels. Convert the images to RGB or "
            "grayscale first.")
    if min(height, width) < min_size:
        raise ValueError(
            f"{model} needs images of at least {min_size}x{min_size} pixels for its "
            f"downsampling; received input_shape={shape}. Resize or pad the images to "
            f"{min_size}x{min_size} or more, or choose a model that downsamples less.")
    return height, width, channels


def check_num_classes(num_classes, *, model):
    """Returns `num_classes` as an int after checking it is at least 2.

    Raises:
        ValueError: not an integer, or fewer than 2 classes.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) \
            or num_classes < 2:
        raise ValueError(
            f"num_classes must be an integer of at least 2; received num_classes="
            f"{num_classes!r} for {model}. A classifier needs two classes or more.")
    return int(num_classes)


def check_choice(value, choices, *, argument, model):
    """Returns `value` if it is one of `choices`, else raises a ValueError naming both."""
    if value not in choices:
        raise ValueError(
            f"{model} supports {argument} in {list(choices)}; received {argument}={value!r}.")
    return value


def refuse_fixed(kwargs, *, model, family_builder, **fixed):
    """Raises if `kwargs` sets an argument that the named variant `model` fixes.

    `build("vgg16", depth=11)` would otherwise fail inside Python's call machinery with
    "got multiple values for argument"; this says which builder takes the argument.

    Raises:
        ValueError: naming the fixed argument, its value here and the general builder.
    """
    clashes = sorted(set(kwargs) & set(fixed))
    if clashes:
        given = ", ".join(f"{key}={kwargs[key]!r}" for key in clashes)
        fixed_text = ", ".join(f"{key}={fixed[key]!r}" for key in clashes)
        raise ValueError(
            f"{model} fixes {fixed_text}; received {given}. Call "
            f"cnnzoo.{family_builder}(...) to choose it, or build another registered model.")


def image_input(input_shape):
    """Returns `(inputs, x)`: the `images` input of raw pixels and its rescaled tensor."""
    inputs = keras.Input(shape=input_shape, dtype="float32", name="images")
    return inputs, keras.layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)


def conv_bn_relu(x, filters, kernel_size, *, strides=1, name, batch_norm=True,
                 activation="relu", padding="same"):
    """Returns conv (bias-free when batch norm follows) -> [batch norm] -> activation."""
    x = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding=padding,
                            use_bias=not batch_norm, name=f"{name}_conv")(x)
    if batch_norm:
        x = BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.Activation(activation, name=f"{name}_{activation}")(x)


def classifier_head(x, *, num_classes, include_top=True, pooling="avg", hidden_units=(),
                    dropout=0.0, activation="relu"):
    """Returns the pooled features, or the class probabilities when `include_top`.

    The head is written once for every family: pooling (`avg`, `max`, `flatten` or None),
    optional hidden dense layers `fc1`, `fc2`…, dropout, and `predictions`, a softmax kept
    in float32 so mixed precision never rounds the probabilities.
    """
    if pooling == "avg":
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
    elif pooling == "flatten":
        x = keras.layers.Flatten(name="flatten")(x)
    if not include_top:
        return x
    for index, units in enumerate(hidden_units, start=1):
        x = keras.layers.Dense(units, activation=activation, name=f"fc{index}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"fc{index}_dropout")(x)
    if dropout and not hidden_units:
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    return keras.layers.Dense(num_classes, activation="softmax", dtype="float32",
                              name="predictions")(x)


def finish_model(inputs, features, *, name, num_classes, include_top=True, pooling="avg",
                 hidden_units=(), dropout=0.0, compile=True, compile_kwargs=None,
                 head_activation="relu"):
    """Returns the `keras.Model` from `inputs` to the head, compiled unless told not to.

    Raises:
        ValueError: compile settings given where nothing is compiled, or an unknown pooling.
    """
    check_choice(pooling, POOLINGS, argument="pooling", model=name)
    compile_kwargs = compile_kwargs or {}
    outputs = classifier_head(features, num_classes=num_classes, include_top=include_top,
                              pooling=pooling, hidden_units=hidden_units, dropout=dropout,
                              activation=head_activation)
    model = keras.Model(inputs, outputs, name=name)
    if compile and include_top:
        return compile_classifier(model, **compile_kwargs)
    if compile_kwargs:
        raise ValueError(
            f"compile settings {sorted(compile_kwargs)} were given but {name} is not "
            "compiled (compile=False or include_top=False). Drop them, or call "
            "cnnzoo.compile_classifier(model, ...) later.")
    return model
