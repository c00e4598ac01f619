"""The callbacks `fit` trains with: checkpoints, history, resume, NaN guard, TensorBoard.

The checkpoint and history callbacks are ours rather than Keras's `ModelCheckpoint` and
`CSVLogger` for one reason: they write atomically (temporary file, then `os.replace`),
and the history drops the rows of epochs that a resume trains again.
"""

import csv
import importlib.util
import io
import math
import pathlib

import keras

from cnnzoo.atomic import save_model_atomically, write_atomically
from cnnzoo.training import workdir as run_files


class AtomicCheckpoint(keras.callbacks.Callback):
    """Saves `last.keras` after every epoch and `best.keras` when `monitor` improves."""

    def __init__(self, directory, *, monitor="val_accuracy", mode="max", best=None):
        super().__init__()
        self.directory = pathlib.Path(directory)
        self.monitor, self.mode = monitor, mode
        self.best = best

    def _improved(self, value):
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if not all(math.isfinite(float(v)) for v in logs.values()):
            return  # a diverged epoch must not replace a good checkpoint
        save_model_atomically(self.model, self.directory / run_files.LAST_MODEL)
        value = logs.get(self.monitor)
        if value is not None and self._improved(float(value)):
            self.best = float(value)
            save_model_atomically(self.model, self.directory / run_files.BEST_MODEL)


class HistoryCSV(keras.callbacks.Callback):
    """Keeps `history.csv`: one row per finished epoch, rewritten atomically each epoch."""

    def __init__(self, path, *, resuming=False):
        super().__init__()
        self.path = pathlib.Path(path)
        self.rows = read_history(self.path) if resuming else []

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}}
        if hasattr(self.model.optimizer, "learning_rate"):
            row["learning_rate"] = float(keras.ops.convert_to_numpy(
                self.model.optimizer.learning_rate))
        # A resume starts again after the last backed-up epoch; later rows are stale.
        self.rows = [r for r in self.rows if int(r["epoch"]) <= epoch] + [row]
        columns = list(dict.fromkeys(key for r in self.rows for key in r))
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(self.rows)
        write_atomically(self.path, text.getvalue())


def read_history(path):
    """Returns the rows of a `history.csv` as dicts of floats ([] when there is no file)."""
    path = pathlib.Path(path)
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as file:
        rows = [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(file)]
    for row in rows:
        row["epoch"] = int(row["epoch"])
    return rows


class GuardedBackupAndRestore(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` that never backs up an epoch whose loss is NaN or infinite."""

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            return
        super().on_epoch_end(epoch, logs)


class NaNGuard(keras.callbacks.TerminateOnNaN):
    """Stops training at the first NaN or infinite loss and keeps a message saying what to try.

    `fit` raises `FloatingPointError(guard.message)` after training stops.
    """

    def __init__(self, advice=""):
        super().__init__()
        self.advice = advice
        self.message = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)) and self.message is None:
            self.message = (
                f"training stopped: the loss became {float(loss)} at epoch {self._epoch + 1}, "
                f"batch {batch + 1}. {self.advice}")
            self.model.stop_training = True


def best_value(rows, monitor, mode):
    """Returns the best `monitor` value in history rows, or None when it was never logged."""
    values = [row[monitor] for row in rows if monitor in row and math.isfinite(row[monitor])]
    if not values:
        return None
    return max(values) if mode == "max" else min(values)


def make_callbacks(directory, *, monitor, mode="max", resuming=False, early_stopping=None,
                   reduce_lr_on_plateau=None, tensorboard="auto", advice=""):
    """Returns `(callbacks, nan_guard)` for a run writing into `directory`.

    Args:
        directory: the workdir.
        monitor, mode: the metric that picks `best.keras` and drives the options below.
        early_stopping: None, or the patience in epochs of `keras.callbacks.EarlyStopping`
            (restoring the best weights).
        reduce_lr_on_plateau: None, or the patience of `keras.callbacks.ReduceLROnPlateau`
            (factor 0.2); needs a constant learning rate.
        tensorboard: write TensorBoard logs under `tensorboard/`: True, False, or "auto"
            (when the `tensorboard` package is installed, which TensorFlow 2.21 no longer
            installs, and TensorFlow, whose `tf.summary` Keras writes them with on any
            backend).
        advice: what the NaN message suggests trying.
    """
    directory = pathlib.Path(directory)
    history_path = directory / run_files.HISTORY_FILE
    nan_guard = NaNGuard(advice)
    history = HistoryCSV(history_path, resuming=resuming)
    callbacks = [
        nan_guard,
        GuardedBackupAndRestore(str(directory / run_files.BACKUP_DIR), delete_checkpoint=False,
                                double_checkpoint=True),
        AtomicCheckpoint(directory, monitor=monitor, mode=mode,
                         best=best_value(history.rows, monitor, mode)),
        history,
    ]
    if early_stopping is not None:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=monitor, mode=mode, patience=int(early_stopping), restore_best_weights=True))
    if reduce_lr_on_plateau is not None:
        callbacks.append(keras.callbacks.ReduceLROnPlateau(
            monitor=monitor, mode=mode, patience=int(reduce_lr_on_plateau), factor=0.2))
    if tensorboard == "auto":
        tensorboard = _installed("tensorboard") and _installed("tensorflow")
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(
            str(directory / run_files.TENSORBOARD_DIR), write_graph=False))
    return callbacks, nan_guard


def _installed(package):
    """Returns whether `package` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(package) is not None
    except ImportError:  # An import hook that refuses it.
        return False
