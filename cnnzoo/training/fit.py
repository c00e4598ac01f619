"""`fit`: train a zoo model into a run directory, resumably.

It reads as the steps it takes: seed, resolve the data, choose the strategy, build (or
take) the model inside its scope with the schedule, check the data against the model and
the workdir, record the run, train with the callbacks, record the result.
"""

import math
import numbers
import platform

import keras

from cnnzoo.pixels import warn_if_scaled
from cnnzoo.training import callbacks as run_callbacks
from cnnzoo.training import inputs
from cnnzoo.training import workdir as run_files
from cnnzoo.training.determinism import make_deterministic
from cnnzoo.training.lock import workdir_lock
from cnnzoo.training.precision import (check_steps_per_execution, dtype_policy,
                                       resolve_jit_compile, resolve_mixed_precision,
                                       resolve_steps_per_execution, set_steps_per_execution)
from cnnzoo.training.progress import progress_callbacks
from cnnzoo.training.schedules import make_schedule
from cnnzoo.training.strategy import (is_chief, make_strategy, multi_worker_fit, num_replicas,
                                      strategy_scope)


def fit(model, train, validation=None, *, epochs, workdir, num_classes=None,
        optimizer=None, learning_rate=None, schedule="constant", warmup_epochs=0,
        weight_decay=None, label_smoothing=None, early_stopping=None,
        reduce_lr_on_plateau=None, distribute="auto", mixed_precision="auto",
        jit_compile="auto", steps_per_execution="auto", seed=None, batch_size=128,
        steps_per_epoch=None, build_kwargs=None, run_info=None, tensorboard="auto",
        callbacks=(), verbose="auto", new_data=False, new_recipe=False):
    """Trains `model` on `train` for `epochs` and returns the Keras `History`.

    The trained model is `history.model`. Running the same call again after an interrupt
    resumes after the last finished epoch with the optimizer's state (its step count and a
    constant learning rate included); after a finished run it trains nothing, and a larger
    `epochs` trains on.

    The run holds the workdir's lock (`cnnzoo.training.lock`) until it returns, so a second
    run into the same workdir is refused while this one writes it. `run.json` records how
    the run ended: "finished", "diverged", "interrupted" (Ctrl-C) or "failed" (any other
    error, with its message).

    Args:
        model: a registry name such as "mnist_cnn" (built inside the strategy's scope at
            the data's image shape and number of classes), or a compiled `keras.Model`.
        train: a `tf.data.Dataset` of `(images, labels)` batches, the `(dataset, info)`
            pair from `cnnzoo.load_dataset`, or arrays `(images, labels)`.
        validation: the same forms, or None. It picks `best.keras`.
        epochs: the total number of epochs of the run.
        workdir: the run directory (see `cnnzoo.training.workdir`).
        num_classes: the classes to build for (default: from the data's info or one-hot
            labels); only with a model name.
        optimizer, learning_rate, weight_decay, label_smoothing: compile settings (see
            `cnnzoo.compile_classifier`); a given model is recompiled when any is set.
        schedule, warmup_epochs: "constant", "cosine" (with warm-up) or "step" (see
            `make_schedule`), applied to `learning_rate`.
        early_stopping, reduce_lr_on_plateau: None or a patience in epochs.
        distribute: "auto", "none", "mirrored", "multi_worker" or a tf.distribute strategy.
        mixed_precision: "auto" (what `cnnzoo doctor` found for the model on this machine,
            else mixed on GPUs, float32 on CPUs), "float32", "mixed_float16" or
            "mixed_bfloat16"; applies when building by name.
        jit_compile: "auto" (the doctor's finding, else XLA on GPUs and on JAX, off on
            TensorFlow CPUs), True or False.
        steps_per_execution: training steps one call from Python runs: "auto" (8 on
            TensorFlow, 1 on JAX, or what a given model was compiled with when above 1;
            1 when a callback in `callbacks` has batch hooks, so it sees every batch, and
            under a distribution strategy; a divisor of `steps_per_epoch` when set; see
            `cnnzoo.training.precision`) or a positive int. Batch hooks run once a call.
        seed: an integer for a reproducible run (seeds and deterministic ops), or None.
        batch_size: the batch size for array data (datasets come batched).
        steps_per_epoch: cap the steps of each epoch (quick runs).
        build_kwargs: more keyword arguments for `cnnzoo.build` (family options).
        run_info: more fields for `run.json` (dataset name, recipe...).
        tensorboard: write TensorBoard logs under `tensorboard/`: True, False or "auto"
            (when the `tensorboard` package is installed).
        callbacks: more Keras callbacks.
        verbose: 0 for silence; else ("auto", 1, 2) steps, images/s and ETA within each
            epoch (see `cnnzoo.training.progress`) and a line per epoch.
        new_data: allow a resume on another dataset than the one `run.json` records (the
            change is kept in its `data_changes`).
        new_recipe: allow a resume with another optimizer, learning rate, schedule, weight
            decay or batch size than `run.json` records (the change is kept in its
            `recipe_changes`; the optimizer's state carries over only when its kind is
            unchanged).

    Returns:
        The `keras.callbacks.History` of the epochs trained in this call.

    Raises:
        ValueError: bad arguments (a `steps_per_execution` that does not divide
            `steps_per_epoch` included), data whose image shape or labels disagree with the
            model, a workdir holding another model's run or a backup that is not whole,
            a resume with fewer epochs, a resume on another dataset without
            `new_data=True`, or a resume with another recipe without `new_recipe=True`.
        TypeError: `workdir` is not a path.
        WorkdirInUseError: another run holds the workdir (see `cnnzoo.training.lock`).
        FloatingPointError: the loss, a metric or a weight became NaN or infinite; the
            message says what to try, and `best.keras`, `last.keras` and the backup hold
            the last good epoch.
        OSError: a file of the run could not be written (a full disk, a read-only folder).
    """
    # A bad value is refused before any file is written.
    workdir = run_files.as_workdir(workdir)
    _check_counts(epochs=epochs, batch_size=batch_size, steps_per_epoch=steps_per_epoch,
                  early_stopping=early_stopping, reduce_lr_on_plateau=reduce_lr_on_plateau)
    _check_learning_rate(learning_rate)
    check_steps_per_execution(steps_per_execution, steps_per_epoch=steps_per_epoch)
    if seed is not None:
        make_deterministic(seed)
    train_data = inputs.as_data(train, argument="train")
    validation_data = (inputs.as_data(validation, argument="validation")
                       if validation is not None else None)
    images, labels = inputs.first_batch(train_data)
    warn_if_scaled(images, where="fit")
    num_classes = num_classes or inputs.infer_num_classes(train_data, labels)

    strategy = _strategy_for(model, distribute)
    by_name = isinstance(model, str)
    model_name = model if by_name else model.name
    dataset = (run_info or {}).get("dataset") or (
        train_data.info.name if train_data.info is not None else None)
    workdir = _worker_dir(workdir, strategy)
    with workdir_lock(workdir):
        done = run_files.check_workdir(workdir, model_name=model_name, epochs=epochs,
                                       dataset=dataset, new_data=new_data)
        run_callbacks.read_history(workdir / run_files.HISTORY_FILE)  # refused before use
        compile_settings = _compile_settings(
            optimizer=optimizer, learning_rate=learning_rate, weight_decay=weight_decay,
            label_smoothing=label_smoothing, schedule=schedule, warmup_epochs=warmup_epochs,
            epochs=epochs, steps_per_epoch=steps_per_epoch or inputs.steps_per_epoch_of(
                train_data, batch_size), reduce_lr_on_plateau=reduce_lr_on_plateau)
        policy = resolve_mixed_precision(mixed_precision, model_name=model_name)
        jit = resolve_jit_compile(jit_compile, model_name=model_name)
        with strategy_scope(strategy):
            model = _build_or_compile(model, image_shape=tuple(images.shape[1:]),
                                      num_classes=num_classes, policy=policy, jit_compile=jit,
                                      compile_settings=compile_settings,
                                      build_kwargs=build_kwargs or {})
        set_steps_per_execution(model, resolve_steps_per_execution(
            steps_per_execution, compiled_with=model.steps_per_execution,
            steps_per_epoch=steps_per_epoch,
            callbacks_watch_batches=any(map(run_callbacks.watches_batches, callbacks)),
            distributed=_built_under_a_strategy(model)))
        num_classes = model.output_shape[-1]
        recipe_fields = run_files.check_recipe(workdir, _recipe(
            model, by_name=by_name, optimizer=optimizer, learning_rate=learning_rate,
            schedule=schedule, warmup_epochs=warmup_epochs, weight_decay=weight_decay,
            batch_size=_batch_size(images, train_data, batch_size)),
            done=done, new_recipe=new_recipe)
        inputs.check_batch(images, labels, input_shape=model.input_shape[1:],
                           num_classes=num_classes, model_name=model_name)
        train_data = inputs.check_every_batch(train_data, num_classes=num_classes,
                                              model_name=model_name)
        if validation_data is not None:
            inputs.check_batch(*inputs.first_batch(validation_data),
                               input_shape=model.input_shape[1:], num_classes=num_classes,
                               model_name=model_name, argument="validation")
            validation_data = inputs.check_every_batch(
                validation_data, num_classes=num_classes, model_name=model_name)

        run_files.update_run(workdir, **_run_record(
            model_name, train_data, epochs=epochs, batch_size=_batch_size(images, train_data,
                                                                          batch_size),
            seed=seed, policy=policy, jit_compile=jit,
            steps_per_execution=model.steps_per_execution, strategy=strategy, schedule=schedule,
            warmup_epochs=warmup_epochs, build_kwargs=build_kwargs, compile_settings={
                "optimizer": optimizer, "learning_rate": learning_rate,
                "weight_decay": weight_decay, "label_smoothing": label_smoothing},
            input_shape=model.input_shape[1:], num_classes=num_classes, run_info=run_info),
            **_data_changes(workdir, done=done, dataset=dataset), **recipe_fields)

        monitor = "val_accuracy" if validation_data is not None else "accuracy"
        run_callbacks_list = run_callbacks.make_callbacks(
            workdir, monitor=monitor, mode="max", finished_epochs=done,
            early_stopping=early_stopping, reduce_lr_on_plateau=reduce_lr_on_plateau,
            tensorboard=tensorboard, advice=_nan_advice(learning_rate, policy),
            learning_rate=_constant_learning_rate(recipe_fields["recipe_now"],
                                                  reduce_lr_on_plateau=reduce_lr_on_plateau))
        try:
            with multi_worker_fit(model, strategy), inputs.raising_batch_errors():
                history = _train(model, train_data, validation_data, epochs=epochs,
                                 batch_size=batch_size, steps_per_epoch=steps_per_epoch,
                                 callbacks=run_callbacks_list + list(callbacks)
                                 + progress_callbacks(verbose, _batch_size(images, train_data,
                                                                           batch_size)),
                                 verbose=0)
            _record_result(workdir, monitor)
        except BaseException as error:
            _record_end(workdir, error)
            raise
    return history


