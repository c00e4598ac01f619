"""Pieces every family shares: option checks, the pixel stem, convolutions and the head.

How pixels enter (decided once, for all models): every model takes **raw pixel values in
[0, 255]** as float32, shape `(batch, H, W, C)` with C = 1 or 3, and its first layer,
`rescale`, maps them to [0, 1]. Training, evaluation and serving therefore feed the same
raw pixels and no `preprocess_input` exists outside the model.
"""

import dataclasses
import inspect
import numbers

import keras

from cnnzoo.models.batch_norm import BatchNormalization
from cnnzoo.models.compile import check_option_names, classifier_compile_args
from cnnzoo.registry import args_entries, keyword_options, with_args_section

SUPPORTED_CHANNELS = (1, 3)
# The most pixel values one input image may hold: 2**28 (1 GiB as float32, e.g. 16384x16384
# gray). Larger inputs exhaust memory while the model is built, in TensorFlow's allocator.
MAX_INPUT_VALUES = 2 ** 28
# How a family's top turns the last feature map into a vector.
TOP_POOLINGS = ("avg", "max", "flatten")
# `pooling` with include_top=False, as keras.applications: the map itself, or pooled.
FEATURE_POOLINGS = (None, "avg", "max")


def check_input_shape(input_shape, *, min_size, model):
    """Returns `input_shape` as a tuple of 3 ints after checking it suits `model`.

    Raises:
        ValueError: not three positive integers (True is no integer here), a channel count
            other than 1 or 3, a height or width below `min_size` (the smallest the model's
            downsampling allows), or more than `MAX_INPUT_VALUES` values an image.
    """
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else None
    if shape is None or len(shape) != 3 or not all(
            isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0
            for d in shape):
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
    values = height * width * channels
    if values > MAX_INPUT_VALUES:
        raise ValueError(
            f"input_shape={shape} holds {values:,} values an image ({values * 4 / 2**30:,.1f} "
            f"GiB as float32), above the {MAX_INPUT_VALUES:,} cnnzoo builds for: {model} "
            "would exhaust memory while it is built. Resize the images smaller first.")
    return height, width, channels


def check_model_name(name):
    """Returns `name` once Keras can name a model so: a non-empty string without '/'.

    Raises:
        ValueError: anything else.
    """
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(f"name must be a non-empty string without '/' (it names the model "
                         f"and its files); received name={name!r}. Example: name='my_cnn'.")
    return name


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


def check_dropout(dropout, *, model):
    """Returns `dropout` as a float after checking it lies in [0, 1).

    Raises:
        ValueError: not a number in [0, 1).
    """
    if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) \
            or not 0 <= dropout < 1:
        raise ValueError(f"dropout must be a rate in [0, 1); received dropout={dropout!r} "
                         f"for {model}. Typical values: 0.0 (off), 0.2, 0.5.")
    return float(dropout)


def check_kernel_initializer(kernel_initializer, *, model):
    """Returns `kernel_initializer` as given after checking Keras knows it.

    Raises:
        ValueError: a name Keras does not know, or something that is no initializer.
    """
    message = (f"kernel_initializer must be a Keras initializer name such as 'he_normal' or "
               f"'glorot_uniform', or a keras.initializers.Initializer; received "
               f"kernel_initializer={kernel_initializer!r} for {model}.")
    if kernel_initializer is None:
        raise ValueError(message)
    try:
        keras.initializers.get(kernel_initializer)
    except (ValueError, TypeError):
        raise ValueError(message) from None
    return kernel_initializer


@dataclasses.dataclass(frozen=True)
class BuildOptions:
    """The options every family shares, checked (see `check_options`)."""

    name: str
    input_shape: tuple
    num_classes: int
    include_top: bool
    pooling: str | None
    dropout: float
    kernel_initializer: object
    compile_args: dict | None


