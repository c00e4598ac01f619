"""Speed settings per device: the mixed-precision policy and XLA.

Measured on the 2-core CPU this project is developed on (`bench/bench_training.py`):
XLA made a training step of `mnist_cnn` about 4x slower than plain TensorFlow, so on a CPU
both stay off. On a GPU, mixed precision (bfloat16 where the GPU has it, Ampere and later,
else float16 with loss scaling) and XLA are the usual speed-ups and are on by default.
"""

import contextlib

import keras

MIXED_PRECISION_CHOICES = ("auto", "float32", "mixed_float16", "mixed_bfloat16")


def _gpus():
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.config.list_physical_devices("GPU")
    if keras.backend.backend() == "jax":
        import jax

        return [d for d in jax.devices() if d.platform == "gpu"]
    return []


def _gpu_has_bfloat16():
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        if not capability or capability[0] < 8:
            return False
    return True


def resolve_mixed_precision(mixed_precision="auto"):
    """Returns the dtype policy name to build with: "float32" on CPUs, mixed on GPUs.

    Raises:
        ValueError: an unknown policy.

    Example:
        >>> resolve_mixed_precision("float32")
        'float32'
    """
    if mixed_precision is None or mixed_precision is False:
        return "float32"
    if mixed_precision not in MIXED_PRECISION_CHOICES:
        raise ValueError(f"mixed_precision must be one of {list(MIXED_PRECISION_CHOICES)}; "
                         f"received mixed_precision={mixed_precision!r}.")
    if mixed_precision != "auto":
        return mixed_precision
    if not _gpus():
        return "float32"
    if keras.backend.backend() == "tensorflow" and not _gpu_has_bfloat16():
        return "mixed_float16"
    return "mixed_bfloat16"


def resolve_jit_compile(jit_compile="auto"):
    """Returns True (XLA) or False: "auto" means XLA on GPUs only (slower on our CPUs)."""
    if jit_compile == "auto":
        return bool(_gpus())
    if not isinstance(jit_compile, bool):
        raise ValueError(f"jit_compile must be True, False or 'auto'; received "
                         f"jit_compile={jit_compile!r}.")
    return jit_compile


@contextlib.contextmanager
def dtype_policy(name):
    """Sets the global Keras dtype policy to `name` inside the block, then restores it.

    Models built inside keep the policy; nothing outside sees it changed.
    """
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_dtype_policy(previous)
