"""What share of this machine's arithmetic a training step uses, model by model, and why.

    python bench/bench_efficiency.py                          # the default families
    python bench/bench_efficiency.py --profile                # and where each step goes
    python bench/bench_efficiency.py --quick                  # mnist_cnn and resnet20, few steps
    python bench/bench_efficiency.py --models vgg11_bn --batch-size 256
    python bench/bench_efficiency.py --mixed-precision mixed_bfloat16   # against bf16's peak
    python bench/bench_efficiency.py --steps-per-execution 1 8  # one step a call against 8

The machine's peak is measured in the same run: the median rate of square matrix products
(`tf.linalg.matmul`, the kernel oneDNN runs at its best; 2048 and 4096 wide, the faster)
in the compute dtype, the ceiling any convolution lowered to matrix products can reach.
Each model trains on
random raw pixels (so the input pipeline costs nothing) at its default input, running
as many steps a call as `cnnzoo.fit` does (`steps_per_execution`, 8 on TensorFlow). Each
call is timed alone: Keras's compiled train function, waited for by reading the loss, as
in an epoch; `model.fit` itself is not timed, since its set-up per call (iterator,
callbacks) is paid once an epoch in real training but would be paid every few steps
here. Models and the peak alternate in rounds, so a change in the machine's load
hits them all; each figure is the median over every timed step.

Training FLOPs per image are counted exactly from the layers (`cnnzoo.flops`: forward,
input-gradient and kernel-gradient products of convolutions and dense layers). Printed
per model: FLOPs per image, milliseconds a step, achieved GFLOP/s and the share of peak.

`--profile` then traces a few steps of each model with TensorFlow's profiler and prints
where the time goes: each kind of kernel's share of the step's kernel time, and the
share of peak the forward convolutions and the two convolution gradients each reach (a
lower bound: a kernel running beside another shares the cores). That tells a model held
back by narrow layers (every kind slow) from one held back by memory-bound work (batch
norm, pooling, activations, the optimizer) around fast convolutions.
"""

import argparse
import statistics
import time

import numpy as np

from cnnzoo.training.precision import parse_steps_per_execution

try:
    from bench.machine import describe_machine
    from bench.op_profile import KINDS, profile_step_kernels
except ImportError:  # Run as a script: bench/ is on the path.
    from machine import describe_machine
    from op_profile import KINDS, profile_step_kernels

DEFAULT_MODELS = ["mnist_cnn", "tutorial_3x3", "lenet5", "resnet9_w24", "resnet20", "vgg11_bn"]
PEAK_SIZES = (2048, 4096)


def matmul_peak_flops(dtype="float32", sizes=PEAK_SIZES, repeats=7):
    """Returns the best, over `sizes`, of the median FLOP/s of square matrix products."""
    return max(_matmul_flops(dtype, size, repeats) for size in sizes)


def _matmul_flops(dtype, size, repeats):
    """Returns the median FLOP/s of `size`-square matrix products in `dtype` on this machine."""
    import tensorflow as tf

    a = tf.cast(tf.random.normal((size, size)), dtype)
    b = tf.cast(tf.random.normal((size, size)), dtype)
    product = tf.function(tf.linalg.matmul)
    product(a, b).numpy()  # Trace and warm the kernel.
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        product(a, b).numpy()
        seconds.append(time.perf_counter() - start)
    return 2 * size ** 3 / statistics.median(seconds)