def check_options(builder, *, name, input_shape, min_size, num_classes, include_top, pooling,
                  dropout, kernel_initializer, compile, compile_kwargs):
    """Checks the options every family shares, before any layer is built.

    Args:
        builder: the family builder, whose signature names the options it takes.
        name: the model's name, used in messages.
        min_size: the smallest height and width the model's downsampling allows.
        compile_kwargs: the builder's `**compile_kwargs`, checked against
            `COMPILE_OPTIONS` and turned into `model.compile` arguments.
        input_shape, num_classes, include_top, pooling, dropout, kernel_initializer,
            compile: the builder's arguments of those names.

    Returns:
        A `BuildOptions`; its `compile_args` is None where the model is not to be compiled.

    Raises:
        ValueError: an unknown option (naming the builder's options and the compile
            settings), any value refused (the model's `name` included), `pooling` set beside the top, or compile
            settings where nothing is compiled.
    """
    check_option_names(compile_kwargs, model=name, options=keyword_options(builder))
    check_model_name(name)
    input_shape = check_input_shape(input_shape, min_size=min_size, model=name)
    num_classes = check_num_classes(num_classes, model=name)
    check_choice(pooling, FEATURE_POOLINGS, argument="pooling", model=name)
    if include_top and pooling is not None:
        raise ValueError(
            f"pooling applies with include_top=False (as in keras.applications); {name}'s "
            f"top pools its own way. Received pooling={pooling!r} with include_top=True: "
            "pass include_top=False, or leave pooling unset.")
    dropout = check_dropout(dropout, model=name)
    kernel_initializer = check_kernel_initializer(kernel_initializer, model=name)
    compile_args = None
    if compile and include_top:
        compile_args = classifier_compile_args(num_classes, **compile_kwargs)
    elif compile_kwargs:
        raise ValueError(
            f"compile settings {sorted(compile_kwargs)} were given but {name} is not "
            "compiled (compile=False or include_top=False). Drop them, or call "
            "cnnzoo.compile_classifier(model, ...) later.")
    return BuildOptions(name=name, input_shape=input_shape, num_classes=num_classes,
                        include_top=bool(include_top), pooling=pooling, dropout=dropout,
                        kernel_initializer=kernel_initializer, compile_args=compile_args)


def image_input(input_shape):
    """Returns `(inputs, x)`: the `images` input of raw pixels and its rescaled tensor."""
    inputs = keras.Input(shape=input_shape, dtype="float32", name="images")
    return inputs, keras.layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)


def conv(x, filters, kernel_size, *, name, activation="relu", batch_norm=False,
         kernel_initializer="glorot_uniform", padding="valid", strides=1):
    """Returns a Conv2D named `name` with its activation, or conv -> batch norm -> activation.

    Without batch norm this is one layer, `name`; with it, a bias-free `name`, then
    `{name}_bn` and `{name}_{activation}`.
    """
    x = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding=padding,
                            activation=None if batch_norm else activation,
                            use_bias=not batch_norm, kernel_initializer=kernel_initializer,
                            name=name)(x)
    if not batch_norm:
        return x
    x = BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.Activation(activation, name=f"{name}_{activation}")(x)


def conv_bn_relu(x, filters, kernel_size, *, strides=1, name, batch_norm=True,
                 activation="relu", padding="same", kernel_initializer="glorot_uniform"):
    """Returns `{name}_conv` (bias-free when batch norm follows) -> `{name}_bn` -> activation."""
    x = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding=padding,
                            use_bias=not batch_norm, kernel_initializer=kernel_initializer,
                            name=f"{name}_conv")(x)
    if batch_norm:
        x = BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.Activation(activation, name=f"{name}_{activation}")(x)


def global_pooling(x, pooling):
    """Returns `x` pooled by `pooling` (`avg`, `max`, `flatten`), or as it is for None."""
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
    if pooling == "flatten":
        return keras.layers.Flatten(name="flatten")(x)
    return x


