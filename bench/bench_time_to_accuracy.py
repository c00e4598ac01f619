"""Time to accuracy: how soon each recipe first reaches 91, 93, 94 and 95% test accuracy.

    python -m bench.bench_time_to_accuracy                 # every tuned recipe, in full
    python -m bench.bench_time_to_accuracy --models tutorial_3x3  # one recipe
    python -m bench.bench_time_to_accuracy --quick                # sample data, 2 epochs

Each model trains as `cnnzoo train MODEL --dataset fashion_mnist` trains it: its recipe
(`cnnzoo.get_recipe`), the same data, hold-out and augmentation (`cnnzoo.job`), and
`cnnzoo.fit` writing its checkpoints and history every epoch. After every epoch the model
as it stands is evaluated on the whole test split, with the recipe's test-time
augmentation where it has one (as `cnnzoo train` reports its accuracy); the clock is
paused meanwhile, so the times are those of a run without these evaluations. A time is
counted from loading the data, so it holds everything the training command does but
start Python and evaluate once at the end. Every time is also given in classic epochs:
one steady epoch of the classic script (`bench/classic.py`), measured first in the same
job (not in `--quick`, whose few hundred images train too briefly to compare).
"""

import argparse
import json
import pathlib
import tempfile
import time

try:
    from bench.classic import classic_epoch_seconds
    from bench.machine import describe_machine
except ImportError:  # Run as a script: bench/ is on the path.
    from classic import classic_epoch_seconds
    from machine import describe_machine

THRESHOLDS = (0.91, 0.93, 0.94, 0.95)
QUICK = {"dataset": "fashion_mnist_sample", "epochs": 2, "limit": 512}


def tuned_models():
    """Returns the registered models whose recipe was tuned on Fashion-MNIST."""
    import cnnzoo

    return [name for name in cnnzoo.list_models() if cnnzoo.get_recipe(name).tuned]


def first_reached(rows, thresholds=THRESHOLDS):
    """Returns `{threshold: row}`: the first row whose `accuracy` is at least `threshold`,
    or None where no row reaches it.

    Example:
        >>> rows = [{"epoch": 1, "accuracy": 0.92}, {"epoch": 2, "accuracy": 0.935}]
        >>> {t: r and r["epoch"] for t, r in first_reached(rows, (0.91, 0.93, 0.95)).items()}
        {0.91: 1, 0.93: 2, 0.95: None}
    """
    return {threshold: next((row for row in rows if row["accuracy"] >= threshold), None)
            for threshold in thresholds}


def _test_clock(test, tta, start, rows, say):
    """Returns a Keras callback appending `{epoch, seconds, accuracy,
    single_view_accuracy}` to `rows` after each epoch, `seconds` since `start` without
    the time its own test evaluations took."""
    import keras

    from cnnzoo.training.evaluate import evaluate

    class TestClock(keras.callbacks.Callback):
        paused = 0.0

        def on_epoch_end(self, epoch, logs=None):
            seconds = time.perf_counter() - start - self.paused
            began = time.perf_counter()
            result = evaluate(self.model, test, tta=tta)
            self.paused += time.perf_counter() - began
            rows.append({"epoch": epoch + 1, "seconds": seconds,
                         "accuracy": result["accuracy"],
                         "single_view_accuracy": result.get("single_view_accuracy",
                                                            result["accuracy"])})
            say(f"  epoch {epoch + 1}: {seconds:7.1f} s, test accuracy "
                f"{result['accuracy']:.2%}")

    return TestClock()


def time_to_accuracy(model_name, *, workdir, dataset="fashion_mnist", epochs=None,
                     limit=None, seed=0, mixed_precision="auto", thresholds=THRESHOLDS,
                     say=print):
    """Trains `model_name` with its recipe, evaluating on the test split after each epoch.

    Args:
        model_name: a registered model.
        workdir: a folder that does not exist yet: the run directory (a resumed run would
            be timed from its middle).
        dataset: the dataset to train on (`fashion_mnist` falls back to its sample).
        epochs: the recipe's epochs unless given.
        limit: use only the first `limit` images of each split.
        seed: the run's seed.
        mixed_precision: `fit`'s setting ("auto": as `cnnzoo train`).
        thresholds: test accuracies (fractions) to time.

    Returns:
        A dict: `model`, `recipe` (its fields), `dataset`, `rows` (per epoch: `epoch`,
        `seconds`, `accuracy` as the recipe evaluates it, `single_view_accuracy`),
        `reached` (`first_reached`), `seconds` (the whole run, evaluations excluded), and
        `settings`: the `mixed_precision` and `jit_compile` `fit` resolved (from run.json).

    Raises:
        FileExistsError: `workdir` exists.
        ValueError, DatasetNotFoundError: bad arguments or data (see
            `cnnzoo.job.train_job`).
    """
    import dataclasses

    from cnnzoo.data.catalog import flip_allowed
    from cnnzoo.job import load_training_data
    from cnnzoo.training.fit import fit
    from cnnzoo.training.recipes import get_recipe
    from cnnzoo.training.workdir import read_run

    workdir = pathlib.Path(workdir)
    if workdir.exists():
        raise FileExistsError(f"{str(workdir)!r} exists; time-to-accuracy needs a fresh run "
                              "directory (a resumed run would be timed from its middle).")
    recipe = get_recipe(model_name).replace(epochs=epochs)
    start = time.perf_counter()
    train, validation, test = load_training_data(dataset, recipe, seed=seed, limit=limit,
                                                 say=say)
    info = train[1]
    tta = recipe.tta if flip_allowed(info.name) else "none"
    rows = []
    clock = _test_clock(test, tta, start, rows, say)
    fit(model_name, train, validation, epochs=recipe.epochs, workdir=workdir, seed=seed,
        run_info={"recipe": dataclasses.asdict(recipe), "dataset": info.name},
        mixed_precision=mixed_precision, callbacks=[clock], verbose=0, **recipe.fit_kwargs())
    seconds = time.perf_counter() - start - clock.paused
    training = read_run(workdir)["training"]
    settings = {key: training[key] for key in ("mixed_precision", "jit_compile")}
    say(f"  trained with mixed_precision={settings['mixed_precision']!r}, "
        f"jit_compile={settings['jit_compile']}")
    return {"model": model_name, "recipe": dataclasses.asdict(recipe), "dataset": info.name,
            "rows": rows, "reached": first_reached(rows, thresholds), "seconds": seconds,
            "settings": settings}


