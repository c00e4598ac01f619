"""The run directory's files: atomic writes, `run.json`, and the checks before a run reuses one.

The files a workdir holds are named in `cnnzoo.layouts.run_dir` (re-exported here, as
`run_files.BEST_MODEL` and so on, for the callbacks and `fit`). Every file is written
through `cnnzoo.atomic` (a temporary name beside its target, moved into place with
`os.replace`), so an interrupt never leaves a half-written file under a final name, and
files get the umask's permissions, like any file the user writes.
"""

import json
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


def read_run(workdir):
    """Returns the run record in `<workdir>/run.json`, or None when there is none."""
    return read_json(pathlib.Path(workdir) / RUN_FILE)


def update_run(workdir, **fields):
    """Adds `fields` to `<workdir>/run.json` (creating it) and returns the new record."""
    record = read_run(workdir) or {}
    record.update(fields)
    write_json(pathlib.Path(workdir) / RUN_FILE, record)
    return record


def finished_epochs(workdir):
    """Returns the number of epochs the backup in `workdir` holds (0 when none)."""
    state = read_json(pathlib.Path(workdir) / BACKUP_DIR / BACKUP_STATE)
    return int(state["epoch"]) if state else 0


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
