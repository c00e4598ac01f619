"""`evaluate`: how good a trained classifier is, from one pass of predictions.

It takes a model; `cnnzoo.evaluate` (in `cnnzoo.artifacts`) also takes a path and loads it
first, which keeps loading files and exports out of the training library.

Loss, accuracy, top-5 accuracy, per-class accuracy and the confusion matrix are all
computed with NumPy from the predicted probabilities, so they agree with each other
exactly and work for any Keras backend.
"""

import warnings

import numpy as np

from cnnzoo.metrics import precision_recall_f1
from cnnzoo.pixels import warn_if_scaled
from cnnzoo.training import inputs

# Keras clips probabilities to [eps, 1 - eps] before the log; the same here keeps the loss
# equal to the compiled loss (without label smoothing).
_EPSILON = 1e-7
# "flip": average the prediction of each image with its horizontal mirror's (the test-time
# augmentation of Page's ResNet-9 recipe); only for data whose classes survive a mirror.
TEST_TIME_AUGMENTATIONS = ("none", "flip")


def _predict(model, data, batch_size, tta):
    """Returns `(probabilities, class ids, single-view probabilities)` over all of `data`.

    With `tta="flip"` the probabilities are the mean over each image and its mirror, and
    the single-view ones those of the image alone; without, both are the same array.
    """
    if data.is_arrays:
        all_images, all_labels = data.data
        batches = ((all_images[i:i + batch_size], all_labels[i:i + batch_size])
                   for i in range(0, len(all_images), batch_size))
    else:
        batches = (batch[:2] for batch in data.data.as_numpy_iterator())
    single_view, mirrored, class_ids = [], [], []
    for images, labels in batches:
        single_view.append(np.asarray(model.predict_on_batch(images), dtype=np.float64))
        if tta == "flip":
            images = np.ascontiguousarray(np.asarray(images)[:, :, ::-1])
            mirrored.append(np.asarray(model.predict_on_batch(images), dtype=np.float64))
        labels = np.asarray(labels)
        class_ids.append(labels.argmax(-1) if labels.ndim == 2 and labels.shape[-1] > 1
                         else labels.reshape(-1))
    single_view = np.concatenate(single_view)
    probabilities = (single_view + np.concatenate(mirrored)) / 2 if mirrored else single_view
    return probabilities, np.concatenate(class_ids).astype(np.int64), single_view


def check_tta(tta):
    """Returns `tta` as None (for None or "none") or "flip".

    Raises:
        ValueError: a value not in `TEST_TIME_AUGMENTATIONS`, naming the choices.
    """
    if tta is not None and tta not in TEST_TIME_AUGMENTATIONS:
        raise ValueError(f"unknown test-time augmentation tta={tta!r}; choose one of "
                         f"{list(TEST_TIME_AUGMENTATIONS)}.")
    return None if tta == "none" else tta


def confusion_matrix(true_ids, predicted_ids, num_classes):
    """Returns the `num_classes` x `num_classes` counts: row = true class, column = predicted.

    Example:
        >>> confusion_matrix(np.array([0, 1, 1]), np.array([0, 0, 1]), 2).tolist()
        [[1, 0], [1, 1]]
    """
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (true_ids, predicted_ids), 1)
    return matrix


