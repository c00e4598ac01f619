"""Deprecated: loading a `.keras` file or a workdir moved to `cnnzoo.artifacts`.

Its names still resolve here, each with a `DeprecationWarning`.
"""

from cnnzoo.lazy import lazy_attributes

__getattr__, __dir__ = lazy_attributes(__name__, {"load_export_source": "cnnzoo.artifacts"},
                                       moved=True)
