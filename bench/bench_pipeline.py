"""Pipeline speed beside mnist_cnn's training speed, on the same machine, in one run.

    python bench/bench_pipeline.py                    # standard preset vs training
    python bench/bench_pipeline.py --compare-keras    # + tf ops vs Keras layers per preset

Data: full Fashion-MNIST when cnnzoo finds it locally (Debian's dataset-fashion-mnist,
data_dir, $CNNZOO_DATA_DIR), else the shipped sample. Figures are medians of
``--repeats`` timed passes after one warm-up pass. The target is a pipeline at least
5x faster than training consumes images, so training never waits on data.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import cnnzoo  # noqa: E402
from cnnzoo.data import (DatasetNotFoundError, get_augment_preset,  # noqa: E402
                         list_augment_presets, load_arrays, load_dataset)


def make_keras_augmenter(preset, *, num_classes: int, flip_allowed: bool = True, seed=0):
    """A preset built from Keras 3 preprocessing layers, to time against our tf ops.

    Moved here from cnnzoo.data.augment: only this comparison uses it.

    Returns:
        ``fn(images, labels)`` with the same inputs/outputs as the function
        ``cnnzoo.data.augment.make_batch_augmenter`` returns, minus the explicit seed
        (the layers carry their own seed-generator state).
    """
    preset = get_augment_preset(preset)
    layers = []
    if preset.shift:
        layers.append(keras.layers.RandomTranslation(
            preset.shift, preset.shift, fill_mode="constant", interpolation="nearest",
            seed=seed))
    if preset.flip and flip_allowed:
        layers.append(keras.layers.RandomFlip("horizontal", seed=seed + 1))
    if preset.erase:
        layers.append(keras.layers.RandomErasing(factor=preset.erase, scale=(0.02, 0.25),
                                                 fill_value=0.0, value_range=(0, 255),
                                                 seed=seed + 2))
    if preset.rotate:
        layers.append(keras.layers.RandomRotation(preset.rotate / 360.0, fill_mode="constant",
                                                  seed=seed + 3))
    if preset.zoom:
        layers.append(keras.layers.RandomZoom(preset.zoom, fill_mode="constant", seed=seed + 4))
    mixer = None
    if preset.mixup:
        mixer = keras.layers.MixUp(alpha=preset.mixup, seed=seed + 5)
    elif preset.cutmix:
        mixer = keras.layers.CutMix(factor=preset.cutmix, seed=seed + 5)

    def augment(images, labels):
        images = tf.cast(images, tf.float32)
        for layer in layers:
            images = layer(images, training=True)
        labels = tf.cast(labels, tf.int32)
        if mixer is not None:
            out = mixer({"images": images,
                         "labels": tf.one_hot(labels, num_classes, dtype=tf.float32)},
                        training=True)
            images, labels = out["images"], out["labels"]
        return images, labels

    return augment


def _median_rates(runs: dict, repeats: int) -> dict:
    """Median images/s of each ``name: (run_once, images_per_run)``.

    Runs are interleaved (a, b, a, b, ...) after one warm-up each, so load from other
    processes on a shared machine hits every contender alike.
    """
    times = {name: [] for name in runs}
    for run_once, _ in runs.values():
        run_once()  # warm-up: tracing, autotune, caches
    for _ in range(repeats):
        for name, (run_once, _) in runs.items():
            start = time.perf_counter()
            run_once()
            times[name].append(time.perf_counter() - start)
    return {name: runs[name][1] / statistics.median(times[name]) for name in runs}


def _drain(dataset):
    def run_once():
        for _ in dataset:
            pass
    return run_once


def _keras_pipeline(source, preset, num_classes, batch_size, limit):
    """The same data, shuffle and batching as load_dataset, augmented by Keras layers."""
    augment = make_keras_augmenter(preset, num_classes=num_classes)
    dataset, _ = load_dataset(source, batch_size=batch_size, augment=None, shuffle=True,
                              limit=limit)
    return dataset.map(augment, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _training_run(x, y, batch_size: int, steps: int):
    """``steps`` train_on_batch calls of mnist_cnn on one in-memory batch (no input cost)."""
    model = cnnzoo.build_mnist_cnn(input_shape=x.shape[1:])
    images = tf.constant(x[:batch_size].astype("float32"))
    labels = tf.constant(y[:batch_size])

    def run_once():
        for _ in range(steps):
            model.train_on_batch(images, labels)
    return run_once


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-steps", type=int, default=60)
    parser.add_argument("--limit", type=int, default=None,
                        help="use only this many training images (faster runs)")
    parser.add_argument("--compare-keras", action="store_true",
                        help="also time every preset with Keras preprocessing layers")
    args = parser.parse_args(argv)

    try:
        source = "fashion_mnist"
        x, y, info = load_arrays(source, limit=args.limit)
    except DatasetNotFoundError:
        source = "fashion_mnist_sample"
        x, y, info = load_arrays(source, limit=args.limit)
    n = len(y)
    print(f"data: {source} train, {n} images {info.image_shape} from {info.source_path}")
    print(f"machine: {os.cpu_count()} CPUs, TensorFlow {tf.__version__}, "
          f"GPUs: {len(tf.config.list_physical_devices('GPU'))}; batch {args.batch_size}, "
          f"median of {args.repeats}")

    dataset, _ = load_dataset(source, batch_size=args.batch_size, augment="standard",
                              limit=args.limit)
    rates = _median_rates({
        "pipeline": (_drain(dataset), n),
        "training": (_training_run(x, y, args.batch_size, args.train_steps),
                     args.train_steps * args.batch_size)}, args.repeats)
    pipeline, training = rates["pipeline"], rates["training"]
    print(f"pipeline (standard preset, tf ops): {pipeline:12,.0f} images/s")
    print(f"mnist_cnn training (train_on_batch): {training:11,.0f} images/s")
    print(f"ratio pipeline/training: {pipeline / training:.1f}x (target >= 5x)")

    if args.compare_keras:
        # The batching choice in pipeline.py: gather batches by shuffled index, versus
        # shuffling and batching one example at a time.
        per_example = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(n, seed=0)
        per_example = per_example.batch(args.batch_size).prefetch(tf.data.AUTOTUNE)
        plain, _ = load_dataset(source, batch_size=args.batch_size, limit=args.limit)
        rates = _median_rates({"gather": (_drain(plain), n),
                               "slices": (_drain(per_example), n)}, args.repeats)
        print(f"\nbatching, no augmentation: index gather {rates['gather']:,.0f} images/s, "
              f"from_tensor_slices+shuffle+batch {rates['slices']:,.0f} images/s "
              f"({rates['gather'] / rates['slices']:.1f}x)")
        print(f"\n{'preset':10} {'tf ops img/s':>14} {'Keras layers img/s':>20} {'speed-up':>9}")
        for preset in list_augment_presets():
            ours, _ = load_dataset(source, batch_size=args.batch_size, augment=preset,
                                   limit=args.limit)
            theirs = _keras_pipeline(source, preset, info.num_classes, args.batch_size,
                                     args.limit)
            rates = _median_rates({"ours": (_drain(ours), n), "keras": (_drain(theirs), n)},
                                  args.repeats)
            print(f"{preset:10} {rates['ours']:14,.0f} {rates['keras']:20,.0f} "
                  f"{rates['ours'] / rates['keras']:8.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
