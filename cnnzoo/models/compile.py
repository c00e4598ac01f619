"""Compile settings shared by every builder: optimizer, loss, metrics."""

import keras

from cnnzoo.losses import ClassificationAccuracy, ClassificationCrossentropy, TopFiveAccuracy

# Default learning rates are the ones each optimizer is usually run with on small CNNs.
OPTIMIZERS = {
    "adam": (keras.optimizers.Adam, 1e-3, {}),
    "adamw": (keras.optimizers.AdamW, 1e-3, {}),
    "nadam": (keras.optimizers.Nadam, 1e-3, {}),
    "rmsprop": (keras.optimizers.RMSprop, 1e-3, {}),
    "sgd": (keras.optimizers.SGD, 0.1, {"momentum": 0.9, "nesterov": True}),
}

# Batch-norm scales and shifts and biases are not decayed: decaying them only fights the
# normalisation (the usual practice since Goyal et al. 2017).
_NO_DECAY = ["bias", "gamma", "beta"]


def make_optimizer(optimizer="adam", *, learning_rate=None, weight_decay=None):
    """Returns a Keras optimizer.

    Args:
        optimizer: a name from `OPTIMIZERS` or a `keras.optimizers.Optimizer` instance
            (returned as it is; `learning_rate` and `weight_decay` must then be None).
        learning_rate: a float or a `keras.optimizers.schedules.LearningRateSchedule`;
            None takes the optimizer's usual default.
        weight_decay: decoupled weight decay, applied to kernels only.

    Raises:
        ValueError: an unknown optimizer name, a learning rate that is not positive, a
            negative weight decay, or settings given beside an instance.

    Example:
        >>> make_optimizer("sgd", learning_rate=0.05).__class__.__name__
        'SGD'
    """
    if isinstance(optimizer, keras.optimizers.Optimizer):
        if learning_rate is not None or weight_decay is not None:
            raise ValueError(
                "learning_rate and weight_decay apply to an optimizer given by name; "
                f"received an instance ({type(optimizer).__name__}). Set them on the instance.")
        return optimizer
    if optimizer not in OPTIMIZERS:
        raise ValueError(
            f"unknown optimizer {optimizer!r}; choose one of {sorted(OPTIMIZERS)} "
            "or pass a keras.optimizers.Optimizer instance.")
    if isinstance(learning_rate, (int, float)) and not learning_rate > 0:
        raise ValueError(f"learning_rate must be positive; received learning_rate="
                         f"{learning_rate!r}. Typical values: 1e-3 for adam, 0.1 for sgd.")
    cls, default_lr, extra = OPTIMIZERS[optimizer]
    if weight_decay is not None and weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0; received weight_decay={weight_decay}.")
    instance = cls(
        learning_rate=default_lr if learning_rate is None else learning_rate,
        weight_decay=weight_decay or None, **extra)
    if weight_decay:
        instance.exclude_from_weight_decay(var_names=_NO_DECAY)
    return instance


def default_metrics(num_classes):
    """Returns accuracy, plus top-5 accuracy when there are more than 5 classes."""
    metrics = [ClassificationAccuracy()]
    if num_classes > 5:
        metrics.append(TopFiveAccuracy())
    return metrics


def compile_classifier(model, *, optimizer="adam", learning_rate=None, weight_decay=None,
                       label_smoothing=0.0, metrics=None, jit_compile="auto", **kwargs):
    """Compiles `model` in place for integer (or one-hot) labels and returns it.

    The loss is `ClassificationCrossentropy` over the model's softmax output; metrics
    default to `default_metrics(num_classes)`. Other keyword arguments go to
    `model.compile` (for example `steps_per_execution`).
    """
    num_classes = model.output_shape[-1]
    model.compile(
        optimizer=make_optimizer(optimizer, learning_rate=learning_rate,
                                 weight_decay=weight_decay),
        loss=ClassificationCrossentropy(label_smoothing=label_smoothing),
        metrics=default_metrics(num_classes) if metrics is None else metrics,
        jit_compile=jit_compile,
        **kwargs)
    return model
