"""Atomic writing of an export: into a temporary sibling, then renamed into place.

An export interrupted half-way (a full disk, Ctrl-C, a crash in the converter) must never
leave a half-written model where a server would load it, so every format is written to a
temporary folder beside the target and moved in with `os.replace` only once complete.
"""

import contextlib
import os
import pathlib
import shutil
import tempfile


def check_target(path, *, overwrite=False):
    """Returns `path` as an absolute `pathlib.Path` once it is safe to write there.

    Nothing is created: this only looks, so a refused export leaves the disk untouched.

    Raises:
        FileExistsError: `path` exists and `overwrite` is False.
        NotADirectoryError: a parent of `path` is a file, so nothing can be written inside.

    Example:
        >>> import tempfile
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> check_target(folder / "new" / "export") == folder / "new" / "export"
        True
        >>> check_target(folder)
        Traceback (most recent call last):
        ...
        FileExistsError: ... already exists; pass overwrite=True (CLI: --overwrite) ...
    """
    path = pathlib.Path(path).expanduser().absolute()
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise NotADirectoryError(
                    f"cannot export to {str(path)!r}: {str(parent)!r} is a file, not a "
                    "folder. Choose a path outside it.")
            break
    if path.exists() or path.is_symlink():
        if not overwrite:
            raise FileExistsError(
                f"{str(path)!r} already exists; pass overwrite=True (CLI: --overwrite) to "
                "replace it, or choose another path.")
    return path


@contextlib.contextmanager
def atomic_output(path, *, overwrite=False, is_dir):
    """Yields a temporary path beside `path`; on success it is renamed to `path`.

    The temporary path is a folder to fill when `is_dir`, else a file name to write. If
    the body raises, the temporary output is deleted and `path` is left as it was. An
    existing `path` (allowed only with `overwrite`) is swapped out after the new output
    is complete, then deleted.

    Raises:
        FileExistsError, NotADirectoryError: as `check_target`, before anything is written.
        IsADirectoryError: `overwrite` would replace a folder with a file or the reverse.
    """
    path = check_target(path, overwrite=overwrite)
    if path.exists() and path.is_dir() != is_dir:
        kind = "folder" if path.is_dir() else "file"
        raise IsADirectoryError(
            f"{str(path)!r} is a {kind}; this format writes a "
            f"{'folder' if is_dir else 'file'}. Remove it or choose another path.")
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{path.name}.partial-", dir=path.parent))
    try:
        output = staging if is_dir else staging / path.name
        yield output
        _swap_in(output, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _swap_in(new, path):
    if not (path.exists() or path.is_symlink()):
        os.replace(new, path)
        return
    # A folder cannot replace a non-empty folder in one rename: move the old one aside
    # first, so that at every moment `path` is either the complete old or the new export.
    old = path.parent / f".{path.name}.old-{os.getpid()}"
    os.replace(path, old)
    try:
        os.replace(new, path)
    except BaseException:
        os.replace(old, path)
        raise
    if old.is_dir() and not old.is_symlink():
        shutil.rmtree(old, ignore_errors=True)
    else:
        old.unlink()
