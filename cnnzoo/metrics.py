"""Per-class precision, recall and F1 from a confusion matrix (NumPy only).

Row `i`, column `j` of the matrix counts the images of true class `i` predicted as `j`
(the layout `cnnzoo.evaluate` returns). For class `k`:

- precision: of the images predicted as `k`, the share that are `k` (column `k`);
- recall: of the images of class `k`, the share predicted as `k` (row `k`; the same
  number as `evaluate`'s `per_class_accuracy`);
- F1: the harmonic mean of the two, `2 p r / (p + r)`, computed as
  `2 TP / (2 TP + FP + FN)`, which is the same where both are defined and is also defined
  (as 0) for a class that occurs but is never predicted, as scikit-learn computes it.

A share with nothing to divide by (no image predicted as `k`, or none of class `k`) is
None rather than 0 or NaN, so a report can say "-" and a JSON file stays valid.
"""

import numpy as np


def _share(numerator, denominator):
    return float(numerator / denominator) if denominator else None


def precision_recall_f1(confusion_matrix, class_names=None):
    """Returns per-class precision, recall and F1, and their macro averages.

    Args:
        confusion_matrix: a square array or list of lists of counts, row = true class.
        class_names: one name per class (default: "0", "1", ...).

    Returns:
        A dict: `per_class_precision`, `per_class_recall` and `per_class_f1` (each a dict
        from class name to a float, or None where undefined), and `macro_precision`,
        `macro_recall`, `macro_f1` (the mean over the classes where the value is defined;
        None when it is nowhere defined).

    Raises:
        ValueError: a matrix that is not square, holds negative counts, or a number of
            class names that differs from its size.

    Example:
        >>> result = precision_recall_f1([[3, 1], [0, 2]], ["cat", "dog"])
        >>> result["per_class_precision"], result["per_class_recall"]
        ({'cat': 1.0, 'dog': 0.6666666666666666}, {'cat': 0.75, 'dog': 1.0})
        >>> round(result["per_class_f1"]["cat"], 4), round(result["macro_f1"], 4)
        (0.8571, 0.8286)
    """
    matrix = np.asarray(confusion_matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] == 0:
        raise ValueError(f"confusion_matrix must be square (classes x classes); received "
                         f"shape {matrix.shape}.")
    if (matrix < 0).any():
        raise ValueError("confusion_matrix must hold counts, which are never negative.")
    num_classes = matrix.shape[0]
    names = [str(i) for i in range(num_classes)] if class_names is None else \
        [str(name) for name in class_names]
    if len(names) != num_classes:
        raise ValueError(f"class_names must hold one name per class ({num_classes}); "
                         f"received {len(names)}.")
    correct = np.diag(matrix)
    predicted, actual = matrix.sum(0), matrix.sum(1)
    precision = [_share(correct[k], predicted[k]) for k in range(num_classes)]
    recall = [_share(correct[k], actual[k]) for k in range(num_classes)]
    f1 = [_share(2 * correct[k], predicted[k] + actual[k]) for k in range(num_classes)]
    result = {}
    for key, values in (("precision", precision), ("recall", recall), ("f1", f1)):
        result[f"per_class_{key}"] = dict(zip(names, values))
        defined = [v for v in values if v is not None]
        result[f"macro_{key}"] = float(np.mean(defined)) if defined else None
    return result
