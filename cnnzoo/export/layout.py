"""Deprecated: TF Serving's folder layout moved to `cnnzoo.layouts.serving`.

Its names still resolve here, each with a `DeprecationWarning`.
"""

from cnnzoo.lazy import lazy_attributes

__getattr__, __dir__ = lazy_attributes(__name__, dict.fromkeys(
    ("SAVED_MODEL_FILE", "find_saved_model", "resolve_saved_model", "version_number"),
    "cnnzoo.layouts.serving"), moved=True)