class StepTimer:
    """One model's compiled training steps on batches of random raw pixels, run and timed."""

    def __init__(self, name, batch_size, steps_per_execution="auto", seed=0):
        import tensorflow as tf

        import cnnzoo
        from cnnzoo.training.precision import (resolve_steps_per_execution,
                                               set_steps_per_execution)

        self.model = cnnzoo.build(name, num_classes=10)
        set_steps_per_execution(self.model, resolve_steps_per_execution(steps_per_execution))
        self.steps_a_call = self.model.steps_per_execution
        rng = np.random.default_rng(seed)
        shape = self.model.input_shape[1:]
        images = rng.uniform(0, 255, (batch_size * 4, *shape)).astype("float32")
        labels = rng.integers(0, 10, batch_size * 4).astype("int32")
        dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(
            batch_size, drop_remainder=True).repeat().prefetch(2)
        self.model.fit(dataset, epochs=1, steps_per_epoch=2 * self.steps_a_call,
                       verbose=0)  # Trace and warm.
        self._batches = iter(dataset)
        self.seconds = []

    def run_call(self):
        """Runs one call of `steps_a_call` training steps and waits for it (reads the loss)."""
        float(self.model.train_function(self._batches)["loss"])

    def time_steps(self, steps):
        """Runs at least `steps` steps, adding each call's seconds a step to `self.seconds`."""
        for _ in range(-(-steps // self.steps_a_call)):
            start = time.perf_counter()
            self.run_call()
            self.seconds.append((time.perf_counter() - start) / self.steps_a_call)


def _efficiency_table(timers, peak, batch_size):
    from cnnzoo.flops import training_flops

    print(f"{'model':<17} {'input':>9} {'train MFLOP/img':>16} {'ms/step':>8} "
          f"{'GFLOP/s':>8} {'of peak':>8}")
    for name, timer in timers.items():
        seconds = statistics.median(timer.seconds)
        flops = training_flops(timer.model)
        achieved = flops * batch_size / seconds
        shape = "x".join(str(d) for d in timer.model.input_shape[1:])
        print(f"{name:<17} {shape:>9} {flops / 1e6:16.1f} "
              f"{seconds * 1e3:8.1f} {achieved / 1e9:8.1f} {achieved / peak:8.0%}")


def _profile_table(timers, peak, batch_size, steps):
    import keras

    from cnnzoo.flops import training_flops_by_pass

    kinds = [kind for kind, _ in KINDS]
    print(f"\nwhere a step's kernel time goes ({steps} traced steps each; kernels of "
          "independent ops overlap, so 'overlap' = kernel time / step time)")
    print(f"{'model':<17} " + " ".join(f"{kind[:11]:>11}" for kind in kinds)
          + f" {'kernels':>8} {'overlap':>8}")
    rates = {}
    for name, timer in timers.items():
        profile = profile_step_kernels(timer.run_call, -(-steps // timer.steps_a_call),
                                       optimizer_scope=timer.model.optimizer.name)
        busy = sum(profile[kind] for kind in kinds)
        print(f"{name:<17} " + " ".join(f"{profile[kind] / busy:11.0%}" for kind in kinds)
              + f" {profile['kernels']:8.0f} {busy / statistics.median(timer.seconds):8.2f}")
        conv = training_flops_by_pass(timer.model, layer_types=(
            keras.layers.Conv2D, keras.layers.DepthwiseConv2D))
        rates[name] = [conv[flops] * batch_size / profile[kind] / peak if profile[kind] else 0
                       for flops, kind in (("forward", "conv forward"),
                                           ("input_gradient", "conv input gradient"),
                                           ("kernel_gradient", "conv kernel gradient"))]
    print("\nconvolution kernels, share of peak (their FLOPs / their kernel time; a lower "
          "bound, as a kernel running beside another shares the cores)")
    print(f"{'model':<17} {'forward':>8} {'input grad':>11} {'kernel grad':>12}")
    for name, (forward, input_gradient, kernel_gradient) in rates.items():
        print(f"{name:<17} {forward:8.0%} {input_gradient:11.0%} {kernel_gradient:12.0%}")


def _steps_a_call(timers):
    return " or ".join(sorted({str(timer.steps_a_call) for timer in timers.values()}, key=int))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=16, help="timed steps a round")
    parser.add_argument("--repeats", type=int, default=3, help="alternated rounds")
    parser.add_argument("--mixed-precision", default="float32",
                        choices=["float32", "mixed_bfloat16", "mixed_float16"],
                        help="the models' dtype policy; the peak is measured in its dtype")
    parser.add_argument("--steps-per-execution", nargs="+", default=["auto"],
                        type=parse_steps_per_execution, help="steps a call, as fit's setting (default: "
                        "auto); several alternate, each model's rows named MODEL xN")
    parser.add_argument("--profile", action="store_true",
                        help="also trace each model and print where its step goes")
    parser.add_argument("--quick", action="store_true", help="mnist_cnn and resnet20, 8 steps")
    args = parser.parse_args(argv)
    if args.quick:
        args.models, args.steps, args.repeats = ["mnist_cnn", "resnet20"], 8, 2

    from cnnzoo.training.precision import dtype_policy

    compute_dtype = {"float32": "float32", "mixed_bfloat16": "bfloat16",
                     "mixed_float16": "float16"}[args.mixed_precision]
    with dtype_policy(args.mixed_precision):
        timers = {}
        for name in args.models:
            for steps_per_execution in args.steps_per_execution:
                timer = StepTimer(name, args.batch_size, steps_per_execution)
                label = name if len(args.steps_per_execution) == 1 else (
                    f"{name} x{timer.steps_a_call}")
                timers[label] = timer
    peaks = []
    for _ in range(args.repeats):
        peaks.append(matmul_peak_flops(compute_dtype))
        for timer in timers.values():
            timer.time_steps(args.steps)
    peak = statistics.median(peaks)
    print(f"machine: {describe_machine()['machine']}; {compute_dtype} matmul peak "
          f"{peak / 1e9:.1f} GFLOP/s (median of {args.repeats}); {args.mixed_precision}, "
          f"batch {args.batch_size}, {_steps_a_call(timers)} steps a call, median step of "
          f"{args.repeats} alternated rounds x {args.steps} steps")
    _efficiency_table(timers, peak, args.batch_size)
    if args.profile:
        _profile_table(timers, peak, args.batch_size, steps=args.steps)


if __name__ == "__main__":
    main()
