"""The classic script, the yardstick cnnzoo's timed figures are also given in.

Machines differ by 5x on the same training (an AVX-512 and an AVX2-only 2-core machine),
so a time in seconds says little unless it names its machine. A **classic epoch** is one
steady epoch of the script most Keras users start from, measured on the same machine in
the same job: the Keras MNIST Conv2D stack (Conv 32, pool, Conv 64, pool, Conv 64,
Dense 64, Dense 10) as a plain `Sequential`, fitted with Adam at batch 64 on all 60,000
Fashion-MNIST training images as float32 NumPy arrays divided by 255 with one-hot
labels. The first epoch traces the graph and is not counted.

    python bench/classic.py              # prints one classic epoch of this machine
    python bench/classic.py --quick      # 6,400 images: a rough figure in seconds
"""

import argparse
import json
import statistics
import time

import numpy as np

try:
    from bench.machine import describe_machine
except ImportError:  # Run as a script, `python bench/classic.py`: bench/ is on the path.
    from machine import describe_machine


def build_classic_model():
    """Returns the classic script's compiled model (plain Keras: no cnnzoo layers)."""
    import keras

    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def classic_arrays(limit=None):
    """Returns the classic script's inputs: float32 images / 255 `(N, 28, 28, 1)` and
    one-hot float32 labels `(N, 10)` of Fashion-MNIST's training split (first `limit`)."""
    from cnnzoo.data import load_arrays

    images, labels, _ = load_arrays("fashion_mnist", "train", download=False, limit=limit)
    return images.astype("float32") / 255.0, np.eye(10, dtype="float32")[labels]


def epoch_timer():
    """Returns a Keras callback whose `seconds` lists each epoch's wall time."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)

    return EpochTimer()


def classic_epoch_seconds(*, epochs=3, limit=None):
    """Returns `{"classic_epoch_seconds", "epoch_seconds", "images"}`: the median of the
    steady epochs (all but the first) of the classic script, and each epoch's time.

    Raises:
        DatasetNotFoundError: Fashion-MNIST is not on this machine.
        ValueError: fewer than 2 epochs (the first only traces).
    """
    if epochs < 2:
        raise ValueError(f"epochs must be at least 2 (the first traces); received {epochs}.")
    images, labels = classic_arrays(limit)
    timer = epoch_timer()
    build_classic_model().fit(images, labels, batch_size=64, epochs=epochs, verbose=0,
                              callbacks=[timer])
    return {"classic_epoch_seconds": statistics.median(timer.seconds[1:]),
            "epoch_seconds": timer.seconds, "images": len(images)}


def main(argv=None):
    parser = argparse.ArgumentParser(description="Times one classic epoch on this machine.")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="6,400 images, 2 epochs")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    result = classic_epoch_seconds(epochs=2 if args.quick else args.epochs,
                                   limit=6400 if args.quick else None)
    result["machine"] = describe_machine()["machine"]
    if args.json:
        print(json.dumps(result))
    else:
        print(f"classic epoch: {result['classic_epoch_seconds']:.2f} s on {result['machine']} "
              f"({result['images']:,} images; epochs "
              f"{', '.join(f'{s:.2f}' for s in result['epoch_seconds'])} s)")


if __name__ == "__main__":
    main()