def _check_counts(*, epochs, batch_size, steps_per_epoch, early_stopping,
                  reduce_lr_on_plateau):
    """Raises a ValueError naming the first count that is not a whole number in its range.

    `epochs`, `batch_size` and `steps_per_epoch` (None: the whole data) must be positive;
    the patiences `early_stopping` and `reduce_lr_on_plateau` (None: off) at least 0.
    """
    for name, value, least, optional in (
            ("epochs", epochs, 1, False), ("batch_size", batch_size, 1, False),
            ("steps_per_epoch", steps_per_epoch, 1, True),
            ("early_stopping", early_stopping, 0, True),
            ("reduce_lr_on_plateau", reduce_lr_on_plateau, 0, True)):
        if value is None and optional:
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < least:
            kind = "a positive integer" if least else "a patience in epochs (an integer >= 0)"
            off = " or None" if optional else ""
            raise ValueError(f"{name} must be {kind}{off}; received {name}={value!r}.")


def _check_learning_rate(learning_rate):
    """Raises a ValueError unless `learning_rate` is None or a positive finite number."""
    if learning_rate is None:
        return
    if (isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real)
            or not math.isfinite(learning_rate) or learning_rate <= 0):
        raise ValueError(f"learning_rate must be a positive finite number or None; received "
                         f"learning_rate={learning_rate!r}. Typical: 1e-3 (adam), 0.1 (sgd).")


