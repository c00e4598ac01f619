"""cnnzoo's training against the classic script's, on the same network and batch size.

    python bench/bench_classic.py             # all 60,000 images, 3 alternated repeats
    python bench/bench_classic.py --quick     # 12,800 images, 2 repeats (about a minute)
    python bench/bench_classic.py --mixed-precision mixed_bfloat16   # what the doctor advised
    python bench/bench_classic.py --steps-per-execution 1             # one step a call

The classic script (see `bench/classic.py`) fits the Keras MNIST Conv2D stack from float32
NumPy arrays at batch 64 and augments nothing. cnnzoo trains the same stack (`mnist_cnn`)
with `cnnzoo.fit` at batch 64 from its own tf.data pipeline (`load_dataset`, uint8 until
the batch, the `standard` augmentation preset: pad-and-crop shifts and flips), writing its
checkpoints and history each epoch as it always does. The two alternate epoch by epoch so
that a change in the machine's load hits both; the first epoch of each traces and is not
counted. It prints the median images per second of each and their ratio, and one classic
epoch in seconds, so the figures can be quoted for any machine. `--mixed-precision`
builds cnnzoo's model with another dtype policy (what `cnnzoo doctor` advises on a machine
with fast bfloat16); the classic script stays float32, as it is written.
`--steps-per-execution` sets `fit`'s (default "auto": 8 on TensorFlow); the classic
script runs one step a call, as Keras does unless told.
"""

import argparse
import statistics
import tempfile

from cnnzoo.training.precision import parse_steps_per_execution

try:
    from bench.classic import build_classic_model, classic_arrays, epoch_timer
    from bench.machine import describe_machine
except ImportError:  # Run as a script: bench/ is on the path.
    from classic import build_classic_model, classic_arrays, epoch_timer
    from machine import describe_machine

BATCH_SIZE = 64


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs of each")
    parser.add_argument("--limit", type=int, help="training images (default: all 60,000)")
    parser.add_argument("--augment", default="standard", help="cnnzoo's preset")
    parser.add_argument("--quick", action="store_true", help="--limit 12800 --repeats 2")
    parser.add_argument("--mixed-precision", default="float32",
                        choices=["float32", "mixed_float16", "mixed_bfloat16"],
                        help="cnnzoo's model's dtype policy (default: float32)")
    parser.add_argument("--steps-per-execution", default="auto", type=parse_steps_per_execution,
                        help="cnnzoo.fit's steps_per_execution (default: auto)")
    args = parser.parse_args(argv)
    if args.quick:
        args.limit, args.repeats = 12_800, 2

    import cnnzoo
    from cnnzoo.training.precision import dtype_policy

    images, labels = classic_arrays(args.limit)
    classic_model, classic_timer = build_classic_model(), epoch_timer()
    train = cnnzoo.load_dataset("fashion_mnist", batch_size=BATCH_SIZE, augment=args.augment,
                                seed=0, limit=args.limit, download=False)
    with dtype_policy(args.mixed_precision):
        zoo_model, zoo_timer = cnnzoo.build("mnist_cnn", optimizer="adam"), epoch_timer()
    with tempfile.TemporaryDirectory() as workdir:
        for epoch in range(1, args.repeats + 2):  # The first epoch of each traces.
            classic_model.fit(images, labels, batch_size=BATCH_SIZE, epochs=1, verbose=0,
                              callbacks=[classic_timer])
            cnnzoo.fit(zoo_model, train, epochs=epoch, workdir=workdir, tensorboard=False,
                       steps_per_execution=args.steps_per_execution, callbacks=[zoo_timer],
                       verbose=0)
    classic_seconds = statistics.median(classic_timer.seconds[1:])
    zoo_seconds = statistics.median(zoo_timer.seconds[1:])
    count = len(images)
    print(f"machine: {describe_machine()['machine']}; {count:,} images a epoch, batch "
          f"{BATCH_SIZE}, median of {args.repeats} alternated epochs after one traced")
    print(f"classic script (arrays, no augmentation): {count / classic_seconds:9,.0f} img/s  "
          f"({classic_seconds:.2f} s an epoch)")
    print(f"cnnzoo.fit (pipeline, {args.augment} augmentation, {args.mixed_precision}, "
          f"{zoo_model.steps_per_execution} steps a call):  "
          f"{count / zoo_seconds:9,.0f} "
          f"img/s  ({zoo_seconds:.2f} s an epoch)")
    print(f"ratio cnnzoo/classic: {classic_seconds / zoo_seconds:.2f}x (target >= 1.5x)")
    if count == 60_000:
        print(f"one classic epoch on this machine: {classic_seconds:.2f} s")


if __name__ == "__main__":
    main()
