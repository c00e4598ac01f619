"""cnnzoo on Keras's JAX backend, one accelerator: throughput and time to accuracy.

    python bench/bench_gpu.py [DATA_DIR] --out results.json      # the device run
    python bench/bench_gpu.py --quick --out quick.json            # CPU JAX, seconds (CI)
    python bench/bench_gpu.py --compare-augment                   # Keras's layers vs ours

Running it on the GPU machine (the device tool; no TensorFlow and no Keras there). The tool
gives a session 15 minutes of device time in all, the machine's start (a minute or more)
included; this run, 4 recipe runs of 12-16 epochs, should take a few minutes (it has not
run on a GPU yet), leaving room for one rerun. Here, once, in the repo root:

    echo /.whl/ >> .git/info/exclude; echo /.data/ >> .git/info/exclude
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \\
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \\
        -d .whl keras==3.15.1 namex==0.1.0 optree==0.20.0
    mkdir -p .data && cp /usr/share/datasets/fashion-mnist/*.gz .data/      # 30 MB travels

Then one `run` with carry [".whl", ".data"] and timeout_s 540:

    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \\
        --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site || exit; \\
    export KERAS_BACKEND=jax PYTHONUNBUFFERED=1; \\
    python3 bench/bench_gpu.py .data --out $OUT/bench_gpu.json 2>&1 | tee $OUT/bench_gpu.log; \\
    python3 bench/bench_gpu.py .data --compare-augment --out $OUT/augment.json 2>&1 \\
        | tee $OUT/augment.log

(Keras's other needs, absl-py, h5py, ml-dtypes, numpy, packaging and rich, are there.)
Then `give_back`, unless rerunning at once.

What it measures, naming the device (`jax.devices()`) beside every figure, from one run
of each model's recipe (`RECIPES`) in float32 and in mixed_bfloat16, the training step
jit-compiled (the JSON records `model.jit_compile` as Keras resolved it) and the recipe's
augmentation on the device (`cnnzoo.data.device_augment`):
- throughput: training images a second of the median epoch after the first (which
  compiles), the epoch's host work on the NumPy arrays included;
- time to accuracy: training wall seconds (the first epoch's compilation included) until
  the test accuracy, evaluated after every epoch, first reaches 91%, 93% and 94%;
- with `--compare-augment`: training steps a second of `mnist_cnn` with Keras's
  `RandomFlip` + `RandomTranslation` inside the model, the same with jit forced on, with
  cnnzoo's `RandomShiftFlip`, and with no augmentation; medians of alternated repeats.

The models train from NumPy arrays with `model.fit`; images are read from the IDX files
with `cnnzoo.data.idx`. With `--quick` it trains `mnist_cnn` on 256 images for 2 epochs.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # Run as a script, cnnzoo not installed (the GPU machine).
    sys.path.insert(0, str(REPO))

DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"
FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
         "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
THRESHOLDS = (0.91, 0.93, 0.94)
PRECISIONS = ("float32", "mixed_bfloat16")
QUICK_IMAGES = 256
ANCHOR = ("reference, not measured here (issue 14): a 0.56M-param batch-norm CNN in a plain "
          "PyTorch loop on one H200: 114k img/s; 93.8% test accuracy in 16 s, never 94%.")

# Time-to-accuracy recipes on the accelerator. mnist_cnn: its CPU recipe (no augmentation).
# resnet9_w24: its CPU recipe (SGD, warm-up then cosine, label smoothing 0.1, weight decay)
# at batch 512 with the learning rate scaled by 2, the `light` shift and flip on the
# device (the CPU recipe's random erasing left out), and half the epochs; untuned.
RECIPES = {
    "mnist_cnn": {"optimizer": "adam", "learning_rate": 2e-3, "warmup_epochs": 0,
                  "epochs": 12, "batch_size": 128, "augment": "none", "weight_decay": None,
                  "label_smoothing": 0.0},
    "resnet9_w24": {"optimizer": "sgd", "learning_rate": 0.2, "warmup_epochs": 2,
                    "epochs": 16, "batch_size": 512, "augment": "light",
                    "weight_decay": 5e-4, "label_smoothing": 0.1},
}
DEFAULT_RECIPE = "resnet9_w24"


def load_fashion_mnist(data_dir, *, limit=None):
    """Returns `{"train": (images, labels), "test": (images, labels)}` read from the IDX
    files in `data_dir`: float32 raw pixels `(n, 28, 28, 1)` and int32 labels, at most
    `limit` images a split.

    Raises:
        FileNotFoundError: a file is missing, naming the four files needed.
        IdxFormatError: a file is not valid IDX.
    """
    from cnnzoo.data.idx import read_idx

    missing = [name for pair in FILES.values() for name in pair
               if not (Path(data_dir) / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{data_dir} lacks {', '.join(missing)}; the bench reads Fashion-MNIST's four "
            f"IDX files ({', '.join(n for pair in FILES.values() for n in pair)}). Pass "
            "the folder holding them (on the device machine, the carried .data).")
    splits = {}
    for split, (images, labels) in FILES.items():
        x = read_idx(Path(data_dir) / images)[:limit]
        splits[split] = (x.reshape(*x.shape, 1).astype("float32"),
                         read_idx(Path(data_dir) / labels)[:limit].astype("int32"))
    return splits


def device_name():
    """Returns the accelerator as `jax.devices()` names it, e.g. `1x gpu NVIDIA H200`."""
    import jax

    devices = jax.devices()
    kinds = ", ".join(sorted({device.device_kind for device in devices}))
    return f"{len(devices)}x {devices[0].platform} {kinds}"


def recipe_for(name, batch_size=None):
    """Returns the model's time-to-accuracy recipe (`RECIPES`), the batch size overridden
    when `batch_size` is given."""
    recipe = dict(RECIPES.get(name, RECIPES[DEFAULT_RECIPE]))
    if batch_size:
        recipe["batch_size"] = batch_size
    return recipe


def build_trainer(name, recipe, *, precision, image_shape, steps_per_epoch, seed,
                  augment=None):
    """Returns the compiled `keras.Model` that trains the registered model `name`: its
    images pass first through `augment` (default: the recipe's preset as a
    `RandomShiftFlip`, which is identity at inference), under the dtype policy
    `precision`, with jit on and the recipe's warm-up then cosine learning rate."""
    import keras

    import cnnzoo
    from cnnzoo.data.device_augment import from_preset
    from cnnzoo.losses import ClassificationAccuracy

    keras.mixed_precision.set_global_policy(precision)
    keras.utils.set_random_seed(seed)
    network = cnnzoo.build(name, input_shape=image_shape, num_classes=10, compile=False)
    images = keras.Input(image_shape, name="images")
    layers = augment if augment is not None else [from_preset(recipe["augment"], image_shape,
                                                              seed=seed)]
    x = images
    for layer in layers:
        x = layer(x)
    model = keras.Model(images, network(x), name=f"{name}_trainer")
    total = recipe["epochs"] * steps_per_epoch
    warmup = recipe["warmup_epochs"] * steps_per_epoch
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0 if warmup else recipe["learning_rate"], decay_steps=max(1, total - warmup),
        warmup_target=recipe["learning_rate"] if warmup else None, warmup_steps=warmup)
    return cnnzoo.compile_classifier(
        model, optimizer=recipe["optimizer"], learning_rate=schedule,
        weight_decay=recipe["weight_decay"], label_smoothing=recipe["label_smoothing"],
        metrics=[ClassificationAccuracy()], jit_compile=True)


