"""Where a SavedModel lies on disk: a folder, or TF Serving's numbered version folders.

The one place cnnzoo decides whether a path is an export (no TensorFlow needed), so the
CLI, `evaluate`, the training job and the server agree.
"""

import pathlib

SAVED_MODEL_FILE = "saved_model.pb"


def version_number(name):
    """Returns the TF Serving version a folder name stands for, or None.

    Example:
        >>> version_number("12"), version_number("v1"), version_number("²")
        (12, None, None)
    """
    return int(name) if name.isascii() and name.isdigit() else None


def find_saved_model(path):
    """Returns the SavedModel folder at `path`, or None when there is none.

    `path` itself when it holds `saved_model.pb`; else, for a TF Serving model base
    (`path/1/`, `path/2/`…), its highest numbered version folder holding one, as TF
    Serving's default version policy picks. Other subfolders are not looked into. Never
    raises for a missing path or a file.

    Example:
        >>> import tempfile
        >>> base = pathlib.Path(tempfile.mkdtemp())
        >>> for version in ("1", "2", "10"):
        ...     (base / version).mkdir()
        ...     _ = (base / version / "saved_model.pb").write_bytes(b"")
        >>> find_saved_model(base) == base / "10", find_saved_model(base / "missing")
        (True, None)
    """
    path = pathlib.Path(path).expanduser()
    if (path / SAVED_MODEL_FILE).is_file():
        return path
    if not path.is_dir():
        return None
    versions = [(version_number(p.name), p) for p in path.iterdir()
                if version_number(p.name) is not None and (p / SAVED_MODEL_FILE).is_file()]
    return max(versions)[1] if versions else None


def resolve_saved_model(path):
    """Returns `find_saved_model(path)`, raising where it would return None.

    Raises:
        FileNotFoundError: nothing at `path`.
        ValueError: `path` holds no `saved_model.pb`, directly or in a version folder.
    """
    found = find_saved_model(path)
    if found is not None:
        return found
    path = pathlib.Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"no export at {str(path)!r}.")
    raise ValueError(
        f"{str(path)!r} is not a SavedModel: it has no saved_model.pb (nor a numbered "
        "version folder holding one). Export one with `cnnzoo export` or "
        "cnnzoo.export_saved_model(model, path).")
