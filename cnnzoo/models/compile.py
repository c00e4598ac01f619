"""Compile settings shared by every builder: optimizer, loss, metrics."""

import difflib
import inspect
import math
import numbers

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


def make_optimizer(optimizer="adam", *, learning_rate=None, weight_decay=None, clipnorm=None,
                   global_clipnorm=None):
    """Returns a Keras optimizer.

    Args:
        optimizer: a name from `OPTIMIZERS` or a `keras.optimizers.Optimizer` instance
            (returned as it is; the other settings must then be None).
        learning_rate: a float or a `keras.optimizers.schedules.LearningRateSchedule`;
            None takes the optimizer's usual default.
        weight_decay: decoupled weight decay, applied to kernels only.
        clipnorm: clip each gradient to this L2 norm (positive), or None.
        global_clipnorm: clip all gradients together to this global L2 norm (positive),
            or None; not with `clipnorm`.

    Returns:
        A `keras.optimizers.Optimizer`.

    Raises:
        ValueError: an unknown optimizer name, a learning rate that is not positive and
            finite, a negative weight decay, a clipping norm that is not positive or both
            norms, or settings given beside an instance.

    Example:
        >>> make_optimizer("sgd", learning_rate=0.05).__class__.__name__
        'SGD'
    """
    settings = {"learning_rate": learning_rate, "weight_decay": weight_decay,
                "clipnorm": clipnorm, "global_clipnorm": global_clipnorm}
    if isinstance(optimizer, keras.optimizers.Optimizer):
        given = sorted(key for key, value in settings.items() if value is not None)
        if given:
            raise ValueError(
                f"{', '.join(given)} apply to an optimizer given by name; received an "
                f"instance ({type(optimizer).__name__}). Set them on the instance.")
        return optimizer
    if optimizer not in OPTIMIZERS:
        raise ValueError(
            f"unknown optimizer {optimizer!r}; choose one of {sorted(OPTIMIZERS)} "
            "or pass a keras.optimizers.Optimizer instance.")
    if isinstance(learning_rate, numbers.Real) and (
            isinstance(learning_rate, bool) or not 0 < learning_rate < math.inf):
        raise ValueError(f"learning_rate must be positive and finite; received learning_rate="
                         f"{learning_rate!r}. Typical values: 1e-3 for adam, 0.1 for sgd.")
    if weight_decay is not None and weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0; received weight_decay={weight_decay}.")
    for key in ("clipnorm", "global_clipnorm"):
        value = settings[key]
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not value > 0):
            raise ValueError(f"{key} must be a positive number; received {key}={value!r}. "
                             "Typical value: 1.0.")
    if clipnorm is not None and global_clipnorm is not None:
        raise ValueError(f"set clipnorm or global_clipnorm, not both; received clipnorm="
                         f"{clipnorm!r}, global_clipnorm={global_clipnorm!r}.")
    cls, default_lr, extra = OPTIMIZERS[optimizer]
    instance = cls(
        learning_rate=default_lr if learning_rate is None else learning_rate,
        weight_decay=weight_decay or None, clipnorm=clipnorm, global_clipnorm=global_clipnorm,
        **extra)
    if weight_decay:
        instance.exclude_from_weight_decay(var_names=_NO_DECAY)
    return instance


# Names `keras.Model.compile` resolves itself by the loss, which `keras.metrics.get` does not.
_COMPILE_METRIC_NAMES = ("accuracy", "acc", "crossentropy", "ce")


def check_metrics(metrics):
    """Returns `metrics` (None or a list or tuple) once Keras knows every entry.

    Checked here because `compile` takes any string and fails only at the first `fit`.

    Raises:
        ValueError: not a list or tuple, or an entry Keras cannot resolve (naming it).
    """
    if metrics is None:
        return None
    if not isinstance(metrics, (list, tuple)):
        raise ValueError(f"metrics must be a list of Keras metrics, e.g. metrics=['accuracy']; "
                         f"received metrics={metrics!r}.")
    for metric in metrics:
        if isinstance(metric, str) and metric in _COMPILE_METRIC_NAMES:
            continue
        try:
            keras.metrics.get(metric)
        except (ValueError, TypeError):
            raise ValueError(
                f"unknown metric {metric!r} in metrics={list(metrics)!r}; use a Keras metric "
                "name such as 'accuracy' or 'sparse_top_k_categorical_accuracy', a "
                "keras.metrics.Metric, or a function.") from None
    return metrics