def _timed_fit(model, x, y, *, batch_size, steps, epochs=1, initial_epoch=0):
    """Returns the wall seconds of `model.fit` over `steps` steps; fit returns host floats,
    so the device has finished when the clock stops."""
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=epochs, initial_epoch=initial_epoch,
              steps_per_epoch=steps, verbose=0)
    return time.perf_counter() - start


def train_and_measure(name, precision, data, args, device):
    """Returns a result row of one recipe run, evaluated on the test set after every epoch:
    per-epoch training seconds and accuracy, the training seconds until each accuracy in
    `THRESHOLDS` was first reached (the first epoch's compilation counted), and the steady
    throughput (the median epoch after the first, which compiles)."""
    (x, y), (x_test, y_test) = data["train"], data["test"]
    recipe = recipe_for(name, args.batch_size)
    if args.epochs:
        recipe["epochs"] = args.epochs
    batch = min(recipe["batch_size"], len(x))
    steps = len(x) // batch
    model = build_trainer(name, recipe, precision=precision, image_shape=x.shape[1:],
                          steps_per_epoch=steps, seed=args.seed)
    epochs, trained, reached = [], 0.0, {f"{t:.0%}": None for t in THRESHOLDS}
    for epoch in range(recipe["epochs"]):
        seconds = _timed_fit(model, x, y, batch_size=batch, steps=steps, epochs=epoch + 1,
                             initial_epoch=epoch)
        trained += seconds
        start = time.perf_counter()
        accuracy = model.evaluate(x_test, y_test, batch_size=1024, verbose=0,
                                  return_dict=True)["accuracy"]
        epochs.append({"train_seconds": seconds, "accuracy": accuracy,
                       "eval_seconds": time.perf_counter() - start})
        for threshold in THRESHOLDS:
            key = f"{threshold:.0%}"
            if reached[key] is None and accuracy >= threshold:
                reached[key] = trained
    steady = statistics.median(row["train_seconds"] for row in epochs[1:])
    return {"model": name, "precision": precision, "device": device, "batch_size": batch,
            "recipe": recipe, "jit_compile": model.jit_compile, "epochs": epochs,
            "images_per_second": steps * batch / steady, "ms_per_step": 1000 * steady / steps,
            "best_accuracy": max(row["accuracy"] for row in epochs),
            "train_seconds_to": reached, "train_seconds": trained,
            "first_epoch_seconds": epochs[0]["train_seconds"], "median_epoch_seconds": steady}


