"""Atomic writes: into a temporary sibling, then moved into place with `os.replace`.

A write interrupted half-way (a full disk, Ctrl-C, a crash in a converter) must never
leave a half-written file or export under its final name, where a server, a resume or a
reader would take it. Every writer in cnnzoo goes through this module, so all of them
also agree on permissions: what lands in place is readable as any file the user writes
(`0o666 & ~umask`, folders `0o777 & ~umask`), not private as `tempfile` makes its
temporaries, so that TensorFlow Serving running as another user can read an export.

A writer killed half-way (kill -9, a power cut) leaves its temporary behind. Temporary
names carry their writer (a tag of its host and its pid), so the next write to the same
target, and `remove_stale_leftovers` on a whole folder, delete the leftovers of dead
writers and never a live one's; `is_leftover` tells readers to look past them.

No TensorFlow here: training, data and export all use it.
"""

import contextlib
import hashlib
import os
import pathlib
import re
import secrets
import shutil
import socket
import tempfile
import threading
import time

__all__ = ["atomic_directory", "atomic_file", "check_target", "is_leftover",
           "remove_stale_leftovers", "save_model_atomically", "write_atomically"]

# A leftover whose writer cannot be checked (another host, or a name from before the
# writer was named in it) is taken as abandoned after a day: no write takes that long.
STALE_AFTER_S = 24 * 3600
_HOST_TAG = hashlib.sha1(socket.gethostname().encode("utf-8")).hexdigest()[:8]
_OWNER = r"(?:(?P<host>[0-9a-f]{8})-(?P<pid>[0-9]+)[.-])?"
# `.<stem>.<host>-<pid>.<random>.partial<suffix>` from atomic_file;
# `.<name>.partial-<host>-<pid>-<random>` and `.<name>.old-<host>-<pid>-<random>` from
# atomic_directory.
_FILE_LEFTOVER = re.compile(r"\.(?P<stem>.+?)\." + _OWNER + r"[A-Za-z0-9_]+\.partial"
                            r"(?P<suffix>\.[^.]*)?")
_FOLDER_LEFTOVER = re.compile(r"\.(?P<name>.+?)\.(?P<kind>partial|old)-" + _OWNER
                              + r"[A-Za-z0-9_]+")

_umask_lock = threading.Lock()
_cached_umask = None


def _umask():
    """Returns the process's umask without changing it where Linux's /proc tells it.

    Elsewhere it is read once, at first use, with `os.umask`: setting a umask to read the
    old one is not thread-safe, so the probe sets the strict 0o077 (a file another thread
    creates meanwhile is private rather than world-writable) and it is done only once.
    """
    global _cached_umask
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _umask_lock:
        if _cached_umask is None:
            _cached_umask = os.umask(0o077)
            os.umask(_cached_umask)
        return _cached_umask


def _file_mode():
    return 0o666 & ~_umask()


def _make_readable_tree(top):
    """Gives every folder under `top` (itself included) and every file the umask's modes."""
    folder_mode, file_mode = 0o777 & ~_umask(), _file_mode()
    os.chmod(top, folder_mode)
    for root, folders, files in os.walk(top):
        for name in folders:
            if not os.path.islink(os.path.join(root, name)):
                os.chmod(os.path.join(root, name), folder_mode)
        for name in files:
            if not os.path.islink(os.path.join(root, name)):
                os.chmod(os.path.join(root, name), file_mode)