def evaluate(model, data, *, class_names=None, batch_size=256, tta=None):
    """Evaluates the classifier `model` on `data` and returns a dict of results.

    Args:
        model: a `keras.Model` taking raw pixels, or an object with its `name`,
            `input_shape`, `output_shape` and `predict_on_batch` (such as
            `cnnzoo.artifacts.ExportedClassifier`). A path still works but is deprecated
            here: `cnnzoo.evaluate(path, data)` loads one.
        data: a `tf.data.Dataset` of `(images, labels)`, the `(dataset, info)` pair from
            `cnnzoo.load_dataset`, or arrays `(images, labels)`.
        class_names: names for the report (default: the info's, else "0".."K-1").
        batch_size: the batch size for array data.
        tta: None or "none", or "flip" to average each image's prediction with its
            mirror's.

    Returns:
        A dict: `loss`, `accuracy`, `top5_accuracy` (more than 5 classes only),
        `per_class_accuracy` (a dict from class name to accuracy, None for a class with
        no examples), `per_class_precision`, `per_class_recall`, `per_class_f1` and
        their `macro_*` means (see `cnnzoo.metrics.precision_recall_f1`),
        `confusion_matrix` (a list of lists, row = true class),
        `class_names`, `num_examples`, `dataset` and `split` (when known), `tta`, with
        `single_view_accuracy` (each image alone) when `tta` is set, and `report`, the
        results as printable text.

    Raises:
        ValueError: data the model cannot take (see `cnnzoo.training.inputs.check_batch`),
            no examples, or an unknown `tta`.
        FileNotFoundError: a (deprecated) model path with no model.

    Example:
        >>> import numpy as np, cnnzoo
        >>> model = cnnzoo.build("tutorial_5x5", input_shape=(8, 8, 1), num_classes=3)
        >>> x, y = np.zeros((6, 8, 8, 1), "float32"), np.array([0, 1, 2, 0, 1, 2])
        >>> result = cnnzoo.evaluate(model, (x, y))
        >>> result["num_examples"], sum(map(sum, result["confusion_matrix"]))
        (6, 6)
    """
    tta = check_tta(tta)
    if not hasattr(model, "predict_on_batch"):
        model = _load_deprecated(model)
    data = inputs.as_data(data, argument="data")
    num_classes = model.output_shape[-1]
    images, labels = inputs.first_batch(data)  # All the labels of arrays.
    warn_if_scaled(images, where="evaluate")
    inputs.check_batch(images, labels, input_shape=model.input_shape[1:],
                       num_classes=num_classes, model_name=model.name, argument="data")
    class_names = tuple(class_names or data.class_names or
                        (str(i) for i in range(num_classes)))
    # Arrays were checked whole by `as_data`; a dataset's later batches are checked as
    # they are read, so a NaN pixel or a stray label there is named, never averaged in.
    data = inputs.check_every_batch(data, num_classes=num_classes, model_name=model.name)
    with inputs.raising_batch_errors():
        probabilities, true_ids, single_view = _predict(model, data, batch_size, tta)
    if not len(true_ids):
        raise ValueError("data has no examples to evaluate.")
    predicted_ids = probabilities.argmax(-1)
    matrix = confusion_matrix(true_ids, predicted_ids, num_classes)
    clipped = np.clip(probabilities / probabilities.sum(-1, keepdims=True),
                      _EPSILON, 1 - _EPSILON)
    result = {
        "loss": float(-np.log(clipped[np.arange(len(true_ids)), true_ids]).mean()),
        "accuracy": float(np.trace(matrix) / matrix.sum()),
    }
    if num_classes > 5:
        top5 = np.argsort(-probabilities, axis=-1, kind="stable")[:, :5]
        result["top5_accuracy"] = float((top5 == true_ids[:, None]).any(-1).mean())
    per_class_counts = matrix.sum(1)
    result["per_class_accuracy"] = {
        name: (float(matrix[i, i] / per_class_counts[i]) if per_class_counts[i] else None)
        for i, name in enumerate(class_names)}
    result.update(precision_recall_f1(matrix, class_names))
    result["confusion_matrix"] = matrix.tolist()
    result["class_names"] = list(class_names)
    result["num_examples"] = int(matrix.sum())
    if data.info is not None:
        result["dataset"], result["split"] = data.info.name, data.info.split
    result["tta"] = tta
    if tta:
        result["single_view_accuracy"] = float((single_view.argmax(-1) == true_ids).mean())
    result["report"] = format_report(result)
    return result


def _load_deprecated(path):
    """Returns the model at `path` for the deprecated path form of this `evaluate`."""
    warnings.warn("cnnzoo.training.evaluate takes a model; for a path, use "
                  "cnnzoo.evaluate(path, data), which loads it first (the path form here is "
                  "deprecated).", DeprecationWarning, stacklevel=3)
    from cnnzoo.artifacts import load_model  # Above training: only for this deprecated form.

    return load_model(path)


def format_report(result):
    """Returns `evaluate`'s result as text: the totals, per-class accuracy (recall),
    precision and F1, and the confusion matrix."""
    where = (f" on {result['dataset']}/{result['split']}" if result.get("dataset") else "")
    lines = [f"{result['num_examples']} examples{where}: accuracy {result['accuracy']:.4f}"
             + (f", top-5 accuracy {result['top5_accuracy']:.4f}"
                if "top5_accuracy" in result else "")
             + f", loss {result['loss']:.4f}"
             + (f" (test-time augmentation {result['tta']}; each image alone: accuracy "
                f"{result['single_view_accuracy']:.4f})" if result.get("tta") else "")]
    names = result["class_names"]
    width = max(len(name) for name in names)
    matrix = result["confusion_matrix"]
    lines.append(f"{'class'.ljust(width)}  accuracy  precision        F1  examples")
    for index, name in enumerate(names):
        shown = [f"{value:{size}.4f}" if value is not None else "-".rjust(size)
                 for value, size in ((result["per_class_accuracy"][name], 8),
                                     (result["per_class_precision"][name], 9),
                                     (result["per_class_f1"][name], 8))]
        lines.append(f"{name.ljust(width)}  {'  '.join(shown)}  {sum(matrix[index]):8d}")
    cell = max(4, len(str(max(max(row) for row in matrix))) + 1)
    lines.append("confusion matrix (rows: true class, columns: predicted, in class order):")
    lines.append(" " * (width + 1) + "".join(str(i).rjust(cell) for i in range(len(names))))
    for name, row in zip(names, matrix):
        lines.append(name.ljust(width + 1) + "".join(str(count).rjust(cell) for count in row))
    return "\n".join(lines)
