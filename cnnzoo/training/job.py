"""The main job behind `cnnzoo train`: data, recipe, fit, test evaluation, export.

Each step is a call into the library; this module only puts them in order and says what
it does, so the command line stays a thin front end.
"""

import dataclasses
import pathlib

from cnnzoo.training import workdir as run_files
from cnnzoo.training.evaluate import evaluate, load_model
from cnnzoo.training.fit import fit
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
    from cnnzoo.data import DatasetNotFoundError, load_dataset

    if dataset not in FALLBACKS:
        return load_dataset(dataset, split, data_dir=data_dir, **kwargs)
    try:
        return load_dataset(dataset, split, data_dir=data_dir, download=False, **kwargs)
    except DatasetNotFoundError:
        say(f"{dataset} is not on this machine (Debian: apt-get install dataset-fashion-mnist); "
            f"using the shipped sample {FALLBACKS[dataset]!r} instead.")
        return load_dataset(FALLBACKS[dataset], split, data_dir=data_dir, **kwargs)


def load_training_data(dataset, recipe, *, seed=0, data_dir=None, limit=None, say=print):
    """Returns the `(dataset, info)` pairs `(train, validation, test)`; validation may be None."""
    holdout = recipe.validation_split
    train = load_split(dataset, "train", say=say, data_dir=data_dir, batch_size=recipe.batch_size,
                       augment=recipe.augment, seed=seed, validation_split=holdout, limit=limit)
    # The fallback has been announced once; later splits come from the same source.
    source = train[1].name
    validation = load_split(source, "validation", say=say, data_dir=data_dir, batch_size=256,
                            seed=seed, validation_split=holdout, limit=limit) if holdout else None
    test = load_split(source, "test", say=say, data_dir=data_dir, batch_size=256, limit=limit)
    return train, validation, test


def check_export_target(path):
    """Refuses, before training, an export path holding something other than an export.

    A previous export (a SavedModel or a .keras model) is replaced, so running the main
    job again works; anything else is left alone.

    Raises:
        FileExistsError: `path` exists and is not a previous export.
    """
    path = pathlib.Path(path)
    if not path.exists():
        return
    is_export = path.is_dir() and (any(path.glob("saved_model.pb")) or any(path.glob("*.keras"))
                                   or any(path.glob("*/saved_model.pb")))
    if not is_export:
        raise FileExistsError(f"--export {str(path)!r} exists and is not a previous export; "
                              "choose another path or remove it.")


def export_model(model, path, *, class_names, metadata):
    """Exports `model` with `cnnzoo.export` when it is available, else as `path/model.keras`.

    Returns the path written.
    """
    try:
        from cnnzoo.export import export_saved_model
    except ImportError:
        return run_files.save_model_atomically(model, pathlib.Path(path) / "model.keras")
    return export_saved_model(model, path, class_names=list(class_names), overwrite=True,
                              metadata=metadata)


def train_job(model_name, dataset, *, workdir=None, export=None, seed=None, data_dir=None,
              limit=None, steps_per_epoch=None, distribute="auto", mixed_precision="auto",
              recipe_changes=None, verbose="auto", say=print):
    """Trains `model_name` on `dataset` with its recipe, evaluates it on the test split,
    writes `evaluation.json`, and exports when `export` is a path.

    Returns:
        A dict: `workdir`, `recipe`, `evaluation` (see `cnnzoo.evaluate`) and `export`
        (the path written, or None).

    Raises:
        ValueError, FileNotFoundError, FileExistsError: bad input, found before training.
        FloatingPointError: training diverged (the message says what to try).
    """
    recipe = get_recipe(model_name).replace(**(recipe_changes or {}))
    if export is not None:
        check_export_target(export)
    train, validation, test = load_training_data(
        dataset, recipe, seed=0 if seed is None else seed, data_dir=data_dir, limit=limit,
        say=say)
    info = train[1]
    workdir = pathlib.Path(workdir or f"runs/{model_name}-{info.name}")
    say(f"training {model_name} on {info.name}: {info.num_examples} training, "
        f"{validation[1].num_examples if validation else 0} validation, "
        f"{test[1].num_examples} test images of {'x'.join(map(str, info.image_shape))}; "
        f"{recipe.epochs} epochs of batch {recipe.batch_size}, {recipe.optimizer} "
        f"lr {recipe.learning_rate} {recipe.schedule}, augment {recipe.augment}; "
        f"workdir {workdir}")
    fit(model_name, train, validation, epochs=recipe.epochs, workdir=workdir, seed=seed,
        steps_per_epoch=steps_per_epoch, distribute=distribute,
        mixed_precision=mixed_precision, verbose=verbose,
        run_info={"recipe": dataclasses.asdict(recipe), "dataset": info.name},
        **recipe.fit_kwargs())

    model = load_model(workdir)
    evaluation = evaluate(model, test)
    run_files.write_json(workdir / run_files.EVALUATION_FILE, evaluation)
    test_metrics = {k: evaluation[k] for k in ("loss", "accuracy", "top5_accuracy")
                    if k in evaluation}
    run_files.update_run(workdir, test_metrics=test_metrics)
    say(evaluation["report"])
    written = None
    if export is not None:
        written = export_model(model, export, class_names=info.class_names, metadata={
            "model": model_name, "dataset": info.name, "class_names": list(info.class_names),
            "test_accuracy": evaluation["accuracy"], "epochs": recipe.epochs})
        say(f"exported to {written}")
    return {"workdir": workdir, "recipe": recipe, "evaluation": evaluation, "export": written}
