"""Quiet TensorFlow's own log lines in the command line (the library leaves logging alone).

What hides each line, measured with TensorFlow 2.21 on a CPU-only machine:

- `TF_CPP_MIN_LOG_LEVEL=3` hides what TensorFlow logs after its logging starts:
  `cpu_feature_guard` ("This TensorFlow binary is optimized to use...", hidden from 1 up)
  and `E0000 ... failed call to cuInit` on a machine without a GPU (an ERROR: only 3).
- Nothing in the environment hides what its shared libraries log while they load, before
  `absl::InitializeLog()`: "WARNING: All log messages before absl::InitializeLog() is
  called are written to STDERR", then `port.cc` (oneDNN) and `cudart_stub.cc` lines, twice.
  absl writes them straight to file descriptor 2, so the import of `tensorflow` runs with
  that descriptor captured, and what was captured is written back without absl's lines.
- Python-side, the `tensorflow` (`tf.get_logger()`) and `absl` loggers show errors only.
"""

import contextlib
import importlib.abc
import importlib.util
import logging
import os
import re
import sys
import tempfile

# absl's line prefix, as in "I0000 00:00:1796213572.905174    7540 cudart_stub.cc:31] ...";
# fatal (F) lines are kept.
_ABSL_LINE = re.compile(r"([IWE]\d{4} [\d:.]+\s+\d+ \S+:\d+\] |WARNING: All log messages "
                        r"before absl::InitializeLog\(\) is called)")


def quiet_tensorflow_logs():
    """Hides TensorFlow's log lines for the rest of the process (the CLI without --verbose).

    Keeps a `TF_CPP_MIN_LOG_LEVEL` the user set. Call it before anything imports
    TensorFlow; a later call still quiets the Python loggers.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    for name in ("tensorflow", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if "tensorflow" not in sys.modules and not any(
            isinstance(finder, _QuietImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietImport())


class _QuietImport(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` as the other finders do, with a loader that filters its logs."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # Once: the next find is the plain one.
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


class _QuietLoader(importlib.abc.Loader):
    """Runs another loader with file descriptor 2 captured and filtered."""

    def __init__(self, loader):
        self.loader = loader

    def __getattr__(self, name):  # Resource readers and the like: the real loader's.
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        with _without_absl_lines():
            self.loader.exec_module(module)


@contextlib.contextmanager
def _without_absl_lines():
    """Captures file descriptor 2 for the block, then writes it back without absl's lines."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # No descriptor 2 to capture (a daemon).
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode("utf-8", "replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if not _ABSL_LINE.match(line)))
            sys.stderr.flush()