def default_metrics(num_classes):
    """Returns accuracy, plus top-5 accuracy when there are more than 5 classes."""
    metrics = [ClassificationAccuracy()]
    if num_classes > 5:
        metrics.append(TopFiveAccuracy())
    return metrics


def classifier_compile_args(num_classes, *, optimizer="adam", learning_rate=None,
                            weight_decay=None, clipnorm=None, global_clipnorm=None,
                            label_smoothing=0.0, metrics=None, jit_compile="auto",
                            run_eagerly=False, steps_per_execution=1):
    """Returns `model.compile`'s keyword arguments for a classifier of `num_classes`.

    Building the optimizer, loss and metrics here checks every setting, so the builders
    call it before they build a layer.

    Args:
        num_classes: the classifier's number of classes (top-5 accuracy needs 6 or more).
        optimizer: a name from `OPTIMIZERS` or a `keras.optimizers.Optimizer` instance.
        learning_rate: a float or a learning-rate schedule; None takes the optimizer's
            default (`OPTIMIZERS`).
        weight_decay: decoupled weight decay on kernels, or None.
        clipnorm: clip each gradient to this L2 norm, or None.
        global_clipnorm: clip all gradients together to this L2 norm, or None.
        label_smoothing: in [0, 1).
        metrics: Keras metrics; None takes accuracy (and top-5 accuracy above 5 classes).
        jit_compile: as `keras.Model.compile`: "auto", True or False.
        run_eagerly: as `keras.Model.compile`.
        steps_per_execution: as `keras.Model.compile`.

    Returns:
        A dict for `model.compile(**kwargs)`: a `ClassificationCrossentropy` loss over the
        softmax output, for integer or one-hot labels.

    Raises:
        ValueError: a setting `make_optimizer`, the loss or `check_metrics` refuses, or a
            `steps_per_execution` that is not a positive integer.
    """
    if (isinstance(steps_per_execution, bool) or not isinstance(steps_per_execution, int)
            or steps_per_execution < 1):
        raise ValueError(f"steps_per_execution must be a positive integer; received "
                         f"steps_per_execution={steps_per_execution!r}. Typical: 1, or 8 on "
                         "a CPU.")
    return {"optimizer": make_optimizer(optimizer, learning_rate=learning_rate,
                                        weight_decay=weight_decay, clipnorm=clipnorm,
                                        global_clipnorm=global_clipnorm),
            "loss": ClassificationCrossentropy(label_smoothing=label_smoothing),
            "metrics": default_metrics(num_classes) if check_metrics(metrics) is None
            else metrics,
            "jit_compile": jit_compile, "run_eagerly": run_eagerly,
            "steps_per_execution": steps_per_execution}


# The compile settings every builder takes beside its own options.
COMPILE_OPTIONS = tuple(inspect.signature(classifier_compile_args).parameters)[1:]


def check_option_names(given, *, model, options):
    """Raises unless every name in `given` is one of `options` or `COMPILE_OPTIONS`.

    Raises:
        ValueError: naming the unknown options, the model's options and the compile
            settings.
    """
    unknown = sorted(set(given) - set(options) - set(COMPILE_OPTIONS))
    if unknown:
        close = [match for key in unknown for match in difflib.get_close_matches(
            key, list(options) + list(COMPILE_OPTIONS), n=1, cutoff=0.75)]
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        if "weights" in unknown:
            hint += (" weights= is taken by the registered models: cnnzoo.build(name, "
                     "weights=...) or their named builders.")
        raise ValueError(
            f"{model} takes no option {', '.join(unknown)}.{hint} Its options: "
            f"{', '.join(options)}; compile settings: {', '.join(COMPILE_OPTIONS)}.")


def compile_classifier(model, **settings):
    """Compiles `model` in place for integer (or one-hot) labels and returns it.

    Args:
        model: a `keras.Model` ending in a softmax over the classes.
        **settings: compile settings, any of `COMPILE_OPTIONS` (see
            `classifier_compile_args`).

    Returns:
        `model`, compiled with `ClassificationCrossentropy` and, by default,
        `default_metrics(num_classes)`.

    Raises:
        ValueError: an unknown setting (naming those there are) or a value refused.
    """
    check_option_names(settings, model="compile_classifier", options=())
    model.compile(**classifier_compile_args(model.output_shape[-1], **settings))
    return model
