"""Package attributes imported on first use, so that `import cnnzoo` needs no TensorFlow."""

import importlib
import sys


def lazy_attributes(package, table):
    """Returns `(__getattr__, __dir__)` for `package`, importing `table`'s names lazily.

    `table` maps a public name to the module that defines it; the first access imports
    that module and caches the value on the package (PEP 562).
    """
    def __getattr__(name):
        if name in table:
            value = getattr(importlib.import_module(table[name]), name)
            setattr(sys.modules[package], name, value)
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(table))

    return __getattr__, __dir__