def compare_augment(data, args, device, pad=2):
    """Returns rows of training steps a second of `mnist_cnn` with each way of augmenting
    inside the model (medians of alternated repeats, after one compiling fit each)."""
    import keras

    from cnnzoo.data.device_augment import RandomShiftFlip

    x, y = data["train"]
    fraction = pad / x.shape[1]

    def keras_layers():
        return [keras.layers.RandomFlip("horizontal", seed=args.seed),
                keras.layers.RandomTranslation(fraction, fraction, fill_mode="constant",
                                               seed=args.seed)]

    variants = {"none": [], "keras_layers": keras_layers(),
                "keras_layers_jit_forced": keras_layers(),
                "cnnzoo_RandomShiftFlip": [RandomShiftFlip(pad=pad, flip=True, seed=args.seed)]}
    recipe = recipe_for("mnist_cnn", args.batch_size)
    batch = min(recipe["batch_size"], len(x))
    models = {}
    for variant, layers in variants.items():
        model = build_trainer("mnist_cnn", recipe, precision="float32", augment=layers,
                              image_shape=x.shape[1:], steps_per_epoch=len(x) // batch,
                              seed=args.seed)
        if variant.endswith("jit_forced"):
            # Keras's setter refuses jit for these layers; the private field shows what
            # jit alone would buy, separating the two causes.
            model._jit_compile = True
        _timed_fit(model, x, y, batch_size=batch, steps=args.warmup_steps)
        models[variant] = model
    seconds = {variant: [] for variant in variants}
    for _ in range(args.repeats):
        for variant, model in models.items():
            seconds[variant].append(_timed_fit(model, x, y, batch_size=batch, steps=args.steps))
    return [{"variant": variant, "device": device, "batch_size": batch,
             "jit_compile": models[variant].jit_compile, "steps": args.steps,
             "steps_per_second": args.steps / statistics.median(times),
             "repeat_seconds": times} for variant, times in seconds.items()]


