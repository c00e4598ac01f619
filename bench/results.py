"""The results table: trains each model whose weights ship, evaluates it, and writes the
weights, their manifest and a results file (timm's results CSVs, for cnnzoo's zoo).

    python -m bench.results                         # every model in SHIPPED, one at a time
    python -m bench.results --models mnist_cnn lenet5
    python -m bench.results --import-run runs/lenet5-fashion_mnist --train-seconds 174.3 \\
        --classic-epoch-seconds 8.6 --command "cnnzoo train lenet5 --dataset fashion_mnist"
    python -m bench.results --markdown              # the README's table, from the results file
    python -m bench.results --export-best saved_models   # the best row as a TF Serving base

Each model trains through `cnnzoo train` in a subprocess (so the command recorded is the
one that ran), in `RUNS/MODEL-fashion_mnist`. A model whose row exists is skipped; an
interrupted training resumes its workdir when the command runs again, and the wall time
of every chunk is kept in the workdir's `results_timing.json`, so a model trained in
chunks is timed as the sum of its chunks.

Figures, per model (one row of `cnnzoo/weights/results.csv`):
- `top1`, `top1_tta`: test-set accuracy (%) of the shipped weights, loaded into a fresh
  model, on all 10,000 Fashion-MNIST test images; single view, and with the recipe's
  test-time augmentation where it has one.
- `params`: trainable parameters; `flops`: forward FLOPs per image at the trained input,
  by `cnnzoo.flops` (2 x the multiply-adds of convolutions and dense layers; batch norm,
  pooling and activations left out).
- `train_seconds`: wall time of the whole training command(s), data loading and the
  final test evaluation included; `classic_epochs`: that over one steady classic-script
  epoch (`bench/classic.py`) measured on the same machine in the same job;
  `train_img_per_s`: training images x epochs / `train_seconds`.
- `serve_img_per_s`: `model.predict` at batch 256 over the test images, after a warm-up.
"""

import argparse
import csv
import datetime
import io
import json
import pathlib
import shlex
import subprocess
import sys
import tempfile
import time

import numpy as np

from bench.classic import classic_epoch_seconds
from bench.machine import describe_machine

DATASET = "fashion_mnist"
TAG = "fashion_mnist"
ROOT = pathlib.Path(__file__).resolve().parent.parent
WEIGHTS_DIR = ROOT / "cnnzoo" / "weights"
RESULTS_FILE = "results.csv"
MANIFEST_FILE = "manifest.json"
TIMING_FILE = "results_timing.json"
# The models whose weights ship, with the flags their shipped weights were trained with
# beyond the recipe. resnet20's recipe (30 epochs of ~160 s on a 2-core CPU) did not fit
# the shared session that trained the weights; 8 epochs of the same schedule did.
# resnet9_w24 trained 48 epochs (95.01% with flip TTA, 40 minutes) in bfloat16, 1.7x the
# float32 speed on a CPU with AVX512_BF16 (`cnnzoo doctor`); on CPUs without it, leave the
# flag out. Its 14-epoch run (94% in 9 minutes) ships too, imported with --tag
# fashion_mnist_fast.
SHIPPED = {"mnist_cnn": (), "lenet5": (), "tutorial_3x3": (), "resnet20": ("--epochs", "8"),
           "resnet9_w24": ("--epochs", "48", "--mixed-precision", "mixed_bfloat16")}
COLUMNS = ("model", "tag", "dataset", "params", "flops", "top1", "top1_tta", "epochs",
           "train_seconds", "classic_epoch_seconds", "classic_epochs", "train_img_per_s",
           "serve_img_per_s", "machine", "command", "date")
# How results.csv states each kind of figure (percentages with 2 decimals: 10,000 test
# images give accuracies in steps of 0.01%).
_FORMATS = {"top1": "{:.2f}", "top1_tta": "{:.2f}", "train_seconds": "{:.1f}",
            "classic_epoch_seconds": "{:.2f}", "classic_epochs": "{:.1f}",
            "train_img_per_s": "{:.0f}", "serve_img_per_s": "{:.0f}"}


def _write(path, text):
    from cnnzoo.atomic import write_atomically

    return write_atomically(path, text)