def classifier_head(x, *, num_classes, pooling="avg", hidden_units=(), dropout=0.0,
                    activation="relu", kernel_initializer="glorot_uniform"):
    """Returns the class probabilities computed from the feature map `x`.

    The head is written once for every family: pooling (`avg`, `max`, `flatten` or None),
    optional hidden dense layers `fc1`, `fc2`…, dropout (after each hidden layer, or
    `head_dropout` before the predictions where there is none; no layer at rate 0), and
    `predictions`, a softmax kept in float32 so mixed precision never rounds the
    probabilities.
    """
    x = global_pooling(x, pooling)
    for index, units in enumerate(hidden_units, start=1):
        x = keras.layers.Dense(units, activation=activation,
                               kernel_initializer=kernel_initializer, name=f"fc{index}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"fc{index}_dropout")(x)
    if dropout and not hidden_units:
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    return keras.layers.Dense(num_classes, activation="softmax", dtype="float32",
                              kernel_initializer=kernel_initializer, name="predictions")(x)


def finish_model(inputs, features, options, *, top_pooling, hidden_units=(),
                 head_activation="relu"):
    """Returns the `keras.Model` from `inputs` to the top or the features, compiled if asked.

    Args:
        inputs: the model's `images` input.
        features: the backbone's last feature map.
        options: the checked `BuildOptions`.
        top_pooling: how the family's top pools (`avg`, `max` or `flatten`).
        hidden_units: the top's hidden dense layers.
        head_activation: their activation.

    Returns:
        A `keras.Model` named `options.name`: with `include_top`, the classifier (compiled
        where `options.compile_args` says so); without, the features pooled by
        `options.pooling`.
    """
    check_choice(top_pooling, TOP_POOLINGS, argument="top pooling", model=options.name)
    if options.include_top:
        outputs = classifier_head(features, num_classes=options.num_classes,
                                  pooling=top_pooling, hidden_units=hidden_units,
                                  dropout=options.dropout, activation=head_activation,
                                  kernel_initializer=options.kernel_initializer)
    else:
        outputs = global_pooling(features, options.pooling)
    model = keras.Model(inputs, outputs, name=options.name)
    if options.compile_args is not None:
        model.compile(**options.compile_args)
    return model


# The shared options' documentation, written once; `document_options` adds it to the
# Args section of every builder that takes the option and does not document it itself.
COMMON_ARGS = {
    "input_shape": "`(height, width, channels)` of the images, channels 1 or 3. The model "
                   "takes raw 0-255 pixels and rescales them itself (its `rescale` layer).",
    "num_classes": "the number of classes of the softmax top, 2 or more.",
    "dropout": "the dropout rate of the top, in [0, 1): after each hidden dense layer, or "
               "before the predictions where there is none. At 0 no layer is added.",
    "kernel_initializer": "the initializer of every convolution and dense kernel: a Keras "
                          "name such as `\"he_normal\"`, or a `keras.initializers` instance.",
    "batch_norm": "whether batch norm follows each convolution (the convolution then has no "
                  "bias; the activation follows the batch norm).",
    "include_top": "whether the model ends in the classifier. False returns the backbone's "
                   "features (see `pooling`) for transfer learning or `cnnzoo.features`; "
                   "such a model is never compiled.",
    "pooling": "with `include_top=False`: None returns the last feature map (4-D), "
               "`\"avg\"` or `\"max\"` its global average or maximum (2-D), as "
               "keras.applications. Must be None with the top, which pools its own way.",
    "compile": "whether to compile the model for integer or one-hot labels "
               "(`cnnzoo.compile_classifier`).",
    "name": "the Keras model's name.",
    "**compile_kwargs": "compile settings: `optimizer`, `learning_rate`, `weight_decay`, "
                        "`clipnorm`, `global_clipnorm`, `label_smoothing`, `metrics`, "
                        "`jit_compile`, `run_eagerly`, `steps_per_execution` (see "
                        "`cnnzoo.models.compile.classifier_compile_args`). Any other name "
                        "raises a ValueError naming the options there are.",
}


def document_options(builder):
    """Returns `builder` with an Args section listing every parameter, in signature order.

    Entries the docstring writes itself stay; the shared options take `COMMON_ARGS`.

    Raises:
        ValueError: a parameter documented nowhere (caught when the module is imported).
    """
    own = args_entries(builder.__doc__)
    entries = {}
    for key, parameter in inspect.signature(builder).parameters.items():
        key = f"**{key}" if parameter.kind is parameter.VAR_KEYWORD else key
        text = own.get(key, COMMON_ARGS.get(key))
        if text is None:
            raise ValueError(f"{builder.__name__} does not document its argument {key!r}.")
        entries[key] = text
    builder.__doc__ = with_args_section(builder.__doc__, entries)
    return builder
