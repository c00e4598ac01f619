"""Package attributes imported on first use, so that `import cnnzoo` needs no TensorFlow."""

import importlib
import sys
import warnings


def lazy_attributes(package, table, *, moved=False):
    """Returns `(__getattr__, __dir__)` for `package`, importing `table`'s names lazily.

    `table` maps a public name to the module that defines it; the first access imports
    that module and caches the value on the package (PEP 562). With `moved=True` the
    names are deprecated aliases of the same names in their new modules: every access
    warns with a `DeprecationWarning` naming the new home, nothing is cached, and `dir()`
    does not list them (so tools that walk a module's names do not trip the warning).
    """
    def __getattr__(name):
        if name in table:
            value = getattr(importlib.import_module(table[name]), name)
            if moved:
                warnings.warn(f"{package}.{name} moved to {table[name]}.{name}; import it "
                              "from there.", DeprecationWarning, stacklevel=2)
            else:
                setattr(sys.modules[package], name, value)
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | (set() if moved else set(table)))

    return __getattr__, __dir__
