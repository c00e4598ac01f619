"""Speed settings per device: the mixed-precision policy and XLA.

"auto" follows what `cnnzoo doctor` measured for the model on this machine, when it has
(see `cnnzoo.doctor`: its findings are keyed by model, backend, device and versions), and
otherwise a rule per device. The rule, measured on the 2-core CPU this project is developed
on (`bench/bench_training.py`): XLA made a training step of `mnist_cnn` about 4x slower than
plain TensorFlow, so on a CPU with TensorFlow both stay off. On a GPU, mixed precision
(bfloat16 where the GPU has it, Ampere and later, else float16 with loss scaling) and XLA
are the usual speed-ups and are on by default. On the JAX backend XLA is always on: there,
`jit_compile=False` runs every operation eagerly, one at a time.
"""

import contextlib

import keras

MIXED_PRECISION_CHOICES = ("auto", "float32", "mixed_float16", "mixed_bfloat16")


def gpus():
    """Returns the GPUs the Keras backend sees (a list; empty on a CPU-only machine)."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.config.list_physical_devices("GPU")
    if keras.backend.backend() == "jax":
        import jax

        return [d for d in jax.devices() if d.platform == "gpu"]
    return []


def gpu_has_bfloat16():
    """Returns whether every GPU TensorFlow sees computes in bfloat16 natively (Ampere+).

    On other backends it returns True: JAX reports no compute capability to check.
    """
    if keras.backend.backend() != "tensorflow":
        return True
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        if not capability or capability[0] < 8:
            return False
    return True


def default_mixed_precision():
    """Returns the rule's policy: "float32" on CPUs; on GPUs "mixed_bfloat16", or
    "mixed_float16" where TensorFlow's GPUs predate bfloat16."""
    if not gpus():
        return "float32"
    return "mixed_bfloat16" if gpu_has_bfloat16() else "mixed_float16"


def default_jit_compile():
    """Returns the rule's XLA setting: on with JAX and on GPUs, off on TensorFlow's CPU."""
    return keras.backend.backend() == "jax" or bool(gpus())


def _finding(model_name):
    """Returns the doctor's finding for `model_name` on this machine, or None."""
    if not model_name:
        return None
    from cnnzoo.doctor import load_finding  # Here: the doctor itself imports this module.

    return load_finding(model_name)


def resolve_mixed_precision(mixed_precision="auto", *, model_name=None):
    """Returns the dtype policy name to build with.

    Args:
        mixed_precision: "auto", "float32", "mixed_float16" or "mixed_bfloat16"; None and
            False mean "float32".
        model_name: the registry name being built; "auto" then follows `cnnzoo doctor`'s
            finding for it on this machine when there is one.

    Returns:
        The policy given, or for "auto" the doctor's finding, else `default_mixed_precision()`.

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
    finding = _finding(model_name)
    return finding.mixed_precision if finding else default_mixed_precision()


def resolve_jit_compile(jit_compile="auto", *, model_name=None):
    """Returns True (XLA) or False.

    Args:
        jit_compile: "auto", True or False.
        model_name: the registry name being trained; "auto" then follows `cnnzoo doctor`'s
            finding for it on this machine when there is one.

    Returns:
        The setting given, or for "auto" the doctor's finding, else `default_jit_compile()`.

    Raises:
        ValueError: anything but True, False or "auto".

    Example:
        >>> resolve_jit_compile(False)
        False
    """
    if jit_compile == "auto":
        finding = _finding(model_name)
        return finding.jit_compile if finding else default_jit_compile()
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
