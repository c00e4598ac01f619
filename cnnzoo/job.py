"""The main job behind `cnnzoo train`: data, recipe, fit, test evaluation, export.

Each step is a call into the library (`cnnzoo.data`, `cnnzoo.training`, `cnnzoo.export`);
this module holds the policies that join them (the shipped sample standing in for a
missing dataset, when test-time augmentation applies, where an export may go), puts the
steps in order and says what it does, so the command line stays a thin front end. It
sits above the library, beside the CLI: nothing in the library imports it.
"""

import dataclasses
import pathlib

from cnnzoo.artifacts import load_model
from cnnzoo.export import export_model
from cnnzoo.layouts import run_dir, serving
from cnnzoo.training import workdir as run_files
from cnnzoo.training.evaluate import evaluate
from cnnzoo.training.fit import fit
from cnnzoo.training.lock import workdir_lock
from cnnzoo.training.recipes import get_recipe

# A named dataset that may be absent, and the shipped sample that stands in for it.
FALLBACKS = {"fashion_mnist": "fashion_mnist_sample"}


def load_split(dataset, split, *, say=print, data_dir=None, **kwargs):
    """Returns `(tf.data.Dataset, DatasetInfo)` for `dataset`/`split` via `load_dataset`.

    A dataset listed in `FALLBACKS` is looked for on this machine only (never downloaded);
    when it is absent, its shipped sample is used and `say` is told so.

    Raises:
        DatasetNotFoundError: the dataset is nowhere and has no fallback.
        ValueError: bad arguments (see `cnnzoo.data.load_dataset`).
    """
    return _load_split_from(dataset, split, say=say, data_dir=data_dir, **kwargs)[1]


def _load_split_from(dataset, split, *, say, data_dir, **kwargs):
    """Returns `(source, (dataset, info))`: `source` is `dataset`, or its fallback when used."""
    from cnnzoo.data import DatasetNotFoundError, load_dataset

    if dataset not in FALLBACKS:
        return dataset, load_dataset(dataset, split, data_dir=data_dir, **kwargs)
    try:
        return dataset, load_dataset(dataset, split, data_dir=data_dir, download=False,
                                     **kwargs)
    except DatasetNotFoundError:
        say(f"{dataset} is not on this machine (Debian: apt-get install dataset-fashion-mnist); "
            f"using the shipped sample {FALLBACKS[dataset]!r} instead.")
        fallback = FALLBACKS[dataset]
        return fallback, load_dataset(fallback, split, data_dir=data_dir, **kwargs)


def load_training_data(dataset, recipe, *, seed=0, data_dir=None, limit=None, say=print):
    """Returns the `(dataset, info)` pairs `(train, validation, test)`; validation may be None."""
    holdout = recipe.validation_split
    # A fallback is announced once, for the training split; the others come from the same
    # source. Otherwise they come from `dataset` as given (a path's info has only its name).
    source, train = _load_split_from(dataset, "train", say=say, data_dir=data_dir,
                                     batch_size=recipe.batch_size, augment=recipe.augment,
                                     seed=seed, validation_split=holdout, limit=limit)
    validation = load_split(source, "validation", say=say, data_dir=data_dir, batch_size=256,
                            seed=seed, validation_split=holdout, limit=limit) if holdout else None
    test = load_split(source, "test", say=say, data_dir=data_dir, batch_size=256, limit=limit)
    return train, validation, test


def check_export_target(path, *, workdir, version=1):
    """Refuses, before training, an export that would overwrite anything but itself.

    `path` is a TensorFlow Serving model base: the export goes to `path/<version>`. It
    may be missing, empty, or hold only numbered version folders with their SavedModels
    (see `cnnzoo.layouts.serving.check_model_base`); a rerun replaces `path/<version>`
    and leaves the other versions alone.

    Raises:
        ValueError: `version` is not a positive integer, or `path` is the workdir, lies
            inside it or holds it (the export would replace or mix with the run).
        FileExistsError: `path` exists and is not a TF Serving model base, or
            `path/<version>` is not an export cnnzoo wrote (never replaced).
    """
    serving.check_version(version, argument="export_version")
    base = pathlib.Path(path).expanduser().resolve()
    run = pathlib.Path(workdir).expanduser().resolve()
    if base == run or run in base.parents or base in run.parents:
        where = "is" if base == run else "is inside" if run in base.parents else "holds"
        raise ValueError(f"export folder {str(path)!r} {where} the workdir {str(workdir)!r}; "
                         "the export would replace the run's files. Export elsewhere, e.g. "
                         f"saved_models/{run.name}.")
    serving.check_model_base(path, version=version)


def _test_time_augmentation(recipe, info, say):
    """Returns the recipe's test-time augmentation, or "none" where `info` forbids flips."""
    from cnnzoo.data.catalog import flip_allowed

    if recipe.tta == "flip" and not flip_allowed(info.name):
        say(f"evaluating without flip test-time augmentation: {info.name} images must not "
            "be mirrored.")
        return "none"
    return recipe.tta


