"""The run directory's files: atomic writes, `run.json`, and the checks before a run reuses one.

The files a workdir holds are named in `cnnzoo.layouts.run_dir` (re-exported here, as
`run_files.BEST_MODEL` and so on, for the callbacks and `fit`). Every file is written
through `cnnzoo.atomic` (a temporary name beside its target, moved into place with
`os.replace`), so an interrupt never leaves a half-written file under a final name, and
files get the umask's permissions, like any file the user writes.
"""

import json
import os
import pathlib

from cnnzoo.atomic import write_atomically
from cnnzoo.layouts.run_dir import (BACKUP_DIR, BACKUP_STATE, BACKUP_WEIGHTS,  # noqa: F401
                                    BEST_MODEL, EVALUATION_FILE, HISTORY_FILE, LAST_MODEL,
                                    LOCK_FILE, RUN_FILE, TENSORBOARD_DIR)


def write_json(path, data):
    """Writes `data` as indented JSON, atomically; returns the path.

    Example:
        >>> import tempfile, pathlib
        >>> path = write_json(pathlib.Path(tempfile.mkdtemp()) / "a.json", {"epochs": 3})
        >>> read_json(path)
        {'epochs': 3}
    """
    return write_atomically(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path):
    """Returns the JSON object in `path`, or None when there is no such file.

    Raises:
        ValueError: the file is not valid JSON (the message names it).
    """
    path = pathlib.Path(path)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ValueError(f"{str(path)!r} is not valid JSON: {error}.") from None


def as_workdir(workdir):
    """Returns `workdir` as a `pathlib.Path` once it names a folder to run in.

    Raises:
        TypeError: not a str or path (None included: a run needs its folder).
        ValueError: an empty or blank path, which would write the run into the current
            folder.
    """
    if isinstance(workdir, bytes) or not isinstance(workdir, (str, os.PathLike)):
        raise TypeError(f"workdir must be the path of the run's folder, e.g. "
                        f"workdir='runs/mnist'; received workdir={workdir!r}.")
    if not str(workdir).strip():
        raise ValueError(f"workdir must name a folder for the run's files; received "
                         f"workdir={str(workdir)!r}, which would write them into the current "
                         "folder. Pass e.g. workdir='runs/mnist' (or workdir='.' to mean it).")
    return pathlib.Path(workdir)


def read_run(workdir):
    """Returns the run record in `<workdir>/run.json`, or None when there is none.

    Raises:
        ValueError: the file is not a JSON object (the message names it and the fix).
    """
    path = pathlib.Path(workdir) / RUN_FILE
    record = read_json(path)
    if record is not None and not isinstance(record, dict):
        raise ValueError(
            f"{str(path)!r} holds a JSON {type(record).__name__}, not the object cnnzoo "
            "writes there; restore the file from a copy, or choose another workdir.")
    return record


def update_run(workdir, **fields):
    """Adds `fields` to `<workdir>/run.json` (creating it) and returns the new record."""
    record = read_run(workdir) or {}
    record.update(fields)
    write_json(pathlib.Path(workdir) / RUN_FILE, record)
    return record


def finished_epochs(workdir):
    """Returns the number of epochs the backup in `workdir` holds (0 when none).

    The backup must be whole: a resume from its epoch number without its weights would
    train on from random weights and still call the run finished.

    Raises:
        ValueError: the epoch file is not JSON or holds no epoch count, or its weights
            file is missing or unreadable (truncated, corrupt); the message names the
            file and what to do.
    """
    backup = pathlib.Path(workdir) / BACKUP_DIR
    state_path, weights_path = backup / BACKUP_STATE, backup / BACKUP_WEIGHTS
    fix = (f"Restore {str(backup)!r} from a copy; or move it away to train this run again "
           "from epoch 1, or choose another workdir.")
    try:
        state = read_json(state_path)
    except ValueError as error:
        raise ValueError(f"{error} {fix}") from None
    if state is None:
        return 0
    epoch = state.get("epoch") if isinstance(state, dict) else None
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise ValueError(f"{str(state_path)!r} should hold the backup's finished epochs as "
                         f"a whole number; it holds {state!r}. {fix}")
    if epoch:
        check_weights_file(weights_path, fix=fix)
    return epoch