def _recipe(model, *, by_name, optimizer, learning_rate, schedule, warmup_epochs, weight_decay,
            batch_size):
    """Returns the run's recipe as `run.json` records it (`workdir.RECIPE_FIELDS`).

    The optimizer is named by its kind ("adam", "sgd"), and an unset learning rate is its
    usual default when the optimizer was named (or the model, `by_name`), so leaving a
    default out and spelling it out read the same; a given model's own rate reads None.
    """
    inner = getattr(model.optimizer, "inner_optimizer", model.optimizer)  # mixed_float16
    kind = type(inner).__name__.lower()
    if learning_rate is None and (isinstance(optimizer, str) or (optimizer is None
                                                                 and by_name)):
        learning_rate = _default_learning_rate(kind)
    return {"optimizer": kind, "schedule": schedule, "warmup_epochs": warmup_epochs,
            "learning_rate": None if learning_rate is None else float(learning_rate),
            "weight_decay": None if weight_decay is None else float(weight_decay),
            "batch_size": int(batch_size)}


def _constant_learning_rate(recipe, *, reduce_lr_on_plateau):
    """Returns the recipe's constant learning rate for a resume to set, or None.

    The backup restores the optimizer's learning rate, which is the recipe's unless a
    resume changed it (`new_recipe`) or `ReduceLROnPlateau` lowered it, which must be kept.
    """
    if recipe["schedule"] != "constant" or reduce_lr_on_plateau is not None:
        return None
    return recipe["learning_rate"]