def train_job(model_name, dataset, *, workdir=None, export=None, export_version=1,
              seed=None, data_dir=None, limit=None, steps_per_epoch=None, distribute="auto",
              mixed_precision="auto", recipe_changes=None, verbose="auto", new_data=False,
              new_recipe=False, say=print):
    """Trains `model_name` on `dataset` with its recipe, evaluates it on the test split,
    writes `evaluation.json`, and exports when `export` is a path.

    The export is a SavedModel in `export/<export_version>`, so `export` is a TensorFlow
    Serving model base path as it is (see `check_export_target`). The job holds the
    workdir's lock throughout (see `cnnzoo.training.lock`). `new_data=True` lets a
    resume continue the run on another dataset than its `run.json` records, and
    `new_recipe=True` with another recipe (see `cnnzoo.fit`).

    Returns:
        A dict: `workdir`, `recipe`, `evaluation` (see `cnnzoo.evaluate`) and `export`
        (the SavedModel folder written, or None).

    Raises:
        ValueError, FileNotFoundError, FileExistsError: bad input, found before training
            (a resume on another dataset without `new_data`, or with another recipe
            without `new_recipe`, included).
        WorkdirInUseError: another run holds the workdir.
        FloatingPointError: training diverged (the message says what to try).
    """
    recipe = get_recipe(model_name).replace(**(recipe_changes or {}))
    train, validation, test = load_training_data(
        dataset, recipe, seed=0 if seed is None else seed, data_dir=data_dir, limit=limit,
        say=say)
    info = train[1]
    workdir = pathlib.Path(workdir or f"runs/{model_name}-{info.name}")
    if export is not None:  # Here, once the default workdir is known, before training.
        check_export_target(export, workdir=workdir, version=export_version)
    with workdir_lock(workdir):  # One job per workdir, from its check to its export.
        done = run_files.check_workdir(workdir, model_name=model_name, epochs=recipe.epochs,
                                       dataset=info.name, new_data=new_data)
        if done >= recipe.epochs:
            say(_already_trained(model_name, workdir, done=done, epochs=recipe.epochs,
                                 exporting=export is not None))
        else:
            say(f"training {model_name} on {info.name}: {info.num_examples} training, "
                f"{validation[1].num_examples if validation else 0} validation, "
                f"{test[1].num_examples} test images of {'x'.join(map(str, info.image_shape))}; "
                f"{recipe.epochs} epochs of batch {recipe.batch_size}, {recipe.optimizer} "
                f"lr {recipe.learning_rate} {recipe.schedule}, augment {recipe.augment}"
                f"{'' if recipe.tta == 'none' else f', test-time augmentation {recipe.tta}'}; "
                f"workdir {workdir}{f', resuming after epoch {done}' if done else ''}")
            fit(model_name, train, validation, epochs=recipe.epochs, workdir=workdir, seed=seed,
                steps_per_epoch=steps_per_epoch, distribute=distribute,
                mixed_precision=mixed_precision, verbose=verbose,
                run_info={"recipe": dataclasses.asdict(recipe), "dataset": info.name},
                new_data=new_data, new_recipe=new_recipe,
                **recipe.fit_kwargs())

        model = load_model(workdir)
        evaluation = evaluate(model, test, tta=_test_time_augmentation(recipe, info, say))
        run_files.write_json(workdir / run_dir.EVALUATION_FILE, evaluation)
        test_metrics = {k: evaluation[k] for k in ("loss", "accuracy", "top5_accuracy", "tta",
                                                   "single_view_accuracy") if k in evaluation}
        run_files.update_run(workdir, test_metrics=test_metrics)
        say(evaluation["report"])
        written = None
        if export is not None:
            metadata = {"model": model_name, "dataset": info.name,
                        "class_names": list(info.class_names),
                        "test_accuracy": evaluation["accuracy"], "epochs": recipe.epochs}
            written = export_model(model, export, format="saved_model",
                                   class_names=list(info.class_names), overwrite=True,
                                   metadata=metadata, version=export_version)
            say(f"exported to {written} (TF Serving: --model_base_path={written.parent})")
    return {"workdir": workdir, "recipe": recipe, "evaluation": evaluation, "export": written}


def _already_trained(model_name, workdir, *, done, epochs, exporting):
    """Returns what a rerun of a finished run does, and how to train on or start over.

    Raises:
        FileNotFoundError: the run's model files are gone.
    """
    model_file = run_dir.find_model_file(workdir)
    if model_file is None:
        raise FileNotFoundError(
            f"workdir {str(workdir)!r} holds a finished run of {model_name} ({done} of "
            f"{epochs} epochs) but no {run_dir.BEST_MODEL} or {run_dir.LAST_MODEL}; use "
            "another --workdir to train it again.")
    return (f"{model_name} is already trained: {done} of {epochs} epochs finished in "
            f"{workdir}, so nothing is trained. Reusing its {model_file.name} for the test "
            f"evaluation{' and the export' if exporting else ''}. To train on, rerun with "
            f"--epochs above {epochs}; to start fresh, use another --workdir.")