def check_weights_file(path, *, fix=""):
    """Checks that `path` is a whole, readable `.weights.h5` file; returns `path`.

    Every dataset is read, so a file cut short fails here rather than half-way through
    a restore.

    Raises:
        ValueError: the file is missing, or HDF5 cannot read it (naming it, then `fix`).
    """
    import h5py  # Keras's own dependency; imported only when a backup exists.

    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(f"the backup weights file {str(path)!r} is missing, so a resume "
                         f"would train on from random weights. {fix}".rstrip())
    try:
        with h5py.File(path, "r") as handle:
            handle.visititems(lambda _, item: item[()] if isinstance(item, h5py.Dataset)
                              else None)
    except (OSError, ValueError, RuntimeError, KeyError) as error:
        first = (str(error).strip() or type(error).__name__).splitlines()[0]
        raise ValueError(f"the backup weights file {str(path)!r} is unreadable (truncated or "
                         f"corrupt: {first}). {fix}".rstrip()) from None
    return path


def check_workdir(workdir, *, model_name, epochs, dataset=None, new_data=False):
    """Checks that a new run or a resume may use `workdir`; returns the epochs already done.

    Args:
        workdir: the run directory.
        model_name: the model the run trains.
        epochs: the run's total epochs.
        dataset: the name of the data the run trains on (None: unknown, not checked).
        new_data: whether a resume may train on another dataset than the run recorded.

    Raises:
        ValueError: the workdir holds a run of another model, a resume asks for fewer
            epochs than the run was started with (its schedule and its finished epochs
            would no longer agree), or a resume would train on another dataset than the
            run's and `new_data` is False.
    """
    workdir = pathlib.Path(workdir)
    if workdir.exists() and not workdir.is_dir():
        raise ValueError(f"workdir={str(workdir)!r} is a file, not a directory. Choose a "
                         "directory for the run's checkpoints and logs.")
    record = read_run(workdir)
    done = finished_epochs(workdir)
    if record is None:
        return done
    if record.get("model") != model_name:
        raise ValueError(
            f"workdir {str(workdir)!r} holds a run of model {record.get('model')!r}; "
            f"received model {model_name!r}. Choose another workdir, or delete this one "
            "to start over.")
    started_with = record.get("epochs")
    if done and started_with is not None and epochs < started_with:
        raise ValueError(
            f"workdir {str(workdir)!r} holds a run started with epochs={started_with} that has "
            f"finished {done}; received epochs={epochs}. Resume with epochs>={started_with}, "
            "or choose a new workdir.")
    recorded = record.get("dataset")
    if done and not new_data and None not in (dataset, recorded) and dataset != recorded:
        raise ValueError(
            f"workdir {str(workdir)!r} holds a run trained on {recorded!r} for {done} "
            f"epochs; received dataset {dataset!r}. Resume on {recorded!r}, choose another "
            "workdir, or pass new_data=True (CLI: --new-data) to continue this model on the "
            "new data.")
    return done


# What `run.json` records of how the weights are optimized; a resume that changes any of
# them trains on under another recipe than the one its optimizer state was made with.
RECIPE_FIELDS = ("optimizer", "learning_rate", "schedule", "warmup_epochs", "weight_decay",
                 "batch_size")


def check_recipe(workdir, recipe, *, done, new_recipe=False):
    """Checks a resume against the recipe `run.json` records; returns `run.json`'s new fields.

    Args:
        workdir: the run directory.
        recipe: the run's `{field: value}` for `RECIPE_FIELDS` (as `run.json`'s "recipe_now"
            records them).
        done: the epochs the backup holds (0: a new run, nothing to check).
        new_recipe: whether a resume may change the recipe.

    Returns:
        `{"recipe_now": recipe}`, plus `"recipe_changes"` (the recorded list with this
        change added, `{"after_epoch", "from", "to"}` of the fields changed) when a resume
        changes the recipe with `new_recipe=True`.

    Raises:
        ValueError: a resume changes the recipe and `new_recipe` is False (the message names
            each change and the ways on).
    """
    record = read_run(workdir) or {}
    recorded = record.get("recipe_now")
    fields = {"recipe_now": recipe}
    if not done or not isinstance(recorded, dict):
        return fields
    changed = [key for key in RECIPE_FIELDS if key in recorded and recorded[key] != recipe[key]]
    if not changed:
        return fields
    if not new_recipe:
        said = ", ".join(f"{key} {recorded[key]!r} -> {recipe[key]!r}" for key in changed)
        raise ValueError(
            f"workdir {str(workdir)!r} holds a run trained {done} epochs with another recipe: "
            f"{said}. Resume with the recorded settings, choose another workdir, or pass "
            "new_recipe=True (CLI: --new-recipe) to train on with the new ones (run.json "
            "records the change; an optimizer of another kind starts from a fresh state).")
    fields["recipe_changes"] = list(record.get("recipe_changes") or []) + [{
        "after_epoch": done, "from": {key: recorded[key] for key in changed},
        "to": {key: recipe[key] for key in changed}}]
    return fields
