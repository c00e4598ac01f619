"""Loss and metrics that accept integer labels and one-hot (or mixed) labels alike.

MixUp and CutMix turn integer labels into mixed one-hot vectors, while evaluation keeps
integer labels. Keras's sparse losses reject the first and its categorical ones the second,
and `SparseCategoricalCrossentropy` has no label smoothing; these small wrappers take
either form so one compiled model serves training with or without mixing.
"""

import keras
from keras import ops


def _as_probabilities(y_true, y_pred):
    """Returns `y_true` as float class probabilities shaped like `y_pred`."""
    if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == y_pred.shape[-1]:
        return ops.cast(y_true, y_pred.dtype)
    labels = ops.reshape(ops.cast(y_true, "int32"), (-1,))
    return ops.one_hot(labels, y_pred.shape[-1], dtype=y_pred.dtype)


def _as_class_ids(y_true, y_pred):
    """Returns `y_true` as int32 class ids of shape `(batch,)`."""
    if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == y_pred.shape[-1]:
        return ops.cast(ops.argmax(y_true, axis=-1), "int32")
    return ops.reshape(ops.cast(y_true, "int32"), (-1,))


@keras.saving.register_keras_serializable(package="cnnzoo")
class ClassificationCrossentropy(keras.losses.Loss):
    """Cross-entropy over softmax probabilities, for integer or one-hot labels.

    Args:
        label_smoothing: in [0, 1); mixes the targets with the uniform distribution.

    Example:
        >>> import numpy as np
        >>> loss = ClassificationCrossentropy()
        >>> probs = np.array([[0.9, 0.1], [0.2, 0.8]], "float32")
        >>> a = float(loss(np.array([0, 1]), probs))
        >>> b = float(loss(np.eye(2, dtype="float32"), probs))
        >>> round(a, 4) == round(b, 4)
        True
    """

    def __init__(self, label_smoothing=0.0, name="classification_crossentropy", **kwargs):
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(
                f"label_smoothing must be in [0, 1); received label_smoothing={label_smoothing}. "
                "Typical values are 0.0 (off) and 0.1.")
        super().__init__(name=name, **kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        targets = _as_probabilities(y_true, y_pred)
        return keras.losses.categorical_crossentropy(
            targets, y_pred, label_smoothing=self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


def _top1(y_true, y_pred):
    predicted = ops.cast(ops.argmax(y_pred, axis=-1), "int32")
    return ops.cast(ops.equal(predicted, _as_class_ids(y_true, y_pred)), "float32")


def _top5(y_true, y_pred):
    return keras.metrics.sparse_top_k_categorical_accuracy(
        _as_class_ids(y_true, y_pred), y_pred, k=5)


@keras.saving.register_keras_serializable(package="cnnzoo")
class ClassificationAccuracy(keras.metrics.MeanMetricWrapper):
    """Top-1 accuracy for integer or one-hot labels (one-hot: the largest target wins)."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(_top1, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


@keras.saving.register_keras_serializable(package="cnnzoo")
class TopFiveAccuracy(keras.metrics.MeanMetricWrapper):
    """Top-5 accuracy for integer or one-hot labels."""

    def __init__(self, name="top5_accuracy", dtype=None):
        super().__init__(_top5, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}
