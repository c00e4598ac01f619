"""Where training runs: the `tf.distribute` strategy chosen by one argument, `distribute`.

    "none"          one device (Keras's default placement);
    "mirrored"      `tf.distribute.MirroredStrategy` across this machine's GPUs (or the
                    logical devices configured before TensorFlow started);
    "multi_worker"  `tf.distribute.MultiWorkerMirroredStrategy` across the machines that
                    `TF_CONFIG` lists;
    "auto"          multi_worker when `TF_CONFIG` lists more than one task, mirrored when
                    this machine has more than one GPU, else none.

TensorFlow is imported only when a strategy is needed, so Keras on the JAX backend can
train with `distribute="none"` (or "auto" without GPUs) without touching it.
"""

import contextlib
import json
import os

import keras

DISTRIBUTE_CHOICES = ("auto", "none", "mirrored", "multi_worker")

# A process can hold one MultiWorkerMirroredStrategy: its collective ops are configured
# once, so a second fit in the same worker reuses the first one's strategy.
_MULTI_WORKER = []


def _cluster_size():
    """Returns how many tasks `TF_CONFIG` lists (0 when it is unset)."""
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    return sum(len(tasks) for tasks in config.get("cluster", {}).values())


def _num_gpus():
    if keras.backend.backend() != "tensorflow":
        return 0
    import tensorflow as tf

    return len(tf.config.list_physical_devices("GPU"))


def resolve_distribute(distribute):
    """Returns the concrete choice ("none", "mirrored" or "multi_worker") for `distribute`.

    Raises:
        ValueError: an unknown choice, a strategy on a backend other than TensorFlow, or
            "multi_worker" without `TF_CONFIG`.

    Example:
        >>> resolve_distribute("none")
        'none'
    """
    if distribute not in DISTRIBUTE_CHOICES:
        raise ValueError(f"distribute must be one of {list(DISTRIBUTE_CHOICES)} or a "
                         f"tf.distribute.Strategy; received distribute={distribute!r}.")
    if distribute == "auto":
        if _cluster_size() > 1:
            distribute = "multi_worker"
        elif _num_gpus() > 1:
            distribute = "mirrored"
        else:
            distribute = "none"
    if distribute != "none" and keras.backend.backend() != "tensorflow":
        raise ValueError(
            f"distribute={distribute!r} uses tf.distribute and needs the TensorFlow backend; "
            f"Keras runs on {keras.backend.backend()!r}. Use distribute='none' or set "
            "KERAS_BACKEND=tensorflow.")
    if distribute == "multi_worker" and _cluster_size() < 1:
        raise ValueError(
            "distribute='multi_worker' needs TF_CONFIG to describe the cluster, e.g. "
            '{"cluster": {"worker": ["10.0.0.1:12345", "10.0.0.2:12345"]}, '
            '"task": {"type": "worker", "index": 0}}; TF_CONFIG is unset.')
    return distribute


def make_strategy(distribute="auto"):
    """Returns a `tf.distribute.Strategy` for `distribute`, or None for one device.

    `distribute` may also be a strategy instance, returned as it is.

    Raises:
        ValueError: see `resolve_distribute`.
    """
    if not isinstance(distribute, str):
        return distribute
    choice = resolve_distribute(distribute)
    if choice == "none":
        return None
    import tensorflow as tf

    if choice == "mirrored":
        return tf.distribute.MirroredStrategy()
    if not _MULTI_WORKER:
        _MULTI_WORKER.append(tf.distribute.MultiWorkerMirroredStrategy())
    return _MULTI_WORKER[0]


@contextlib.contextmanager
def multi_worker_fit(model, strategy):
    """Lets `model.fit` run under MultiWorkerMirroredStrategy, inside this block.

    Keras 3's TensorFlow trainer (3.15 here) cannot fit under that strategy
    (keras-team/keras#20585): it averages the first batch with `strategy.reduce` to build
    the metrics, which fails on per-replica values, and it reduces the scalar logs with
    `axis=0`, which fails on scalars. Two narrow fixes, only while this model fits:
    the build uses this worker's part of the batch (same shapes), and the logs are
    averaged over this worker's replicas, as under MirroredStrategy, so loss and metrics
    in the logs are this worker's. Gradients are still all-reduced across workers by the
    optimizer, so every worker ends with the same weights.
    """
    if not _MULTI_WORKER or strategy is not _MULTI_WORKER[0]:
        yield
        return
    import tensorflow as tf
    from keras.src.backend.tensorflow import trainer as tf_trainer

    def local_value(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def maybe_symbolic_build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = tf.nest.map_structure(local_value, next(batches))
                break
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    is_multi_worker = tf_trainer._collective_all_reduce_multi_worker
    model._maybe_symbolic_build = maybe_symbolic_build
    tf_trainer._collective_all_reduce_multi_worker = lambda _: False
    try:
        yield
    finally:
        tf_trainer._collective_all_reduce_multi_worker = is_multi_worker
        del model._maybe_symbolic_build


def strategy_scope(strategy):
    """Returns `strategy.scope()`, or a no-op context when `strategy` is None."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def is_chief(strategy):
    """True where this process should write the run's files (always, outside multi-worker)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    return (resolver.task_type == "chief"
            or (resolver.task_type == "worker" and resolver.task_id == 0
                and "chief" not in resolver.cluster_spec().as_dict()))


def num_replicas(strategy):
    """Returns how many replicas train in step (1 without a strategy)."""
    return strategy.num_replicas_in_sync if strategy is not None else 1