def print_report(results):
    """Prints the results as tables, the device beside every figure."""
    print(f"device: {results['device']}; keras {results['keras']}, jax {results['jax']}, "
          f"tensorflow imported: {results['tensorflow_imported']}")
    if results["runs"]:
        keys = list(results["runs"][0]["train_seconds_to"])
        print("\ntraining throughput (median epoch after the first) and training seconds to "
              "test accuracy (the first epoch's compilation counted); augmentation on the device")
        print(f"{'model':13}{'precision':16}{'batch':>6}{'jit':>6}{'img/s':>9}{'ms/step':>8}"
              f"{'epochs':>7}{'best':>8}" + "".join(f"{'to ' + key:>8}" for key in keys)
              + f"{'1st ep':>7}  device")
        for row in results["runs"]:
            print(f"{row['model']:13}{row['precision']:16}{row['batch_size']:>6}"
                  f"{str(row['jit_compile']):>6}{row['images_per_second']:>9,.0f}"
                  f"{row['ms_per_step']:>8.2f}{len(row['epochs']):>7}"
                  f"{row['best_accuracy']:>8.2%}"
                  + "".join("       -" if value is None else f"{value:>8.1f}"
                            for value in row["train_seconds_to"].values())
                  + f"{row['first_epoch_seconds']:>7.1f}  {row['device']}")
    if results["compare_augment"]:
        print("\nmnist_cnn training steps a second by augmentation inside the model "
              "(median of alternated repeats)")
        for row in results["compare_augment"]:
            print(f"{row['variant']:26} jit {str(row['jit_compile']):5} "
                  f"{row['steps_per_second']:8.2f} steps/s  {row['device']}")
        rates = {row["variant"]: row["steps_per_second"] for row in results["compare_augment"]}
        print(f"ratio RandomShiftFlip / Keras layers: "
              f"{rates['cnnzoo_RandomShiftFlip'] / rates['keras_layers']:.2f}x")
    print(f"\n{ANCHOR}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", nargs="?", default=DEFAULT_DATA,
                        help="folder of Fashion-MNIST's four IDX .gz files")
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--models", nargs="+", default=["mnist_cnn", "resnet9_w24"])
    parser.add_argument("--batch-size", type=int, help="override the recipes' batch sizes")
    parser.add_argument("--epochs", type=int, help="override the recipes' epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compare-augment", action="store_true",
                        help="only compare augmentation inside mnist_cnn, Keras's and ours")
    parser.add_argument("--steps", type=int, default=60,
                        help="--compare-augment: timed steps a repeat")
    parser.add_argument("--warmup-steps", type=int, default=2,
                        help="--compare-augment: steps of the compiling fit")
    parser.add_argument("--repeats", type=int, default=3, help="--compare-augment: repeats")
    parser.add_argument("--quick", action="store_true",
                        help=f"mnist_cnn, {QUICK_IMAGES} images, 2 epochs (CI)")
    args = parser.parse_args(argv)
    if args.quick:
        args.models, args.epochs, args.steps, args.warmup_steps, args.repeats = (
            ["mnist_cnn"], 2, 2, 1, 1)
    if args.epochs is not None and args.epochs < 2:
        parser.error(f"--epochs must be 2 or more (the first compiles; throughput is timed "
                     f"on the others); received {args.epochs}.")
    if args.batch_size is not None and args.batch_size < 1:
        parser.error(f"--batch-size must be positive; received {args.batch_size}.")

    import jax
    import keras

    if keras.backend.backend() != "jax":
        raise SystemExit(f"bench_gpu.py measures Keras on JAX; Keras was loaded with the "
                         f"{keras.backend.backend()!r} backend. Run it with KERAS_BACKEND=jax.")
    data = load_fashion_mnist(args.data_dir, limit=QUICK_IMAGES if args.quick else None)
    device = device_name()
    results = {"device": device, "keras": keras.__version__, "jax": jax.__version__,
               # None lets XLA pick, which on NVIDIA GPUs runs float32 products in TF32.
               "jax_default_matmul_precision": jax.config.jax_default_matmul_precision,
               "command": ["bench/bench_gpu.py", *(argv if argv is not None else sys.argv[1:])],
               "runs": [], "compare_augment": [],
               "reference": ANCHOR}
    if args.compare_augment:
        results["compare_augment"] = compare_augment(data, args, device)
    else:
        results["runs"] = [train_and_measure(name, precision, data, args, device)
                           for name in args.models for precision in PRECISIONS]
    keras.mixed_precision.set_global_policy("float32")
    results["tensorflow_imported"] = "tensorflow" in sys.modules
    print_report(results)
    if args.out:
        from cnnzoo.atomic import write_atomically

        write_atomically(args.out, json.dumps(results, indent=1, default=float))
    return 0


if __name__ == "__main__":
    # Before anything imports Keras: this bench is about the JAX backend.
    os.environ.setdefault("KERAS_BACKEND", "jax")
    sys.exit(main())
