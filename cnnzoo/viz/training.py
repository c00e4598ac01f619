"""Training curves from a `History`, a training workdir or its `history.csv`."""

import math
import pathlib

from cnnzoo.layouts.run_dir import HISTORY_FILE
from cnnzoo.viz.figures import new_figure


def _columns(rows):
    """Returns `{metric: [value per epoch]}` from history rows (dicts), epochs in order."""
    keys = list(dict.fromkeys(key for row in rows for key in row if key != "epoch"))
    return {key: [row.get(key, math.nan) for row in rows] for key in keys}


def history_columns(source):
    """Returns `(epochs, {metric: values})` from any of the ways a history is kept.

    Args:
        source: a `keras.callbacks.History` (what `model.fit` returns), its `.history`
            dict, a training workdir, or a `history.csv` file (as `cnnzoo.fit` writes).

    Raises:
        FileNotFoundError: a path holding no `history.csv`.
        ValueError: a history with no epochs.
    """
    from cnnzoo.training.callbacks import read_history

    if hasattr(source, "history") and isinstance(source.history, dict):
        source = source.history
    if isinstance(source, dict):
        columns = {key: [float(v) for v in values] for key, values in source.items()}
        length = max((len(v) for v in columns.values()), default=0)
        epochs = list(range(1, length + 1))
    else:
        path = pathlib.Path(source)
        if path.is_dir():
            path = path / HISTORY_FILE
        if not path.is_file():
            raise FileNotFoundError(f"no history at {str(source)!r}: pass a training workdir, "
                                    "its history.csv, or the History model.fit returns.")
        rows = read_history(path)
        epochs, columns = [row["epoch"] for row in rows], _columns(rows)
    if not epochs:
        raise ValueError("the history holds no finished epoch; train at least one.")
    return epochs, columns


def plot_history(source):
    """Returns a figure of the training curves: one panel per metric, train and validation.

    Each metric (`loss`, `accuracy`, ...) gets a panel with its training curve and, where
    logged, its `val_` curve; the learning rate, when logged, gets its own panel.

    Args:
        source: see `history_columns`.

    Returns:
        A `matplotlib.figure.Figure`.

    Raises:
        FileNotFoundError, ValueError: as `history_columns`.
    """
    from matplotlib.ticker import MaxNLocator

    epochs, columns = history_columns(source)
    metrics = [key for key in columns if not key.startswith("val_")]
    metrics += [key[4:] for key in columns if key.startswith("val_") and key[4:] not in columns]
    # The loss first, the learning rate (its own panel) last, the rest as logged.
    metrics.sort(key=lambda key: {"loss": 0, "learning_rate": 2}.get(key, 1))
    figure = new_figure(4 * len(metrics), 3.2)
    axes = figure.subplots(1, len(metrics), squeeze=False)[0]
    for axis, metric in zip(axes, metrics):
        for key, label in ((metric, "train"), (f"val_{metric}", "validation")):
            if key in columns:
                axis.plot(epochs[:len(columns[key])], columns[key], marker="o",
                          markersize=3, label=label if metric != "learning_rate" else None)
        axis.set_title(metric)
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
        if metric != "learning_rate":
            axis.legend(fontsize=8)
    return figure
