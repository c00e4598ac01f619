"""Speed settings per device: the mixed-precision policy, XLA and steps per execution.

"auto" follows what `cnnzoo doctor` measured for the model on this machine, when it has
(see `cnnzoo.doctor`: its findings are keyed by model, backend, device and versions), and
otherwise a rule per device. The rule, measured on the 2-core CPU this project is developed
on (`bench/bench_training.py`): XLA made a training step of `mnist_cnn` about 4x slower than
plain TensorFlow, so on a CPU with TensorFlow both stay off. On a GPU, mixed precision
(bfloat16 where the GPU has it, Ampere and later, else float16 with loss scaling) and XLA
are the usual speed-ups and are on by default. On the JAX backend XLA is always on: there,
`jit_compile=False` runs every operation eagerly, one at a time.

Steps per execution (Keras's `steps_per_execution`: how many training steps one call from
Python runs) is 8 on TensorFlow: each call costs the Python side about a millisecond
(Keras's loop, the callbacks, TF's dispatch), up to 15% of `mnist_cnn`'s step at batch
64, and 8 steps a call won it back (`bench/bench_classic.py --steps-per-execution 1`
against its default: 0.84x to 1.10-1.18x the classic script in float32, 1.06x to 1.34-1.44x in
bfloat16). On JAX it stays 1, unmeasured: Keras's JAX trainer still calls the compiled
step once a step from Python within a call, so only the callbacks' share would be saved.
"""

import contextlib

import keras

MIXED_PRECISION_CHOICES = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
STEPS_PER_EXECUTION_ON_TENSORFLOW = 8


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


def resolve_steps_per_execution(steps_per_execution="auto", *, compiled_with=1,
                                steps_per_epoch=None, callbacks_watch_batches=False,
                                distributed=False):
    """Returns how many training steps one call from Python runs.

    Keras rounds an epoch capped by `steps_per_epoch` up to whole calls, so the value
    returned always divides `steps_per_epoch`.

    Args:
        steps_per_execution: "auto" or a positive int.
        compiled_with: the model's own `steps_per_execution`; "auto" keeps one above 1.
        steps_per_epoch: the cap on an epoch's steps, or None.
        callbacks_watch_batches: whether a callback of the user's has batch hooks, which
            Keras calls once a call: "auto" is then 1, so they see every batch.
        distributed: whether the model trains under a tf.distribute strategy: "auto" is
            then 1, as Keras 3.15 fails to run several steps a call from a distributed
            dataset (its end-of-data check raises inside the step).

    Returns:
        The setting given, or for "auto": 1 when callbacks watch batches or training is
        distributed, else `compiled_with` when above 1, else
        `STEPS_PER_EXECUTION_ON_TENSORFLOW` on TensorFlow and 1 on other backends, made
        the largest divisor of `steps_per_epoch` not above it.

    Raises:
        ValueError: what `check_steps_per_execution` refuses.

    Example:
        >>> resolve_steps_per_execution("auto", compiled_with=8, steps_per_epoch=10)
        5
    """
    if steps_per_execution != "auto":
        return check_steps_per_execution(steps_per_execution, steps_per_epoch=steps_per_epoch)
    if callbacks_watch_batches or distributed:
        return 1
    if compiled_with > 1:
        steps = compiled_with
    else:
        steps = STEPS_PER_EXECUTION_ON_TENSORFLOW if keras.backend.backend() == "tensorflow" else 1
    if steps_per_epoch:
        steps = max(d for d in range(1, steps + 1) if steps_per_epoch % d == 0)
    return steps


def check_steps_per_execution(steps_per_execution, *, steps_per_epoch=None):
    """Returns `steps_per_execution` ("auto" or a positive int) once it is known good.

    Raises:
        ValueError: neither "auto" nor a positive int, or an int that does not divide
            `steps_per_epoch` (Keras would round each epoch up to whole calls).
    """
    if steps_per_execution == "auto":
        return steps_per_execution
    if (isinstance(steps_per_execution, bool) or not isinstance(steps_per_execution, int)
            or steps_per_execution < 1):
        raise ValueError(f"steps_per_execution must be a positive integer or 'auto'; "
                         f"received steps_per_execution={steps_per_execution!r}.")
    if steps_per_epoch and steps_per_epoch % steps_per_execution:
        raise ValueError(
            f"steps_per_execution={steps_per_execution} does not divide steps_per_epoch="
            f"{steps_per_epoch}: Keras would round each epoch up to whole calls; pass a "
            "divisor, or 'auto'.")
    return steps_per_execution


def parse_steps_per_execution(text):
    """Returns a command-line `--steps-per-execution` value: "auto" or a positive int.

    Raises:
        ValueError: anything else (argparse reports it as an invalid value).
    """
    return check_steps_per_execution(text if text == "auto" else int(text))


def set_steps_per_execution(model, steps_per_execution):
    """Makes the compiled `model` run `steps_per_execution` steps a call from now on."""
    if model.steps_per_execution != steps_per_execution:
        model.steps_per_execution = steps_per_execution
        # Keras reads the setting when it first builds each step function; rebuild them.
        model.train_function = model.test_function = model.predict_function = None
