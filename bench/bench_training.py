"""Measures training throughput on this machine: one setting against its baseline.

    nice -n 10 python bench/bench_training.py --compare xla --models mnist_cnn tutorial_3x3
    python bench/bench_training.py --compare batch-norm --models resnet9_w24 --batch-size 256

`--compare xla`: XLA (`jit_compile=True`) against plain TensorFlow.
`--compare batch-norm`: cnnzoo's fused `BatchNormalization` (what the zoo builds) against
`keras.layers.BatchNormalization` in the same model.

For each model it builds both variants, runs warm-up steps (tracing and XLA compilation
are not counted), then times `--steps` training steps on random raw pixels, alternating
the two variants `--repeats` times so that a change in the machine's load hits both, and
prints the median milliseconds per step of each and their ratio.
"""

import argparse
import statistics
import time

import numpy as np


def _dataset(images, labels, batch_size):
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(
        batch_size, drop_remainder=True).repeat().prefetch(2)


def _seconds_per_step(model, dataset, steps):
    start = time.perf_counter()
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    return (time.perf_counter() - start) / steps


def _with_keras_batch_norm(model):
    """Returns `model` rebuilt with `keras.layers.BatchNormalization` in place of cnnzoo's,
    compiled as the registry compiles (`cnnzoo.build`'s defaults)."""
    import keras

    from cnnzoo.models import compile_classifier
    from cnnzoo.models.batch_norm import BatchNormalization

    def clone(layer):
        if isinstance(layer, BatchNormalization):
            return keras.layers.BatchNormalization.from_config(layer.get_config())
        return layer.__class__.from_config(layer.get_config())

    return compile_classifier(keras.models.clone_model(model, clone_function=clone))


def _variants(name, compare, shape):
    """Returns `{label: compiled model}`, the baseline first."""
    import cnnzoo

    if compare == "xla":
        return {"plain": cnnzoo.build(name, input_shape=shape, num_classes=10, jit_compile=False),
                "XLA": cnnzoo.build(name, input_shape=shape, num_classes=10, jit_compile=True)}
    fused = cnnzoo.build(name, input_shape=shape, num_classes=10)
    return {"keras BN": _with_keras_batch_norm(fused), "cnnzoo BN": fused}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", choices=["xla", "batch-norm"], default="xla")
    parser.add_argument("--models", nargs="+", default=["mnist_cnn"])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--image-size", type=int, default=28)
    args = parser.parse_args(argv)

    import cnnzoo

    rng = np.random.default_rng(0)
    for name in args.models:
        shape = (args.image_size, args.image_size, cnnzoo.model_card(name).default_input[-1])
        images = rng.uniform(0, 255, (args.batch_size * 8,) + shape).astype("float32")
        labels = rng.integers(0, 10, args.batch_size * 8).astype("int32")
        dataset = _dataset(images, labels, args.batch_size)
        models = _variants(name, args.compare, shape)
        for model in models.values():
            model.fit(dataset, epochs=1, steps_per_epoch=5, verbose=0)  # trace, compile
        times = {label: [] for label in models}
        for _ in range(args.repeats):
            for label, model in models.items():
                times[label].append(_seconds_per_step(model, dataset, args.steps))
        (base, base_times), (other, other_times) = times.items()
        base_ms, other_ms = (statistics.median(t) * 1e3 for t in (base_times, other_times))
        print(f"{name}: {base} {base_ms:.1f} ms/step, {other} {other_ms:.1f} ms/step, "
              f"{other}/{base} time {other_ms / base_ms:.2f} (batch {args.batch_size}, "
              f"{shape[0]}x{shape[1]}x{shape[2]}, median of {args.repeats} x {args.steps} "
              "steps, alternated)", flush=True)


if __name__ == "__main__":
    main()
