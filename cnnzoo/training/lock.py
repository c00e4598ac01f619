"""One run, one workdir: an exclusive lock on the workdir for as long as a run writes it.

The lock is `fcntl.flock` on `<workdir>/run.lock`, not the file's existence: the kernel
releases it when its holder exits however it exits (kill -9 and power cuts included),
so a crash never leaves a workdir locked. The file holds the holder's pid and host so
that a refusal can name them; a file left behind by a killed run is taken over, with a
note. POSIX only: where `fcntl` is missing (Windows) runs are not locked.
"""

import contextlib
import os
import pathlib
import socket
import threading
import warnings

from cnnzoo.atomic import remove_stale_leftovers
from cnnzoo.layouts.run_dir import LOCK_FILE

# The thread holding each lock this process holds, by workdir: `fit` inside `train_job`
# takes the same lock again.
_held = {}
_held_guard = threading.Lock()


class WorkdirInUseError(BlockingIOError):
    """Another process (or thread) is writing the workdir: its lock is taken."""


@contextlib.contextmanager
def workdir_lock(workdir):
    """Holds the lock of `workdir` (created if missing) while the body runs.

    Re-entrant within one thread: `train_job` holds it around `fit`, which takes it again.
    On taking it, the temporaries that killed writers left in the workdir are removed, and
    a backup folder moved aside mid-swap is moved back (see
    `cnnzoo.atomic.remove_stale_leftovers`). A workdir this call created is removed again
    if nothing was written into it.

    Args:
        workdir: the run directory.

    Yields:
        The workdir as a `pathlib.Path`.

    Raises:
        WorkdirInUseError: another process or thread holds the lock; the message names its
            pid and host and what to do.
        ValueError: `workdir` is a file.
        OSError: the workdir or its lock file cannot be created (a read-only folder, a
            full disk); the error names the path.

    Example:
        >>> import tempfile
        >>> with workdir_lock(tempfile.mkdtemp()) as workdir:
        ...     with workdir_lock(workdir):  # the same thread: re-entrant
        ...         (workdir / "run.lock").is_file()
        True
    """
    workdir = pathlib.Path(workdir)
    key = os.path.realpath(workdir)
    with _held_guard:
        holder = _held.get(key)
    if holder == threading.get_ident():
        yield workdir  # Re-entered: the outer call releases.
        return
    if holder is not None:
        raise WorkdirInUseError(_in_use_message(workdir, f"{os.getpid()} (this process, "
                                                         "another thread)"))
    created = _make_workdir(workdir)
    try:
        handle = _acquire(workdir)
    except BaseException:
        _remove_if_empty(workdir, created)
        raise
    with _held_guard:
        _held[key] = threading.get_ident()
    try:
        # Whatever a killed writer left half-written here is stale now that we hold it.
        remove_stale_leftovers(workdir, exclusive=True)
        yield workdir
    finally:
        with _held_guard:
            del _held[key]
        _release(workdir, handle)
        _remove_if_empty(workdir, created)


def _remove_if_empty(workdir, created):
    if created:
        with contextlib.suppress(OSError):  # Not empty: the run wrote into it.
            workdir.rmdir()


def _make_workdir(workdir):
    """Creates `workdir` if missing; returns whether it did."""
    if workdir.exists() and not workdir.is_dir():
        raise ValueError(f"workdir={str(workdir)!r} is a file, not a directory. Choose a "
                         "directory for the run's checkpoints and logs.")
    if workdir.is_dir():
        return False
    try:
        workdir.mkdir(parents=True)
    except FileExistsError:  # Made meanwhile by another run; the lock decides.
        return False
    return True


def _acquire(workdir):
    """Takes the lock of `workdir`; returns the open lock file's descriptor, or None."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock; runs are not locked there.
        return None
    path = workdir / LOCK_FILE
    while True:
        handle = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(handle)
            os.close(handle)
            raise WorkdirInUseError(_in_use_message(workdir, holder)) from None
        # The last holder unlinks the file on release; if that happened between our open
        # and our flock, we hold a lock on a file nobody else will open: try again.
        try:
            same = os.path.samestat(os.fstat(handle), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(handle)
    previous = _read_holder(handle)
    if previous:
        warnings.warn(f"workdir {str(workdir)!r}: taking over the lock of a run that is no "
                      f"longer running (pid {previous}); resuming after its last finished "
                      "epoch.", RuntimeWarning, stacklevel=4)
    os.ftruncate(handle, 0)
    os.pwrite(handle, f"{os.getpid()} on {socket.gethostname()}\n".encode("utf-8"), 0)
    return handle


def _release(workdir, handle):
    if handle is None:
        return
    # Unlinked before it is unlocked, so that no one locks a file that is going away
    # (see the retry in `_acquire`).
    with contextlib.suppress(OSError):
        (workdir / LOCK_FILE).unlink()
    os.close(handle)


def _read_holder(handle):
    """Returns the `<pid> on <host>` text in the lock file ('' when empty or unreadable)."""
    try:
        return os.pread(handle, 256, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""


def _in_use_message(workdir, holder):
    return (f"workdir {str(workdir)!r} is in use by another training run (pid "
            f"{holder or 'unknown'}); two runs in one workdir would overwrite each other's "
            "checkpoints. Wait for it to finish (or stop it) and run again to resume, or "
            "choose another workdir.")