def _strategy_for(model, distribute):
    """Returns the strategy to build and train under (None: one device)."""
    if isinstance(model, str):
        return make_strategy(distribute)
    if distribute in ("auto", "none"):
        return None  # a model built elsewhere lives where it was built
    raise ValueError(
        f"distribute={distribute!r} needs fit to build the model inside the strategy's "
        f"scope; pass the model by name (e.g. {model.name!r} if registered) instead of a "
        "keras.Model, or build and compile it inside strategy.scope() yourself.")


def _built_under_a_strategy(model):
    """Returns whether `model` was built inside a tf.distribute strategy's scope (as `fit`
    builds a model by name under `distribute`)."""
    # Keras's TensorFlow trainer keeps the strategy it was created under; other backends
    # have no tf.distribute.
    return getattr(model, "_distribute_strategy", None) is not None


def _compile_settings(*, optimizer, learning_rate, weight_decay, label_smoothing, schedule,
                      warmup_epochs, epochs, steps_per_epoch, reduce_lr_on_plateau):
    """Returns the compile keyword arguments that were set, with the schedule made."""
    if reduce_lr_on_plateau is not None and schedule != "constant":
        raise ValueError(f"reduce_lr_on_plateau changes the learning rate itself and needs "
                         f"schedule='constant'; received schedule={schedule!r}.")
    settings = {key: value for key, value in {
        "optimizer": optimizer, "weight_decay": weight_decay,
        "label_smoothing": label_smoothing}.items() if value is not None}
    if learning_rate is not None or schedule != "constant":
        if learning_rate is None:
            learning_rate = _default_learning_rate(optimizer)
        if schedule != "constant" and not steps_per_epoch:
            raise ValueError(f"schedule={schedule!r} needs the length of an epoch; this dataset "
                             "cannot tell it, so pass steps_per_epoch=.")
        settings["learning_rate"] = make_schedule(
            schedule, learning_rate, epochs=epochs, steps_per_epoch=steps_per_epoch or 1,
            warmup_epochs=warmup_epochs)
    return settings


def _default_learning_rate(optimizer):
    from cnnzoo.models.compile import OPTIMIZERS

    return OPTIMIZERS.get(optimizer or "adam", (None, 1e-3))[1]


def _build_or_compile(model, *, image_shape, num_classes, policy, jit_compile,
                      compile_settings, build_kwargs):
    """Returns the compiled model: built by name under `policy`, or the given one."""
    if isinstance(model, str):
        from cnnzoo.registry import build

        if num_classes is None:
            raise ValueError("the number of classes is unknown: the data has integer labels "
                             "and no info; pass num_classes= or the (dataset, info) pair.")
        with dtype_policy(policy):
            return build(model, input_shape=image_shape, num_classes=num_classes,
                         jit_compile=jit_compile, **compile_settings, **build_kwargs)
    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a registry name or a keras.Model; received "
                         f"{type(model).__name__}.")
    if build_kwargs:
        raise ValueError(f"build_kwargs={build_kwargs} apply to a model given by name; "
                         f"received a built keras.Model ({model.name!r}).")
    if compile_settings or not model.compiled:
        from cnnzoo.models.compile import compile_classifier

        compile_classifier(model, jit_compile=jit_compile, **compile_settings)
    return model


def _worker_dir(workdir, strategy):
    """Returns where this process writes: the workdir, or a subfolder on non-chief workers."""
    if is_chief(strategy):
        return workdir
    # Non-chief workers train in step with the chief but must not overwrite its files.
    return workdir / "workers" / f"worker{strategy.cluster_resolver.task_id}"


