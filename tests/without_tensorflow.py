"""Python source that hides TensorFlow from the import system, as on a machine without it.

Subprocess tests put `BLOCK_TENSORFLOW` at the top of their script: the GPU machine has
JAX and PyTorch but no TensorFlow, so cnnzoo's paths there must not import it. The path
finder is replaced by one that does not find `tensorflow`, so `import tensorflow` raises
`ModuleNotFoundError` and `importlib.util.find_spec("tensorflow")` answers None, both as
where it is not installed (PyTorch's `torch._dynamo`, which Keras's torch backend
imports, probes it with `find_spec` and takes any other answer for an installed
TensorFlow). Not `sys.modules["tensorflow"] = None`: Keras checks
`"tensorflow" in sys.modules` and would then try to use it.
"""

BLOCK_TENSORFLOW = '''
import importlib.machinery
import sys


class NoTensorFlow(importlib.machinery.PathFinder):
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name.split(".")[0] == "tensorflow":
            return None
        return importlib.machinery.PathFinder.find_spec(name, path, target)


sys.meta_path[:] = [NoTensorFlow if finder is importlib.machinery.PathFinder else finder
                    for finder in sys.meta_path]
'''
