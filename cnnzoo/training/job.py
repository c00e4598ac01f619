"""Deprecated: the main job moved to `cnnzoo.job`, above the library.

Its names still resolve here, each with a `DeprecationWarning`.
"""

from cnnzoo.lazy import lazy_attributes

__getattr__, __dir__ = lazy_attributes(__name__, dict.fromkeys(
    ("FALLBACKS", "check_export_target", "load_split", "load_training_data", "train_job"),
    "cnnzoo.job"), moved=True)
