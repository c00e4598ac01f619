"""The callbacks `fit` trains with: checkpoints, history, resume, the divergence guard.

The checkpoint, history and backup callbacks are ours rather than Keras's
`ModelCheckpoint`, `CSVLogger` and `BackupAndRestore` for one reason: they write
atomically (a temporary, then `os.replace`), so a kill at any moment leaves each file
whole. Their order at the end of an epoch is the contract that keeps a run consistent:

1. `DivergenceGuard` stops the run before anything is written when the loss or any
   weight is NaN or infinite, so no checkpoint ever holds a diverged model;
2. `HistoryCSV` writes the epoch's row, `AtomicCheckpoint` the models;
3. `AtomicBackupAndRestore` swaps in the epoch's backup last: the backup's epoch is the
   run's commit point. A resume starts after it and `HistoryCSV` first drops the rows of
   later epochs, which are trained again, so no row is lost or written twice.
"""

import csv
import errno
import importlib.util
import io
import math
import pathlib

import keras

from cnnzoo.atomic import atomic_directory, save_model_atomically, write_atomically
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
        save_model_atomically(self.model, self.directory / run_files.LAST_MODEL)
        value = logs.get(self.monitor)
        if value is not None and math.isfinite(float(value)) and self._improved(float(value)):
            self.best = float(value)
            save_model_atomically(self.model, self.directory / run_files.BEST_MODEL)


class HistoryCSV(keras.callbacks.Callback):
    """Keeps `history.csv`: one row per finished epoch, rewritten atomically each epoch.

    Args:
        path: the CSV file.
        finished_epochs: the epochs the run's backup holds; the rows of later epochs
            (written before a kill stopped the run short of its backup) are dropped at
            once, since those epochs are trained again.
    """

    def __init__(self, path, *, finished_epochs=0):
        super().__init__()
        self.path = pathlib.Path(path)
        rows = read_history(self.path)
        self.rows = [row for row in rows if row["epoch"] <= finished_epochs]
        if len(self.rows) != len(rows):
            self._write()

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}}
        if hasattr(self.model.optimizer, "learning_rate"):
            row["learning_rate"] = float(keras.ops.convert_to_numpy(
                self.model.optimizer.learning_rate))
        self.rows = [r for r in self.rows if r["epoch"] <= epoch] + [row]
        self._write()

    def _write(self):
        if not self.rows:
            self.path.unlink(missing_ok=True)
            return
        columns = list(dict.fromkeys(key for r in self.rows for key in r))
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(self.rows)
        write_atomically(self.path, text.getvalue())


