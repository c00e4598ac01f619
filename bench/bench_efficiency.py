"""What share of this machine's arithmetic a training step uses, model by model.

    python bench/bench_efficiency.py                          # the default families
    python bench/bench_efficiency.py --quick                  # mnist_cnn and resnet20, few steps
    python bench/bench_efficiency.py --models vgg11_bn --batch-size 128

The machine's peak is measured in the same run: the median rate of a float32 matrix
product (`tf.linalg.matmul`, 2048 x 2048, the kernel oneDNN runs at its best), the ceiling
any convolution lowered to matrix products can reach. Each model then trains on random raw
pixels (so the input pipeline costs nothing) at the model's default input; training FLOPs
per image are counted from its layers (`cnnzoo.flops`: convolution and dense multiply-adds,
3 passes a step). Printed per model: FLOPs per image, milliseconds a step, achieved
GFLOP/s and the share of the measured peak. Medians of `--repeats` alternated runs.
"""

import argparse
import statistics
import time

import numpy as np

try:
    from bench.machine import describe_machine
except ImportError:  # Run as a script: bench/ is on the path.
    from machine import describe_machine

DEFAULT_MODELS = ["mnist_cnn", "tutorial_3x3", "lenet5", "resnet9_w24", "resnet20", "vgg11_bn"]


def matmul_peak_flops(size=2048, repeats=10):
    """Returns the median float32 FLOP/s of `size`-square matrix products on this machine."""
    import tensorflow as tf

    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))
    product = tf.function(lambda: tf.linalg.matmul(a, b))
    product().numpy()  # Trace and warm the kernel.
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        product().numpy()
        seconds.append(time.perf_counter() - start)
    return 2 * size ** 3 / statistics.median(seconds)


def _step_seconds(model, dataset, steps):
    start = time.perf_counter()
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    return (time.perf_counter() - start) / steps


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="mnist_cnn and resnet20, 5 steps")
    args = parser.parse_args(argv)
    if args.quick:
        args.models, args.steps, args.repeats = ["mnist_cnn", "resnet20"], 5, 2

    import tensorflow as tf

    import cnnzoo
    from cnnzoo.flops import training_flops

    peaks = []
    rows = {name: [] for name in args.models}
    models, datasets = {}, {}
    rng = np.random.default_rng(0)
    for name in args.models:
        model = cnnzoo.build(name, num_classes=10)
        shape = model.input_shape[1:]
        images = rng.uniform(0, 255, (args.batch_size * 4, *shape)).astype("float32")
        labels = rng.integers(0, 10, args.batch_size * 4).astype("int32")
        datasets[name] = tf.data.Dataset.from_tensor_slices((images, labels)).batch(
            args.batch_size, drop_remainder=True).repeat().prefetch(2)
        model.fit(datasets[name], epochs=1, steps_per_epoch=3, verbose=0)  # Trace.
        models[name] = model
    for _ in range(args.repeats):  # Peak and models alternate, so load changes hit all.
        peaks.append(matmul_peak_flops())
        for name in args.models:
            rows[name].append(_step_seconds(models[name], datasets[name], args.steps))
    peak = statistics.median(peaks)
    print(f"machine: {describe_machine()['machine']}; float32 matmul peak "
          f"{peak / 1e9:.1f} GFLOP/s (median of {args.repeats}); batch {args.batch_size}, "
          f"median of {args.repeats} x {args.steps} steps")
    print(f"{'model':<14} {'input':>9} {'train MFLOP/img':>16} {'ms/step':>8} "
          f"{'GFLOP/s':>8} {'of peak':>8}")
    for name in args.models:
        model = models[name]
        flops = training_flops(model)
        seconds = statistics.median(rows[name])
        achieved = flops * args.batch_size / seconds
        shape = "x".join(str(d) for d in model.input_shape[1:])
        print(f"{name:<14} {shape:>9} {flops / 1e6:16.1f} {seconds * 1e3:8.1f} "
              f"{achieved / 1e9:8.1f} {achieved / peak:8.0%}")


if __name__ == "__main__":
    main()
