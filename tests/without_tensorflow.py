"""Python source that makes `import tensorflow` fail, as on a machine without it.

Subprocess tests put `BLOCK_TENSORFLOW` at the top of their script: the GPU machine has
JAX but no TensorFlow, so cnnzoo's JAX path must not import it. A finder rather than
`sys.modules["tensorflow"] = None`: Keras checks `"tensorflow" in sys.modules` and would
then try to use it.
"""

BLOCK_TENSORFLOW = '''
import sys


class NoTensorFlow:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "tensorflow":
            raise ImportError(f"{name} is blocked in this test")


sys.meta_path.insert(0, NoTensorFlow())
'''
