"""Measures training throughput on this machine: XLA (jit_compile=True) against plain TF.

    nice -n 10 python bench/bench_training.py --models mnist_cnn tutorial_3x3 --steps 150

For each model and setting it builds the model, runs warm-up steps (tracing and XLA
compilation are not counted), then times `--steps` training steps on random raw pixels
and prints the median milliseconds per step of three timed runs and the XLA/plain ratio.
"""

import argparse
import statistics
import time

import numpy as np


def _time_steps(model, images, labels, *, steps, batch_size, repeats=3):
    """Returns the median seconds per training step over `repeats` timed runs."""
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(
        batch_size, drop_remainder=True).repeat().prefetch(2)
    model.fit(dataset, epochs=1, steps_per_epoch=10, verbose=0)  # trace and compile
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
        times.append((time.perf_counter() - start) / steps)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["mnist_cnn"])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args(argv)

    import cnnzoo

    rng = np.random.default_rng(0)
    for name in args.models:
        shape = (28, 28, 1)
        images = rng.uniform(0, 255, (args.batch_size * 8,) + shape).astype("float32")
        labels = rng.integers(0, 10, args.batch_size * 8).astype("int32")
        results = {}
        for jit in (False, True):
            model = cnnzoo.build(name, input_shape=shape, num_classes=10, jit_compile=jit)
            results[jit] = _time_steps(model, images, labels, steps=args.steps,
                                       batch_size=args.batch_size)
        print(f"{name}: plain {results[False] * 1e3:.1f} ms/step, XLA {results[True] * 1e3:.1f} "
              f"ms/step, XLA/plain {results[True] / results[False]:.2f} "
              f"(batch {args.batch_size}, median of 3 x {args.steps} steps)", flush=True)


if __name__ == "__main__":
    main()
