"""TensorFlow Serving's layout: a SavedModel folder, or a model base of version folders.

A model base path holds numbered version folders (`base/1/`, `base/2/`...), each a
SavedModel with its `saved_model.pb`; TF Serving loads the highest version. This is the
one place cnnzoo decides whether a path is an export or may receive one (no TensorFlow
needed), so the export, the job, the CLI, `cnnzoo.evaluate` and the server agree.
"""

import pathlib

from cnnzoo.atomic import is_leftover

SAVED_MODEL_FILE = "saved_model.pb"
# What an export writes into its SavedModel folder; anything else in one is the user's.
EXPORT_ENTRIES = frozenset({SAVED_MODEL_FILE, "fingerprint.pb", "variables", "assets"})


def export_path(path, *, argument="path"):
    """Returns `path` as a `pathlib.Path`, refusing an empty one.

    `pathlib.Path("")` is the current folder, so an empty path given by mistake (an unset
    shell variable) would make an export replace the folder it runs in.

    Raises:
        ValueError: `path` is empty or only blanks.

    Example:
        >>> export_path("saved_models/m").as_posix()
        'saved_models/m'
        >>> export_path("")
        Traceback (most recent call last):
        ...
        ValueError: path is empty; name the folder or file to write, e.g. saved_models/model.
    """
    if isinstance(path, (str, bytes)) and not path.strip():
        raise ValueError(f"{argument} is empty; name the folder or file to write, e.g. "
                         "saved_models/model.")
    return pathlib.Path(path)


def _describe(names):
    shown = ", ".join(repr(name) for name in sorted(names)[:3])
    return shown + (", ..." if len(names) > 3 else "")


def check_replaceable_export(path):
    """Checks that an export may replace what is at `path`: only what cnnzoo wrote there.

    `path` may be missing, an empty folder, or a SavedModel folder that cnnzoo exported:
    its `saved_model.pb` and model card (`assets/cnnzoo_card.json`), and nothing beside
    what an export writes (`EXPORT_ENTRIES`). Replacing it then deletes nothing a user
    made. Nothing is changed here.

    Raises:
        FileExistsError: anything else at `path` (a file, a symbolic link, a folder of
            other files, a SavedModel without cnnzoo's card); the message names it.
    """
    from cnnzoo.export.card import CARD_FILENAME  # Plain Python; imported late (a cycle).

    path = pathlib.Path(path).expanduser()
    if not (path.exists() or path.is_symlink()):
        return
    refusal = (f"refusing to replace {str(path)!r}: cnnzoo replaces only a SavedModel "
               "folder it exported (with assets/" + CARD_FILENAME + ")")
    hint = "Choose another path, or move it away yourself if it may go."
    if path.is_symlink() or not path.is_dir():
        kind = "a symbolic link" if path.is_symlink() else "a file"
        raise FileExistsError(f"{refusal}, and it is {kind}. {hint}")
    names = {entry.name for entry in path.iterdir()}
    if not names:
        return
    others = names - EXPORT_ENTRIES
    if others:
        raise FileExistsError(f"{refusal}, and it holds {_describe(others)}. {hint}")
    if not ((path / SAVED_MODEL_FILE).is_file()
            and (path / "assets" / CARD_FILENAME).is_file()):
        raise FileExistsError(f"{refusal}; it is not one (no {SAVED_MODEL_FILE} with "
                              f"assets/{CARD_FILENAME}). {hint}")


def version_number(name):
    """Returns the TF Serving version a folder name stands for, or None.

    Example:
        >>> version_number("12"), version_number("v1"), version_number("²")
        (12, None, None)
    """
    return int(name) if name.isascii() and name.isdigit() else None


def check_version(version, *, argument="version"):
    """Returns `version`, a TF Serving version folder number.

    Args:
        version: the version to check.
        argument: the name the caller's user knows it by, for the message.

    Raises:
        ValueError: `version` is not a positive integer.

    Example:
        >>> check_version(3)
        3
        >>> check_version(0, argument="export_version")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: export_version must be a positive integer ...; received export_version=0.
    """
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"{argument} must be a positive integer (TF Serving's version "
                         f"folder); received {argument}={version!r}.")
    return version


def version_folder(base, version, *, argument="version"):
    """Returns `base/<version>`, the folder TF Serving loads that version from.

    Raises:
        ValueError: `version` is not a positive integer (see `check_version`).
    """
    return pathlib.Path(base) / str(check_version(version, argument=argument))


def find_saved_model(path):
    """Returns the SavedModel folder at `path`, or None when there is none.

    `path` itself when it holds `saved_model.pb`; else, for a TF Serving model base
    (`path/1/`, `path/2/`...), its highest numbered version folder holding one, as TF
    Serving's default version policy picks. Other subfolders are not looked into. Never
    raises for a missing path or a file.

    Example:
        >>> import tempfile
        >>> base = pathlib.Path(tempfile.mkdtemp())
        >>> for version in ("1", "2", "10"):
        ...     (base / version).mkdir()
        ...     _ = (base / version / SAVED_MODEL_FILE).write_bytes(b"")
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
        f"{str(path)!r} is not a SavedModel: it has no {SAVED_MODEL_FILE} (nor a numbered "
        "version folder holding one). Export one with `cnnzoo export` or "
        "cnnzoo.export_saved_model(model, path).")


def check_model_base(path, *, version=None):
    """Checks that `path` may receive a version folder as a TF Serving model base.

    `path` may be missing, empty, or hold only numbered version folders with a
    `saved_model.pb` (as `find_saved_model` reads them); writing `path/<version>` then
    replaces at most that version and leaves the others alone. Temporaries of an export
    (`.1.partial-...`, live or left by a killed one) are looked past: TF Serving ignores
    them, and the next export into `path` deletes the abandoned ones. With `version`,
    `path/<version>` must also be what an export may replace (`check_replaceable_export`).

    Raises:
        FileExistsError: `path` is a file, or a folder holding anything else, or
            `path/<version>` is not a cnnzoo export.
    """
    base = pathlib.Path(path).expanduser().resolve()
    if not (base.exists() or base.is_symlink()):
        return
    if not base.is_dir():
        raise FileExistsError(f"export folder {str(path)!r} is a file; choose a folder for "
                              "the SavedModel versions.")
    others = sorted(entry.name for entry in base.iterdir() if not is_leftover(entry.name) and (
        version_number(entry.name) is None or find_saved_model(entry) != entry))
    if others:
        shown = ", ".join(repr(name) for name in others[:3]) + (", ..." if len(others) > 3
                                                                else "")
        raise FileExistsError(
            f"export folder {str(path)!r} exists and is not a TF Serving model base (only "
            f"numbered version folders holding {SAVED_MODEL_FILE}); it holds {shown}. "
            "Choose another folder or an empty one.")
    if version is not None:
        check_replaceable_export(version_folder(base, version))