def check_target(path, *, overwrite=False):
    """Returns `path` as an absolute `pathlib.Path` once it is safe to write there.

    Nothing is created: this only looks, so a refused write leaves the disk untouched.

    Raises:
        FileExistsError: `path` exists and `overwrite` is False.
        NotADirectoryError: a parent of `path` is a file, so nothing can be written inside.
        ValueError: `path` is a device, FIFO or socket (a rename would replace it).

    Example:
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
                    f"cannot write {str(path)!r}: {str(parent)!r} is a file, not a "
                    "folder. Choose a path outside it.")
            break
    if path.exists() and not (path.is_file() or path.is_dir()):
        # A rename over a device or a FIFO would replace it (/dev/full made a plain file).
        raise ValueError(f"cannot write {str(path)!r}: it is a device, FIFO or socket, not "
                         "a file. Choose a path for a regular file.")
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise FileExistsError(
            f"{str(path)!r} already exists; pass overwrite=True (CLI: --overwrite) to "
            "replace it, or choose another path.")
    return path


@contextlib.contextmanager
def atomic_file(path, *, overwrite=False):
    """Yields a temporary file path beside `path`; on success it is moved to `path`.

    The temporary file exists (empty) and ends in `path`'s suffix, so writers that pick a
    format from the suffix (`model.save`) accept it. On success it is fsynced, given mode
    `0o666 & ~umask` and moved over `path` in one `os.replace`; if the body raises, it is
    deleted and `path` is left as it was. Missing parent folders are created.

    Raises:
        FileExistsError, NotADirectoryError: as `check_target`, before anything is written.
        IsADirectoryError: `path` is a folder and `overwrite` is True (a file does not
            replace a folder).

    Example:
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> with atomic_file(folder / "model.bin") as temporary:
        ...     _ = temporary.write_bytes(b"weights")
        >>> [p.name for p in folder.iterdir()], (folder / "model.bin").read_bytes()
        (['model.bin'], b'weights')
    """
    path = check_target(path, overwrite=overwrite)
    if path.is_dir():
        raise IsADirectoryError(f"{str(path)!r} is a folder; this writes a file. Remove it "
                                "or choose another path.")
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_leftovers(path.parent, target=path.name)
    handle, name = tempfile.mkstemp(prefix=f".{path.stem}.{_owner()}.",
                                    suffix=f".partial{path.suffix}", dir=path.parent)
    os.close(handle)
    temporary = pathlib.Path(name)
    try:
        with _naming(path):
            yield temporary
            handle = os.open(temporary, os.O_RDONLY)
            try:
                os.fsync(handle)
            finally:
                os.close(handle)
            os.chmod(temporary, _file_mode())
            os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def _naming(path):
    """Re-raises an `OSError` that names no file (a full disk's does not) naming `path`."""
    try:
        yield
    except OSError as error:
        if error.errno is None or error.filename is not None:
            raise
        raise OSError(error.errno, error.strerror, str(path)) from error


def write_atomically(path, data):
    """Writes `data` (bytes, or str as UTF-8) to `path` atomically; returns the path.

    Any existing file is replaced; the new one has mode `0o666 & ~umask`.

    Raises:
        TypeError: `data` is neither bytes nor str.
        NotADirectoryError, IsADirectoryError: as `atomic_file`.

    Example:
        >>> path = write_atomically(pathlib.Path(tempfile.mkdtemp()) / "a.txt", "hello")
        >>> path.read_text()
        'hello'
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    elif isinstance(data, (bytes, bytearray, memoryview)):
        data = bytes(data)
    else:
        raise TypeError(f"data must be bytes or str; received {type(data).__name__}.")
    path = pathlib.Path(path)
    with atomic_file(path, overwrite=True) as temporary:
        temporary.write_bytes(data)
    return path


def save_model_atomically(model, path):
    """Saves the full Keras `model` as a `.keras` file at `path`, atomically; returns it.

    Any existing file is replaced; the new one has mode `0o666 & ~umask`.

    Raises:
        ValueError: `path` does not end in `.keras`.
        NotADirectoryError, IsADirectoryError: as `atomic_file`.
    """
    path = pathlib.Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"a Keras model file must end in .keras; received {str(path)!r}.")
    with atomic_file(path, overwrite=True) as temporary:
        model.save(temporary)
    return path


@contextlib.contextmanager
def atomic_directory(path, *, overwrite=False):
    """Yields a temporary folder beside `path` to fill; on success it becomes `path`.

    On success every folder in it gets mode `0o777 & ~umask` and every file
    `0o666 & ~umask`, then it is moved to `path`. An existing `path` (allowed only with
    `overwrite`) is moved aside first and deleted after, so that at every moment `path`
    is the complete old folder or the complete new one. If the body raises, the temporary
    folder is deleted and `path` is left as it was. Missing parent folders are created.

    Raises:
        FileExistsError, NotADirectoryError: as `check_target`, before anything is
            written; NotADirectoryError also for an existing file at `path` with
            `overwrite` (a folder does not replace a file).

    Example:
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> with atomic_directory(folder / "export") as temporary:
        ...     _ = (temporary / "saved_model.pb").write_bytes(b"graph")
        >>> [p.name for p in folder.iterdir()], [p.name for p in (folder / "export").iterdir()]
        (['export'], ['saved_model.pb'])
    """
    path = check_target(path, overwrite=overwrite)
    if (path.exists() or path.is_symlink()) and not path.is_dir():
        raise NotADirectoryError(f"{str(path)!r} is a file; this writes a folder. Remove it "
                                 "or choose another path.")
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_leftovers(path.parent, target=path.name)
    temporary = pathlib.Path(tempfile.mkdtemp(prefix=f".{path.name}.partial-{_owner()}-",
                                              dir=path.parent))
    try:
        with _naming(path):
            yield temporary
            _make_readable_tree(temporary)
            _swap_in(temporary, path)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def _swap_in(new, path):
    if not (path.exists() or path.is_symlink()):
        os.replace(new, path)
        return
    # A folder cannot replace a non-empty folder in one rename: move the old one aside
    # first, so that at every moment `path` is either the complete old or the new folder.
    old = path.parent / f".{path.name}.old-{_owner()}-{secrets.token_hex(6)}"
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


def _owner():
    """Returns this process's tag in temporary names: `<host tag>-<pid>`."""
    return f"{_HOST_TAG}-{os.getpid()}"


def _parse_leftover(name):
    """Returns `(target, kind, match)` for a temporary's name, or None for any other name.

    `target` is the name the temporary was to become; `kind` is "partial" or "old" (a
    folder moved aside while its replacement moved in).
    """
    match = _FOLDER_LEFTOVER.fullmatch(name)
    if match:
        return match["name"], match["kind"], match
    match = _FILE_LEFTOVER.fullmatch(name)
    if match:
        return match["stem"] + (match["suffix"] or ""), "partial", match
    return None


def is_leftover(name):
    """Returns whether `name` is an atomic writer's temporary (live or abandoned).

    Example:
        >>> is_leftover(".1.partial-0a1b2c3d-4242-x7ab_9"), is_leftover("1")
        (True, False)
        >>> is_leftover(".last.0a1b2c3d-4242.k2h_9rq1.partial.keras")
        True
    """
    return _parse_leftover(name) is not None


def _writer_alive(match, path):
    """Returns whether the writer named in a temporary's name may still be writing it."""
    if match["host"] == _HOST_TAG:
        try:
            os.kill(int(match["pid"]), 0)
        except ProcessLookupError:
            return False
        except OSError:  # Another user's process: alive.
            return True
        return True
    try:
        return time.time() - path.lstat().st_mtime < STALE_AFTER_S
    except FileNotFoundError:
        return False


def remove_stale_leftovers(folder, *, target=None, exclusive=False):
    """Removes the temporaries that dead writers left in `folder`; returns their names.

    A temporary is stale when its writer, named in it, is no longer running on this host,
    or (for another host's, or an unnamed one) when it is older than `STALE_AFTER_S`.
    Stale partial files and folders are deleted. A folder that was moved aside to be
    replaced (`.<name>.old-...`) is moved back when `<name>` is missing (its writer died
    between the two renames, so it is the only copy), else deleted. Best-effort: never
    raises for a folder that is missing or not ours to change.

    Args:
        folder: the folder to clean (not its subfolders).
        target: only the temporaries of this name in `folder`; None for all.
        exclusive: the caller holds `folder` for itself (a training run its workdir's
            lock), so every temporary in it is stale, another host's included.

    Returns:
        The names removed or moved back, sorted.
    """
    folder = pathlib.Path(folder)
    try:
        names = [entry.name for entry in os.scandir(folder)]
    except OSError:
        return []
    removed = []
    for name in names:
        parsed = _parse_leftover(name)
        if parsed is None or (target is not None and parsed[0] != target):
            continue
        original, kind, match = parsed
        path = folder / name
        if not exclusive and _writer_alive(match, path):
            continue
        try:
            if kind == "old" and not (folder / original).exists():
                os.replace(path, folder / original)
            elif path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError:
            continue
        removed.append(name)
    return sorted(removed)
