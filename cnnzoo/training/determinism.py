"""Reproducible runs on request: one seed for Python, NumPy and the backend, and TF's
deterministic ops, so two runs with the same seed and data give the same weights."""

import keras


def make_deterministic(seed):
    """Seeds every random generator with `seed` and, on TensorFlow, makes ops deterministic.

    `tf.config.experimental.enable_op_determinism` stays on for the rest of the process
    (TensorFlow has no switch back); deterministic ops can be slower on GPUs.

    Raises:
        ValueError: `seed` is not a non-negative integer.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; received seed={seed!r}.")
    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