def read_history(path):
    """Returns the rows of a `history.csv` as dicts of floats ([] when there is no file).

    Raises:
        ValueError: the file is not the CSV of numbers with an `epoch` column that cnnzoo
            writes (the message names it and what to do).
    """
    path = pathlib.Path(path)
    if not path.is_file():
        return []
    try:
        with path.open(newline="", encoding="utf-8") as file:
            rows = [{k: float(v) for k, v in row.items() if v != ""}
                    for row in csv.DictReader(file)]
        for row in rows:
            row["epoch"] = int(row["epoch"])
    except (ValueError, TypeError, KeyError, csv.Error) as error:  # UnicodeDecodeError too
        raise ValueError(
            f"{str(path)!r} is not a history cnnzoo can read ({_first_line(error)}): it "
            "should hold a header and one row of numbers per epoch, with an 'epoch' column. "
            "Restore it from a copy, or move it away (the run then keeps only the rows of "
            "the epochs it trains from now on).") from None
    return rows


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` whose backup folder is replaced whole, in one swap, each epoch.

    Keras writes the weights and then the epoch number in place, so a kill in between
    pairs one epoch's weights with another's number, and a kill while writing the number
    leaves a file no resume can read. Here both are written into a new folder that
    replaces `backup/` with `cnnzoo.atomic.atomic_directory`; Keras's own restore reads
    it (the file names are Keras's, see `cnnzoo.layouts.run_dir`).

    Args:
        backup_dir: the backup folder.
        learning_rate: None, or a constant learning rate that replaces the one the
            restore brings back (a resume with a new recipe).
    """

    def __init__(self, backup_dir, *, learning_rate=None):
        super().__init__(backup_dir, delete_checkpoint=False)
        self.learning_rate = learning_rate

    def on_train_begin(self, logs=None):
        weights = pathlib.Path(self.backup_dir) / run_files.BACKUP_WEIGHTS
        try:
            super().on_train_begin(logs)
        except (OSError, ValueError, KeyError) as error:  # h5py's errors, Keras's mismatches
            raise ValueError(
                f"cannot restore the backup {str(weights)!r}: {_first_line(error)}. Restore "
                "it from a copy; or move it away to train this run again from epoch 1, or "
                "choose another workdir.") from None
        if self.learning_rate is not None:
            self.model.optimizer.learning_rate = self.learning_rate

    def on_epoch_end(self, epoch, logs=None):
        data = weights_bytes(self.model)
        try:
            with atomic_directory(self.backup_dir, overwrite=True) as folder:
                write_atomically(folder / run_files.BACKUP_WEIGHTS, data)
                run_files.write_json(folder / run_files.BACKUP_STATE, {"epoch": epoch + 1,
                                                                       "batch": 0})
        except OSError as error:
            if error.errno != errno.ENOSPC:
                raise
            raise OSError(error.errno, (
                f"no space left on the disk of {str(self.backup_dir)!r} for epoch "
                f"{epoch + 1}'s backup ({len(data) / 2**20:.1f} MiB); the backup before it, "
                "if any, is kept. Free some space and run the same call again to resume.")
                          ) from None


def _first_line(error):
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def weights_bytes(model):
    """Returns the bytes of `model`'s `.weights.h5` file (the optimizer's state included).

    HDF5 writes into memory and Python writes the bytes, so a full disk is one clean
    `OSError` (ENOSPC) rather than h5py errors at close and, as seen, a segmentation
    fault that leaves `run.json` saying "running". Keras offers no public way to save
    weights into memory, so this uses its saving library's store, as `model.save_weights`
    does for a path.
    """
    from keras.src.saving import saving_lib

    buffer = io.BytesIO()
    store = saving_lib.H5IOStore(buffer, mode="w")
    try:
        saving_lib._save_state(model, weights_store=store, assets_store=None, inner_path="",
                               visited_saveables=set())
    finally:
        store.close()
    return buffer.getvalue()


class DivergenceGuard(keras.callbacks.Callback):
    """Stops training with `FloatingPointError` when the loss or a weight is NaN or infinite.

    The loss is checked after every batch, the weights (one reduction per variable) at the
    end of every epoch: a huge but finite loss can turn a weight into NaN while the logged
    loss stays finite. It must come first among the callbacks, so that it raises before
    any checkpoint or backup of the epoch is written; the last good epoch stays on disk.
    """

    def __init__(self, advice=""):
        super().__init__()
        self.advice = advice
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise FloatingPointError(
                f"training stopped: the loss became {float(loss)} at epoch {self._epoch + 1}, "
                f"batch {batch + 1}. {self.advice}")

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            if not math.isfinite(float(value)):  # e.g. NaN predictions on the validation data
                raise FloatingPointError(f"training stopped: {key} became {float(value)} at "
                                         f"epoch {epoch + 1}. {self.advice}")
        bad = non_finite_weights(self.model)
        if bad:
            shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
            raise FloatingPointError(
                f"training stopped: after epoch {epoch + 1} the weights {shown} hold NaN or "
                f"infinite values (the loss was {float((logs or {}).get('loss', math.nan)):g})."
                f" {self.advice}")


def non_finite_weights(model):
    """Returns the paths of `model`'s variables holding a NaN or infinite value ([] if none).

    One reduction per variable and a single transfer to the host.
    """
    variables = [v for v in model.weights if "float" in str(v.dtype)]
    if not variables:
        return []
    finite = keras.ops.convert_to_numpy(keras.ops.stack(
        [keras.ops.all(keras.ops.isfinite(v)) for v in variables]))
    return [v.path for v, ok in zip(variables, finite) if not ok]


def best_value(rows, monitor, mode):
    """Returns the best `monitor` value in history rows, or None when it was never logged."""
    values = [row[monitor] for row in rows if monitor in row and math.isfinite(row[monitor])]
    if not values:
        return None
    return max(values) if mode == "max" else min(values)


def make_callbacks(directory, *, monitor, mode="max", finished_epochs=0, early_stopping=None,
                   reduce_lr_on_plateau=None, tensorboard="auto", advice="",
                   learning_rate=None):
    """Returns the callbacks of a run writing into `directory`, in the order they must run.

    Args:
        directory: the workdir.
        finished_epochs: the epochs its backup holds (a resume starts after them).
        monitor, mode: the metric that picks `best.keras` and drives the options below.
        early_stopping: None, or the patience in epochs of `keras.callbacks.EarlyStopping`
            (restoring the best weights).
        reduce_lr_on_plateau: None, or the patience of `keras.callbacks.ReduceLROnPlateau`
            (factor 0.2); needs a constant learning rate.
        tensorboard: write TensorBoard logs under `tensorboard/`: True, False, or "auto"
            (when the `tensorboard` package is installed, which TensorFlow 2.21 no longer
            installs, and TensorFlow, whose `tf.summary` Keras writes them with on any
            backend).
        advice: what the divergence message suggests trying.
        learning_rate: None, or a constant learning rate to set after the backup is
            restored (a resume that changes it, see `AtomicBackupAndRestore`).
    """
    directory = pathlib.Path(directory)
    history = HistoryCSV(directory / run_files.HISTORY_FILE, finished_epochs=finished_epochs)
    callbacks = [  # The order is the module docstring's.
        DivergenceGuard(advice),
        history,
        AtomicCheckpoint(directory, monitor=monitor, mode=mode,
                         best=best_value(history.rows, monitor, mode)),
        AtomicBackupAndRestore(str(directory / run_files.BACKUP_DIR),
                               learning_rate=learning_rate),
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
    return callbacks


def _installed(package):
    """Returns whether `package` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(package) is not None
    except ImportError:  # An import hook that refuses it.
        return False


_BATCH_HOOKS = ("on_batch_begin", "on_batch_end", "on_train_batch_begin", "on_train_batch_end")


def watches_batches(callback):
    """Returns whether `callback` has its own training-batch hook (a method or, as
    `LambdaCallback` sets them, a function on the instance)."""
    for hook in _BATCH_HOOKS:
        function = getattr(callback, hook)
        if getattr(function, "__func__", function) is not getattr(keras.callbacks.Callback, hook):
            return True
    return False
