"""How a classifier errs: confusion matrix, per-class precision/recall/F1, worst mistakes."""

import numpy as np

from cnnzoo.metrics import precision_recall_f1
from cnnzoo.viz.figures import new_figure, panel_grid, show_image
from cnnzoo.viz.images import _name, as_arrays


def _matrix_and_names(result, class_names):
    """Returns `(matrix, names)` from `evaluate`'s result dict or a matrix."""
    if isinstance(result, dict):
        if "confusion_matrix" not in result:
            raise ValueError("expected cnnzoo.evaluate's result (a dict with "
                             "'confusion_matrix' and 'class_names') or a confusion matrix; "
                             f"received a dict with keys {sorted(result)}.")
        class_names = class_names or result.get("class_names")
        result = result["confusion_matrix"]
    matrix = np.asarray(result)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"a confusion matrix is square (classes x classes); received shape "
                         f"{matrix.shape}.")
    names = [str(n) for n in class_names] if class_names else \
        [str(i) for i in range(len(matrix))]
    if len(names) != len(matrix):
        raise ValueError(f"class_names must hold one name per class ({len(matrix)}); "
                         f"received {len(names)}.")
    return matrix, names


def plot_confusion_matrix(result, *, class_names=None):
    """Returns a figure of the confusion matrix: counts, coloured by share of the row.

    Rows are true classes and columns predicted ones, as `evaluate` counts them; a
    cell's colour is its share of its row (the diagonal is each class's recall), so
    classes with few examples stand out as much as common ones.

    Args:
        result: `cnnzoo.evaluate`'s result, or a square matrix of counts.
        class_names: names for the classes (default: the result's, else indices).

    Returns:
        A `matplotlib.figure.Figure`.

    Raises:
        ValueError: not a result or a square matrix; class names of the wrong length.
    """
    matrix, names = _matrix_and_names(result, class_names)
    totals = matrix.sum(1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
    size = 2.5 + 0.55 * len(names)
    figure = new_figure(size + 1, size)
    axis = figure.subplots()
    image = axis.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=axis, label="share of the true class", shrink=0.8)
    axis.set_xticks(range(len(names)), names, rotation=45, ha="right")
    axis.set_yticks(range(len(names)), names)
    axis.set_xlabel("predicted class")
    axis.set_ylabel("true class")
    if len(names) <= 30:
        for (row, column), count in np.ndenumerate(matrix):
            axis.text(column, row, str(count), ha="center", va="center", fontsize=7,
                      color="white" if shares[row, column] > 0.5 else "black")
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    axis.set_title(f"confusion matrix: {matrix.sum()} examples, accuracy {accuracy:.3f}")
    return figure


def plot_class_metrics(result, *, class_names=None):
    """Returns a bar chart of each class's precision, recall and F1.

    Args:
        result: `cnnzoo.evaluate`'s result, or a square matrix of counts.
        class_names: as `plot_confusion_matrix`.

    Returns:
        A `matplotlib.figure.Figure` (an undefined value, such as the precision of a
        class never predicted, is left out and marked "-").

    Raises:
        ValueError: as `plot_confusion_matrix`.
    """
    matrix, names = _matrix_and_names(result, class_names)
    metrics = precision_recall_f1(matrix, names)
    figure = new_figure(2 + 0.7 * len(names), 3.8)
    axis = figure.subplots()
    width = 0.27
    for offset, key in zip((-width, 0, width), ("precision", "recall", "f1")):
        values = [metrics[f"per_class_{key}"][name] for name in names]
        positions = np.arange(len(names)) + offset
        shown = [(p, v) for p, v in zip(positions, values) if v is not None]
        axis.bar([p for p, _ in shown], [v for _, v in shown], width,
                 label=f"{key} (macro {metrics[f'macro_{key}']:.3f})"
                 if metrics[f"macro_{key}"] is not None else key)
        for position, value in zip(positions, values):
            if value is None:
                axis.text(position, 0.02, "-", ha="center")
    axis.set_xticks(range(len(names)), names, rotation=45, ha="right")
    axis.set_ylim(0, 1.2)  # Room for the legend above the bars.
    axis.set_ylabel("score")
    axis.grid(axis="y", alpha=0.3)
    axis.legend(fontsize=8, loc="upper center", ncol=3)
    axis.set_title("per-class precision, recall and F1")
    return figure


def worst_mistakes(model, data, *, count=16, batch_size=256, limit=None):
    """Returns the misclassified images the model was most confident about.

    `evaluate`'s result keeps counts, not images or probabilities, so this takes the
    model and the data and predicts once more.

    Args:
        model: a Keras classifier taking raw pixels.
        data: as `cnnzoo.viz.images.as_arrays`: arrays, `load_dataset`'s pair, or a
            `tf.data.Dataset` (read whole unless `limit` is set).
        count: how many mistakes to return at most.
        batch_size: the batch size of the prediction.
        limit: read at most this many images.

    Returns:
        `(images, mistakes, class_names)`: the images read, a list of dicts (`index` into
        `images`, `true`, `predicted`, `confidence` = the probability given to the
        wrong class), most confident first, and the dataset's class names or None.

    Raises:
        ValueError: data `as_arrays` refuses, or `count` below 1.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1; received {count}.")
    images, labels, names = as_arrays(data, limit=limit)
    probabilities = np.asarray(model.predict(images.astype(np.float32), verbose=0,
                                             batch_size=batch_size))
    predicted = probabilities.argmax(-1)
    wrong = np.flatnonzero(predicted != labels)
    confidence = probabilities[wrong, predicted[wrong]]
    order = wrong[np.argsort(-confidence, kind="stable")][:count]
    mistakes = [{"index": int(i), "true": int(labels[i]), "predicted": int(predicted[i]),
                 "confidence": float(probabilities[i, predicted[i]])} for i in order]
    return images, mistakes, names


def plot_worst_mistakes(model, data, *, class_names=None, count=16, columns=8, limit=None):
    """Returns a grid of the most confident mistakes: image, true and predicted class.

    Args:
        model, data, count, limit: as `worst_mistakes`.
        class_names: names for the classes (default: the dataset info's, else indices).

    Returns:
        A `matplotlib.figure.Figure`; with no mistake at all, one saying so.

    Raises:
        ValueError: as `worst_mistakes`.
    """
    images, mistakes, names = worst_mistakes(model, data, count=count, limit=limit)
    names = list(class_names) if class_names else names
    if not mistakes:
        figure = new_figure(4, 1)
        figure.text(0.5, 0.5, f"no mistakes on {len(images)} images", ha="center")
        return figure
    figure, axes = panel_grid(len(mistakes), columns=columns, size=1.5, title_space=0.55)
    for axis, mistake in zip(axes, mistakes):
        show_image(axis, images[mistake["index"]])
        axis.set_title(f"true {_name(names, mistake['true'])}\n"
                       f"pred {_name(names, mistake['predicted'])} "
                       f"{mistake['confidence']:.2f}", fontsize=7)
    figure.suptitle(f"{model.name}: the {len(mistakes)} most confident mistakes",
                    fontsize=10)
    return figure