def read_results(path):
    """Returns the rows of a results CSV as dicts of strings ([] when there is none)."""
    path = pathlib.Path(path)
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write_results(path, rows):
    """Writes `rows` (dicts with `COLUMNS`) to the results CSV at `path`, atomically, best
    single-view accuracy first (timm's order); returns the path."""
    rows = sorted(rows, key=lambda row: (-float(row["top1"]), row["model"]))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:  # Rows read back from the file hold strings, already formatted.
        writer.writerow({key: "" if row.get(key) is None else row[key]
                         if isinstance(row[key], str) else
                         _FORMATS.get(key, "{}").format(row[key]) for key in COLUMNS})
    return _write(path, text.getvalue())


def trainable_parameters(model):
    """Returns the number of trainable parameters of `model` (as the registry's cards)."""
    return int(sum(np.prod(weight.shape) for weight in model.trainable_weights))


def serving_images_per_second(model, images, batch_size=256):
    """Returns images per second of `model.predict` at `batch_size` over `images`."""
    model.predict(images[:batch_size], batch_size=batch_size, verbose=0)
    start = time.perf_counter()
    model.predict(images, batch_size=batch_size, verbose=0)
    return len(images) / (time.perf_counter() - start)


def save_weights_atomically(model, path):
    """Saves `model`'s weights as a Keras `.weights.h5` file at `path`, atomically."""
    # Keras picks the format by the `.weights.h5` ending, which `cnnzoo.atomic`'s
    # temporary names do not keep; write beside, then move the bytes in atomically.
    with tempfile.TemporaryDirectory() as folder:
        temporary = pathlib.Path(folder) / "model.weights.h5"
        model.save_weights(temporary)
        return _write(path, temporary.read_bytes())


def train_command(model_name, workdir, extra=()):
    """Returns the `cnnzoo train` command (a list) that trains `model_name` into `workdir`."""
    return [sys.executable, "-m", "cnnzoo", "train", model_name, "--dataset", DATASET,
            "--workdir", str(workdir), "--seed", "0", *extra]


def _shown(command):
    return shlex.join(["python", *command[1:]] if command[0] == sys.executable else command)


def train(model_name, workdir, extra=()):
    """Runs (or resumes) the training of `model_name` in `workdir` and returns
    `(command shown, total wall seconds of every chunk)`.

    A finished run (its `run.json` says so and `evaluation.json` exists) is not run again.

    Raises:
        RuntimeError: the training command failed (its exit status; its output was shown).
    """
    from cnnzoo.layouts.run_dir import EVALUATION_FILE
    from cnnzoo.training.workdir import read_json, read_run, write_json

    workdir = pathlib.Path(workdir)
    command = train_command(model_name, workdir, extra)
    timing = read_json(workdir / TIMING_FILE) or {"chunks": []}
    record = read_run(workdir) or {}
    if record.get("status") != "finished" or not (workdir / EVALUATION_FILE).is_file():
        started = time.time()
        print("$", _shown(command), flush=True)
        status = subprocess.call(command)
        timing["chunks"].append({"command": _shown(command), "seconds": time.time() - started,
                                 "exit": status, "started": _utc(started)})
        workdir.mkdir(parents=True, exist_ok=True)
        write_json(workdir / TIMING_FILE, timing)
        if status != 0:
            raise RuntimeError(f"training {model_name} failed with exit status {status}; "
                               "run the same command again to resume it.")
    return _shown(command), sum(chunk["seconds"] for chunk in timing["chunks"])