def _batch_size(images, data, batch_size):
    return batch_size if data.is_arrays else int(images.shape[0])


def _versions():
    import importlib.metadata

    versions = {"python": platform.python_version(), "keras": keras.__version__,
                "backend": keras.backend.backend()}
    for package in ("cnnzoo", "tensorflow"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def _run_record(model_name, data, *, epochs, batch_size, seed, policy, jit_compile,
                steps_per_execution, strategy,
                schedule, warmup_epochs, build_kwargs, compile_settings, input_shape,
                num_classes, run_info):
    """Returns the fields `run.json` records when a run starts or resumes."""
    info = data.info
    record = {
        "model": model_name, "status": "running", "error": None, "test_metrics": None,
        "epochs": epochs, "batch_size": batch_size,
        "seed": seed, "input_shape": list(input_shape), "num_classes": num_classes,
        "dataset": info.name if info is not None else None,
        "class_names": list(info.class_names) if info is not None else None,
        "build_kwargs": build_kwargs or {},
        "training": {**compile_settings, "schedule": schedule,
                     "warmup_epochs": warmup_epochs, "mixed_precision": policy,
                     "jit_compile": jit_compile, "replicas": num_replicas(strategy),
                     "steps_per_execution": steps_per_execution},
        "versions": _versions(),
    }
    record.update(run_info or {})
    return record


def _nan_advice(learning_rate, policy):
    lr = f" (now {learning_rate})" if learning_rate is not None else ""
    precision = (" or mixed_precision='float32'" if policy != "float32" else "")
    return (f"Try a lower learning_rate{lr}, a warm-up (schedule='cosine', warmup_epochs=1)"
            f"{precision}, and check the images for NaN values; best.keras and last.keras "
            "hold the last good epoch.")


def _train(model, train, validation, *, epochs, batch_size, steps_per_epoch, callbacks,
           verbose):
    """Runs `model.fit` on datasets or arrays; returns its History."""
    x, y = train.data if train.is_arrays else (train.data, None)
    if steps_per_epoch and not train.is_arrays:
        x = x.repeat()  # a capped epoch continues where the last one stopped
    # Datasets come shuffled by cnnzoo.data; Keras would only warn that it cannot.
    arguments = {"batch_size": batch_size, "shuffle": True} if train.is_arrays else {
        "shuffle": False}
    return model.fit(x, y, validation_data=validation.data if validation else None,
                     epochs=epochs, steps_per_epoch=steps_per_epoch, callbacks=callbacks,
                     verbose=verbose, **arguments)


def _data_changes(workdir, *, done, dataset):
    """Returns `{"data_changes": [...]}` when this resume trains on another dataset, else {}.

    Each change is `{"after_epoch", "from", "to"}` (only reached with `new_data=True`).
    """
    record = run_files.read_run(workdir) or {}
    recorded = record.get("dataset")
    if not done or None in (recorded, dataset) or recorded == dataset:
        return {}
    return {"data_changes": record.get("data_changes", []) + [
        {"after_epoch": done, "from": recorded, "to": dataset}]}


def _record_end(workdir, error):
    """Marks in `run.json` how `error` ended the run; best-effort, never raising.

    The status is "interrupted" (KeyboardInterrupt), "diverged" (FloatingPointError) or
    "failed" (anything else), with the error's first line. The disk may be full, so a
    failing write is let go: the caller re-raises `error`, which must not be masked.
    """
    if isinstance(error, FloatingPointError):
        status = "diverged"
    elif isinstance(error, Exception):
        status = "failed"
    else:
        status = "interrupted"
    lines = str(error).strip().splitlines()
    message = f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    try:
        run_files.update_run(workdir, status=status, error=message[:500])
    except Exception:  # noqa: BLE001 - the original error is what the user must see.
        pass


def _record_result(workdir, monitor):
    """Adds the finished run's last and best epoch metrics to `run.json`."""
    rows = run_callbacks.read_history(workdir / run_files.HISTORY_FILE)
    best = max(rows, key=lambda r: r.get(monitor, float("-inf")), default=None)
    run_files.update_run(workdir, status="finished",
                         finished_epochs=int(rows[-1]["epoch"]) if rows else 0,
                         final_metrics=rows[-1] if rows else None, best_epoch_metrics=best,
                         monitor=monitor)