def _recipe_words(result):
    recipe, settings = result["recipe"], result.get("settings") or {}
    words = (f"{recipe['optimizer']} {recipe['learning_rate']:g} {recipe['schedule']}, batch "
             f"{recipe['batch_size']}, {recipe['augment'] or 'no'} aug, {recipe['epochs']} ep")
    if settings.get("mixed_precision", "float32") != "float32":
        words += f", {settings['mixed_precision']}"
    if settings.get("jit_compile"):
        words += ", XLA"
    return words


def _when(row, classic):
    if row is None:
        return "-"
    classic_epochs = f" / {row['seconds'] / classic:.1f} ce" if classic else ""
    return f"{row['seconds']:.0f} s{classic_epochs} (e{row['epoch']})"


def format_table(results, classic=None, thresholds=THRESHOLDS):
    """Returns the results as an aligned text table: per model its recipe (with mixed
    precision and XLA where on), best test accuracy, and the time at which each threshold
    was first reached ("-": never): seconds, classic epochs when `classic` seconds are
    given, and the epoch."""
    header = ["model", "recipe", "best"] + [f"{t:.0%}" for t in thresholds]
    lines = [header]
    for result in results:
        best = max((row["accuracy"] for row in result["rows"]), default=float("nan"))
        lines.append([result["model"], _recipe_words(result), f"{best:.2%}"]
                     + [_when(result["reached"][t], classic) for t in thresholds])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip()
                     for line in lines)


def _classic_epoch(say):
    """Returns one classic epoch in seconds on this machine, or None when Fashion-MNIST
    is not here."""
    from cnnzoo.data import DatasetNotFoundError

    try:
        seconds = classic_epoch_seconds(epochs=3)["classic_epoch_seconds"]
    except DatasetNotFoundError as error:
        say(f"classic epoch: not measured ({str(error).splitlines()[0]})")
        return None
    say(f"one classic epoch on this machine: {seconds:.2f} s (bench/classic.py, median of "
        "2 steady epochs)")
    return seconds


def _epochs(name, args):
    """Returns the epochs to train `name` for: as asked, or in `--quick` the fewest that
    leave its warm-up an epoch after."""
    if args.epochs or not args.quick:
        return args.epochs
    from cnnzoo.training.recipes import get_recipe
    from cnnzoo.training.workdir import read_run

    return max(QUICK["epochs"], get_recipe(name).warmup_epochs + 1)


def main(argv=None, *, say=print):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", help="default: every tuned recipe's model")
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--epochs", type=int, help="override the recipes' epochs")
    parser.add_argument("--limit", type=int, help="only the first N images of each split")
    parser.add_argument("--mixed-precision", default="auto",
                        choices=["auto", "float32", "mixed_float16", "mixed_bfloat16"],
                        help="fit's dtype policy (default: auto, as cnnzoo train)")
    parser.add_argument("--runs", help="keep the run directories in this folder (default: a "
                                       "temporary folder, deleted)")
    parser.add_argument("--output", help="also write the results as JSON to this file")
    parser.add_argument("--quick", action="store_true",
                        help="the shipped sample (512 images), 2 epochs (more where a "
                             "warm-up needs them), no classic epoch; for tests")
    args = parser.parse_args(argv)
    if args.quick:
        args.dataset, args.limit = QUICK["dataset"], QUICK["limit"]
    models = args.models or tuned_models()

    say(f"machine: {describe_machine()['machine']}")
    classic = None if args.quick else _classic_epoch(say)
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        runs = pathlib.Path(args.runs or scratch)
        for name in models:
            say(f"{name}:")
            results.append(time_to_accuracy(name, workdir=runs / name, dataset=args.dataset,
                                            epochs=_epochs(name, args), limit=args.limit,
                                            mixed_precision=args.mixed_precision, say=say))
    say(f"time to test accuracy (seconds from loading the data, per-epoch test evaluations "
        f"excluded; ce: classic epochs; e: epoch){' [quick]' if args.quick else ''}")
    say(format_table(results, classic))
    if args.output:
        from cnnzoo.atomic import write_atomically

        record = {"machine": describe_machine()["machine"], "classic_epoch_seconds": classic,
                  "quick": args.quick, "mixed_precision": args.mixed_precision, "results": [
                      {**r, "reached": {f"{t:.2f}": row for t, row in r["reached"].items()}}
                      for r in results]}
        write_atomically(args.output, json.dumps(record, indent=1) + "\n")
    return results


if __name__ == "__main__":
    main()