def _utc(seconds=None):
    return datetime.datetime.fromtimestamp(seconds or time.time(), datetime.timezone.utc
                                           ).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_row(model_name, workdir, *, command, train_seconds, classic_seconds, machine,
             tag=TAG, weights_dir=WEIGHTS_DIR):
    """Turns a finished training run into shipped weights, a manifest entry and a row.

    Writes `weights_dir/MODEL-TAG.weights.h5` from the run's `best.keras`, loads it into a
    freshly built model through `cnnzoo.pretrained` (as users will), and measures that.

    Returns:
        `(row, PretrainedWeights entry)`.

    Raises:
        ValueError: the run in `workdir` is not a finished run of `model_name` on
            Fashion-MNIST.
    """
    import keras

    import cnnzoo
    import cnnzoo.models  # noqa: F401  (registers cnnzoo's layers, which best.keras names)
    from cnnzoo.flops import forward_flops
    from cnnzoo.layouts.run_dir import BEST_MODEL
    from cnnzoo.pretrained import PretrainedWeights, apply_weights, sha256_file
    from cnnzoo.training.workdir import read_run

    workdir = pathlib.Path(workdir)
    run = read_run(workdir) or {}
    if (run.get("model"), run.get("dataset"), run.get("status")) != (model_name, DATASET,
                                                                     "finished"):
        raise ValueError(f"{str(workdir)!r} holds no finished {DATASET} run of {model_name} "
                         f"(model {run.get('model')!r}, dataset {run.get('dataset')!r}, "
                         f"status {run.get('status')!r}); finish it first.")
    path = weights_dir / f"{model_name}-{tag}.weights.h5"
    save_weights_atomically(keras.saving.load_model(workdir / BEST_MODEL, compile=False),
                            path)
    shape, classes = tuple(run["input_shape"]), run["num_classes"]
    model = apply_weights(cnnzoo.build(model_name, input_shape=shape, num_classes=classes,
                                       compile=False),
                          name=model_name, weights=str(path), include_top=True)

    images, labels, _ = cnnzoo.load_arrays(DATASET, "test", download=False)
    recipe = run["recipe"]
    tta = None if recipe["tta"] == "none" else recipe["tta"]
    evaluation = cnnzoo.evaluate(model, (images, labels), tta=tta)
    single = evaluation.get("single_view_accuracy", evaluation["accuracy"])
    with_tta = evaluation["accuracy"] if tta else None
    train_images = len(cnnzoo.load_arrays(DATASET, "train", download=False,
                                          validation_split=recipe["validation_split"],
                                          seed=run.get("seed") or 0)[1])
    row = {"model": model_name, "tag": tag, "dataset": DATASET,
           "params": trainable_parameters(model), "flops": forward_flops(model),
           "top1": 100 * single, "top1_tta": None if with_tta is None else 100 * with_tta,
           "epochs": run["epochs"], "train_seconds": train_seconds,
           "classic_epoch_seconds": classic_seconds,
           "classic_epochs": train_seconds / classic_seconds,
           "train_img_per_s": train_images * run["epochs"] / train_seconds,
           "serve_img_per_s": serving_images_per_second(model, images.astype("float32")),
           "machine": machine, "command": command, "date": _utc()}
    versions = {key: run["versions"][key] for key in ("cnnzoo", "tensorflow", "keras")}
    entry = PretrainedWeights(
        model=model_name, tag=tag, file=path.name, sha256=sha256_file(path),
        bytes=path.stat().st_size, input_shape=shape, num_classes=classes,
        class_names=tuple(run["class_names"]), dataset=DATASET, test_accuracy=single,
        test_accuracy_tta=with_tta, tta=recipe["tta"], epochs=run["epochs"],
        training_seconds=round(train_seconds, 1),
        classic_epochs=round(train_seconds / classic_seconds, 1), command=command,
        machine=machine, versions=versions, date=row["date"])
    return row, entry


