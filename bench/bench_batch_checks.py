"""Cost of `fit`'s per-batch checks (finite pixels, labels in range) on the input pipeline.

    python bench/bench_batch_checks.py --dataset fashion_mnist --batch-size 128 --repeats 9
    python bench/bench_batch_checks.py --quick        # the shipped sample, 3 passes

Iterates the `load_dataset` pipeline with and without `cnnzoo.training.inputs.
check_every_batch`, alternating the two so that a change in the machine's load hits both,
and prints the medians in images per wall-second and per CPU-second (the steadier figure
on a shared machine), and the extra time the checks add to each batch.
"""

import argparse
import statistics
import time


def _one_pass(dataset):
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in dataset:
        pass
    return time.perf_counter() - wall, time.process_time() - cpu


def measure(source, *, batch_size, repeats):
    """Returns `{"plain"|"checked": (median wall s, median CPU s)}` and the image count."""
    from cnnzoo.data import load_dataset
    from cnnzoo.training import inputs

    plain, info = load_dataset(source, "train", batch_size=batch_size)
    checked = inputs.check_every_batch(inputs.as_data(plain), num_classes=info.num_classes,
                                       model_name="bench").data
    variants = {"plain": plain, "checked": checked}
    for dataset in variants.values():
        _one_pass(dataset)  # Warm-up: tracing and the first file reads are not counted.
    times = {name: [] for name in variants}
    for _ in range(repeats):
        for name, dataset in variants.items():
            times[name].append(_one_pass(dataset))
    medians = {name: tuple(statistics.median(run[i] for run in runs) for i in (0, 1))
               for name, runs in times.items()}
    return medians, info.num_examples


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--quick", action="store_true",
                        help="the shipped Fashion-MNIST sample, 3 passes")
    args = parser.parse_args(argv)
    if args.quick:
        args.dataset, args.repeats = "fashion_mnist_sample", 3
    medians, images = measure(args.dataset, batch_size=args.batch_size, repeats=args.repeats)
    batches = -(-images // args.batch_size)
    print(f"{args.dataset}: {images:,} images, batch {args.batch_size}, "
          f"median of {args.repeats} alternated passes")
    for name, (wall, cpu) in medians.items():
        print(f"  {name:8s} {images / wall:12,.0f} img/s  {images / cpu:12,.0f} img/CPU-s")
    for index, what in ((0, "wall"), (1, "CPU")):
        plain, checked = medians["plain"][index], medians["checked"][index]
        print(f"  checks add {(checked - plain) / batches * 1e6:.0f} us of {what} time a "
              f"batch ({100 * (checked / plain - 1):+.1f}%)")


if __name__ == "__main__":
    main()
