"""The file names of a training run directory (a workdir), and where its model is.

A workdir holds one training run (nanoGPT's habit: checkpoints know how they were made):

    run.json          model, build settings, dataset, recipe, versions, and the results
    best.keras        the full model at the best validation epoch
    last.keras        the full model after the last finished epoch
    history.csv       one row of metrics per finished epoch
    tensorboard/      TensorBoard logs
    backup/           BackupAndRestore's state, for resuming after an interrupt
    evaluation.json   `cnnzoo.evaluate`'s result on the test split (written by the job)
    run.lock          held while a run writes the workdir (see `cnnzoo.training.lock`)

`cnnzoo.training.workdir` reads and writes these files; this module only names them, so
training, the job, the CLI and the artifact loader agree on the names.
"""

import pathlib

RUN_FILE = "run.json"
EVALUATION_FILE = "evaluation.json"
BEST_MODEL = "best.keras"
LAST_MODEL = "last.keras"
HISTORY_FILE = "history.csv"
TENSORBOARD_DIR = "tensorboard"
LOCK_FILE = "run.lock"
BACKUP_DIR = "backup"
# Inside BACKUP_DIR, the names keras.callbacks.BackupAndRestore restores from: its
# finished epochs, and the weights with the optimizer's state.
BACKUP_STATE = "training_metadata.json"
BACKUP_WEIGHTS = "latest.weights.h5"
# A folder holding one model under this name (not a run) is read like a workdir.
MODEL_FILE = "model.keras"
# The models a folder offers, in the order they are preferred: the best epoch first.
MODEL_FILES = (BEST_MODEL, LAST_MODEL, MODEL_FILE)


def find_model_file(folder):
    """Returns the preferred model file in `folder` (see `MODEL_FILES`), or None.

    Never raises for a missing folder or a file.

    Example:
        >>> import tempfile
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> find_model_file(folder) is None
        True
        >>> for name in (LAST_MODEL, BEST_MODEL):
        ...     _ = (folder / name).write_bytes(b"")
        >>> find_model_file(folder).name
        'best.keras'
    """
    folder = pathlib.Path(folder).expanduser()
    return next((folder / name for name in MODEL_FILES if (folder / name).is_file()), None)