def record(row, entry, weights_dir=WEIGHTS_DIR):
    """Adds (or replaces) `row` in the results file and `entry` in the manifest."""
    from cnnzoo.pretrained import read_manifest

    rows = [r for r in read_results(weights_dir / RESULTS_FILE)
            if (r["model"], r["tag"]) != (row["model"], row["tag"])]
    write_results(weights_dir / RESULTS_FILE, rows + [row])
    entries = [e for e in read_manifest(weights_dir / MANIFEST_FILE)
               if (e.model, e.tag) != (entry.model, entry.tag)] + [entry]
    manifest = {"format_version": 1,
                "weights": [e.to_json() for e in sorted(entries, key=lambda e: e.model)]}
    _write(weights_dir / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")


def _duration(seconds):
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def markdown_table(path=WEIGHTS_DIR / RESULTS_FILE):
    """Returns the README's results table (Markdown) made from the results file at `path`."""
    rows = read_results(path)
    lines = ["| model | params | FLOPs/image | test accuracy | with flip TTA | epochs | "
             "training time | classic epochs | train img/s | serve img/s | command |",
             "| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --- |"]
    for row in rows:
        # A second row of a model names its weights tag (`weights="..."`).
        name = f"`{row['model']}`" + ("" if row["tag"] == TAG else f" (`{row['tag']}`)")
        lines.append(
            f"| {name} | {int(row['params']):,} | {int(row['flops']) / 1e6:.1f}M | "
            f"{row['top1']}% | {row['top1_tta'] + '%' if row['top1_tta'] else '–'} | "
            f"{row['epochs']} | {_duration(float(row['train_seconds']))} | "
            f"{row['classic_epochs']} | {float(row['train_img_per_s']):,.0f} | "
            f"{float(row['serve_img_per_s']):,.0f} | `{row['command']}` |")
    machines = sorted({(row["machine"], row["classic_epoch_seconds"]) for row in rows})
    lines += ["", "Machine: " + "; ".join(
        f"{machine} (one classic epoch: {seconds} s)" for machine, seconds in machines) + "."]
    return "\n".join(lines) + "\n"


def export_best(base, weights_dir=WEIGHTS_DIR):
    """Exports the row with the best test accuracy, from its shipped weights, as a
    SavedModel in `base/MODEL-TAG/1` (a TensorFlow Serving model base); returns the folder.
    """
    import cnnzoo
    from cnnzoo.pretrained import apply_weights, read_manifest

    rows = read_results(weights_dir / RESULTS_FILE)
    best = max(rows, key=lambda row: max(float(row["top1"]), float(row["top1_tta"] or 0)))
    entry = next(e for e in read_manifest(weights_dir / MANIFEST_FILE)
                 if (e.model, e.tag) == (best["model"], best["tag"]))
    model = apply_weights(cnnzoo.build(entry.model, input_shape=entry.input_shape,
                                       num_classes=entry.num_classes, compile=False),
                          name=entry.model, weights=entry.tag, include_top=True)
    metadata = {key: value for key, value in entry.to_json().items()
                if key not in ("file", "sha256", "bytes", "url")}
    return cnnzoo.export_saved_model(model, pathlib.Path(base) / f"{entry.model}-{entry.tag}",
                                     version=1, class_names=list(entry.class_names),
                                     metadata=metadata, overwrite=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=sorted(SHIPPED), default=list(SHIPPED))
    parser.add_argument("--runs", default="runs/results", help="where the workdirs go")
    parser.add_argument("--force", action="store_true", help="redo rows that exist")
    parser.add_argument("--import-run", metavar="WORKDIR",
                        help="make the row of a finished `cnnzoo train` workdir, no training")
    parser.add_argument("--train-seconds", type=float, help="with --import-run: its wall time")
    parser.add_argument("--command", help="with --import-run: the command(s) that trained it")
    parser.add_argument("--tag", default=TAG,
                        help=f"with --import-run: the weights tag (default: {TAG}; another "
                             "tag ships a second row of the same model)")
    parser.add_argument("--classic-epoch-seconds", type=float,
                        help="one classic epoch measured in the same job (default: measure)")
    parser.add_argument("--markdown", action="store_true", help="print the README table")
    parser.add_argument("--export-best", metavar="BASE", help="export the best row under BASE")
    args = parser.parse_args(argv)

    if args.markdown:
        print(markdown_table(), end="")
        return
    if args.export_best:
        print(f"exported to {export_best(args.export_best)}")
        return
    machine = describe_machine()["machine"]
    if args.import_run:
        if args.train_seconds is None or not args.command:
            parser.error("--import-run needs --train-seconds and --command (the run's own)")
        from cnnzoo.training.workdir import read_run

        name = (read_run(args.import_run) or {}).get("model")
        classic = args.classic_epoch_seconds or classic_epoch_seconds()["classic_epoch_seconds"]
        record(*make_row(name, args.import_run, command=args.command,
                         train_seconds=args.train_seconds, classic_seconds=classic,
                         machine=machine, tag=args.tag))
        return
    done = {row["model"] for row in read_results(WEIGHTS_DIR / RESULTS_FILE)}
    todo = [name for name in args.models if args.force or name not in done]
    if not todo:
        print("every requested row exists (--force redoes them)")
        return
    classic = args.classic_epoch_seconds or classic_epoch_seconds()["classic_epoch_seconds"]
    print(f"one classic epoch on {machine}: {classic:.2f} s", flush=True)
    for name in todo:
        workdir = pathlib.Path(args.runs) / f"{name}-{DATASET}"
        command, seconds = train(name, workdir, SHIPPED[name])
        row, entry = make_row(name, workdir, command=command, train_seconds=seconds,
                              classic_seconds=classic, machine=machine)
        record(row, entry)
        print(f"{name}: {row['top1']:.2f}% in {_duration(seconds)} "
              f"({row['classic_epochs']:.1f} classic epochs)", flush=True)


if __name__ == "__main__":
    main()
